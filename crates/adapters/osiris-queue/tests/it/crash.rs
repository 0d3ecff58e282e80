//! Crash safety: this test binary re-runs itself as a child process that
//! appends, pushes and acknowledges continuously, printing each seq or id
//! only after the call returned. The parent kills the child with SIGKILL at
//! a random moment, reopens the queue and checks that everything reported
//! durable is there (or was acknowledged), that the stored chain is
//! contiguous, linked and signed, and that nothing acknowledged came back.
//! The file is reused across iterations, so later children continue a chain
//! that survived every earlier kill.
//!
//! 200 kills by default; `OSIRIS_CRASH_ITERATIONS=1000` for the full run
//! (about 80 s on 2 cores), `OSIRIS_CRASH_SEED` to replay a run's delays
//! (the seed is printed), `OSIRIS_CRASH_DEBUG=<dir>` to keep each child's
//! report there.
//!
//! SIGKILL tests the process dying at any instruction, not the machine
//! losing power: the page cache survives a killed process. Power loss is
//! covered by `synchronous=FULL` (every commit fsynced before it returns).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use osiris_core::{ApplianceId, SiteId};
use osiris_evidence::ChainHash;
use osiris_queue::{ItemId, ItemKind};

use crate::support::{Fixture, verify_chain};

const CHILD: &str = "OSIRIS_QUEUE_CRASH_CHILD";
const CHILD_TEST: &str = "crash::child_appends_and_acknowledges_until_killed";

