//! The library entry points behind `osiris rules validate` and `osiris rules match`.

use std::path::{Path, PathBuf};

use crate::t0;

fn reference(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference")).join(name)
}

#[test]
fn rules_validate_accepts_the_reference_files_and_warns_about_unknown_runbooks() {
    let mut out = Vec::new();
    let files = [
        reference("linux_baseline.yaml"),
        reference("sample_rules.yaml"),
    ];
    assert_eq!(osiris_rules::cli::validate(&files, true, &mut out), 0);
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["rules"], 9);
    assert!(
        report["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("LIN-NTP-001"))
    );
}

#[test]
fn rules_validate_reports_bad_rules_with_exit_1_and_missing_files_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "rules:\n  - id: X\n    conditions: [{field: a, operator: gt, value: high}]\n    action: escalate\n").unwrap();
    let mut out = Vec::new();
    assert_eq!(
        osiris_rules::cli::validate(std::slice::from_ref(&bad), false, &mut out),
        1
    );
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("bad.yaml:3:18: rules[0].conditions[0]: gt needs a number"),
        "{text}"
    );
    let mut out = Vec::new();
    assert_eq!(
        osiris_rules::cli::validate(&[dir.path().join("absent.yaml")], false, &mut out),
        2
    );
}

#[test]
fn rules_match_prints_the_decision_as_json_from_stdin() {
    let incident = br#"{"check_type":"windows_defender","drift_detected":true,"status":"fail","severity":"critical","host":"srv01"}"#;
    let mut out = Vec::new();
    let code = osiris_rules::cli::match_incident(
        &[reference("windows_baseline.yaml")],
        Path::new("-"),
        &mut &incident[..],
        t0(),
        &mut out,
    );
    assert_eq!(code, 0);
    let decision: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(decision["matched"], "L1-WIN-DEFENDER-001");
    assert_eq!(decision["runbook_id"], "RB-WIN-AV-001");
    assert!(decision["explain"].as_array().unwrap().len() > 10);
}

#[test]
fn rules_match_refuses_an_incident_that_is_not_an_object() {
    let mut out = Vec::new();
    let code = osiris_rules::cli::match_incident(
        &[reference("sample_rules.yaml")],
        Path::new("-"),
        &mut &b"[1,2]"[..],
        t0(),
        &mut out,
    );
    assert_eq!(code, 2);
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("must be a JSON object")
    );
}
