#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]
//! The load generator against the real server (in this process, over
//! HTTPS with its own CA): its figures add up, and the server stored
//! every bundle it claims to have sent.

use osiris_testkit::{ServerOptions, TestClock, TestServer};
use serde_json::Value;

async fn loadgen(server: &TestServer, args: &[&str]) -> std::process::Output {
    let ca = server.ca_file().unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_osiris-loadgen"))
        .args(["--url", &server.base, "--ca-file", ca.to_str().unwrap()])
        .args(args)
        .env("LOADGEN_PASSWORD", &server.admin_password)
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bundle_sent_is_acknowledged_and_stored() {
    let server =
        TestServer::start_options(ServerOptions::https().with_clock(TestClock::System)).await;
    let output = loadgen(
        &server,
        &[
            "--appliances",
            "3",
            "--checkins",
            "2",
            "--bundles",
            "4",
            "--rounds",
            "2",
            "--json",
        ],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["appliances"], 3);
    assert_eq!(report["baseline"]["checkins"], 3 * 2 * 2);
    assert_eq!(report["load"]["checkins"], 3 * 2 * 2);
    assert_eq!(report["load"]["bundles"], 3 * 2 * 2 * 4);
    assert_eq!(report["load"]["failures"], 0);
    let p50 = report["load"]["p50_ms"].as_f64().unwrap();
    let p99 = report["load"]["p99_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= p99, "{report}");
    assert!(report["throughput_ratio"].as_f64().unwrap() > 0.0);

    // What the server holds: 16 bundles for each of the three appliances.
    let admin = server.admin().await;
    let fleet = admin.get_ok("/api/dashboard/fleet").await;
    let sites: Vec<String> = fleet["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|site| site["site_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sites.len(), 3, "{fleet}");
    for site in sites {
        assert_eq!(admin.evidence(&site).await.len(), 16, "site {site}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_the_load_fails_the_run() {
    // A quota of 10 requests per 5 minutes per site (the production
    // default) refuses the later check-ins: the run must say so and exit
    // non-zero.
    let server = TestServer::start_options(
        ServerOptions::https()
            .with_clock(TestClock::System)
            .with_env("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "10"),
    )
    .await;
    let output = loadgen(&server, &["--appliances", "1", "--checkins", "12"]).await;
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("first failure"), "{stdout}");
    assert!(stderr.contains("not answered as expected"), "{stderr}");
    server.stop().await;
}

#[tokio::test]
async fn bad_arguments_are_named() {
    let server = TestServer::start_options(ServerOptions::https()).await;
    let output = loadgen(&server, &["--bundles", "0"]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--bundles must be at least 1"));
    server.stop().await;
}
