//! `osiris evidence …`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use osiris_evidence::verify::{Report, VerifyOptions, verify_export};
use osiris_evidence::{Error, PublicKey};

use crate::cli::{ExportArgs, ExportFormatArg, VerifyArgs};
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

/// A `--from`/`--to` value: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
fn instant(option: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&chrono::Utc))
        .map_err(|_| anyhow::anyhow!("{option}: {text:?} is neither YYYY-MM-DD nor RFC 3339"))
}

pub(crate) fn export(args: &ExportArgs) -> Result<ExitCode> {
    use osiris_core::Clock as _;
    let now = osiris_core::SystemClock.now();
    let from = args
        .from
        .as_deref()
        .map(|text| instant("--from", text))
        .transpose()?
        .unwrap_or(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH);
    let to = args
        .to
        .as_deref()
        .map(|text| instant("--to", text))
        .transpose()?
        .unwrap_or(now + chrono::Duration::milliseconds(1));
    if from >= to {
        anyhow::bail!("--from: must be before --to");
    }
    let config = crate::server::load(&args.source, crate::server::placeholder_listen())?;
    let request = osiris_server::export::ExportRequest {
        site: args.site,
        from,
        to,
        format: match args.format {
            ExportFormatArg::Dir => osiris_evidence::ExportFormat::Directory,
            ExportFormatArg::TarGz => osiris_evidence::ExportFormat::TarGz,
        },
    };
    let bar = Bar::new("exporting");
    let result = crate::server::runtime()?.block_on(osiris_server::export::export_offline(
        &config, now, request, &args.out, &bar,
    ));
    bar.finish();
    let path = result
        .with_context(|| format!("exporting site {} to {}", args.site, args.out.display()))?;
    if args.json {
        output::json(&serde_json::json!({"ok": true, "path": path}))?;
    } else {
        output::line(&format!(
            "export written to {}; check it with `osiris evidence verify {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
