//! End to end: every Windows runbook of the catalog, run through the WinRM
//! transport against the simulated domain controller. Drift is injected and
//! detected, remediate fixes it and prints the prior state, verify (the
//! check's detect and criteria) passes, and rollback, fed what remediate
//! printed on standard input, brings the same drift back.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use osiris_catalog::{Catalog, Check, Outcome, Platform, Runbook};
use osiris_core::{Clock, ManualClock};
use osiris_transport::Transport;
use osiris_transport_winrm::{WinrmOptions, WinrmTransport, connect};
use serde_json::{Value, json};

use crate::PASSWORD;
use crate::catalog_checks::{detect, run_ok, start, windows_checks};
use crate::winrm_transport::credentials;

/// A runbook's drift: state changes and the criteria they must fail.
struct Drift {
    runbook: &'static str,
    state: Vec<(&'static str, Value)>,
    failed: Vec<&'static str>,
}

fn drifts(now: DateTime<Utc>) -> Vec<Drift> {
    let month_ago = (now - TimeDelta::days(30)).to_rfc3339();
    vec![
        Drift {
            runbook: "RB-WIN-AV-001",
            state: vec![("defender.realtime_enabled", json!(false))],
            failed: vec!["realtime-on"],
        },
        Drift {
            runbook: "RB-WIN-FIREWALL-001",
            state: vec![
                ("firewall.public", json!(false)),
                ("firewall.domain_inbound", json!("Allow")),
            ],
            failed: vec!["all-profiles-enabled", "inbound-blocked"],
        },
        Drift {
            runbook: "RB-WIN-ENCRYPTION-001",
            state: vec![("bitlocker.c_protection", json!("Off"))],
            failed: vec!["protection-on"],
        },
        Drift {
            runbook: "RB-WIN-BACKUP-001",
            state: vec![("backup.last_success_hours_ago", json!(50))],
            failed: vec!["recent-success"],
        },
        Drift {
            runbook: "RB-WIN-LOGGING-001",
            state: vec![
                ("audit.logon", json!("Success")),
                ("audit.force_subcategories", Value::Null),
                ("eventlog.security_max_bytes", json!(20_971_520)),
            ],
            failed: vec!["audit-logon", "force-subcategories", "security-log-size"],
        },
        Drift {
            runbook: "RB-WIN-PATCH-001",
            state: vec![(
                "updates.pending",
                json!([{ "title": "2024-05 Cumulative Update for Windows Server 2019 (KB5037765)",
                         "kb": ["5037765"], "severity": "Critical", "categories": ["Security Updates"],
                         "released_utc": month_ago, "reboot_required": true }]),
            )],
            failed: vec!["no-overdue-security-updates"],
        },
        Drift {
            runbook: "RB-WIN-AD-001",
            state: vec![
                ("ad.w32tm_type", json!("NTP")),
                ("ad.ntp_server", json!("")),
                (
                    "ad.w32tm_status",
                    json!(
                        "Leap Indicator: 0(no warning)\r\nStratum: 1 (primary reference - syncd by radio clock)\r\nSource: Local CMOS Clock\r\n"
                    ),
                ),
            ],
            failed: vec!["time-source"],
        },
    ]
}

fn windows_runbooks(catalog: &Catalog) -> Vec<&Runbook> {
    catalog
        .runbooks()
        .values()
        .filter(|r| r.platforms.contains(&Platform::Windows))
        .collect()
}

/// Runs one runbook step; it must exit 0.
async fn run_step(
    transport: &mut WinrmTransport,
    runbook: &Runbook,
    step: &osiris_catalog::Script,
    input: Option<Vec<u8>>,
) -> String {
    run_ok(transport, runbook.id.as_str(), step, input).await
}

/// The criteria the check's detect fails now, sorted.
async fn failing(transport: &mut WinrmTransport, check: &Check, now: DateTime<Utc>) -> Vec<String> {
    let evaluation = check
        .criteria
        .evaluate(&detect(transport, check).await, now);
    let mut failed: Vec<String> = evaluation
        .failed
        .iter()
        .map(|f| f.criterion.clone())
        .collect();
    failed.sort();
    assert_eq!(
        evaluation.outcome == Outcome::Pass,
        failed.is_empty() && evaluation.unknown.is_empty(),
        "{}: {evaluation:?}",
        check.id
    );
    failed
}

#[tokio::test]
async fn every_windows_runbook_remediates_verifies_and_rolls_back_drift_on_the_lab() {
    let catalog = Catalog::embedded().unwrap();
    let clock = ManualClock::new("2024-06-15T12:00:00Z".parse().unwrap());
    let now = clock.now();
    let drifts = drifts(now);
    let runbooks = windows_runbooks(&catalog);
    let covered: BTreeSet<&str> = drifts.iter().map(|d| d.runbook).collect();
    let shipped: BTreeSet<&str> = runbooks.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(covered, shipped, "every Windows runbook needs a drift case");

    for runbook in runbooks {
        let case = drifts
            .iter()
            .find(|d| d.runbook == runbook.id.as_str())
            .unwrap();
        let check = windows_checks(&catalog)
            .into_iter()
            .find(|c| c.runbook == runbook.id)
            .unwrap_or_else(|| panic!("no Windows check uses {}", runbook.id));
        // A fresh host per runbook, so one runbook's changes cannot help another.
        let lab = start(&clock).await;
        let mut transport = connect(
            "dc01",
            &lab.url(),
            &credentials(PASSWORD),
            &WinrmOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            failing(&mut transport, check, now).await,
            Vec::<String>::new()
        );

        for (key, value) in &case.state {
            lab.set_state(key, value.clone()).unwrap();
        }
        let drifted = failing(&mut transport, check, now).await;
        assert_eq!(drifted, case.failed, "{} after drift", runbook.id);

        let printed = run_step(&mut transport, runbook, &runbook.steps.remediate, None).await;
        let document: Value = serde_json::from_str(&printed)
            .unwrap_or_else(|e| panic!("{} remediate printed {printed:?}: {e}", runbook.id));
        assert!(
            document["before"].is_object(),
            "{} remediate printed no before: {printed}",
            runbook.id
        );
        assert!(printed.ends_with("\r\n") && !printed.trim_end().contains('\n'));

        assert!(runbook.steps.verify.rerun_detect, "{}", runbook.id);
        assert_eq!(
            failing(&mut transport, check, now).await,
            Vec::<String>::new(),
            "{} verify after remediate",
            runbook.id
        );

        match &runbook.steps.rollback {
            Some(rollback) => {
                let rolled_back = run_step(
                    &mut transport,
                    runbook,
                    rollback,
                    Some(printed.clone().into_bytes()),
                )
                .await;
                // Rollbacks parse their input; none echoes it (the lab's
                // plain stdin reader would, had no rollback rule answered).
                assert!(!rolled_back.contains(printed.trim_end()), "{}", runbook.id);
                assert_eq!(
                    failing(&mut transport, check, now).await,
                    case.failed,
                    "{} after rollback",
                    runbook.id
                );
            }
            None => assert!(runbook.steps.no_rollback.is_some(), "{}", runbook.id),
        }
        Box::new(transport).close().await.unwrap();
    }
}

#[tokio::test]
async fn rollback_restores_the_state_it_is_given_on_standard_input() {
    let catalog = Catalog::embedded().unwrap();
    let clock = ManualClock::new("2024-06-15T12:00:00Z".parse().unwrap());
    let lab = start(&clock).await;
    lab.set_state("defender.realtime_enabled", json!(false))
        .unwrap();
    let mut transport = connect(
        "dc01",
        &lab.url(),
        &credentials(PASSWORD),
        &WinrmOptions::default(),
    )
    .await
    .unwrap();
    let runbook = windows_runbooks(&catalog)
        .into_iter()
        .find(|r| r.id.as_str() == "RB-WIN-AV-001")
        .unwrap();
    let remediate = run_step(&mut transport, runbook, &runbook.steps.remediate, None).await;
    assert!(
        remediate.contains(r#""before":{"DisableRealtimeMonitoring":true"#),
        "{remediate}"
    );
    assert_eq!(lab.state("defender.realtime_enabled"), Some(json!(true)));
    // Rolled back with a 'before' that had real-time protection on, the
    // host keeps it on: the state comes from stdin, not from a script constant.
    let rollback = runbook.steps.rollback.as_ref().unwrap();
    run_step(
        &mut transport,
        runbook,
        rollback,
        Some(
            br#"{"before":{"DisableRealtimeMonitoring":false,"WinDefendStartType":"Manual"}}"#
                .to_vec(),
        ),
    )
    .await;
    assert_eq!(
        (
            lab.state("defender.realtime_enabled"),
            lab.state("defender.start_type")
        ),
        (Some(json!(true)), Some(json!("Manual")))
    );
}
