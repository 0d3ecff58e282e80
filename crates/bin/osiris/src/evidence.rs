//! `osiris evidence …`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use osiris_evidence::verify::{Report, VerifyOptions, verify_export};
use osiris_evidence::{Error, PublicKey};

use crate::cli::VerifyArgs;
use crate::output::{self, Bar, EXIT_FINDING};

/// Failures printed per chain in text mode; `--json` always has them all.
const SHOWN_PER_CHAIN: usize = 50;

pub(crate) fn verify(args: &VerifyArgs) -> Result<ExitCode> {
    let server_key = args
        .server_key
        .as_deref()
        .map(PublicKey::from_base64)
        .transpose()
        .map_err(|reason| anyhow::anyhow!("--server-key: {reason}"))?;
    let bar = Bar::new("verifying");
    let result = verify_export(&args.path, &VerifyOptions { server_key }, &bar);
    bar.finish();
    let report = match result {
        Ok(report) => report,
        Err(error @ Error::Unusable { .. }) => {
            if args.json {
                output::json(&serde_json::json!({"ok": false, "error": error.to_string()}))?;
            }
            output::error(
                &anyhow::Error::new(error).context("not a usable osiris.export.v1 export"),
            );
            return Ok(output::exit_usage());
        }
        Err(error) => return Err(error).context("verifying the export"),
    };
    if args.json {
        output::json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        EXIT_FINDING
    })
}

pub(crate) fn print_report(report: &Report) {
    let key = report.server_key_id.as_deref().unwrap_or("unusable");
    output::line(&format!(
        "site {}  range {} .. {}",
        report.site_id, report.from, report.to
    ));
    output::line(&format!(
        "server key id {key} (compare it with the one your MSP gave you)"
    ));
    for chain in &report.chains {
        output::line(&format!(
            "  appliance {}  key {}  {} bundles  seq {}..{}  {} checkpoints matched",
            chain.appliance_id,
            chain.key_id.as_deref().unwrap_or("unusable"),
            chain.bundles,
            chain.first_seq.map_or("-".into(), |s| s.to_string()),
            chain.last_seq.map_or("-".into(), |s| s.to_string()),
            chain.checkpoints_matched,
        ));
    }
    if report.ok {
        output::line(&format!(
            "OK: {} bundles in {} chain(s) verified: every signature, link, seq, count, head and checkpoint holds",
            report.bundles_checked,
            report.chains.len()
        ));
        return;
    }
    output::line(&format!("FAILED: {} problems", report.failures.len()));
    let mut shown: std::collections::BTreeMap<Option<&str>, usize> =
        std::collections::BTreeMap::new();
    for failure in &report.failures {
        let count = shown.entry(failure.appliance_id.as_deref()).or_default();
        *count += 1;
        if *count > SHOWN_PER_CHAIN {
            continue;
        }
        let mut location = failure.file.clone();
        if let Some(line) = failure.line {
            location.push_str(&format!(":{line}"));
        }
        output::line(&format!(
            "  appliance {}  seq {}  {location}: {}",
            failure.appliance_id.as_deref().unwrap_or("-"),
            failure.seq.map_or("-".into(), |s| s.to_string()),
            failure.what
        ));
    }
    for (appliance, count) in shown {
        if count > SHOWN_PER_CHAIN {
            output::line(&format!(
                "  … and {} more for appliance {} (use --json for all)",
                count - SHOWN_PER_CHAIN,
                appliance.unwrap_or("-")
            ));
        }
    }
}
