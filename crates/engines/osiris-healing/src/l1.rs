//! The L1 decision for a failed check: which rule fires, which runbook it
//! runs, and whether the rules ledger holds it back (cooldown, retries).
//!
//! The matcher skips a rule that is cooling down or out of retries and
//! tries the next one. When none fires at all, the rule that *would* have
//! fired without the ledger is still the decision, held back by its
//! ledger reason, so the cooldown and retries gates can say so in evidence
//! instead of the incident looking like one no rule knows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use osiris_catalog::Check;
use osiris_core::RunbookId;
use osiris_rules::{Ledger, Matcher, Reason, Rule};
use serde_json::{Map, Value, json};

use crate::detect::CheckRun;

/// Action parameters that instruct Osiris, not the runbook.
const RULE_KEYS: [&str; 2] = ["runbook_id", "phases"];

/// The L1 decision.
#[derive(Debug)]
pub enum Choice<'m> {
    /// A rule runs a runbook, unless `blocked` by the ledger.
    Run {
        /// The rule.
        rule: &'m Rule,
        /// Its runbook id as written.
        runbook_id: &'m str,
        /// Why the ledger holds it back, if it does.
        blocked: Option<Reason>,
    },
    /// A rule matched and escalates (or names no runbook).
    Escalate {
        /// The rule.
        rule: &'m Rule,
        /// Why.
        reason: String,
    },
    /// No rule matches.
    NoRule,
}

/// The incident a rule sees: `check_type`, `check_id`, `status`,
/// `severity`, `platform`, `host`, `title`, and `failed` (the ids of the
/// check's failed criteria, sorted: the key facts learned rules match).
#[must_use]
pub fn incident(check: &Check, run: &CheckRun) -> Value {
    json!({
        "check_type": check.check_type,
        "check_id": check.id,
        "title": check.title,
        "status": outcome_word(run.outcome()),
        "severity": severity_word(check.severity),
        "platform": check.platform.as_str(),
        "host": run.host(),
        "failed": failed_criteria(run),
    })
}

/// The ids of the run's failed criteria, sorted and without repeats:
/// catalog names (never host data), so they may key a learned pattern.
#[must_use]
pub fn failed_criteria(run: &CheckRun) -> Vec<String> {
    let mut failed: Vec<String> = run
        .evaluation()
        .failed
        .iter()
        .map(|finding| finding.criterion.clone())
        .collect();
    failed.sort();
    failed.dedup();
    failed
}

/// Decides which rule handles `incident` at `now`.
#[must_use]
pub fn choose<'m>(
    matcher: &'m Matcher,
    incident: &Value,
    ledger: &Ledger,
    now: DateTime<Utc>,
) -> Choice<'m> {
    let (rule, blocked) = match matcher.decide(incident, ledger, now).rule() {
        Some(rule) => (rule, None),
        None => {
            let Some(rule) = matcher.decide(incident, &Ledger::new(), now).rule() else {
                return Choice::NoRule;
            };
            let reason = matcher
                .explain(incident, ledger, now)
                .explain
                .into_iter()
                .find(|verdict| verdict.rule == rule.id())
                .and_then(|verdict| verdict.reason);
            (rule, reason)
        }
    };
    if rule.action() == "escalate" {
        return Choice::Escalate {
            rule,
            reason: format!("rule {} escalates this incident", rule.id()),
        };
    }
    match rule.runbook_id() {
        Some(runbook_id) => Choice::Run {
            rule,
            runbook_id,
            blocked,
        },
        None => Choice::Escalate {
            rule,
            reason: format!(
                "rule {} has action {:?}, which names no runbook",
                rule.id(),
                rule.action()
            ),
        },
    }
}

/// What a shadow rule would have done for `incident` (see
/// [`Matcher::shadow`]), as the bundle's `detail.shadow`: the rule, its
/// runbook and the parameters it would pass (under the site's own, as
/// [`rule_params`] gives them), so Central Command can compare it with
/// what L2 did. `None` when no shadow rule matches.
#[must_use]
pub fn shadow_decision(
    matcher: &Matcher,
    incident: &Value,
    site_params: &BTreeMap<RunbookId, Map<String, Value>>,
) -> Option<Value> {
    let rule = matcher.shadow(incident)?;
    let runbook_id = rule.runbook_id()?;
    let site = runbook_id
        .parse::<RunbookId>()
        .ok()
        .and_then(|id| site_params.get(&id));
    Some(json!({
        "rule_id": rule.id(),
        "runbook_id": runbook_id,
        "params": rule_params(rule, site),
    }))
}

