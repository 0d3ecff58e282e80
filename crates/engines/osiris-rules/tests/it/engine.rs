//! Priority, ties, severity, platform, enabled flag, cooldown, retries, overrides, explanations.

use chrono::Duration;
use osiris_core::{Clock, ManualClock};
use osiris_rules::{Ledger, Reason, RuleSetBuilder, RuleSource};
use serde_json::json;

use crate::{incident, matcher, t0};

const TWO_RULES: &str = "
  - id: L1-B
    platform: windows
    conditions: [{field: check_type, operator: eq, value: antivirus}]
    action: run_runbook
    action_params: {runbook_id: RB-WIN-AV-001}
    priority: 10
    cooldown_seconds: 300
    max_retries: 2
  - id: L1-A
    platform: windows
    conditions: [{field: check_type, operator: eq, value: antivirus}]
    action: escalate
    priority: 20
";

fn av() -> serde_json::Value {
    incident(
        r#"{"check_type":"antivirus","status":"fail","severity":"high","platform":"windows","host":"srv01"}"#,
    )
}

#[test]
fn lower_priority_number_wins() {
    let matcher = matcher(TWO_RULES);
    let decision = matcher.decide(&av(), &Ledger::new(), t0());
    assert_eq!(decision.rule_id(), Some("L1-B"));
    assert_eq!(decision.runbook_id(), Some("RB-WIN-AV-001"));
}

#[test]
fn priority_ties_are_broken_by_rule_id_whatever_the_load_order() {
    let rules = TWO_RULES.replace("priority: 20", "priority: 10");
    assert_eq!(
        matcher(&rules)
            .decide(&av(), &Ledger::new(), t0())
            .rule_id(),
        Some("L1-A")
    );
    let swapped = format!(
        "{}\n{}",
        &rules[rules.find("  - id: L1-A").unwrap()..],
        &rules[..rules.find("  - id: L1-A").unwrap()]
    );
    assert_eq!(
        matcher(&swapped)
            .decide(&av(), &Ledger::new(), t0())
            .rule_id(),
        Some("L1-A")
    );
}

#[test]
fn severity_filter_and_platform_gate_a_rule() {
    let rules = TWO_RULES.replace(
        "    priority: 10\n",
        "    priority: 10\n    severity_filter: [critical]\n",
    );
    let matcher = matcher(&rules);
    assert_eq!(
        matcher.decide(&av(), &Ledger::new(), t0()).rule_id(),
        Some("L1-A")
    );
    let mut critical = av();
    critical["severity"] = json!("CRITICAL");
    assert_eq!(
        matcher.decide(&critical, &Ledger::new(), t0()).rule_id(),
        Some("L1-B")
    );
    let mut linux = av();
    linux["platform"] = json!("debian");
    assert_eq!(matcher.decide(&linux, &Ledger::new(), t0()).rule_id(), None);
}

#[test]
fn a_disabled_rule_never_matches() {
    let rules = TWO_RULES.replace(
        "    priority: 10\n",
        "    priority: 10\n    enabled: false\n",
    );
    let matcher = matcher(&rules);
    assert_eq!(
        matcher.decide(&av(), &Ledger::new(), t0()).rule_id(),
        Some("L1-A")
    );
    let explained = matcher.explain(&av(), &Ledger::new(), t0());
    assert_eq!(explained.explain[0].reason, Some(Reason::Disabled));
}

#[test]
fn cooldown_is_per_host_and_ends_exactly_when_it_should() {
    let clock = ManualClock::new(t0());
    let matcher = matcher(TWO_RULES);
    let mut ledger = Ledger::new();
    ledger.record_fired("L1-B", "srv01", clock.now());
    clock.advance(Duration::seconds(299));
    assert_eq!(
        matcher.decide(&av(), &ledger, clock.now()).rule_id(),
        Some("L1-A")
    );
    let explained = matcher.explain(&av(), &ledger, clock.now());
    assert_eq!(
        explained.explain[0].reason,
        Some(Reason::Cooldown {
            remaining_seconds: 1
        })
    );
    let mut other_host = av();
    other_host["host"] = json!("srv02");
    assert_eq!(
        matcher.decide(&other_host, &ledger, clock.now()).rule_id(),
        Some("L1-B")
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(
        matcher.decide(&av(), &ledger, clock.now()).rule_id(),
        Some("L1-B")
    );
}

#[test]
fn max_retries_stops_a_failing_rule_until_it_succeeds() {
    let matcher = matcher(TWO_RULES);
    let mut ledger = Ledger::new();
    let later = t0() + Duration::hours(1);
    ledger.record_fired("L1-B", "srv01", t0());
    ledger.record_outcome("L1-B", "srv01", false);
    assert_eq!(
        matcher.decide(&av(), &ledger, later).rule_id(),
        Some("L1-B")
    );
    ledger.record_outcome("L1-B", "srv01", false);
    assert_eq!(
        matcher.decide(&av(), &ledger, later).rule_id(),
        Some("L1-A")
    );
    ledger.record_outcome("L1-B", "srv01", true);
    assert_eq!(
        matcher.decide(&av(), &ledger, later).rule_id(),
        Some("L1-B")
    );
}

fn file(id_action: &str) -> osiris_catalog::rules::RuleFile {
    let text = format!(
        "rules:\n  - id: L1-X\n    conditions: [{{field: check_type, operator: eq, value: antivirus}}]\n    action: {id_action}\n"
    );
    osiris_catalog::parse_rule_file("x.yaml", &text).unwrap()
}

#[test]
fn synced_and_promoted_rules_override_builtin_ones_with_the_same_id_in_any_order() {
    let decide = |builder: RuleSetBuilder| {
        let matcher = builder.build().unwrap();
        let decision = matcher.decide(&av(), &Ledger::new(), t0());
        (
            decision.rule().unwrap().action().to_owned(),
            decision.rule().unwrap().source(),
        )
    };
    let builtin = file("builtin_action");
    let synced = file("synced_action");
    let promoted = file("promoted_action");
    let forward = RuleSetBuilder::new()
        .add(RuleSource::Builtin, "b", &builtin)
        .add(RuleSource::Synced, "s", &synced);
    let backward = RuleSetBuilder::new()
        .add(RuleSource::Synced, "s", &synced)
        .add(RuleSource::Builtin, "b", &builtin);
    assert_eq!(
        decide(forward),
        ("synced_action".to_owned(), RuleSource::Synced)
    );
    assert_eq!(
        decide(backward),
        ("synced_action".to_owned(), RuleSource::Synced)
    );
    let all = RuleSetBuilder::new()
        .add(RuleSource::Promoted, "p", &promoted)
        .add(RuleSource::Builtin, "b", &builtin)
        .add(RuleSource::Synced, "s", &synced);
    assert_eq!(
        decide(all),
        ("promoted_action".to_owned(), RuleSource::Promoted)
    );
}

#[test]
fn the_same_id_twice_from_one_source_is_refused() {
    let err = RuleSetBuilder::new()
        .add(RuleSource::Synced, "a.yaml", &file("one"))
        .add(RuleSource::Synced, "b.yaml", &file("two"))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "b.yaml: rule L1-X: id: duplicate rule id \"L1-X\" from the same source, also in a.yaml"
    );
}

