//! Building the evidence drafts the engine records: one per check run, one
//! per gate decision or runbook run, one per order. `detail` always names
//! the check and/or runbook, the rule when one decided, the tier, and the
//! gate that refused when one did; it is scrubbed before it is recorded.

use chrono::{DateTime, Utc};
use osiris_catalog::{Check, HipaaRef};
use osiris_core::{BundleId, HipaaCitation};
use osiris_evidence::{Artifact, BundleDraft, Kind};
use serde_json::{Map, Value, json};

use crate::detect::CheckRun;
use crate::gates::{Disposition, Gate, Refusal};
use crate::l1::outcome_word;

/// The gates a decision went through, in order, for `detail.gates`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trail {
    entries: Vec<Value>,
}

impl Trail {
    pub(crate) fn allow(&mut self, gate: Gate) {
        self.entries
            .push(json!({"gate": gate.as_str(), "decision": "allow"}));
    }

    pub(crate) fn refuse(&mut self, refusal: &Refusal) {
        self.entries.push(json!({
            "gate": refusal.gate.as_str(),
            "decision": "refuse",
            "reason": refusal.reason,
        }));
    }

    pub(crate) fn to_value(&self) -> Value {
        Value::Array(self.entries.clone())
    }
}

/// A draft of `kind` about `host` at `at`.
pub(crate) fn draft(
    kind: Kind,
    host: &str,
    at: DateTime<Utc>,
    hipaa: Vec<HipaaCitation>,
    outcome: &str,
    detail: Map<String, Value>,
    artifacts: Vec<Artifact>,
) -> BundleDraft {
    BundleDraft {
        bundle_id: BundleId::random(),
        created_at: at,
        kind,
        host: host.to_owned(),
        hipaa,
        outcome: outcome.to_owned(),
        detail: Value::Object(detail),
        artifacts,
    }
}

/// The HIPAA citations of a check.
pub(crate) fn cites(check: &Check) -> Vec<HipaaCitation> {
    check.hipaa.iter().map(|h| h.cite.clone()).collect()
}

fn citations(hipaa: &[HipaaRef]) -> Value {
    Value::Array(
        hipaa
            .iter()
            .map(|h| json!({"cite": h.cite.as_str(), "name": h.name, "kind": h.kind}))
            .collect(),
    )
}

/// The `check` bundle of one check run.
pub(crate) fn check_run(check: &Check, run: &CheckRun) -> BundleDraft {
    let evaluation = run.evaluation();
    let detail = object(json!({
        "check_id": check.id,
        "title": check.title,
        "platform": check.platform.as_str(),
        "check_type": check.check_type,
        "severity": check.severity,
        "runbook_id": check.runbook.as_str(),
        "findings": {
            "failed": evaluation.failed,
            "unknown": evaluation.unknown,
        },
        "citations": citations(&check.hipaa),
        "detect": run.step().detail(),
    }));
    draft(
        Kind::Check,
        run.host(),
        run.at(),
        cites(check),
        outcome_word(run.outcome()),
        detail,
        run.step().artifacts(),
    )
}

/// The bundle kind and outcome word of a refusal.
pub(crate) const fn refusal_kind(disposition: Disposition) -> (Kind, &'static str) {
    match disposition {
        Disposition::Refused => (Kind::Remediation, "refused"),
        Disposition::Deferred { .. } => (Kind::Remediation, "deferred"),
        Disposition::Escalated => (Kind::Escalation, "escalated"),
        Disposition::Observed => (Kind::Remediation, "observed"),
        Disposition::DryRun => (Kind::Remediation, "dry_run"),
    }
}

/// A JSON object's map (anything else becomes an empty map: the callers
/// only pass `json!({…})` literals).
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
