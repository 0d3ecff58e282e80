//! End to end: every Windows detect script of the catalog, run through the
//! WinRM transport against the simulated domain controller, judged by the
//! catalog's own criteria: pass when healthy, fail (naming the criterion)
//! or unknown after drift, pass again once the drift is repaired.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use osiris_catalog::{Catalog, Check, Outcome, Platform};
use osiris_core::{Clock, ManualClock};
use osiris_lab::windows::{HostModel, WindowsLab, WindowsLabConfig};
use osiris_transport::{Script, Shell, Transport};
use osiris_transport_winrm::{WinrmOptions, WinrmTransport, connect};
use serde_json::{Value, json};

use crate::winrm_transport::credentials;
use crate::{PASSWORD, USER};

/// What drift does to a check: the state key, its drifted value, and the
/// outcome with the criterion expected to report it.
struct Drift {
    check: &'static str,
    key: &'static str,
    value: Value,
    outcome: Outcome,
    criterion: &'static str,
}

fn drift(check: &'static str, key: &'static str, value: Value, criterion: &'static str) -> Drift {
    Drift {
        check,
        key,
        value,
        outcome: Outcome::Fail,
        criterion,
    }
}

fn unknown(check: &'static str, key: &'static str, value: Value, criterion: &'static str) -> Drift {
    Drift {
        outcome: Outcome::Unknown,
        ..drift(check, key, value, criterion)
    }
}

fn drifts(now: DateTime<Utc>) -> Vec<Drift> {
    let month_ago = (now - TimeDelta::days(30)).to_rfc3339();
    vec![
        drift(
            "win.av.defender",
            "defender.realtime_enabled",
            json!(false),
            "realtime-on",
        ),
        drift(
            "win.av.defender",
            "defender.signature_age_days",
            json!(9),
            "signatures-fresh",
        ),
        drift(
            "win.av.defender",
            "defender.exclusion_paths",
            json!(["C:\\"]),
            "no-broad-exclusions",
        ),
        unknown(
            "win.av.defender",
            "defender.running_mode",
            json!("Passive"),
            "defender-not-primary",
        ),
        drift(
            "win.firewall.profiles",
            "firewall.public",
            json!(false),
            "all-profiles-enabled",
        ),
        drift(
            "win.firewall.profiles",
            "firewall.domain_inbound",
            json!("Allow"),
            "inbound-blocked",
        ),
        drift(
            "win.encryption.bitlocker",
            "bitlocker.c_protection",
            json!("Off"),
            "protection-on",
        ),
        drift(
            "win.encryption.bitlocker",
            "bitlocker.c_status",
            json!("EncryptionInProgress"),
            "fully-encrypted",
        ),
        drift(
            "win.encryption.bitlocker",
            "bitlocker.c_protectors",
            json!(["Tpm"]),
            "recovery-password",
        ),
        drift(
            "win.backup.wsb",
            "backup.last_success_hours_ago",
            json!(50),
            "recent-success",
        ),
        drift(
            "win.backup.wsb",
            "backup.last_success_hours_ago",
            Value::Null,
            "recent-success",
        ),
        drift(
            "win.backup.wsb",
            "backup.last_result",
            json!(-2_147_024_784),
            "last-run-succeeded",
        ),
        unknown(
            "win.backup.wsb",
            "backup.installed",
            json!(false),
            "wsb-not-installed",
        ),
        drift(
            "win.logging.audit",
            "audit.logon",
            json!("Success"),
            "audit-logon",
        ),
        drift(
            "win.logging.audit",
            "audit.credential_validation",
            json!("No Auditing"),
            "audit-credential-validation",
        ),
        drift(
            "win.logging.audit",
            "eventlog.security_max_bytes",
            json!(20_971_520),
            "security-log-size",
        ),
        drift(
            "win.logging.audit",
            "eventlog.security_span_days",
            json!(2),
            "security-log-span",
        ),
        drift(
            "win.logging.audit",
            "audit.force_subcategories",
            Value::Null,
            "force-subcategories",
        ),
        drift(
            "win.patch.wua",
            "updates.last_success_days_ago",
            json!(60),
            "recent-successful-install",
        ),
        drift(
            "win.patch.wua",
            "updates.reboot_pending_days_ago",
            json!([10]),
            "no-stale-reboot",
        ),
        drift(
            "win.patch.wua",
            "updates.pending",
            json!([{ "title": "2024-05 Cumulative Update for Windows Server 2019 (KB5037765)",
                     "kb": ["5037765"], "severity": "Critical", "categories": ["Security Updates"],
                     "released_utc": month_ago, "reboot_required": true }]),
            "no-overdue-security-updates",
        ),
        drift(
            "win.ad.health",
            "ad.repl_failures",
            json!(3),
            "replication-healthy",
        ),
        drift(
            "win.ad.health",
            "ad.dcdiag_errors",
            json!(["Starting test: Advertising", "DC01 failed test Advertising"]),
            "dcdiag-clean",
        ),
        drift(
            "win.ad.health",
            "ad.inactive_90d",
            json!([{ "sam": "jdoe", "last_logon_utc": month_ago }]),
            "no-stale-accounts",
        ),
        drift(
            "win.ad.health",
            "ad.lockout_threshold",
            json!(0),
            "lockout-enabled",
        ),
        drift(
            "win.ad.health",
            "ad.shares",
            json!(["NETLOGON"]),
            "sysvol-shared",
        ),
        drift(
            "win.ad.health",
            "ad.w32tm_status",
            json!(
                "Leap Indicator: 0(no warning)\r\nStratum: 1 (primary reference - syncd by radio clock)\r\nSource: Local CMOS Clock\r\n"
            ),
            "time-source",
        ),
    ]
}