#[test]
fn explanations_say_why_each_other_rule_did_not_match() {
    let rules = format!(
        "{TWO_RULES}  - id: L1-C\n    platform: windows\n    conditions: [{{field: check_type, operator: eq, value: antivirus}}, {{field: details.age, operator: gt, value: 3}}]\n    action: escalate\n    priority: 1\n  - id: L1-D\n    platform: windows\n    conditions: [{{field: check_type, operator: eq, value: backup}}]\n    action: escalate\n    priority: 2\n"
    );
    let explained = matcher(&rules).explain(&av(), &Ledger::new(), t0());
    let json = serde_json::to_value(&explained).unwrap();
    assert_eq!(json["matched"], "L1-B");
    assert_eq!(json["runbook_id"], "RB-WIN-AV-001");
    let reasons: Vec<_> = json["explain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["rule"].clone(), v["reason"].clone()))
        .collect();
    assert_eq!(reasons[0], (json!("L1-C"), json!("condition")));
    assert_eq!(
        json["explain"][0]["detail"],
        "details.age is absent, expected > 3"
    );
    assert_eq!(reasons[1], (json!("L1-D"), json!("condition")));
    assert_eq!(reasons[2], (json!("L1-B"), serde_json::Value::Null));
    assert_eq!(reasons[3], (json!("L1-A"), json!("not_reached")));
}

#[test]
fn the_catalog_builtin_rules_send_each_failing_check_to_its_runbook() {
    let catalog = osiris_catalog::Catalog::embedded().unwrap();
    let matcher = osiris_rules::builtin(&catalog).unwrap();
    for check in catalog.checks().values() {
        let incident = json!({
            "check_id": check.id, "check_type": check.check_type, "status": "fail", "severity": "critical",
            "platform": check.platform.as_str(), "host": "h1"
        });
        let decision = matcher.decide(&incident, &Ledger::new(), t0());
        assert_eq!(
            decision.runbook_id(),
            Some(check.runbook.as_str()),
            "{}",
            check.id
        );
        let mut passing = incident.clone();
        passing["status"] = json!("pass");
        assert!(
            matcher
                .decide(&passing, &Ledger::new(), t0())
                .rule()
                .is_none()
        );
    }
}

#[test]
fn a_shadow_rule_never_decides_but_says_what_it_would_run() {
    let rules = "
  - id: L1-SHADOW
    platform: windows
    conditions: [{field: check_type, operator: eq, value: antivirus}]
    action: run_runbook
    action_params: {runbook_id: RB-WIN-AV-001}
    priority: 10
    cooldown_seconds: 300
    shadow: true
  - id: L1-LATER
    platform: windows
    conditions: [{field: check_type, operator: eq, value: firewall}]
    action: escalate
    priority: 20
";
    let shadowed = matcher(rules);
    let ledger = Ledger::new();
    assert!(shadowed.decide(&av(), &ledger, t0()).rule().is_none());
    let shadow = shadowed.shadow(&av()).expect("the shadow rule matches");
    assert_eq!(shadow.id(), "L1-SHADOW");
    assert!(shadow.is_shadow());
    assert_eq!(shadow.runbook_id(), Some("RB-WIN-AV-001"));
    let explained = shadowed.explain(&av(), &ledger, t0());
    assert_eq!(explained.matched, None);
    assert_eq!(
        explained.explain[0].reason,
        Some(Reason::Shadow),
        "{explained:?}"
    );
    // A cooldown does not hide what it would do: it never fires.
    let mut ledger = Ledger::new();
    ledger.record_fired("L1-SHADOW", "srv01", t0());
    assert!(shadowed.shadow(&av()).is_some());
    // Its conditions still apply.
    let mut firewall = av();
    firewall["check_type"] = json!("firewall");
    assert!(shadowed.shadow(&firewall).is_none());
    // Without the flag the same rule acts and no shadow rule matches.
    let live = matcher(&rules.replace("    shadow: true\n", ""));
    assert_eq!(
        live.decide(&av(), &Ledger::new(), t0()).rule_id(),
        Some("L1-SHADOW")
    );
    assert!(live.shadow(&av()).is_none());
}