/// What the children reported, across every iteration.
#[derive(Default)]
struct Reported {
    durable: BTreeSet<u64>,
    acknowledged_through: u64,
    items: BTreeSet<u64>,
    /// Items whose acknowledgement was sent (it may have committed).
    acknowledging_items: BTreeSet<u64>,
    /// Items whose acknowledgement returned.
    acknowledged_items: BTreeSet<u64>,
    /// Canonical bytes of every stored bundle seen so far: a stored bundle
    /// never changes.
    seen: BTreeMap<u64, String>,
    /// The hash of the last bundle seen acknowledged, to check the first
    /// stored bundle's link.
    hashes: BTreeMap<u64, ChainHash>,
    head: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_reported_durable() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let iterations: u32 = std::env::var("OSIRIS_CRASH_ITERATIONS")
        .ok()
        .map_or(200, |text| text.parse().unwrap());
    let seed: u64 = std::env::var("OSIRIS_CRASH_SEED").ok().map_or_else(
        || {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        },
        |text| text.parse().unwrap(),
    );
    println!("crash test: {iterations} iterations, OSIRIS_CRASH_SEED={seed}");
    let mut random = XorShift(seed | 1);
    let fixture = Fixture::new();
    let exe = std::env::current_exe().unwrap();
    let mut reported = Reported::default();
    let mut kills_while_running = 0;
    for iteration in 0..iterations {
        let mut child = tokio::process::Command::new(&exe)
            .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, &fixture.path)
            .env("OSIRIS_QUEUE_CRASH_SITE", fixture.site_id.to_string())
            .env(
                "OSIRIS_QUEUE_CRASH_APPLIANCE",
                fixture.appliance_id.to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Mostly while the child works, sometimes during its start (open,
        // migration) or in its first commits.
        let delay = match random.below(10) {
            0 => random.below(15),
            _ => 15 + random.below(110),
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if child.try_wait().unwrap().is_none() {
            kills_while_running += 1;
        } else {
            let output = child.wait_with_output().await.unwrap();
            panic!(
                "iteration {iteration}: the child exited by itself ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        child.start_kill().unwrap();
        let output = child.wait_with_output().await.unwrap();
        if let Some(dir) = std::env::var_os("OSIRIS_CRASH_DEBUG") {
            std::fs::write(
                PathBuf::from(dir).join(format!("child-{iteration}.out")),
                &output.stdout,
            )
            .unwrap();
        }
        collect(&mut reported, &output.stdout);
        check(&fixture, &mut reported, iteration).await;
    }
    assert_eq!(kills_while_running, iterations);
    assert!(
        reported.head > u64::from(iterations),
        "the children sealed only {} bundles in {iterations} runs",
        reported.head
    );
    println!(
        "crash test: {iterations} kills, {} bundles sealed, {} acknowledged, {} items",
        reported.head,
        reported.acknowledged_through,
        reported.items.len()
    );
}

/// Reads the child's report; a line cut by the kill is ignored (each line
/// is written whole, after its call returned).
fn collect(reported: &mut Reported, stdout: &[u8]) {
    let text = String::from_utf8_lossy(stdout);
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        // The last two words: libtest's "test … ... " header shares the
        // first line.
        let mut words = line.split_whitespace().rev();
        let (Some(number), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(number) = number.parse::<u64>() else {
            continue;
        };
        match what {
            "durable" => {
                reported.durable.insert(number);
            }
            "acked" => {
                reported.acknowledged_through = reported.acknowledged_through.max(number);
            }
            "item" => {
                reported.items.insert(number);
            }
            "item-acking" => {
                reported.acknowledging_items.insert(number);
            }
            "item-acked" => {
                reported.acknowledged_items.insert(number);
            }
            _ => {}
        }
    }
}

async fn check(fixture: &Fixture, reported: &mut Reported, iteration: u32) {
    let context = format!("after kill {iteration}");
    let queue = fixture
        .try_open()
        .await
        .unwrap_or_else(|e| panic!("{context}: reopening failed: {e}"));
    let stats = queue.stats().await.unwrap();
    let head = stats.head.map_or(0, |h| h.seq);
    let through = stats.acknowledged_through;
    let pending = queue.pending(usize::MAX, usize::MAX).await.unwrap();
    queue.close().await.unwrap();

    assert!(head >= reported.head, "{context}: the head went backwards");
    if let Some(max) = reported.durable.last() {
        assert!(
            head >= *max,
            "{context}: seq {max} was reported durable, head is {head}"
        );
    }
    assert!(
        through >= reported.acknowledged_through,
        "{context}: an acknowledgement was lost"
    );
    // Stored: exactly through+1 ..= head, so every durable seq is either
    // stored or acknowledged, and nothing acknowledged reappears.
    let stored: Vec<u64> = pending.bundles.iter().map(|b| b.seq).collect();
    assert_eq!(
        stored,
        (through + 1..=head).collect::<Vec<_>>(),
        "{context}: stored seqs are not contiguous after the acknowledged seq"
    );
    let previous = reported.hashes.get(&through).copied().or_else(|| {
        // The genesis link is checked by verify_chain itself.
        (through == 0).then_some(ChainHash::GENESIS)
    });
    let last = verify_chain(
        &pending.bundles,
        &fixture.public_key(),
        fixture.site_id,
        fixture.appliance_id,
        previous,
    );
    if let Some(head_hash) = stats.head.map(|h| h.hash)
        && !pending.bundles.is_empty()
    {
        assert_eq!(last, Some(head_hash), "{context}: head hash");
    }
    for bundle in &pending.bundles {
        if let Some(earlier) = reported.seen.get(&bundle.seq) {
            assert_eq!(
                earlier, &bundle.canonical,
                "{context}: stored bundle {} changed",
                bundle.seq
            );
        }
        reported.seen.insert(bundle.seq, bundle.canonical.clone());
        reported
            .hashes
            .insert(bundle.seq, ChainHash::of(bundle.canonical.as_bytes()));
    }
    reported.seen.retain(|seq, _| *seq > through);
    reported.hashes.retain(|seq, _| *seq >= through);
    reported.durable.retain(|seq| *seq > through);
    reported.head = head;
    reported.acknowledged_through = through;

    let stored_items: BTreeSet<u64> = pending.items.iter().map(|i| i.id.get()).collect();
    for id in &reported.items {
        assert!(
            stored_items.contains(id) || reported.acknowledging_items.contains(id),
            "{context}: item {id} was reported durable and is gone"
        );
    }
    for id in &reported.acknowledged_items {
        assert!(
            !stored_items.contains(id),
            "{context}: acknowledged item {id} reappeared"
        );
    }
    assert!(pending.items.iter().all(|i| i.kind == ItemKind::Incident));
    assert_eq!(
        stats.used_bytes,
        pending
            .bundles
            .iter()
            .map(|b| b.canonical.len() as u64)
            .chain(pending.items.iter().map(|i| i.body.len() as u64))
            .sum::<u64>(),
        "{context}: byte accounting"
    );
}

/// Runs only as the crash test's child (the variable names the queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_appends_and_acknowledges_until_killed() {
    let Some(path) = std::env::var_os(CHILD) else {
        return;
    };
    let fixture = Fixture::at(
        tempfile::tempdir().unwrap(),
        PathBuf::from(path),
        [7; 32],
        std::env::var("OSIRIS_QUEUE_CRASH_SITE")
            .unwrap()
            .parse::<SiteId>()
            .unwrap(),
        std::env::var("OSIRIS_QUEUE_CRASH_APPLIANCE")
            .unwrap()
            .parse::<ApplianceId>()
            .unwrap(),
    );
    let fixture = std::sync::Arc::new(fixture);
    let queue = fixture.open().await;
    let mut tasks = tokio::task::JoinSet::new();
    for appender in 0..8u64 {
        let queue = queue.clone();
        let fixture = std::sync::Arc::clone(&fixture);
        tasks.spawn(async move {
            for n in 0.. {
                let appended = queue
                    .append(fixture.draft(appender * 1_000_000 + n, 0))
                    .await
                    .unwrap();
                report(&format!("durable {}", appended.seq));
            }
        });
    }
    {
        let queue = queue.clone();
        let fixture = std::sync::Arc::clone(&fixture);
        tasks.spawn(async move {
            for n in 0.. {
                let id = queue
                    .push(ItemKind::Incident, fixture.item(n, 50))
                    .await
                    .unwrap();
                report(&format!("item {id}"));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }
    {
        let queue = queue.clone();
        tasks.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let pending = queue.pending(10_000, 10_000).await.unwrap();
                // Acknowledge half of what waits, as a check-in would.
                let through = pending
                    .bundles
                    .get(pending.bundles.len() / 2)
                    .map_or(0, |b| b.seq);
                let items: Vec<ItemId> = pending
                    .items
                    .iter()
                    .take(pending.items.len() / 2)
                    .map(|i| i.id)
                    .collect();
                // Announced first: the kill can land between the commit and
                // the report, and then the item is gone unreported.
                for id in &items {
                    report(&format!("item-acking {id}"));
                }
                queue.acknowledge(through, &items).await.unwrap();
                report(&format!("acked {through}"));
                for id in items {
                    report(&format!("item-acked {id}"));
                }
            }
        });
    }
    // The parent kills this process; should it never, stop eventually.
    tokio::time::sleep(Duration::from_secs(60)).await;
    tasks.abort_all();
}

fn report(line: &str) {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").unwrap();
    stdout.flush().unwrap();
}

/// A small deterministic generator, so a failing run can be replayed.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}
