#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]
//! Resident memory of the appliance sweeping 50 simulated hosts: the
//! figure an appliance's hardware is sized by (target: peak RSS ≤ 40 MB).
//!
//! In this process: Central Command (HTTPS, its own CA) and 50 simulated
//! Windows domain controllers (real WinRM with NTLM sealing on loopback),
//! each drifted three ways (real-time protection off: an L1 fix with a
//! verify over a new session; the last backup failed: deferred to the
//! window; BitLocker suspended: escalated). An appliance is enrolled with
//! `osiris agent enroll`; then the shipped binary runs as a child, and its
//! peak resident set (`VmHWM` in `/proc/<pid>/status`) is read every 2 ms
//! until it exits (the high-water mark only grows, so the last reading is
//! the peak). Rounds alternate, each of them:
//!
//! - baseline: `osiris agent status`, which opens the appliance (catalog,
//!   state database, queue, scrubber, TLS client) and exits: what any
//!   appliance process costs before it does anything;
//! - `osiris agent run --once` with 1 target: one sweep and one check-in;
//! - `osiris agent run --once` with the 50 targets (`limits.concurrency` at
//!   its default of 8): the measured figure.
//!
//! The median of the rounds is printed, with the ratios to the baselines
//! and the peak's split into heap (`RssAnon`) and mapped files (`RssFile`,
//! mostly the binary). The release profile is what ships, so run it as a
//! bench:
//!
//! ```sh
//! cargo bench -p osiris --bench agent_memory
//! OSIRIS_BENCH_ROUNDS=5 cargo bench -p osiris --bench agent_memory
//! ```

use std::path::Path;

use osiris_testkit::memory::{median, peak};

use osiris_testkit::windows::{LAB_PASSWORD, LAB_USER, WindowsLab, domain_controller};
use osiris_testkit::{ServerOptions, TestClock, TestServer, site_with_appliance};
use serde_json::json;

const HOSTS: usize = 50;

fn main() {
    let rounds: usize = std::env::var("OSIRIS_BENCH_ROUNDS")
        .ok()
        .map_or(3, |n| n.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(rounds));
}

async fn bench(rounds: usize) {
    let profile = if cfg!(debug_assertions) {
        "debug build: run it with `cargo bench` for the shipped profile"
    } else {
        "optimized build"
    };
    println!("agent memory: {HOSTS} hosts, {rounds} rounds, {profile}");
    let server = TestServer::start_options(
        ServerOptions::https()
            .with_clock(TestClock::System)
            .with_env("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "1000000"),
    )
    .await;
    let site = site_with_appliance(&server, "Memory Clinic").await;
    let mut labs = Vec::with_capacity(HOSTS);
    for _ in 0..HOSTS {
        let lab = domain_controller().await;
        lab.set_state("defender.realtime_enabled", json!(false))
            .unwrap();
        lab.set_state("backup.last_result", json!(1)).unwrap();
        lab.set_state("bitlocker.c_protection", json!("Off"))
            .unwrap();
        labs.push(lab);
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let one = dir.path().join("one.toml");
    let fifty = dir.path().join("fifty.toml");
    std::fs::write(&one, config_text(&data_dir, &server, &labs[..1])).unwrap();
    std::fs::write(&fifty, config_text(&data_dir, &server, &labs)).unwrap();
    let ca = server.ca_file().unwrap();
    let enrolled = osiris(&[
        "agent",
        "enroll",
        "--config",
        one.to_str().unwrap(),
        "--claim-code-env",
        "OSIRIS_BENCH_CLAIM_CODE",
        "--ca-file",
        ca.to_str().unwrap(),
    ])
    .env("OSIRIS_BENCH_CLAIM_CODE", &site.claim_code)
    .output()
    .await
    .unwrap();
    assert!(
        enrolled.status.success(),
        "{}",
        String::from_utf8_lossy(&enrolled.stderr)
    );

    let mut status = Vec::new();
    let mut single = Vec::new();
    let mut all = Vec::new();
    for round in 0..rounds {
        status.push(peak(osiris(&["agent", "status", "--config", path(&one)])).await);
        single.push(peak(osiris(&["agent", "run", "--once", "--config", path(&one)])).await);
        all.push(
            peak(osiris(&[
                "agent",
                "run",
                "--once",
                "--config",
                path(&fifty),
            ]))
            .await,
        );
        println!(
            "round {round}: status {} KiB, 1 host {} KiB, {HOSTS} hosts {} KiB ({:.1?})",
            status[round].hwm, single[round].hwm, all[round].hwm, all[round].elapsed
        );
    }
    let status = median(&status);
    let single = median(&single);
    let all = median(&all);
    println!();
    println!(
        "| process | peak RSS (VmHWM) | heap (RssAnon) | mapped files (RssFile) | threads | wall |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (name, peak) in [
        ("`agent status` (baseline)", status),
        ("`agent run --once`, 1 host", single),
        ("`agent run --once`, 50 hosts", all),
    ] {
        println!(
            "| {name} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} | {:.1?} |",
            peak.hwm_mib(),
            peak.anon_mib(),
            peak.file_mib(),
            peak.threads,
            peak.elapsed
        );
    }
    println!();
    println!(
        "50 hosts: {:.1} MiB = {:.2}× `agent status`, {:.2}× a 1-host sweep (target ≤ 40 MB = {:.1} MiB)",
        all.hwm_mib(),
        all.ratio(&status),
        all.ratio(&single),
        40_000_000.0 / 1_048_576.0
    );
    drop(labs);
    server.stop().await;
}

fn path(file: &Path) -> &str {
    file.to_str().unwrap()
}

fn osiris(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_osiris"));
    command.args(args).env("LAB_PASSWORD", LAB_PASSWORD);
    command
}

/// The appliance's configuration with one WinRM target per lab host.
fn config_text(data_dir: &Path, server: &TestServer, labs: &[WindowsLab]) -> String {
    let mut text = format!(
        r#"
data_dir = "{data_dir}"
[server]
url = "{url}"
[maintenance]
timezone = "UTC"
days = ["sun"]
start = "01:00"
end = "01:01"
"#,
        data_dir = data_dir.display(),
        url = server.base,
    );
    for (n, lab) in labs.iter().enumerate() {
        text.push_str(&format!(
            r#"
[[targets]]
name = "dc{number:02}"
platform = "windows"
connection = "winrm"
address = "{url}"
credentials = {{ user = '{user}', password_env = "LAB_PASSWORD" }}
"#,
            number = n + 1,
            url = lab.url(),
            user = LAB_USER,
        ));
    }
    text
}
