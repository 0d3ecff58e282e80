//! The L1 rule set a check-in delivers: the catalog's built-in rule files,
//! versioned by the hex SHA-256 of their canonical JSON, so an appliance
//! that reports the same version gets nothing and any change in any file
//! changes the version. The wire form is in `osiris-proto`.

use osiris_catalog::Catalog;
pub use osiris_proto::rule_set::{RuleSet, RuleSetFile};
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
    let canonical = osiris_evidence::canonical::to_vec("rule set", &files)?;
    Ok(RuleSet {
        version: crate::hex(&Sha256::digest(&canonical)),
        files,
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
    fn the_content_is_the_rule_file_as_json() {
        let catalog = Catalog::embedded().unwrap();
        let set = build(&catalog).unwrap();
        for (file, (path, content)) in set.files.iter().zip(catalog.rule_files()) {
            assert_eq!(&file.path, path);
            assert_eq!(file.content, serde_json::to_value(content).unwrap());
        }
    }
}
