//! Patterns: what makes two L2 fixes "the same fix". A pattern is the
//! check, the platform, the key facts of the failure (the check's failed
//! criteria as the bundle names them, already scrubbed on the appliance),
//! the runbook and its parameters in canonical form. Its key is the RFC
//! 8785 JSON of those, so the same pattern always has the same key.

use chrono::{DateTime, Utc};
use osiris_catalog::Platform;
use osiris_core::RunbookId;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::rule::RULE_ID_PREFIX;
use crate::{Error, Result};

/// The key facts of one L2 remediation, with its fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    check_id: String,
    platform: Platform,
    facts: Vec<String>,
    runbook_id: RunbookId,
    params: Map<String, Value>,
}

/// Which tier ran a remediation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// A rule decided; only promoted rules are observed.
    L1,
    /// The planner decided.
    L2,
}

impl Tier {
    /// `L1` or `L2`, as bundles write it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::L1 => "L1",
            Self::L2 => "L2",
        }
    }
}

/// One executed remediation as the learning loop sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// L2 (a pattern sample) or L1 by a promoted rule (a demotion sample).
    pub tier: Tier,
    /// The rule that ran it (L1 only).
    pub rule_id: Option<String>,
    /// The pattern.
    pub pattern: Pattern,
    /// Whether it was verified.
    pub success: bool,
    /// When the bundle was made.
    pub at: DateTime<Utc>,
    /// What a learned rule in shadow mode would have done instead (L2
    /// runs only: `detail.shadow`).
    pub shadow: Option<ShadowDecision>,
}

/// What a learned rule in shadow mode would have run for an incident L2
/// handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowDecision {
    /// The shadow rule (`L1-LRN-…`).
    pub rule_id: String,
    /// The runbook it would have run.
    pub runbook_id: String,
    /// The parameters it would have passed.
    pub params: Map<String, Value>,
}

/// A shadow decision held against what L2 did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The shadow rule.
    pub rule_id: String,
    /// Same runbook and parameters, and L2's run verified.
    pub agreed: bool,
    /// Why not, when they disagree.
    pub reason: Option<String>,
}

impl Observation {
    /// The shadow rule's decision compared with this L2 run: they agree
    /// when the rule would have run the same runbook with the same
    /// parameters and L2's run was verified. `None` for L1 runs and L2
    /// runs no learned shadow rule matched.
    #[must_use]
    pub fn comparison(&self) -> Option<Comparison> {
        let shadow = self.shadow.as_ref()?;
        if self.tier != Tier::L2 {
            return None;
        }
        let reason = if shadow.runbook_id != self.pattern.runbook_id().as_str() {
            Some(format!(
                "L2 ran {}, the rule would have run {}",
                self.pattern.runbook_id(),
                shadow.runbook_id
            ))
        } else if sorted(Value::Object(shadow.params.clone()))
            != sorted(Value::Object(self.pattern.params().clone()))
        {
            Some(format!(
                "L2 ran {} with parameters {}, the rule would have passed {}",
                self.pattern.runbook_id(),
                Value::Object(self.pattern.params().clone()),
                Value::Object(shadow.params.clone())
            ))
        } else if !self.success {
            Some(format!(
                "L2 ran the same fix ({}) and it was not verified",
                self.pattern.runbook_id()
            ))
        } else {
            None
        };
        Some(Comparison {
            rule_id: shadow.rule_id.clone(),
            agreed: reason.is_none(),
            reason,
        })
    }
}

/// Endings of a remediation that ran (others were refused before running).
const RAN: [&str; 4] = ["verified", "rolled_back", "rollback_failed", "failed"];

