//! Project automation. `cargo xtask ci` runs exactly what CI runs;
//! `cargo xtask check-layers` enforces the dependency direction between the
//! layer folders under `crates/`; `cargo xtask bench` re-runs every figure
//! of BENCHMARKS.md on this machine.

mod bench;
mod layers;

use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("check-layers") => check_layers(),
        Some("bench") => {
            setup()?;
            bench::run(args.get(1..).unwrap_or_default(), &services_env()?)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 ci            format, layers, clippy, rustdoc, cargo-deny and every test (what CI runs)\n  \
                 check-layers  fail when a crate depends on a layer above its own\n  \
                 bench [NAME]  every bench of BENCHMARKS.md (or the named ones), one after the\n                \
                 other, logs in <target>/bench-report/"
            );
            std::process::exit(2);
        }
    }
}

fn check_layers() -> Result<()> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("running cargo metadata")?;
    let violations = layers::violations(&layers::Workspace::from_metadata(&metadata)?);
    if violations.is_empty() {
        eprintln!("check-layers: every dependency points to a lower layer");
        return Ok(());
    }
    for violation in &violations {
        eprintln!("check-layers: {violation}");
    }
    bail!("{} layer violation(s)", violations.len())
}

fn cargo(args: &[&str]) -> Result<()> {
    cargo_with_env(args, &[])
}

fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("starting cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed with {status}", args.join(" "));
    }
    Ok(())
}

/// Installs and starts what the tests and benches talk to.
fn setup() -> Result<()> {
    let status = Command::new(".ci/setup")
        .status()
        .context("running .ci/setup")?;
    if !status.success() {
        bail!(".ci/setup failed with {status}");
    }
    Ok(())
}

fn ci() -> Result<()> {
    setup()?;
    // The addresses of the services and peers .ci/setup made ready.
    let services = services_env()?;
    cargo(&["fmt", "--all", "--check"])?;
    check_layers()?;
    cargo(&[
        "clippy",
        "--locked",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // Broken intra-doc links are broken documentation.
    cargo_with_env(
        &[
            "doc",
            "--locked",
            "--workspace",
            "--no-deps",
            "--document-private-items",
        ],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // Licences, banned crates and sources; advisories need a database that
    // cannot be fetched here. cargo-deny reads the metadata of every
    // platform's dependencies (windows-sys and the like), which a build on
    // Linux never downloads: fetch them all first, or a fresh machine fails.
    cargo(&["fetch", "--locked"])?;
    cargo(&["deny", "--offline", "check", "licenses", "bans", "sources"])?;
    let env: Vec<(&str, &str)> = services
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    cargo_with_env(&["test", "--locked", "--workspace", "--no-fail-fast"], &env)?;
    Ok(())
}

/// Reads the `KEY=VALUE` lines `.ci/setup` wrote.
fn services_env() -> Result<Vec<(String, String)>> {
    let path = std::env::var("OSIRIS_SERVICES_ENV")
        .unwrap_or_else(|_| "/var/tmp/osiris-services.env".into());
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .with_context(|| format!("{path}: not a KEY=VALUE line: {line}"))
        })
        .collect()
}