pub(crate) async fn start(clock: &ManualClock) -> WindowsLab {
    let config = WindowsLabConfig {
        user: USER.into(),
        password: PASSWORD.into(),
        latency: Duration::ZERO,
        model: HostModel::windows_dc()
            .unwrap()
            .with_clock(Arc::new(clock.clone())),
        tls: None,
    };
    WindowsLab::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

pub(crate) fn windows_checks(catalog: &Catalog) -> Vec<&Check> {
    catalog
        .checks()
        .values()
        .filter(|c| c.platform == Platform::Windows)
        .collect()
}

pub(crate) async fn detect(transport: &mut WinrmTransport, check: &Check) -> String {
    run_ok(transport, &check.id, &check.detect, None).await
}

/// Runs a catalog script over the transport; it must exit 0 (a script the
/// lab does not know exits 1 with PowerShell's CommandNotFoundException).
pub(crate) async fn run_ok(
    transport: &mut WinrmTransport,
    label: &str,
    step: &osiris_catalog::Script,
    input: Option<Vec<u8>>,
) -> String {
    let script = Script {
        shell: Shell::PowerShell,
        body: step.script.clone(),
        input,
        timeout: step.timeout.as_chrono().to_std().unwrap(),
    };
    let output = transport.run(&script).await.unwrap();
    assert_eq!(
        output.exit_code,
        0,
        "{label}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn every_windows_check_passes_on_the_healthy_lab_and_names_each_injected_drift() {
    let catalog = Catalog::embedded().unwrap();
    let clock = ManualClock::new("2024-06-15T12:00:00Z".parse().unwrap());
    let lab = start(&clock).await;
    let mut transport = connect(
        "dc01",
        &lab.url(),
        &credentials(PASSWORD),
        &WinrmOptions::default(),
    )
    .await
    .unwrap();
    let now = clock.now();
    let drifts = drifts(now);
    let checks = windows_checks(&catalog);

    // Every Windows check of the catalog has drift cases, and no case
    // names a check the catalog lacks.
    let covered: BTreeSet<&str> = drifts.iter().map(|d| d.check).collect();
    let shipped: BTreeSet<&str> = checks.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(covered, shipped);

    for check in &checks {
        let stdout = detect(&mut transport, check).await;
        let evaluation = check.criteria.evaluate(&stdout, now);
        assert_eq!(
            evaluation.outcome,
            Outcome::Pass,
            "{}: {evaluation:?}\n{stdout}",
            check.id
        );
        let document: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(document["check"], check.id.as_str());
        assert_eq!(document["collected_utc"], "2024-06-15T12:00:00.0000000Z");
    }

    for case in &drifts {
        let check = catalog.check(case.check).unwrap();
        let healthy = lab
            .state(case.key)
            .unwrap_or_else(|| panic!("no state key {}", case.key));
        lab.set_state(case.key, case.value.clone()).unwrap();
        let stdout = detect(&mut transport, check).await;
        let evaluation = check.criteria.evaluate(&stdout, now);
        let findings = match case.outcome {
            Outcome::Fail => &evaluation.failed,
            _ => &evaluation.unknown,
        };
        assert_eq!(
            (
                evaluation.outcome,
                findings
                    .iter()
                    .map(|f| f.criterion.as_str())
                    .collect::<Vec<_>>()
            ),
            (case.outcome, vec![case.criterion]),
            "{} with {} = {}: {evaluation:?}\n{stdout}",
            case.check,
            case.key,
            case.value
        );
        lab.set_state(case.key, healthy).unwrap();
        let repaired = check
            .criteria
            .evaluate(&detect(&mut transport, check).await, now);
        assert_eq!(
            repaired.outcome,
            Outcome::Pass,
            "{} after repair: {repaired:?}",
            case.check
        );
    }
    Box::new(transport).close().await.unwrap();
}

#[tokio::test]
async fn detect_times_follow_the_lab_clock_so_the_host_stays_healthy_over_time() {
    let catalog = Catalog::embedded().unwrap();
    let clock = ManualClock::new("2024-06-15T12:00:00Z".parse().unwrap());
    let lab = start(&clock).await;
    let mut transport = connect(
        "dc01",
        &lab.url(),
        &credentials(PASSWORD),
        &WinrmOptions::default(),
    )
    .await
    .unwrap();
    let backup = catalog.check("win.backup.wsb").unwrap();
    let at_start = detect(&mut transport, backup).await;
    clock.advance(TimeDelta::days(3));
    let later = detect(&mut transport, backup).await;
    // Read at the later time, the earlier answer is stale; the new one is not.
    assert_eq!(
        backup.criteria.evaluate(&at_start, clock.now()).outcome,
        Outcome::Fail
    );
    assert_eq!(
        backup.criteria.evaluate(&later, clock.now()).outcome,
        Outcome::Pass
    );
}
