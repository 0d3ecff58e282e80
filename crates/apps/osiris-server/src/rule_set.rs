//! The L1 rule set a check-in delivers: the catalog's built-in rule files,
//! versioned by the hex SHA-256 of their canonical JSON, so an appliance
//! that reports the same version gets nothing and any change in any file
//! changes the version.

use osiris_catalog::Catalog;
use osiris_catalog::rules::RuleFile;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The rule set as sent down.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleSet {
    /// Lowercase hex SHA-256 of the canonical (RFC 8785) JSON of `files`.
    pub version: String,
    /// Every rule file, by path.
    pub files: Vec<RuleSetFile>,
}

/// One rule file.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleSetFile {
    /// Its path in the catalog, e.g. `rules/windows.yaml`.
    pub path: String,
    /// Its content, in the catalog's rule-file schema.
    #[schema(value_type = Object)]
    pub content: RuleFile,
}

impl RuleSet {
    /// The catalog's built-in rule set.
    ///
    /// # Errors
    /// When a rule file has no canonical JSON form (a non-finite number).
    pub fn of(catalog: &Catalog) -> osiris_evidence::Result<Self> {
        let files: Vec<RuleSetFile> = catalog
            .rule_files()
            .iter()
            .map(|(path, content)| RuleSetFile {
                path: path.clone(),
                content: content.clone(),
            })
            .collect();
        let canonical = osiris_evidence::canonical::to_vec("rule set", &files)?;
        Ok(Self {
            version: crate::hex(&Sha256::digest(&canonical)),
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_stable_and_covers_every_file() {
        let catalog = Catalog::embedded().unwrap();
        let first = RuleSet::of(&catalog).unwrap();
        assert_eq!(first.version, RuleSet::of(&catalog).unwrap().version);
        assert_eq!(first.version.len(), 64);
        assert_eq!(first.files.len(), catalog.rule_files().len());
        assert!(!first.files.is_empty());
    }
}
