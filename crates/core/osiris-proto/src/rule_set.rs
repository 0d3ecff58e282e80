//! The L1 rule set a check-in delivers: the catalog's built-in rule files,
//! versioned by the hex SHA-256 of the canonical JSON of `files`. Building
//! it needs the catalog and canonical JSON, so that lives with the server;
//! the appliance reads `content` with the catalog's rule-file type.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The rule set as sent down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// Lowercase hex SHA-256 of the canonical (RFC 8785) JSON of `files`.
    pub version: String,
    /// Every rule file, by path.
    pub files: Vec<RuleSetFile>,
}

/// One rule file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSetFile {
    /// Its path in the catalog, e.g. `rules/windows.yaml`.
    pub path: String,
    /// Its content, in the catalog's rule-file schema.
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
}
