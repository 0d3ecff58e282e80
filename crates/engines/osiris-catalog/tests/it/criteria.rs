//! Criteria over recorded detect outputs: a pass, a fail and an unknown sample
//! per shipped check, shaped like real PowerShell 5.1 and Linux output.

use std::path::Path;

use chrono::{DateTime, Utc};
use osiris_catalog::{Catalog, Criteria, Outcome};

fn now() -> DateTime<Utc> {
    "2024-06-12T12:00:00Z".parse().unwrap()
}

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/detect"))
}

#[test]
fn every_check_judges_its_recorded_pass_fail_and_unknown_outputs() {
    let catalog = Catalog::embedded().unwrap();
    for check in catalog.checks().values() {
        for (name, expected) in [
            ("pass", Outcome::Pass),
            ("fail", Outcome::Fail),
            ("unknown", Outcome::Unknown),
        ] {
            let path = fixtures().join(&check.id).join(format!("{name}.json"));
            let output = std::fs::read_to_string(&path)
                .unwrap_or_else(|_| panic!("missing fixture {}", path.display()));
            let evaluation = check.criteria.evaluate(&output, now());
            assert_eq!(
                evaluation.outcome,
                expected,
                "{}: {evaluation:#?}",
                path.display()
            );
            match expected {
                Outcome::Pass => {
                    assert!(evaluation.failed.is_empty() && evaluation.unknown.is_empty())
                }
                Outcome::Fail => assert!(!evaluation.failed.is_empty()),
                Outcome::Unknown => {
                    assert!(evaluation.failed.is_empty() && !evaluation.unknown.is_empty())
                }
            }
        }
    }
}

#[test]
fn every_fixture_directory_belongs_to_a_shipped_check() {
    let catalog = Catalog::embedded().unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            catalog.check(&name).is_some(),
            "fixtures for unknown check {name}"
        );
    }
}

fn criteria(yaml: &str) -> Criteria {
    let check = format!(
        "id: t.t\ntitle: t\nplatform: debian\ncheck_type: t\nseverity: low\nhipaa: [{{cite: '164.312(b)', name: Audit controls, kind: required}}]\n\
         detect: {{shell: sh, timeout: 5s, script: 'true'}}\nrunbook: RB-LNX-LOGGING-001\ncriteria:\n{yaml}"
    );
    let catalog = Catalog::from_sources(
        vec![osiris_catalog::SourceFile {
            path: "checks/linux/t.yaml".into(),
            text: check,
        }]
        .into_iter()
        .chain(
            Catalog::embedded_sources()
                .into_iter()
                .filter(|f| f.path.starts_with("runbooks/")),
        )
        .collect(),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    catalog.check("t.t").unwrap().criteria.clone()
}

fn outcome(criteria: &Criteria, facts: &str) -> Outcome {
    criteria
        .evaluate(
            &format!(r#"{{"ok":true,"error":null,"facts":{facts}}}"#),
            now(),
        )
        .outcome
}

#[test]
fn output_that_is_not_json_or_not_ok_is_unknown_never_pass() {
    let c =
        criteria("  pass_if:\n    - {id: a, description: a, path: facts.x, op: eq, value: 1}\n");
    for output in [
        "",
        "not json",
        "[]",
        r#"{"facts":{"x":1}}"#,
        r#"{"ok":"true","facts":{"x":1}}"#,
        r#"{"ok":false,"error":"denied","facts":{"x":1}}"#,
    ] {
        assert_eq!(
            c.evaluate(output, now()).outcome,
            Outcome::Unknown,
            "{output:?}"
        );
    }
    assert_eq!(outcome(&c, r#"{"x":1.0}"#), Outcome::Pass);
}

#[test]
fn missing_facts_are_unknown_unless_the_criterion_says_fail() {
    let c =
        criteria("  pass_if:\n    - {id: a, description: a, path: facts.x, op: ge, value: 3}\n");
    assert_eq!(outcome(&c, "{}"), Outcome::Unknown);
    assert_eq!(outcome(&c, r#"{"x":null}"#), Outcome::Unknown);
    assert_eq!(
        outcome(&c, r#"{"x":"3"}"#),
        Outcome::Unknown,
        "a string is not a number"
    );
    let c = criteria(
        "  pass_if:\n    - {id: a, description: a, path: facts.x, op: ge, value: 3, missing: fail}\n",
    );
    assert_eq!(outcome(&c, "{}"), Outcome::Fail);
}

#[test]
fn a_definite_violation_fails_even_when_other_facts_are_unknown() {
    let c = criteria(
        "  pass_if:\n    - {id: a, description: a, path: facts.x, op: eq, value: true}\n    - {id: b, description: b, path: facts.y, op: eq, value: true}\n",
    );
    assert_eq!(outcome(&c, r#"{"x":false}"#), Outcome::Fail);
    assert_eq!(outcome(&c, r#"{"x":true}"#), Outcome::Unknown);
}

#[test]
fn quantifiers_judge_every_element() {
    let c = criteria(
        "  pass_if:\n    - id: a\n      description: a\n      path: facts.v\n      op: none\n      where:\n        - {path: sev, op: in, value: [Critical]}\n        - {path: at, op: older_than, value: 14d}\n",
    );
    assert_eq!(outcome(&c, r#"{"v":[]}"#), Outcome::Pass);
    assert_eq!(
        outcome(
            &c,
            r#"{"v":[{"sev":"Critical","at":"2024-06-11T00:00:00Z"}]}"#
        ),
        Outcome::Pass
    );
    assert_eq!(
        outcome(
            &c,
            r#"{"v":[{"sev":"Low","at":"2024-01-01T00:00:00Z"},{"sev":"Critical","at":"2024-05-01T00:00:00Z"}]}"#
        ),
        Outcome::Fail
    );
    assert_eq!(
        outcome(
            &c,
            r#"{"v":[{"sev":"Critical","at":"\/Date(1718000000000)\/"}]}"#
        ),
        Outcome::Unknown
    );
    assert_eq!(outcome(&c, r#"{"v":null}"#), Outcome::Unknown);
}

#[test]
fn unknown_if_makes_the_whole_result_unknown() {
    let c = criteria(
        "  unknown_if:\n    - {id: u, description: offline, path: facts.err, op: exists}\n  pass_if:\n    - {id: a, description: a, path: facts.x, op: eq, value: 1}\n",
    );
    assert_eq!(outcome(&c, r#"{"err":"offline","x":2}"#), Outcome::Unknown);
    assert_eq!(outcome(&c, r#"{"err":null,"x":2}"#), Outcome::Fail);
}
