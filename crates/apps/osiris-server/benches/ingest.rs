//! Evidence ingestion (BENCHMARKS.md): `intake::accept` (parse, key,
//! signature, chain, one WORM `put_many` and one index transaction per
//! batch) over pre-sealed bundles, in batches of 64 like a check-in, into
//! the local WORM store and into an S3 Object Lock bucket on moto. The
//! baselines, in the same rounds, store the same bytes raw into a store of
//! the same kind: one `put_once` after the other (how intake stored them
//! before batching), and `put_many` in the same batches of 64 (what storing
//! alone costs now). Prints bundles/s and the median per-round ratios.
//!
//! `cargo bench -p osiris-server --bench ingest` (S3 needs
//! `OSIRIS_TEST_S3_URL`, as the tests do).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    reason = "a bench program: it times itself and prints its figures"
)]

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use osiris_core::Clock as _;
use osiris_server::{AppState, Shared};
use osiris_testkit::TestServer;
use osiris_testkit::intake::claimed_appliance;
use osiris_worm::{ObjectKey, PutItem, WormStore};

const ROUNDS: usize = 3;
const PER_ROUND: usize = 1_024;
const BATCH: usize = 64;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A fresh Object Lock bucket on the S3 server the suites use. Its absence
/// fails the bench: a figure for one backend only is not the comparison.
async fn s3_store() -> Arc<dyn WormStore> {
    let url = std::env::var("OSIRIS_TEST_S3_URL").expect(
        "OSIRIS_TEST_S3_URL must name the S3 server (run .ci/setup, then \
         `set -a; . /var/tmp/osiris-services.env; set +a`)",
    );
    let bucket = format!("osiris-bench-{}", uuid::Uuid::new_v4());
    let config = osiris_worm_s3::S3Config {
        endpoint_url: Some(url),
        region: "us-east-1".to_owned(),
        bucket: bucket.clone(),
        access_key_id: "osiris-test".to_owned(),
        secret_access_key: osiris_core::Secret::new("osiris-test-secret".to_owned()),
        force_path_style: true,
    };
    let client = aws_sdk_s3::Client::from_conf(osiris_worm_s3::client_config(&config).build());
    client
        .create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    Arc::new(osiris_worm_s3::S3WormStore::connect(&config).await.unwrap())
}

async fn run(
    name: &str,
    server: &TestServer,
    worm: Arc<dyn WormStore>,
    baseline: Arc<dyn WormStore>,
) {
    let base = &server.running.state;
    let state = AppState::new(Shared {
        store: Arc::clone(&base.store),
        clock: Arc::clone(&base.clock),
        catalog: Arc::clone(&base.catalog),
        server_key: Arc::clone(&base.server_key),
        evidence: worm,
        rule_set: Arc::clone(&base.rule_set),
        policy: base.policy,
        vault: Arc::clone(&base.vault),
        limiter: Arc::clone(&base.limiter),
        quotas: base.quotas,
        metrics: None,
    });
    let mut appliance = claimed_appliance(server, &format!("Bench {name}")).await;
    let now = server.clock.now();
    let retain = now + Duration::days(2190);
    let (mut ingest, mut raw, mut many) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ratios, mut many_ratios) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let bundles = appliance.seal_checks(now, PER_ROUND);
        // Baselines: the same bytes, raw, into the same kind of store.
        let started = Instant::now();
        for (i, bundle) in bundles.iter().enumerate() {
            let key = ObjectKey::parse(&format!("baseline/{name}/{round}/{i:020}.json")).unwrap();
            let _stored = baseline
                .put_once(&key, bundle.as_bytes().to_vec(), retain)
                .await
                .unwrap();
        }
        let raw_rate = PER_ROUND as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for (b, batch) in bundles.chunks(BATCH).enumerate() {
            let items = batch
                .iter()
                .enumerate()
                .map(|(i, bundle)| PutItem {
                    key: ObjectKey::parse(&format!("batched/{name}/{round}/{b:06}/{i:020}.json"))
                        .unwrap(),
                    bytes: bundle.as_bytes().to_vec(),
                    retain_until: retain,
                })
                .collect();
            for outcome in baseline.put_many(items).await.unwrap() {
                let _stored = outcome.unwrap();
            }
        }
        let many_rate = PER_ROUND as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for batch in bundles.chunks(BATCH) {
            let outcome = osiris_server::intake::accept(
                &state,
                &appliance.identity,
                &appliance.scope,
                batch,
                now,
            )
            .await
            .unwrap();
            assert!(outcome.rejected.is_none(), "{outcome:?}");
        }
        let rate = PER_ROUND as f64 / started.elapsed().as_secs_f64();
        println!(
            "{name} round {round}: ingestion {rate:.0}/s, put_once {raw_rate:.0}/s, put_many {many_rate:.0}/s"
        );
        ingest.push(rate);
        raw.push(raw_rate);
        many.push(many_rate);
        ratios.push(rate / raw_rate);
        many_ratios.push(rate / many_rate);
    }
    println!(
        "{name}: ingestion {:.0} bundles/s (median of {ROUNDS} rounds of {PER_ROUND}); raw put_once {:.0}/s, raw put_many {:.0}/s; ingestion/put_once {:.2}x, ingestion/put_many {:.2}x",
        median(ingest),
        median(raw),
        median(many),
        median(ratios),
        median(many_ratios)
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server =
            TestServer::start_with(&[("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "1000000")]).await;
        let local = |dir: &std::path::Path| -> Arc<dyn WormStore> {
            Arc::new(osiris_worm::LocalWormStore::open(dir).unwrap())
        };
        let scratch = tempfile::tempdir().unwrap();
        run(
            "local",
            &server,
            Arc::clone(&server.running.state.evidence),
            local(&scratch.path().join("baseline")),
        )
        .await;
        run("s3-moto", &server, s3_store().await, s3_store().await).await;
    });
}
