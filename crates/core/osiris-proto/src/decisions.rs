//! People's decisions on escalated incidents as the appliance receives
//! them. An approval travels inside the order it issues
//! ([`crate::orders::OrderBody::approval`]); a rejection has no order, so it
//! travels as a [`SignedDecision`] in the check-in answer, signed by the
//! server key like an order: Ed25519 over the RFC 8785 canonical bytes of
//! `decision`.

use osiris_core::{ApplianceId, IncidentId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who approved which incident, and when: carried, signed, by the order
/// that runs the approved fix, and copied into its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Central Command's incident.
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: IncidentId,
    /// The user who decided.
    #[schema(value_type = String, format = Uuid)]
    pub decided_by: UserId,
    /// RFC 3339 UTC, milliseconds.
    pub decided_at: String,
}

/// A decision without an order: the incident was rejected (no fix will
/// run; the appliance records it and closes the ticket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The appliance it is for (and which must refuse it otherwise).
    #[schema(value_type = String, format = Uuid)]
    pub appliance_id: ApplianceId,
    /// Central Command's incident.
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: IncidentId,
    /// The failed check.
    pub check_id: String,
    /// The host's name at the site, when the incident has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `rejected`.
    pub decision: String,
    /// The user who decided.
    #[schema(value_type = String, format = Uuid)]
    pub decided_by: UserId,
    /// RFC 3339 UTC, milliseconds.
    pub decided_at: String,
    /// Why, in the decider's words.
    pub reason: String,
}

/// A decision with the server's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedDecision {
    /// What is signed.
    pub decision: DecisionBody,
    /// Base64 (standard, padded) Ed25519 signature by the server key over
    /// the canonical bytes of `decision`.
    pub signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_reads_back_and_refuses_unknown_fields() {
        let signed = SignedDecision {
            decision: DecisionBody {
                appliance_id: ApplianceId::random(),
                incident_id: IncidentId::random(),
                check_id: "win.encryption.bitlocker".to_owned(),
                host: None,
                decision: "rejected".to_owned(),
                decided_by: UserId::random(),
                decided_at: "2026-12-05T12:00:00.000Z".to_owned(),
                reason: "scheduled replacement".to_owned(),
            },
            signature: "c2ln".to_owned(),
        };
        let mut value = serde_json::to_value(&signed).unwrap();
        assert!(value["decision"].get("host").is_none());
        assert_eq!(
            serde_json::from_value::<SignedDecision>(value.clone()).unwrap(),
            signed
        );
        value["decision"]["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<SignedDecision>(value).is_err());
    }
}