/// Reads an accepted bundle (its JSON): an L2 remediation that ran, or an
/// L1 remediation of a promoted rule that ran; anything else is `None`.
#[must_use]
pub fn observe(bundle: &Value) -> Option<Observation> {
    if bundle.get("kind")?.as_str()? != "remediation" {
        return None;
    }
    let outcome = bundle.get("outcome")?.as_str()?;
    if !RAN.contains(&outcome) {
        return None;
    }
    let detail = bundle.get("detail")?;
    let text = |key: &str| detail.get(key).and_then(Value::as_str);
    let (tier, rule_id) = match text("tier")? {
        "L2" => (Tier::L2, None),
        "L1" => {
            let rule = text("rule_id")?;
            if !rule.starts_with(RULE_ID_PREFIX) {
                return None;
            }
            (Tier::L1, Some(rule.to_owned()))
        }
        _ => return None,
    };
    let platform: Platform = serde_json::from_value(detail.get("platform")?.clone()).ok()?;
    let runbook_id: RunbookId = text("runbook_id")?.parse().ok()?;
    let params = match detail.get("params") {
        Some(Value::Object(params)) => params.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return None,
    };
    // Appliances before the failed criteria were recorded send none.
    let facts = detail
        .get("failed")
        .and_then(Value::as_array)
        .map(|facts| {
            facts
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let at = bundle
        .get("created_at")?
        .as_str()?
        .parse::<DateTime<Utc>>()
        .ok()?;
    let shadow = match tier {
        Tier::L2 => detail.get("shadow").and_then(shadow_decision),
        Tier::L1 => None,
    };
    Some(Observation {
        tier,
        rule_id,
        pattern: Pattern::new(text("check_id")?, platform, facts, runbook_id, params),
        success: outcome == "verified",
        at,
        shadow,
    })
}

/// `detail.shadow` as the healer writes it; only a learned rule's
/// decision is compared (a shadow rule a person wrote is theirs to judge).
fn shadow_decision(value: &Value) -> Option<ShadowDecision> {
    let rule_id = value.get("rule_id")?.as_str()?;
    if !rule_id.starts_with(RULE_ID_PREFIX) {
        return None;
    }
    let params = match value.get("params") {
        Some(Value::Object(params)) => params.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return None,
    };
    Some(ShadowDecision {
        rule_id: rule_id.to_owned(),
        runbook_id: value.get("runbook_id")?.as_str()?.to_owned(),
        params,
    })
}

impl Pattern {
    /// A pattern; the facts are sorted and deduplicated.
    #[must_use]
    pub fn new(
        check_id: &str,
        platform: Platform,
        facts: impl IntoIterator<Item = String>,
        runbook_id: RunbookId,
        params: Map<String, Value>,
    ) -> Self {
        let mut facts: Vec<String> = facts.into_iter().collect();
        facts.sort();
        facts.dedup();
        Self {
            check_id: check_id.to_owned(),
            platform,
            facts,
            runbook_id,
            params,
        }
    }

    /// The check.
    #[must_use]
    pub fn check_id(&self) -> &str {
        &self.check_id
    }

    /// The platform.
    #[must_use]
    pub const fn platform(&self) -> Platform {
        self.platform
    }

    /// The failed criteria, sorted.
    #[must_use]
    pub fn facts(&self) -> &[String] {
        &self.facts
    }

    /// The runbook.
    #[must_use]
    pub const fn runbook_id(&self) -> &RunbookId {
        &self.runbook_id
    }

    /// The runbook parameters.
    #[must_use]
    pub const fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The pattern as JSON (before canonical form).
    #[must_use]
    pub fn to_value(&self) -> Value {
        json!({
            "check_id": self.check_id,
            "platform": self.platform.as_str(),
            "facts": self.facts,
            "runbook_id": self.runbook_id.as_str(),
            "params": self.params,
        })
    }

    /// The pattern as compact JSON with object keys sorted at every level:
    /// equal patterns have equal keys, whatever order the parameters came
    /// in. Not RFC 8785: that writes numbers as doubles, and an integer
    /// parameter above 2^53 must read back unchanged.
    #[must_use]
    pub fn key(&self) -> String {
        sorted(self.to_value()).to_string()
    }

    /// Reads a key back.
    ///
    /// # Errors
    /// [`Error::PatternKey`] naming the field that does not read.
    pub fn from_key(key: &str) -> Result<Self> {
        let value: Value =
            serde_json::from_str(key).map_err(|e| Error::PatternKey(e.to_string()))?;
        let field = |name: &'static str| {
            value
                .get(name)
                .ok_or_else(|| Error::PatternKey(format!("{name} is missing")))
        };
        let check_id = field("check_id")?
            .as_str()
            .ok_or_else(|| Error::PatternKey("check_id must be a string".into()))?;
        let platform: Platform = serde_json::from_value(field("platform")?.clone())
            .map_err(|e| Error::PatternKey(format!("platform: {e}")))?;
        let facts = field("facts")?
            .as_array()
            .ok_or_else(|| Error::PatternKey("facts must be a list".into()))?
            .iter()
            .map(|fact| {
                fact.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::PatternKey("facts must be strings".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        let runbook_id: RunbookId = field("runbook_id")?
            .as_str()
            .ok_or_else(|| Error::PatternKey("runbook_id must be a string".into()))?
            .parse()
            .map_err(|e: osiris_core::IdError| Error::PatternKey(format!("runbook_id: {e}")))?;
        let params = field("params")?
            .as_object()
            .ok_or_else(|| Error::PatternKey("params must be an object".into()))?
            .clone();
        Ok(Self::new(check_id, platform, facts, runbook_id, params))
    }

    /// Lowercase hex SHA-256 of the key.
    #[must_use]
    pub fn digest(&self) -> String {
        Sha256::digest(self.key().as_bytes()).iter().fold(
            String::with_capacity(64),
            |mut out, byte| {
                use std::fmt::Write as _;
                let _ = write!(out, "{byte:02x}");
                out
            },
        )
    }

    /// The id of the rule this pattern promotes to: `L1-LRN-` and the
    /// first 12 hex digits of the digest, upper case.
    #[must_use]
    pub fn rule_id(&self) -> String {
        let digest = self.digest();
        format!(
            "{RULE_ID_PREFIX}{}",
            digest.get(..12).unwrap_or(&digest).to_uppercase()
        )
    }
}

/// `value` with every object's keys inserted in sorted order (whether or
/// not `serde_json` preserves insertion order, the text is then sorted).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bundle(tier: &str, outcome: &str) -> Value {
        json!({
            "kind": "remediation",
            "outcome": outcome,
            "created_at": "2026-11-24T12:00:00Z",
            "detail": {
                "tier": tier,
                "check_id": "win.av.defender",
                "platform": "windows",
                "runbook_id": "RB-WIN-AV-001",
                "rule_id": if tier == "L1" { json!("L1-LRN-0123456789AB") } else { Value::Null },
                "params": {"b": 2, "a": 1},
                "failed": [{"criterion": "ignored"}, "realtime-on", "antivirus-enabled", "realtime-on"],
            }
        })
    }

    #[test]
    fn an_l2_run_is_a_sample_and_only_verified_counts_as_success() {
        let seen = observe(&bundle("L2", "verified")).unwrap();
        assert_eq!(seen.tier, Tier::L2);
        assert!(seen.success);
        assert_eq!(seen.pattern.facts(), ["antivirus-enabled", "realtime-on"]);
        assert!(!observe(&bundle("L2", "rolled_back")).unwrap().success);
        assert!(!observe(&bundle("L2", "failed")).unwrap().success);
    }

    #[test]
    fn refusals_other_kinds_and_plain_l1_rules_are_not_samples() {
        for outcome in ["refused", "deferred", "escalated", "dry_run", "observed"] {
            assert!(observe(&bundle("L2", outcome)).is_none(), "{outcome}");
        }
        let mut check = bundle("L2", "verified");
        check["kind"] = json!("check");
        assert!(observe(&check).is_none());
        let mut builtin = bundle("L1", "verified");
        builtin["detail"]["rule_id"] = json!("L1-WIN-AV-001");
        assert!(observe(&builtin).is_none());
        let promoted = observe(&bundle("L1", "verified")).unwrap();
        assert_eq!(promoted.rule_id.as_deref(), Some("L1-LRN-0123456789AB"));
    }

    #[test]
    fn a_shadow_decision_agrees_only_with_the_same_verified_fix() {
        let with_shadow = |outcome: &str, runbook: &str, params: Value| {
            let mut bundle = bundle("L2", outcome);
            bundle["detail"]["shadow"] =
                json!({"rule_id": "L1-LRN-0123456789AB", "runbook_id": runbook, "params": params});
            observe(&bundle).unwrap().comparison().unwrap()
        };
        let agreed = with_shadow("verified", "RB-WIN-AV-001", json!({"a": 1, "b": 2}));
        assert_eq!(agreed.rule_id, "L1-LRN-0123456789AB");
        assert!(agreed.agreed, "{agreed:?}");
        assert_eq!(agreed.reason, None);
        let other = with_shadow("verified", "RB-WIN-FIREWALL-001", json!({"a": 1, "b": 2}));
        assert!(!other.agreed);
        assert!(
            other
                .reason
                .as_deref()
                .unwrap()
                .contains("the rule would have run RB-WIN-FIREWALL-001"),
            "{other:?}"
        );
        let params = with_shadow("verified", "RB-WIN-AV-001", json!({"a": 1}));
        assert!(!params.agreed);
        assert!(
            params.reason.as_deref().unwrap().contains("parameters"),
            "{params:?}"
        );
        let failed = with_shadow("rolled_back", "RB-WIN-AV-001", json!({"b": 2, "a": 1}));
        assert!(!failed.agreed);
        assert!(
            failed.reason.as_deref().unwrap().contains("not verified"),
            "{failed:?}"
        );
        // No shadow, a person's shadow rule, or an L1 run: nothing to compare.
        assert!(
            observe(&bundle("L2", "verified"))
                .unwrap()
                .comparison()
                .is_none()
        );
        let mut builtin = bundle("L2", "verified");
        builtin["detail"]["shadow"] =
            json!({"rule_id": "L1-WIN-AV-001", "runbook_id": "RB-WIN-AV-001"});
        assert!(observe(&builtin).unwrap().comparison().is_none());
        let mut l1 = bundle("L1", "verified");
        l1["detail"]["shadow"] =
            json!({"rule_id": "L1-LRN-0123456789AB", "runbook_id": "RB-WIN-AV-001"});
        assert!(observe(&l1).unwrap().comparison().is_none());
    }

    #[test]
    fn the_key_is_canonical_and_reads_back() {
        let seen = observe(&bundle("L2", "verified")).unwrap().pattern;
        assert_eq!(
            seen.key(),
            r#"{"check_id":"win.av.defender","facts":["antivirus-enabled","realtime-on"],"params":{"a":1,"b":2},"platform":"windows","runbook_id":"RB-WIN-AV-001"}"#
        );
        assert_eq!(Pattern::from_key(&seen.key()).unwrap(), seen);
        assert!(seen.rule_id().starts_with("L1-LRN-"));
        assert_eq!(seen.rule_id().len(), 19);
        let error = Pattern::from_key(r#"{"check_id":"x"}"#).unwrap_err();
        assert!(error.to_string().contains("platform"), "{error}");
    }

    proptest! {
        #[test]
        fn any_text_as_a_key_is_an_error_or_a_pattern(text in ".{0,200}") {
            if let Ok(pattern) = Pattern::from_key(&text) {
                prop_assert_eq!(Pattern::from_key(&pattern.key()).unwrap(), pattern);
            }
        }

        #[test]
        fn keys_round_trip_whatever_the_order(
            facts in proptest::collection::vec("[a-z-]{1,12}", 0..5),
            params in proptest::collection::btree_map("[a-z_]{1,8}", any::<i64>(), 0..5),
        ) {
            let params: Map<String, Value> = params.into_iter().map(|(k, v)| (k, json!(v))).collect();
            let runbook: RunbookId = "RB-WIN-AV-001".parse().unwrap();
            let one = Pattern::new("win.av.defender", Platform::Windows, facts.clone(), runbook.clone(), params.clone());
            let reversed = Pattern::new("win.av.defender", Platform::Windows, facts.into_iter().rev(), runbook, params);
            prop_assert_eq!(one.key(), reversed.key());
            prop_assert_eq!(Pattern::from_key(&one.key()).unwrap(), one);
        }

        #[test]
        fn any_bundle_json_is_observed_or_not_without_panicking(text in ".{0,300}") {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let _ = observe(&value);
            }
        }
    }
}
