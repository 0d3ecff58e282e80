//! `cargo xtask bench`: every figure in BENCHMARKS.md, re-run together on
//! one machine, one after the other (never two at once: each would be the
//! other's noise).
//!
//! Each entry is the exact command BENCHMARKS.md gives for its section. The
//! services the benches talk to (PostgreSQL, the S3 server, sshd, the
//! Python peers) are made ready by `.ci/setup` first, and their addresses
//! passed on as CI passes them to the tests. Every bench's output goes to
//! `<target>/bench-report/<name>.log`; a failed bench is reported and the
//! rest still run, and the command fails at the end if any did.

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// One bench: a name for its log and the command that runs it.
struct Bench {
    name: &'static str,
    program: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const fn cargo_bench(
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
) -> Bench {
    Bench {
        name,
        program: "cargo",
        args,
        env,
    }
}

/// BENCHMARKS.md's sections, in its order.
const BENCHES: &[Bench] = &[
    cargo_bench(
        "evidence",
        &["bench", "-p", "osiris-evidence", "--bench", "evidence"],
        &[],
    ),
    cargo_bench(
        "evidence-million",
        &[
            "bench",
            "-p",
            "osiris-evidence",
            "--bench",
            "evidence",
            "--",
            "verify_million",
        ],
        &[("OSIRIS_BENCH_MILLION", "1")],
    ),
    cargo_bench(
        "scrub",
        &["bench", "-p", "osiris-scrub", "--bench", "scrub"],
        &[],
    ),
    cargo_bench(
        "limiter",
        &[
            "bench",
            "-p",
            "osiris-limits",
            "--bench",
            "limiter",
            "--",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "4",
        ],
        &[],
    ),
    cargo_bench(
        "rules",
        &["bench", "-p", "osiris-rules", "--bench", "matching"],
        &[],
    ),
    cargo_bench(
        "catalog",
        &["bench", "-p", "osiris-catalog", "--bench", "load"],
        &[],
    ),
    cargo_bench(
        "planner",
        &["bench", "-p", "osiris-planner", "--bench", "decide"],
        &[],
    ),
    cargo_bench(
        "winrm-envelope",
        &[
            "bench",
            "-p",
            "winrm",
            "--bench",
            "envelope",
            "--",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "3",
        ],
        &[],
    ),
    cargo_bench(
        "winrm-sweep",
        &[
            "test",
            "-p",
            "osiris-lab",
            "sweep",
            "--",
            "--nocapture",
            "--test-threads",
            "1",
        ],
        &[("OSIRIS_TEST_PYTHON", "/var/tmp/osiris-pyenv/bin/python")],
    ),
    cargo_bench(
        "ssh-sweep",
        &["bench", "-p", "osiris-transport-ssh", "--bench", "sweep"],
        &[],
    ),
    cargo_bench(
        "queue",
        &["bench", "-p", "osiris-queue", "--bench", "enqueue"],
        &[],
    ),
    cargo_bench(
        "ingest",
        &["bench", "-p", "osiris-server", "--bench", "ingest"],
        &[],
    ),
    cargo_bench(
        "fleet-page",
        &["bench", "-p", "osiris-server", "--bench", "fleet"],
        &[],
    ),
    cargo_bench(
        "agent-memory",
        &["bench", "-p", "osiris", "--bench", "agent_memory"],
        &[],
    ),
    cargo_bench(
        "export-memory",
        &["bench", "-p", "osiris", "--bench", "export_memory"],
        &[],
    ),
    Bench {
        name: "checkin-load",
        program: "crates/testing/osiris-loadgen/bench.sh",
        args: &[
            "--appliances",
            "64",
            "--checkins",
            "10",
            "--bundles",
            "10",
            "--rounds",
            "2",
        ],
        env: &[],
    },
];

/// Runs the benches named in `only` (all when empty).
pub(crate) fn run(only: &[String], services: &[(String, String)]) -> Result<()> {
    for name in only {
        if !BENCHES.iter().any(|bench| bench.name == name) {
            bail!(
                "bench {name:?} is not one of: {}",
                BENCHES
                    .iter()
                    .map(|bench| bench.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let report = PathBuf::from(target).join("bench-report");
    fs::create_dir_all(&report).with_context(|| format!("creating {}", report.display()))?;
    let mut failed = Vec::new();
    for bench in BENCHES
        .iter()
        .filter(|bench| only.is_empty() || only.iter().any(|name| name == bench.name))
    {
        let log = report.join(format!("{}.log", bench.name));
        eprintln!(
            "bench {}: {} {} > {}",
            bench.name,
            bench.program,
            bench.args.join(" "),
            log.display()
        );
        let output = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let errors = output
            .try_clone()
            .with_context(|| format!("opening {}", log.display()))?;
        #[expect(
            clippy::disallowed_methods,
            reason = "the wall time of a bench run, for its operator"
        )]
        let started = Instant::now();
        let status = Command::new(bench.program)
            .args(bench.args)
            .envs(services.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(bench.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .status()
            .with_context(|| format!("starting {}", bench.program))?;
        let elapsed = started.elapsed().as_secs();
        if status.success() {
            eprintln!("bench {}: done in {elapsed} s", bench.name);
        } else {
            eprintln!(
                "bench {}: FAILED ({status}) after {elapsed} s; see {}",
                bench.name,
                log.display()
            );
            failed.push(bench.name);
        }
    }
    if !failed.is_empty() {
        bail!("{} bench(es) failed: {}", failed.len(), failed.join(", "));
    }
    eprintln!("bench: every log is in {}", report.display());
    Ok(())
}
