//! The L1 rule a pattern promotes to, in the catalog's rule-file schema
//! (`osiris.rules.v1`), and its validation against the catalog: a rule
//! that could not run where it is sent is refused here, with the reason,
//! rather than refused whole by every appliance.

use osiris_catalog::Catalog;
use osiris_catalog::rules::{ConditionSpec, Operator, RuleFile, RuleFormat, RuleSource, RuleSpec};
use osiris_rules::RuleSetBuilder;
use serde_json::{Map, Value, json};

use crate::{Error, Figures, Pattern, Result};

/// Every promoted rule's id starts with this.
pub const RULE_ID_PREFIX: &str = "L1-LRN-";

/// The path of the generated rule file in a rule set.
pub const PROMOTED_RULES_PATH: &str = "rules/promoted.yaml";

/// Action parameters that instruct Osiris rather than the runbook.
const RESERVED: [&str; 2] = ["runbook_id", "phases"];

/// After the built-in rules (priorities 5–20): a promoted rule never
/// shadows a rule a person wrote for the same incident.
const PRIORITY: u32 = 50;

/// The L1 rule for `pattern`, validated against `catalog`.
///
/// # Errors
/// The first reason the rule could not run: check or runbook missing or
/// for another platform, reserved or schema-invalid parameters, or a rule
/// the loader refuses.
pub fn generate(pattern: &Pattern, figures: &Figures, catalog: &Catalog) -> Result<RuleSpec> {
    let check = catalog
        .check(pattern.check_id())
        .ok_or_else(|| Error::UnknownCheck {
            check_id: pattern.check_id().to_owned(),
        })?;
    if check.platform != pattern.platform() {
        return Err(Error::CheckPlatform {
            check_id: check.id.clone(),
            check_platform: check.platform.as_str().to_owned(),
            platform: pattern.platform().as_str().to_owned(),
        });
    }
    let runbook = catalog
        .runbook(pattern.runbook_id())
        .ok_or_else(|| Error::UnknownRunbook {
            runbook_id: pattern.runbook_id().to_string(),
        })?;
    if !runbook.platforms.contains(&pattern.platform()) {
        return Err(Error::RunbookPlatform {
            runbook_id: runbook.id.to_string(),
            platform: pattern.platform().as_str().to_owned(),
        });
    }
    if let Some(name) = pattern
        .params()
        .keys()
        .find(|name| RESERVED.contains(&name.as_str()))
    {
        return Err(Error::ReservedParam { name: name.clone() });
    }
    validate_params(&runbook.parameters, pattern)?;

    let mut conditions = vec![
        condition("check_id", json!(check.id)),
        condition("platform", json!(pattern.platform().as_str())),
        condition("status", json!("fail")),
    ];
    if !pattern.facts().is_empty() {
        // The exact set of failed criteria: a failure with other facts is
        // another pattern and stays with L2.
        conditions.push(condition("failed", json!(pattern.facts())));
    }
    let mut action_params = Map::new();
    action_params.insert("runbook_id".to_owned(), json!(runbook.id.as_str()));
    action_params.extend(pattern.params().clone());
    let rule = RuleSpec {
        id: pattern.rule_id(),
        name: format!("Learned: {} by {}", check.title, runbook.id),
        description: format!(
            "Promoted from {} L2 fixes, {} verified (Wilson 95% lower bound {:.3})",
            figures.samples,
            figures.successes,
            figures.lower_bound()
        ),
        conditions,
        action: "run_runbook".to_owned(),
        action_params,
        hipaa_controls: check
            .hipaa
            .iter()
            .map(|h| h.cite.as_str().to_owned())
            .collect(),
        severity_filter: Vec::new(),
        enabled: true,
        priority: PRIORITY,
        cooldown_seconds: 300,
        max_retries: Some(2),
        platform: Some(pattern.platform()),
        source: Some(RuleSource::Promoted),
        shadow: false,
    };
    let file = rule_file(vec![rule.clone()]);
    let reason = |problems: Vec<String>| Error::InvalidRule {
        rule_id: rule.id.clone(),
        reason: problems.join("; "),
    };
    let problems: Vec<String> = file
        .problems()
        .into_iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect();
    if !problems.is_empty() {
        return Err(reason(problems));
    }
    let builtin = catalog
        .rule_files()
        .iter()
        .fold(RuleSetBuilder::new(), |builder, (path, rules)| {
            builder.add(RuleSource::Builtin, path, rules)
        });
    builtin
        .add(RuleSource::Promoted, PROMOTED_RULES_PATH, &file)
        .build()
        .map_err(|error| reason(vec![error.to_string()]))?;
    Ok(rule)
}

/// A rule file holding `rules`, in Osiris's strict format.
#[must_use]
pub fn rule_file(rules: Vec<RuleSpec>) -> RuleFile {
    RuleFile {
        format: Some(RuleFormat::OsirisV1),
        rules,
    }
}

fn condition(field: &str, value: Value) -> ConditionSpec {
    ConditionSpec {
        field: field.to_owned(),
        operator: Operator::Eq,
        value: Some(value),
    }
}

