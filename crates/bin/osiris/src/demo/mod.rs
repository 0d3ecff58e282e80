//! `osiris demo`: as far as the product reaches today, one command shows
//! the evidence loop: a simulated practice is swept on a schedule, drift is
//! healed or escalated, every step becomes a signed, chained bundle, the
//! server checkpoints the chain, and the site's export is verified offline.

mod practice;
mod record;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, DurationRound, Utc};
use osiris_core::{ApplianceId, Clock, ManualClock, SiteId, SystemClock};
use osiris_evidence::export::{ApplianceExport, ExportFormat, ExportWriter};
use osiris_evidence::verify::{VerifyOptions, verify_export};
use osiris_evidence::{Checkpoint, KeyPair};
use serde::{Deserialize, Serialize};

use self::record::EvidenceLog;
use crate::cli::DemoArgs;
use crate::output::{self, Bar};

/// The demo's identity, kept between runs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    practice: String,
    site_id: SiteId,
    appliance_id: ApplianceId,
}

#[derive(Debug, Serialize)]
struct Summary {
    practice: String,
    site_id: SiteId,
    appliance_id: ApplianceId,
    data_dir: PathBuf,
    appliance_key: PathBuf,
    server_key: PathBuf,
    server_public_key: String,
    evidence_log: PathBuf,
    new_bundles: u64,
    chain_length: u64,
    compliance_percent: f64,
    export_dir: PathBuf,
    export_archive: PathBuf,
    verified: bool,
    verify_command: String,
}

const SWEEP_EVERY_HOURS: i64 = 4;
/// Longer than any sweep of the simulated practice takes in simulated time.
const SWEEP_SPAN_MINUTES: i64 = 30;

pub(crate) fn run(args: &DemoArgs) -> Result<ExitCode> {
    let data = &args.data_dir;
    if args.fresh {
        for folder in ["evidence", "exports"] {
            let path = data.join(folder);
            if path.exists() {
                fs::remove_dir_all(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
        }
    }
    for folder in ["keys", "evidence", "exports"] {
        let path = data.join(folder);
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    }
    restrict(&data.join("keys"))?;
    let appliance_key_path = data.join("keys/appliance.ed25519.pem");
    let server_key_path = data.join("keys/server.ed25519.pem");
    let appliance_key = KeyPair::load_or_create(&appliance_key_path)?;
    let server_key = KeyPair::load_or_create(&server_key_path)?;
    let identity = identity(data)?;

    let now = SystemClock.now();
    let mut log = EvidenceLog::open(&data.join("evidence"), &identity.appliance_id)?;
    let earliest = now - Duration::days(i64::from(args.days));
    let start = log
        .last_created_at()
        .map_or(earliest, |last| (last + Duration::minutes(1)).max(earliest));
    let start = start.duration_trunc(Duration::hours(1)).unwrap_or(start);
    // A sweep's bundles are stamped over the minutes after it starts, and
    // the export ends at `now`: only sweeps that finish in the past run.
    let latest_start = now - Duration::minutes(SWEEP_SPAN_MINUTES);
    let sweeps = if latest_start < start {
        0
    } else {
        (latest_start - start).num_hours() / SWEEP_EVERY_HOURS + 1
    };
    let clock = ManualClock::new(start);

    let bar = Bar::new("sweeping");
    bar.set_total(u64::try_from(sweeps).unwrap_or(0));
    let catalog = osiris_catalog::Catalog::embedded().context("loading the built-in catalog")?;
    let mut recorder =
        record::Recorder::new(&appliance_key, &identity, &mut log, &server_key, &catalog)?;
    for _ in 0..sweeps {
        recorder.sweep(&clock)?;
        clock.advance(Duration::hours(SWEEP_EVERY_HOURS));
        bar.inc(1);
    }
    bar.finish();
    let stats = recorder.finish(now)?;

    let (export_dir, export_archive) = export_paths(&data.join("exports"), now);
    let range = (log.first_created_at().unwrap_or(start), now);
    for (out, format) in [
        (&export_dir, ExportFormat::Directory),
        (&export_archive, ExportFormat::TarGz),
    ] {
        write_export(
            out,
            format,
            &identity,
            range,
            now,
            (&appliance_key, &server_key),
            &log,
        )?;
    }

    let mut verified = true;
    for path in [&export_dir, &export_archive] {
        let bar = Bar::new("verifying");
        let options = VerifyOptions {
            server_key: Some(server_key.public_key()),
        };
        let report = verify_export(path, &options, &bar)?;
        bar.finish();
        if !args.json {
            let verdict = if report.ok { "OK" } else { "FAILED" };
            output::line(&format!(
                "verified {}: {verdict} ({} bundles)",
                path.display(),
                report.bundles_checked
            ));
        }
        verified &= report.ok;
    }

    let summary = Summary {
        practice: identity.practice.clone(),
        site_id: identity.site_id,
        appliance_id: identity.appliance_id,
        data_dir: data.clone(),
        appliance_key: appliance_key_path,
        server_key: server_key_path,
        server_public_key: server_key.public_key().to_base64(),
        evidence_log: log.path().to_owned(),
        new_bundles: stats.new_bundles,
        chain_length: log.len(),
        compliance_percent: stats.compliance_percent(),
        export_dir: export_dir.clone(),
        export_archive: export_archive.clone(),
        verified,
        verify_command: format!(
            "osiris evidence verify {} --server-key {}",
            export_archive.display(),
            server_key.public_key().to_base64()
        ),
    };
    if args.json {
        output::json(&summary)?;
    } else {
        print_summary(&summary, &stats);
    }
    if !verified {
        bail!("the demo's own export failed verification");
    }
    Ok(ExitCode::SUCCESS)
}

/// Fresh export paths: a time stamp, and a counter if two runs share it.
fn export_paths(dir: &Path, now: DateTime<Utc>) -> (PathBuf, PathBuf) {
    let stamp = now.format("%Y%m%dT%H%M%S%3fZ");
    let mut name = format!("north-valley-clinic-{stamp}");
    let mut counter = 1;
    while dir.join(&name).exists() || dir.join(format!("{name}.tar.gz")).exists() {
        counter += 1;
        name = format!("north-valley-clinic-{stamp}-{counter}");
    }
    (dir.join(&name), dir.join(format!("{name}.tar.gz")))
}

fn restrict(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))
}

