#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]
//! Durable appends per second, each beside its baseline measured in the
//! same run on the same disk:
//!
//! - baseline: raw SQLite through sqlx with the queue's pragmas (WAL,
//!   `synchronous=FULL`), one single-row INSERT of a sealed bundle's bytes
//!   and one COMMIT (one fsync) per row: what a queue without group commit
//!   can reach at best, before any sealing;
//! - `Queue::append` from 64 concurrent appenders: sealing (canonical JSON,
//!   SHA-256, Ed25519) plus group commit. Target: ≥ 5,000 bundles/s.
//!
//! Rounds alternate baseline and queue; the median of the per-round ratios
//! is printed first, then criterion's own measurements.
//!
//! ```sh
//! cargo bench -p osiris-queue --bench enqueue
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use osiris_core::{ApplianceId, BundleId, ManualClock, SiteId};
use osiris_evidence::{Artifact, BundleDraft, KeyPair, Kind, Sealer};
use osiris_queue::{Queue, QueueConfig};
use osiris_scrub::{ScrubConfig, ScrubKey, Scrubbed, Scrubber};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use tokio::runtime::Runtime;

const APPENDERS: usize = 64;
const ROUNDS: usize = 7;
const BASELINE_ROWS: usize = 200;
const QUEUE_BUNDLES: usize = 4096;

fn draft(n: u64) -> BundleDraft {
    BundleDraft {
        bundle_id: BundleId::random(),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
            + chrono::Duration::seconds(i64::try_from(n).unwrap()),
        kind: Kind::Remediation,
        host: "NVC-DC01".into(),
        hipaa: vec!["164.312(a)(1)".parse().unwrap()],
        outcome: "verified".into(),
        detail: json!({
            "check_id": "win.firewall.profiles", "runbook_id": "RB-WIN-FIREWALL-001", "tier": "L1",
            "rule_id": "L1-FIREWALL-001", "pre": {"Domain": false, "Private": true, "Public": true},
            "post": {"Domain": true, "Private": true, "Public": true}, "duration_ms": 812
        }),
        artifacts: vec![Artifact::of(
            "stdout",
            b"{\"profiles\":[{\"name\":\"Domain\",\"enabled\":true}]}",
        )],
    }
}

struct Setup {
    dir: tempfile::TempDir,
    runtime: Runtime,
    scrubber: Scrubber,
    key_seed: [u8; 32],
    site_id: SiteId,
    appliance_id: ApplianceId,
    /// Canonical bytes of one sealed bundle: the baseline's row.
    row: Vec<u8>,
}

impl Setup {
    fn new() -> Self {
        let key_seed = [3; 32];
        let site_id = SiteId::random();
        let appliance_id = ApplianceId::random();
        let key = KeyPair::from_seed(key_seed);
        let row = Sealer::new(&key, site_id, appliance_id, None)
            .seal(&draft(0))
            .unwrap()
            .into_bytes();
        let scrub_key = ScrubKey::from_hex(&"22".repeat(osiris_scrub::KEY_LEN)).unwrap();
        Self {
            dir: tempfile::tempdir().unwrap(),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
            scrubber: Scrubber::new(&scrub_key, &ScrubConfig::it_evidence()).unwrap(),
            key_seed,
            site_id,
            appliance_id,
            row,
        }
    }

    fn drafts(&self, count: usize) -> Vec<Scrubbed<BundleDraft>> {
        (0..count as u64)
            .map(|n| self.scrubber.scrub_draft(draft(n)))
            .collect()
    }

    async fn open_queue(&self, name: &str) -> Queue {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
        Queue::open(
            QueueConfig::new(self.dir.path().join(name), Arc::new(clock)),
            KeyPair::from_seed(self.key_seed),
            self.site_id,
            self.appliance_id,
        )
        .await
        .unwrap()
    }

    async fn open_baseline(&self, name: &str) -> SqliteConnection {
        let mut connection = baseline_options(&self.dir.path().join(name))
            .connect()
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS bundles (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)",
        )
        .execute(&mut connection)
        .await
        .unwrap();
        connection
    }
}

fn baseline_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
}

/// `rows` single-row transactions, each committed (and fsynced) alone.
async fn baseline_inserts(connection: &mut SqliteConnection, row: &[u8], rows: usize) {
    for _ in 0..rows {
        let mut transaction = connection.begin().await.unwrap();
        sqlx::query("INSERT INTO bundles (body) VALUES ($1)")
            .bind(row)
            .execute(&mut *transaction)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
    }
}

