//! `osiris evidence …`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use osiris_evidence::verify::{Report, VerifyOptions, verify_export};
use osiris_evidence::{Error, PublicKey};

use crate::cli::{ExportArgs, ExportFormatArg, VerifyArgs, VerifyBundleArgs};
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

/// The trusted root and the proof for `seq` of `appliance`, from an export
/// whose manifest signature verifies.
fn from_export(
    args: &VerifyBundleArgs,
    export: &std::path::Path,
    appliance: osiris_core::ApplianceId,
    seq: u64,
) -> Result<(
    osiris_evidence::merkle::TreeHash,
    Option<osiris_evidence::ProofLine>,
)> {
    use std::io::BufRead as _;
    let opened = osiris_evidence::export::OpenedExport::open(export)
        .with_context(|| format!("--export: opening {}", export.display()))?;
    let root = opened.root();
    let manifest_bytes = std::fs::read(root.join("manifest.json"))
        .with_context(|| format!("--export: reading {}/manifest.json", export.display()))?;
    let manifest: osiris_evidence::Manifest = serde_json::from_slice(&manifest_bytes)
        .with_context(|| format!("--export: {}/manifest.json", export.display()))?;
    let server_key = PublicKey::from_base64(&manifest.server_public_key)
        .map_err(|reason| anyhow::anyhow!("manifest.json: field `server_public_key`: {reason}"))?;
    if let Some(expected) = &args.server_key {
        let expected = PublicKey::from_base64(expected)
            .map_err(|reason| anyhow::anyhow!("--server-key: {reason}"))?;
        if expected != server_key {
            anyhow::bail!("manifest.json: signed by another server key than --server-key");
        }
    }
    let signature = std::fs::read_to_string(root.join("manifest.sig"))
        .with_context(|| format!("--export: reading {}/manifest.sig", export.display()))?;
    if !server_key.verifies_base64(&manifest_bytes, &signature) {
        anyhow::bail!("manifest.sig: the manifest signature does not verify");
    }
    let entry = manifest
        .appliances
        .iter()
        .find(|a| a.appliance_id == appliance)
        .ok_or_else(|| {
            anyhow::anyhow!("manifest.json: appliance {appliance} is not in this export")
        })?;
    let merkle_root = entry
        .merkle_root
        .as_deref()
        .and_then(osiris_evidence::merkle::TreeHash::parse)
        .ok_or_else(|| anyhow::anyhow!("manifest.json: appliance {appliance} has no usable `merkle_root` (an export without proofs)"))?;
    if args.proof.is_some() {
        return Ok((merkle_root, None));
    }
    let path = root.join(format!("proofs/{appliance}.jsonl"));
    let file = std::fs::File::open(&path)
        .with_context(|| format!("--export: reading proofs/{appliance}.jsonl"))?;
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("proofs/{appliance}.jsonl"))?;
        let proof: osiris_evidence::ProofLine = serde_json::from_str(&line)
            .with_context(|| format!("proofs/{appliance}.jsonl:{}", number + 1))?;
        if proof.seq == seq {
            return Ok((merkle_root, Some(proof)));
        }
    }
    anyhow::bail!("proofs/{appliance}.jsonl: no proof for seq {seq}")
}

pub(crate) fn verify_bundle(args: &VerifyBundleArgs) -> Result<ExitCode> {
    let mut bundle = std::fs::read(&args.bundle)
        .with_context(|| format!("reading {}", args.bundle.display()))?;
    while bundle.last() == Some(&b'\n') {
        bundle.pop();
    }
    let parsed = osiris_evidence::parse::parse_bundle(&bundle)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.bundle.display()))?;
    let (root, proof) = match (&args.export, &args.root) {
        (Some(export), _) => from_export(args, export, parsed.appliance_id, parsed.seq)?,
        (None, Some(root)) => (
            osiris_evidence::merkle::TreeHash::parse(root)
                .ok_or_else(|| anyhow::anyhow!("--root: not 64 lowercase hex digits"))?,
            None,
        ),
        (None, None) => anyhow::bail!("give --root HEX or --export PATH"),
    };
    let proof = match (proof, &args.proof) {
        (Some(proof), _) => proof,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--proof: reading {}", path.display()))?;
            serde_json::from_str(text.trim())
                .with_context(|| format!("--proof: {}", path.display()))?
        }
        (None, None) => anyhow::bail!("--proof: required with --root"),
    };
    match proof.check(&bundle, &root) {
        Ok(()) => {
            output::line(&format!(
                "OK: appliance {} seq {} is leaf {} of {} under root {root}",
                parsed.appliance_id, parsed.seq, proof.leaf_index, proof.tree_size
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(what) => {
            output::line(&format!(
                "FAILED: appliance {} seq {}: {what}",
                parsed.appliance_id, parsed.seq
            ));
            Ok(EXIT_FINDING)
        }
    }
}
