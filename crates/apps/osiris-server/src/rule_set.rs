//! The L1 rule set a check-in delivers: the catalog's built-in rule files,
//! versioned by the hex SHA-256 of their canonical JSON, so an appliance
//! that reports the same version gets nothing and any change in any file
//! changes the version. The wire form is in `osiris-proto`.
//!
//! A partner's fleet may also have learned rules in force
//! ([`crate::learning`]): those appliances get the built-in files plus one
//! generated file, versioned the same way over all files, so a promotion
//! or demotion changes the version they are told.

use osiris_catalog::Catalog;
pub use osiris_proto::rule_set::{RuleChange, RuleSet, RuleSetFile};
use sha2::{Digest, Sha256};

/// The catalog's built-in rule set.
///
/// # Errors
/// When a rule file has no canonical JSON form (a non-finite number).
pub fn build(catalog: &Catalog) -> osiris_evidence::Result<RuleSet> {
    let files = catalog
        .rule_files()
        .iter()
        .map(|(path, content)| {
            // Through the canonical bytes, so a value JSON cannot carry
            // (a non-finite number) is an error here rather than a silent
            // `null` in what the appliances receive.
            let canonical = osiris_evidence::canonical::to_vec("rule file", content)?;
            let content = serde_json::from_slice(&canonical).map_err(|error| {
                osiris_evidence::Error::Canonical {
                    what: "rule file",
                    source: error,
                }
            })?;
            Ok(RuleSetFile {
                path: path.clone(),
                content,
            })
        })
        .collect::<osiris_evidence::Result<Vec<_>>>()?;
    versioned(files, Vec::new())
}

/// `base` (the built-in set) with `extra` files appended and the learning
/// loop's `changes`, versioned over all its files.
///
/// # Errors
/// When a file has no canonical JSON form.
pub fn extend(
    base: &RuleSet,
    extra: Vec<RuleSetFile>,
    changes: Vec<RuleChange>,
) -> osiris_evidence::Result<RuleSet> {
    let mut files = base.files.clone();
    for file in extra {
        let canonical = osiris_evidence::canonical::to_vec("rule file", &file.content)?;
        let content = serde_json::from_slice(&canonical).map_err(|error| {
            osiris_evidence::Error::Canonical {
                what: "rule file",
                source: error,
            }
        })?;
        files.push(RuleSetFile {
            path: file.path,
            content,
        });
    }
    versioned(files, changes)
}

fn versioned(
    files: Vec<RuleSetFile>,
    changes: Vec<RuleChange>,
) -> osiris_evidence::Result<RuleSet> {
    let canonical = osiris_evidence::canonical::to_vec("rule set", &files)?;
    Ok(RuleSet {
        version: crate::hex(&Sha256::digest(&canonical)),
        files,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_stable_and_covers_every_file() {
        let catalog = Catalog::embedded().unwrap();
        let first = build(&catalog).unwrap();
        assert_eq!(first.version, build(&catalog).unwrap().version);
        assert_eq!(first.version.len(), 64);
        assert_eq!(first.files.len(), catalog.rule_files().len());
        assert!(!first.files.is_empty());
    }

    #[test]
    fn an_extra_file_changes_the_version_and_changes_do_not() {
        let catalog = Catalog::embedded().unwrap();
        let base = build(&catalog).unwrap();
        assert_eq!(extend(&base, vec![], vec![]).unwrap(), base);
        let extra = RuleSetFile {
            path: "rules/promoted.yaml".to_owned(),
            content: serde_json::json!({"format": "osiris.rules.v1", "rules": []}),
        };
        let extended = extend(&base, vec![extra.clone()], vec![]).unwrap();
        assert_ne!(extended.version, base.version);
        assert_eq!(extended.files.len(), base.files.len() + 1);
        let change = RuleChange {
            change: "demoted".to_owned(),
            rule_id: "L1-LRN-000000000000".to_owned(),
            promotion_id: 1,
            samples: 5,
            successes: 5,
            approved_by: "automatic".to_owned(),
            promoted_at: chrono::DateTime::UNIX_EPOCH,
            demoted_at: None,
            demoted_by: None,
            reason: None,
            shadow_samples: None,
            live_at: None,
        };
        let with_change = extend(&base, vec![extra], vec![change]).unwrap();
        assert_eq!(with_change.version, extended.version);
        assert!(!serde_json::to_string(&base).unwrap().contains("changes"));
    }

    #[test]
    fn the_content_is_the_rule_file_as_json() {
        let catalog = Catalog::embedded().unwrap();
        let set = build(&catalog).unwrap();
        for (file, (path, content)) in set.files.iter().zip(catalog.rule_files()) {
            assert_eq!(&file.path, path);
            assert_eq!(file.content, serde_json::to_value(content).unwrap());
        }
    }
}
