//! The reference system's rule files load unchanged and every rule in them can match.

use std::path::{Path, PathBuf};

use osiris_rules::{Ledger, RuleSetBuilder, RuleSource};
use serde_json::{Map, Value, json};

use crate::t0;

fn reference_files() -> Vec<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// An incident built to satisfy every condition of a rule.
fn satisfying(rule: &osiris_catalog::rules::RuleSpec) -> Value {
    let mut incident = Map::new();
    for condition in &rule.conditions {
        let value = condition.value.clone().unwrap_or(Value::Bool(true));
        let wanted = match condition.operator {
            osiris_catalog::rules::Operator::Eq | osiris_catalog::rules::Operator::Contains => {
                value
            }
            osiris_catalog::rules::Operator::Gt => json!(value.as_f64().unwrap() + 1.0),
            osiris_catalog::rules::Operator::Lt => json!(value.as_f64().unwrap() - 1.0),
            osiris_catalog::rules::Operator::In => value.as_array().unwrap()[0].clone(),
            osiris_catalog::rules::Operator::Exists => json!("present"),
            other => panic!("the reference files do not use {other:?}; extend this helper"),
        };
        insert(&mut incident, &condition.field, wanted);
    }
    if let Some(severity) = rule.severity_filter.first() {
        incident.insert("severity".into(), json!(severity));
    }
    Value::Object(incident)
}

fn insert(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let child = map.entry(head.to_owned()).or_insert_with(|| json!({}));
            insert(child.as_object_mut().unwrap(), rest, value);
        }
    }
}

#[test]
fn every_reference_file_loads_unchanged_and_every_rule_is_usable() {
    let files = reference_files();
    assert_eq!(files.len(), 4);
    let mut builder = RuleSetBuilder::new();
    let mut specs = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file =
            osiris_catalog::parse_rule_file(&name, &text).unwrap_or_else(|err| panic!("{err}"));
        assert!(!file.is_osiris());
        specs.extend(file.rules.clone());
        builder = builder.add(RuleSource::Builtin, &name, &file);
    }
    let matcher = builder.build().unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(matcher.rules().len(), specs.len());
    assert!(specs.len() >= 50, "{} rules", specs.len());
    for spec in specs.iter().filter(|s| s.enabled) {
        let incident = satisfying(spec);
        let explained = matcher.explain(&incident, &Ledger::new(), t0());
        let verdict = explained
            .explain
            .iter()
            .find(|v| v.rule == spec.id)
            .unwrap();
        // The rule matched, or it would have and a higher-priority rule came first.
        assert!(
            verdict.matched || verdict.reason == Some(osiris_rules::Reason::NotReached),
            "{} not usable with {incident}: {verdict:?}",
            spec.id
        );
        assert!(explained.matched.is_some());
    }
}

#[test]
fn reference_windows_defender_incident_runs_the_catalog_av_runbook() {
    let path = reference_files()
        .into_iter()
        .find(|p| p.ends_with("windows_baseline.yaml"))
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let file = osiris_catalog::parse_rule_file("windows_baseline.yaml", &text).unwrap();
    let matcher = RuleSetBuilder::new()
        .add(RuleSource::Synced, "windows_baseline.yaml", &file)
        .build()
        .unwrap();
    let incident = json!({"check_type": "windows_defender", "drift_detected": true, "status": "fail", "severity": "high", "host": "srv01"});
    let decision = matcher.decide(&incident, &Ledger::new(), t0());
    assert_eq!(decision.rule_id(), Some("L1-WIN-DEFENDER-001"));
    assert_eq!(decision.runbook_id(), Some("RB-WIN-AV-001"));
    let catalog = osiris_catalog::Catalog::embedded().unwrap();
    assert!(
        catalog.runbook(&"RB-WIN-AV-001".parse().unwrap()).is_some(),
        "one id space with the catalog"
    );
}
