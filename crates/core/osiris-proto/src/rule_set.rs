//! The L1 rule set a check-in delivers: the catalog's built-in rule files,
//! versioned by the hex SHA-256 of the canonical JSON of `files`. Building
//! it needs the catalog and canonical JSON, so that lives with the server;
//! the appliance reads `content` with the catalog's rule-file type.
//!
//! A set may also carry the learning loop's `changes` (promotions in force
//! and demotions) so the appliance's `rule_change` bundle records them;
//! the list is left out when empty, so an appliance built before it still
//! reads every set without promoted rules.

use chrono::{DateTime, Utc};
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
    /// The learning loop's promotions and demotions behind the set's
    /// promoted rules; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<RuleChange>,
}

/// One promotion or demotion of a learned rule, as evidence of why the set
/// holds (or no longer holds) it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleChange {
    /// `promoted` (in force in this set and acting), `shadow` (in this set
    /// in shadow mode: it records what it would do, L2 still acts) or
    /// `demoted` (taken out of it).
    pub change: String,
    /// The learned rule's id (`L1-LRN-…`).
    pub rule_id: String,
    /// Central Command's promotion id.
    pub promotion_id: u64,
    /// L2 runs of the pattern when it was promoted.
    pub samples: u64,
    /// Verified runs among them (the 95% Wilson lower bound follows from
    /// the two counts, so it is not repeated).
    pub successes: u64,
    /// Who approved the promotion (a user id), or `automatic`.
    pub approved_by: String,
    /// When it was promoted.
    pub promoted_at: DateTime<Utc>,
    /// When it was demoted (demotions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demoted_at: Option<DateTime<Utc>>,
    /// Who demoted it (a user id) or `automatic` (demotions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demoted_by: Option<String>,
    /// Why it was demoted (demotions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Agreements with L2 the rule needed (or needs) in shadow mode;
    /// absent when it was promoted without shadow mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_samples: Option<u64>,
    /// When it began to act; absent while in shadow mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_at: Option<DateTime<Utc>>,
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