fn validate_params(schema: &Value, pattern: &Pattern) -> Result<()> {
    let invalid = |reason: String| Error::InvalidParams {
        runbook_id: pattern.runbook_id().to_string(),
        reason,
    };
    let validator = jsonschema::validator_for(schema)
        .map_err(|e| invalid(format!("the runbook's schema does not compile: {e}")))?;
    let instance = Value::Object(pattern.params().clone());
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|error| {
            let path = error.instance_path().to_string();
            if path.is_empty() {
                error.to_string()
            } else {
                format!("{path}: {error}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(invalid(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use osiris_catalog::Platform;
    use osiris_rules::Ledger;

    use super::*;

    fn pattern(check: &str, platform: Platform, runbook: &str, params: Value) -> Pattern {
        Pattern::new(
            check,
            platform,
            vec!["realtime-on".to_owned()],
            runbook.parse().unwrap(),
            params.as_object().unwrap().clone(),
        )
    }

    #[test]
    fn the_generated_rule_matches_its_pattern_and_nothing_wider() {
        let catalog = Catalog::embedded().unwrap();
        let pattern = pattern(
            "win.av.defender",
            Platform::Windows,
            "RB-WIN-AV-001",
            json!({}),
        );
        let rule = generate(&pattern, &Figures::new(40, 40), &catalog).unwrap();
        assert_eq!(rule.id, pattern.rule_id());
        assert_eq!(rule.runbook_id(), Some("RB-WIN-AV-001"));
        assert_eq!(rule.source, Some(RuleSource::Promoted));
        let matcher = RuleSetBuilder::new()
            .add(
                RuleSource::Promoted,
                PROMOTED_RULES_PATH,
                &rule_file(vec![rule]),
            )
            .build()
            .unwrap();
        let now = chrono::DateTime::UNIX_EPOCH;
        let incident = json!({"check_id": "win.av.defender", "platform": "windows", "status": "fail", "failed": ["realtime-on"], "check_type": "antivirus"});
        assert_eq!(
            matcher
                .decide(&incident, &Ledger::new(), now)
                .rule()
                .map(|r| r.id().to_owned()),
            Some(pattern.rule_id())
        );
        let mut other = incident.clone();
        other["failed"] = json!(["realtime-on", "service-enabled"]);
        assert!(matcher.decide(&other, &Ledger::new(), now).rule().is_none());
        other["failed"] = json!(["realtime-on"]);
        other["status"] = json!("pass");
        assert!(matcher.decide(&other, &Ledger::new(), now).rule().is_none());
    }

    #[test]
    fn a_rule_that_could_not_run_is_refused_with_the_reason() {
        let catalog = Catalog::embedded().unwrap();
        let figures = Figures::new(40, 40);
        let cases = [
            (
                pattern("win.nope", Platform::Windows, "RB-WIN-AV-001", json!({})),
                "check win.nope is not in the catalog",
            ),
            (
                pattern(
                    "win.av.defender",
                    Platform::Debian,
                    "RB-WIN-AV-001",
                    json!({}),
                ),
                "is for windows, not debian",
            ),
            (
                pattern(
                    "win.av.defender",
                    Platform::Windows,
                    "RB-WIN-NOPE-001",
                    json!({}),
                ),
                "runbook RB-WIN-NOPE-001 is not in the catalog",
            ),
            (
                pattern(
                    "win.av.defender",
                    Platform::Windows,
                    "RB-DEB-AV-001",
                    json!({}),
                ),
                "does not suit platform windows",
            ),
            (
                pattern(
                    "win.av.defender",
                    Platform::Windows,
                    "RB-WIN-AV-001",
                    json!({"phases": ["verify"]}),
                ),
                "\"phases\" is reserved",
            ),
            (
                pattern(
                    "win.av.defender",
                    Platform::Windows,
                    "RB-WIN-AV-001",
                    json!({"force": true}),
                ),
                "parameters for runbook RB-WIN-AV-001 are invalid",
            ),
        ];
        for (pattern, expected) in cases {
            let error = generate(&pattern, &figures, &catalog)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains(expected),
                "{error} should contain {expected}"
            );
        }
    }

    #[test]
    fn the_rule_in_shadow_mode_loads_and_only_says_what_it_would_run() {
        let catalog = Catalog::embedded().unwrap();
        let pattern = pattern(
            "win.av.defender",
            Platform::Windows,
            "RB-WIN-AV-001",
            json!({}),
        );
        let mut rule = generate(&pattern, &Figures::new(40, 40), &catalog).unwrap();
        rule.shadow = true;
        let text = serde_json::to_string(&rule_file(vec![rule.clone()])).unwrap();
        assert!(text.contains("\"shadow\":true"), "{text}");
        let file = osiris_catalog::parse_rule_file(PROMOTED_RULES_PATH, &text).unwrap();
        assert!(file.problems().is_empty(), "{:?}", file.problems());
        let matcher = RuleSetBuilder::new()
            .add(RuleSource::Promoted, PROMOTED_RULES_PATH, &file)
            .build()
            .unwrap();
        let incident = json!({"check_id": "win.av.defender", "platform": "windows", "status": "fail", "failed": ["realtime-on"]});
        let now = chrono::DateTime::UNIX_EPOCH;
        assert!(
            matcher
                .decide(&incident, &Ledger::new(), now)
                .rule()
                .is_none()
        );
        assert_eq!(
            matcher.shadow(&incident).map(|r| r.id().to_owned()),
            Some(pattern.rule_id())
        );
    }

    #[test]
    fn the_rule_file_reads_back_with_the_catalog_parser() {
        let catalog = Catalog::embedded().unwrap();
        let pattern = pattern(
            "win.av.defender",
            Platform::Windows,
            "RB-WIN-AV-001",
            json!({}),
        );
        let rule = generate(&pattern, &Figures::new(40, 40), &catalog).unwrap();
        let text = serde_json::to_string(&rule_file(vec![rule.clone()])).unwrap();
        let file = osiris_catalog::parse_rule_file(PROMOTED_RULES_PATH, &text).unwrap();
        assert_eq!(file.rules, vec![rule]);
    }
}