fn identity(data: &Path) -> Result<Identity> {
    let path = data.join("site.json");
    if path.exists() {
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{}: not a demo identity file", path.display()));
    }
    let identity = Identity {
        practice: practice::PRACTICE.into(),
        site_id: SiteId::random(),
        appliance_id: ApplianceId::random(),
    };
    fs::write(&path, serde_json::to_vec_pretty(&identity)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(identity)
}

fn write_export(
    out: &Path,
    format: ExportFormat,
    identity: &Identity,
    range: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    (appliance_key, server_key): (&KeyPair, &KeyPair),
    log: &EvidenceLog,
) -> Result<()> {
    let mut writer = ExportWriter::create(out, format, identity.site_id, range, now, server_key)?;
    let checkpoints: Vec<Checkpoint> = log.checkpoints()?;
    let bundles = log.bundles()?;
    writer.add_appliance(ApplianceExport {
        appliance_id: identity.appliance_id,
        public_key: &appliance_key.public_key(),
        bundles: bundles.iter(),
        checkpoints: &checkpoints,
    })?;
    writer.finish()?;
    Ok(())
}

fn print_summary(summary: &Summary, stats: &record::Stats) {
    let lines = [
        String::new(),
        format!(
            "{} (simulated practice: 2 Windows servers, 1 Debian server)",
            summary.practice
        ),
        format!(
            "  site {}  appliance {}",
            summary.site_id, summary.appliance_id
        ),
        format!(
            "  {} new bundles: {} checks ({} pass, {} fail, {} unknown), {} L1 fixes verified, {} rolled back, {} deferred to the maintenance window, {} escalated to a human (approval or failed fix)",
            summary.new_bundles,
            stats.checks,
            stats.pass,
            stats.fail,
            stats.unknown,
            stats.fixed,
            stats.rolled_back,
            stats.deferred,
            stats.escalated
        ),
        format!(
            "  compliance score at the last sweep: {:.1}%",
            summary.compliance_percent
        ),
        format!(
            "  evidence chain: {} bundles in {}",
            summary.chain_length,
            summary.evidence_log.display()
        ),
        format!(
            "  keys: {} and {} (mode 0600)",
            summary.appliance_key.display(),
            summary.server_key.display()
        ),
        format!("  export: {}", summary.export_dir.display()),
        format!("          {}", summary.export_archive.display()),
        format!(
            "  verified offline: {}",
            if summary.verified { "yes" } else { "NO" }
        ),
        String::new(),
        "Verify it yourself, as an auditor would:".into(),
        format!("  {}", summary.verify_command),
        "The dashboard and the live healing loop arrive with Central Command and the appliance."
            .into(),
    ];
    for line in lines {
        output::line(&line);
    }
}
