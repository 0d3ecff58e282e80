//! `osiris-loadgen`: check-in load against a running Central Command.
//!
//! It logs in as an admin, creates a partner, a practice and one site per
//! simulated appliance, enrols each appliance by claim code with the
//! appliance's own client (`osiris_agent::uplink`: the same signing, TLS
//! and wire types as a real appliance), seals every bundle it will send
//! before the clock starts, then runs rounds of two phases, every appliance
//! at once, each sending its check-ins one after the other as an appliance
//! does:
//!
//! - **baseline**: check-ins without bundles (signature, quota, appliance
//!   lookup, the answer): what a check-in costs before evidence;
//! - **load**: check-ins carrying `--bundles` sealed bundles each, which the
//!   server verifies, stores in its WORM store and indexes before it
//!   acknowledges them.
//!
//! Every answer is checked (every bundle acknowledged, none refused); the
//! report gives throughput and latency percentiles per phase and the ratio
//! of the two, measured in the same run (BENCHMARKS.md).

mod admin;
mod fleet;
mod report;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

/// Check-in load against a running `osiris server`: simulated appliances,
/// enrolled by claim code, send signed check-ins carrying sealed evidence.
///
/// The server must allow the load: raise its per-site appliance request
/// quota (`OSIRIS_LIMITS__APPLIANCE_REQUESTS`), which is 10 per 5 minutes
/// by default.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Central Command's base URL, e.g. `https://127.0.0.1:8443`.
    #[arg(long)]
    url: String,
    /// The server's CA certificate (PEM), as `osiris server` printed it;
    /// required for https.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// An admin user: it creates the simulated fleet.
    #[arg(long, default_value = "admin")]
    username: String,
    /// The environment variable holding that user's password.
    #[arg(long, default_value = "LOADGEN_PASSWORD")]
    password_env: String,
    /// Simulated appliances, each at its own site, all sending at once.
    #[arg(long, default_value_t = 64)]
    appliances: usize,
    /// Check-ins each appliance sends per phase of a round.
    #[arg(long, default_value_t = 10)]
    checkins: usize,
    /// Sealed bundles per check-in in the load phase.
    #[arg(long, default_value_t = 10)]
    bundles: usize,
    /// Rounds of baseline then load (their figures are pooled).
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("osiris-loadgen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[expect(
    clippy::print_stdout,
    reason = "the report is the tool's output, for people or (--json) scripts"
)]
fn run(args: &Args) -> Result<()> {
    let plan = run::Plan {
        appliances: args.appliances,
        checkins: args.checkins,
        bundles: args.bundles,
        rounds: args.rounds,
    };
    plan.validate()?;
    let password = std::env::var(&args.password_env)
        .with_context(|| format!("--password-env: {} is not set", args.password_env))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(async {
        let admin = admin::Admin::login(
            &args.url,
            args.ca_file.as_deref(),
            &args.username,
            &password,
        )
        .await?;
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let fleet = fleet::Fleet::enrol(
            &admin,
            &args.url,
            args.ca_file.as_deref(),
            dir.path(),
            &plan,
        )
        .await?;
        run::run(fleet, &plan).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if report.failures() > 0 {
        anyhow::bail!(
            "{} check-ins were not answered as expected",
            report.failures()
        );
    }
    Ok(())
}