/// Appends every draft, from `appenders` concurrent tasks.
async fn concurrent_appends(queue: &Queue, drafts: Vec<Scrubbed<BundleDraft>>, appenders: usize) {
    let mut shares: Vec<Vec<Scrubbed<BundleDraft>>> = (0..appenders).map(|_| Vec::new()).collect();
    for (index, draft) in drafts.into_iter().enumerate() {
        shares[index % appenders].push(draft);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for share in shares {
        let queue = queue.clone();
        tasks.spawn(async move {
            for draft in share {
                queue.append(draft).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

#[expect(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
fn timed<T>(run: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let value = run();
    (value, start.elapsed())
}

fn paired(c: &mut Criterion) {
    let setup = Setup::new();
    let queue = setup
        .runtime
        .block_on(setup.open_queue("paired-queue.sqlite"));
    let mut baseline = setup
        .runtime
        .block_on(setup.open_baseline("paired-baseline.sqlite"));
    let mut baseline_rates = Vec::new();
    let mut queue_rates = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..ROUNDS {
        let ((), took) = timed(|| {
            setup
                .runtime
                .block_on(baseline_inserts(&mut baseline, &setup.row, BASELINE_ROWS))
        });
        let base_rate = BASELINE_ROWS as f64 / took.as_secs_f64();
        let drafts = setup.drafts(QUEUE_BUNDLES);
        let ((), took) = timed(|| {
            setup
                .runtime
                .block_on(concurrent_appends(&queue, drafts, APPENDERS))
        });
        let queue_rate = QUEUE_BUNDLES as f64 / took.as_secs_f64();
        baseline_rates.push(base_rate);
        queue_rates.push(queue_rate);
        ratios.push(queue_rate / base_rate);
    }
    let stats = setup.runtime.block_on(queue.stats()).unwrap();
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let sequential = {
        let queue = setup
            .runtime
            .block_on(setup.open_queue("sequential.sqlite"));
        let drafts = setup.drafts(BASELINE_ROWS);
        let ((), took) = timed(|| {
            setup
                .runtime
                .block_on(concurrent_appends(&queue, drafts, 1))
        });
        setup.runtime.block_on(queue.close()).unwrap();
        BASELINE_ROWS as f64 / took.as_secs_f64()
    };
    // The ceiling the writer works under: sealing is sequential (each
    // bundle's prev_hash is the previous bundle's hash).
    let sealing = {
        let key = KeyPair::from_seed(setup.key_seed);
        let mut sealer = Sealer::new(&key, setup.site_id, setup.appliance_id, None);
        let drafts = setup.drafts(QUEUE_BUNDLES);
        let ((), took) = timed(|| {
            for draft in &drafts {
                std::hint::black_box(sealer.seal(draft.as_inner()).unwrap());
            }
        });
        QUEUE_BUNDLES as f64 / took.as_secs_f64()
    };
    println!(
        "enqueue: {APPENDERS} concurrent appenders = {:.0} bundles/s, baseline single-row INSERT+COMMIT = {:.0} rows/s, \
         ratio {:.1}x (median of {ROUNDS} paired rounds; {:.1} writes per commit); one appender = {sequential:.0} bundles/s; \
         sealing alone on one core = {sealing:.0} bundles/s",
        median(&mut queue_rates),
        median(&mut baseline_rates),
        median(&mut ratios),
        stats.writes as f64 / stats.commits.max(1) as f64,
    );
    setup.runtime.block_on(queue.close()).unwrap();
    drop(baseline);

    let mut group = c.benchmark_group("enqueue");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    let mut baseline = setup
        .runtime
        .block_on(setup.open_baseline("criterion-baseline.sqlite"));
    group.bench_function("baseline_insert_commit_per_row", |b| {
        b.iter_custom(|iters| {
            let rows = usize::try_from(iters).unwrap();
            timed(|| {
                setup
                    .runtime
                    .block_on(baseline_inserts(&mut baseline, &setup.row, rows))
            })
            .1
        })
    });
    let queue = setup
        .runtime
        .block_on(setup.open_queue("criterion-queue.sqlite"));
    group.bench_function("append_64_concurrent", |b| {
        b.iter_custom(|iters| {
            let drafts = setup.drafts(usize::try_from(iters).unwrap());
            timed(|| {
                setup
                    .runtime
                    .block_on(concurrent_appends(&queue, drafts, APPENDERS))
            })
            .1
        })
    });
    group.finish();
    setup.runtime.block_on(queue.close()).unwrap();
}

criterion_group!(benches, paired);
criterion_main!(benches);
