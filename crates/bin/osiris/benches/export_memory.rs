#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    reason = "a bench program: it times itself and prints its figures"
)]
//! Resident memory of `osiris evidence export` and `osiris evidence
//! verify` over a chain of 1,000,000 bundles, against the same commands
//! over 10,000 in the same run: an export streams when the larger one
//! costs about what the smaller one does.
//!
//! In this process: Central Command on its embedded defaults (SQLite index,
//! local WORM directory) with two sites, one appliance each. Each chain is
//! sealed here and stored through `intake::accept`, the path check-ins take
//! (signature, chain link, WORM write, index), in batches of 1,000. Then the
//! shipped binary runs as a child over the server's data directory, and
//! its peak resident set (`VmHWM`) is read until it exits:
//!
//! - `osiris evidence export --site S --out P` for the small site, then the
//!   large one;
//! - `osiris evidence verify P` on each export (signatures, chain links,
//!   checkpoints, Merkle root and every inclusion proof).
//!
//! ```sh
//! cargo bench -p osiris --bench export_memory                       # 10,000 vs 1,000,000
//! OSIRIS_BENCH_BUNDLES=200000 cargo bench -p osiris --bench export_memory
//! ```
//!
//! Storing a million bundles writes two million fsynced files: about ten
//! minutes on this machine's disk. `TMPDIR` chooses where the data
//! directory goes.

use std::path::Path;
use std::time::Instant;

use osiris_core::Clock as _;
use osiris_testkit::TestServer;
use osiris_testkit::intake::claimed_appliance;
use osiris_testkit::memory::peak;

const SMALL: usize = 10_000;
const BATCH: usize = 1_000;

fn main() {
    let large: usize = std::env::var("OSIRIS_BENCH_BUNDLES")
        .ok()
        .map_or(1_000_000, |n| n.parse().unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(large));
}

async fn bench(large: usize) {
    let profile = if cfg!(debug_assertions) {
        "debug build: run it with `cargo bench` for the shipped profile"
    } else {
        "optimized build"
    };
    println!("export memory: {SMALL} vs {large} bundles, {profile}");
    let server = TestServer::start_with(&[("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "1000000")]).await;
    let small_site = seed(&server, "Small Clinic", SMALL).await;
    let large_site = seed(&server, "Large Clinic", large).await;

    let scratch = tempfile::tempdir().unwrap();
    let data_dir = server.dir.path();
    let mut rows = Vec::new();
    for (name, site, count) in [("small", &small_site, SMALL), ("large", &large_site, large)] {
        let out = scratch.path().join(format!("{name}-export"));
        let export = peak(osiris(&[
            "evidence",
            "export",
            "--data-dir",
            path(data_dir),
            "--site",
            site,
            "--out",
            path(&out),
        ]))
        .await;
        let size = bundles_size(&out);
        let verify = peak(osiris(&["evidence", "verify", path(&out)])).await;
        println!(
            "{name}: {count} bundles ({:.0} MiB of bundle lines): export {:.1} MiB in {:.1?}, verify {:.1} MiB in {:.1?}",
            size as f64 / 1_048_576.0,
            export.hwm_mib(),
            export.elapsed,
            verify.hwm_mib(),
            verify.elapsed,
        );
        rows.push((count, size, export, verify));
    }
    println!();
    println!(
        "| bundles | bundle lines | export peak RSS (heap) | export wall | verify peak RSS (heap) | verify wall |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (count, size, export, verify) in &rows {
        println!(
            "| {count} | {:.0} MiB | {:.1} MiB ({:.1} MiB) | {:.1?} | {:.1} MiB ({:.1} MiB) | {:.1?} |",
            *size as f64 / 1_048_576.0,
            export.hwm_mib(),
            export.anon_mib(),
            export.elapsed,
            verify.hwm_mib(),
            verify.anon_mib(),
            verify.elapsed,
        );
    }
    let [
        (_, _, small_export, small_verify),
        (_, _, large_export, large_verify),
    ] = rows[..]
    else {
        unreachable!("two rows");
    };
    println!();
    println!(
        "{}× the bundles: export {:.2}× the peak RSS, verify {:.2}×",
        large / SMALL,
        large_export.ratio(&small_export),
        large_verify.ratio(&small_verify),
    );
    drop(scratch);
    server.stop().await;
}

/// Creates a site whose appliance's chain holds `count` bundles, stored as
/// a check-in stores them; returns the site id.
async fn seed(server: &TestServer, name: &str, count: usize) -> String {
    let mut appliance = claimed_appliance(server, name).await;
    let state = &server.running.state;
    let now = server.clock.now();
    let started = Instant::now();
    let mut stored = 0;
    while stored < count {
        let n = BATCH.min(count - stored);
        let bundles = appliance.seal_checks(now, n);
        let outcome = osiris_server::intake::accept(
            state,
            &appliance.identity,
            &appliance.scope,
            &bundles,
            now,
        )
        .await
        .unwrap();
        assert!(outcome.rejected.is_none(), "{outcome:?}");
        stored += n;
        if stored % 100_000 == 0 {
            println!(
                "{name}: {stored} bundles stored ({:.0}/s)",
                stored as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    appliance.site.tenant.site
}

/// The bytes of the export's bundle lines.
fn bundles_size(export: &Path) -> u64 {
    std::fs::read_dir(export.join("bundles"))
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum()
}

fn path(file: &Path) -> &str {
    file.to_str().unwrap()
}

fn osiris(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_osiris"));
    // The binary reads every OSIRIS_* variable as a setting: the bench's
    // own would be refused as an unknown one.
    command.args(args).env_remove("OSIRIS_BENCH_BUNDLES");
    command
}
