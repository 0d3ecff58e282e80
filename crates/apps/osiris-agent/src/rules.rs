//! The L1 rule set the appliance runs: the catalog's built-in rules, with
//! the rule set synced from Central Command overriding rules of the same
//! id. A synced set that does not load is refused whole and the previous
//! one stays.

use osiris_catalog::Catalog;
use osiris_rules::{Matcher, RuleSetBuilder, RuleSource};

/// Why a synced rule set was refused.
#[derive(Debug, thiserror::Error)]
pub enum RuleSetError {
    /// A file is not a rule file.
    #[error("synced rule file {path}: {reason}")]
    File {
        /// The file's path in the set.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The rules do not compile together or name runbooks that do not exist.
    #[error("synced rule set: {0}")]
    Rules(String),
}

/// Compiles the built-in rules plus `synced` files (path, content as the
/// server sent it: JSON of a rule file), checking each rule's runbook
/// against the catalog.
///
/// # Errors
/// [`RuleSetError`] naming the file or rule.
pub fn compile(catalog: &Catalog, synced: &[(String, String)]) -> Result<Matcher, RuleSetError> {
    let mut builder = catalog
        .rule_files()
        .iter()
        .fold(RuleSetBuilder::new(), |builder, (file, rules)| {
            builder.add(RuleSource::Builtin, file, rules)
        });
    for (path, content) in synced {
        // JSON is YAML, so the one rule-file parser reads it.
        let file =
            osiris_catalog::parse_rule_file(path, content).map_err(|e| RuleSetError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        for rule in &file.rules {
            if let Some(runbook) = rule.runbook_id() {
                let known = runbook
                    .parse()
                    .ok()
                    .and_then(|id| catalog.runbook(&id))
                    .is_some();
                if !known {
                    return Err(RuleSetError::Rules(format!(
                        "rule {} names runbook {runbook}, which is not in this appliance's catalog",
                        rule.id
                    )));
                }
            }
        }
        builder = builder.add(RuleSource::Synced, path, &file);
    }
    builder
        .build()
        .map_err(|e| RuleSetError::Rules(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    #[test]
    fn the_builtin_rules_alone_compile() {
        let matcher = compile(&catalog(), &[]).unwrap();
        assert!(!matcher.rules().is_empty());
    }

    #[test]
    fn a_synced_rule_overrides_the_builtin_rule_of_the_same_id() {
        let catalog = catalog();
        let builtin = compile(&catalog, &[]).unwrap();
        let first = builtin.rules().first().unwrap();
        let synced = serde_json::json!({
            "format": "osiris.rules.v1",
            "rules": [{
                "id": first.id(),
                "name": "synced",
                "description": "synced from Central Command",
                "platform": "windows",
                "conditions": [{"field": "check_type", "operator": "eq", "value": "nothing-matches-this"}],
                "action": "run_runbook",
                "action_params": {"runbook_id": "RB-WIN-AV-001"},
                "enabled": true,
                "priority": 1
            }]
        });
        let matcher = compile(
            &catalog,
            &[("rules/synced.yaml".into(), synced.to_string())],
        )
        .unwrap();
        let rule = matcher
            .rules()
            .iter()
            .find(|r| r.id() == first.id())
            .unwrap();
        assert_eq!(rule.source(), RuleSource::Synced);
        assert_eq!(rule.runbook_id(), Some("RB-WIN-AV-001"));
        assert_eq!(matcher.rules().len(), builtin.rules().len());
    }

    #[test]
    fn a_synced_rule_naming_an_unknown_runbook_is_refused_whole() {
        let synced = serde_json::json!({
            "format": "osiris.rules.v1",
            "rules": [{
                "id": "L1-SYNCED-1",
                "name": "synced",
                "description": "x",
                "platform": "windows",
                "conditions": [{"field": "check_type", "operator": "eq", "value": "av"}],
                "action": "run_runbook",
                "action_params": {"runbook_id": "RB-WIN-NOPE-001"},
                "enabled": true,
                "priority": 1
            }]
        });
        let error = compile(
            &catalog(),
            &[("rules/synced.yaml".into(), synced.to_string())],
        )
        .unwrap_err();
        assert!(error.to_string().contains("RB-WIN-NOPE-001"), "{error}");
        let error =
            compile(&catalog(), &[("rules/bad.yaml".into(), "rules: [".into())]).unwrap_err();
        assert!(error.to_string().contains("rules/bad.yaml"), "{error}");
    }
}