/// The runbook parameters a rule passes: its action parameters without
/// those that instruct Osiris (`runbook_id`, `phases`), under the site's
/// own parameters for the runbook (the site's win).
#[must_use]
pub fn rule_params(rule: &Rule, site: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut params: Map<String, Value> = rule
        .action_params()
        .iter()
        .filter(|(key, _)| !RULE_KEYS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some(site) = site {
        params.extend(site.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    params
}

pub(crate) const fn outcome_word(outcome: osiris_catalog::Outcome) -> &'static str {
    match outcome {
        osiris_catalog::Outcome::Pass => "pass",
        osiris_catalog::Outcome::Fail => "fail",
        osiris_catalog::Outcome::Unknown => "unknown",
    }
}

const fn severity_word(severity: osiris_catalog::Severity) -> &'static str {
    match severity {
        osiris_catalog::Severity::Low => "low",
        osiris_catalog::Severity::Medium => "medium",
        osiris_catalog::Severity::High => "high",
        osiris_catalog::Severity::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use osiris_catalog::rules::RuleFile;
    use osiris_rules::{RuleSetBuilder, RuleSource};

    use super::*;

    fn matcher(yaml: &str) -> Matcher {
        let file: RuleFile = osiris_catalog::parse_rule_file("test.yaml", yaml).unwrap();
        RuleSetBuilder::new()
            .add(RuleSource::Builtin, "test.yaml", &file)
            .build()
            .unwrap()
    }

    const RULES: &str = "format: osiris.rules.v1
rules:
  - id: L1-A
    platform: windows
    conditions: [{ field: check_type, operator: eq, value: antivirus }]
    action: run_runbook
    action_params: { runbook_id: RB-WIN-AV-001, phases: [remediate, verify], level: 2 }
    cooldown_seconds: 300
    max_retries: 2
  - id: L1-B
    platform: windows
    conditions: [{ field: check_type, operator: eq, value: encryption }]
    action: escalate
    action_params: { runbook_id: RB-WIN-ENCRYPTION-001 }
";

    fn now() -> DateTime<Utc> {
        "2024-06-15T12:00:00Z".parse().unwrap()
    }

    fn incident_of(check_type: &str) -> Value {
        json!({"check_type": check_type, "status": "fail", "platform": "windows", "host": "dc01", "severity": "high"})
    }

    #[test]
    fn a_matching_rule_runs_its_runbook() {
        let matcher = matcher(RULES);
        let choice = choose(&matcher, &incident_of("antivirus"), &Ledger::new(), now());
        assert!(matches!(
            choice,
            Choice::Run { rule, runbook_id: "RB-WIN-AV-001", blocked: None } if rule.id() == "L1-A"
        ));
    }

    #[test]
    fn a_rule_cooling_down_is_still_chosen_and_blocked_with_its_reason() {
        let matcher = matcher(RULES);
        let mut ledger = Ledger::new();
        ledger.record_fired("L1-A", "dc01", now());
        let choice = choose(&matcher, &incident_of("antivirus"), &ledger, now());
        assert!(matches!(
            choice,
            Choice::Run {
                blocked: Some(Reason::Cooldown {
                    remaining_seconds: 300
                }),
                ..
            }
        ));
        ledger.record_outcome("L1-A", "dc01", false);
        ledger.record_outcome("L1-A", "dc01", false);
        let later = now() + chrono::Duration::hours(1);
        let choice = choose(&matcher, &incident_of("antivirus"), &ledger, later);
        assert!(matches!(
            choice,
            Choice::Run {
                blocked: Some(Reason::RetriesExhausted { failures: 2 }),
                ..
            }
        ));
    }

    #[test]
    fn an_escalating_rule_and_no_rule_escalate() {
        let matcher = matcher(RULES);
        assert!(matches!(
            choose(&matcher, &incident_of("encryption"), &Ledger::new(), now()),
            Choice::Escalate { .. }
        ));
        assert!(matches!(
            choose(&matcher, &incident_of("backup"), &Ledger::new(), now()),
            Choice::NoRule
        ));
    }

    #[test]
    fn rule_params_drop_osiris_keys_and_take_the_site_values() {
        let matcher = matcher(RULES);
        let rule = matcher.rules().iter().find(|r| r.id() == "L1-A").unwrap();
        let site = json!({"level": 3, "osiris_ip": "10.0.0.1"});
        let params = rule_params(rule, site.as_object());
        assert_eq!(
            Value::Object(params),
            json!({"level": 3, "osiris_ip": "10.0.0.1"})
        );
        assert_eq!(Value::Object(rule_params(rule, None)), json!({"level": 2}));
    }
}
