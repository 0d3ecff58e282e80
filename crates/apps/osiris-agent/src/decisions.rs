//! People's decisions from Central Command. A rejection arrives as a
//! [`SignedDecision`] in the check-in answer: its signature (the server
//! key, over the RFC 8785 bytes of `decision`) and its appliance are
//! checked, and it becomes an `escalation` bundle with outcome `rejected`
//! (or `refused`, naming why it was not accepted). An approval arrives
//! inside its order, whose evidence the healer records; here it only
//! acknowledges the incident's ticket.

use osiris_core::Clock;
use osiris_evidence::{BundleDraft, Kind, PublicKey};
use osiris_notify::Event;
use osiris_proto::decisions::SignedDecision;
use osiris_proto::orders::SignedOrder;
use osiris_queue::Queue;
use osiris_scrub::Scrubber;
use serde_json::json;

use crate::AgentError;
use crate::escalation::Escalations;
use crate::state::State;

/// What the appliance needs to take a decision in.
pub(crate) struct Decisions<'a> {
    pub(crate) appliance_id: osiris_core::ApplianceId,
    pub(crate) server_key: &'a PublicKey,
    pub(crate) state: &'a State,
    pub(crate) queue: &'a Queue,
    pub(crate) scrubber: &'a Scrubber,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) escalations: Option<&'a Escalations>,
}

/// Why a decision was not accepted.
fn refusal(decisions: &Decisions<'_>, signed: &SignedDecision) -> Option<String> {
    let Ok(message) = osiris_evidence::canonical::to_vec("decision", &signed.decision) else {
        return Some("the decision has no canonical form".to_owned());
    };
    if !decisions
        .server_key
        .verifies_base64(&message, &signed.signature)
    {
        return Some("the signature does not verify with the server key".to_owned());
    }
    if signed.decision.appliance_id != decisions.appliance_id {
        return Some(format!(
            "addressed to appliance {}, not this one",
            signed.decision.appliance_id
        ));
    }
    if signed.decision.decision != "rejected" {
        return Some(format!(
            "unknown decision {:?} (approvals come with their order)",
            signed.decision.decision
        ));
    }
    None
}

impl Decisions<'_> {
    /// Records a decision without an order and, when accepted, closes the
    /// incident's ticket. Returns whether it was accepted.
    ///
    /// # Errors
    /// When the queue or the state database fails.
    pub(crate) async fn take(&self, signed: &SignedDecision) -> Result<bool, AgentError> {
        let decision = &signed.decision;
        let refused = refusal(self, signed);
        let local = self
            .state
            .incident_by_server_id(decision.incident_id)
            .await?;
        let host = local
            .as_ref()
            .map(|i| i.host.clone())
            .or_else(|| decision.host.clone())
            .unwrap_or_else(|| "appliance".to_owned());
        let outcome = if refused.is_some() {
            "refused"
        } else {
            "rejected"
        };
        let draft = BundleDraft {
            bundle_id: osiris_core::BundleId::random(),
            created_at: self.clock.now(),
            kind: Kind::Escalation,
            host,
            hipaa: Vec::new(),
            outcome: outcome.to_owned(),
            detail: json!({
                "tier": "L3",
                "decision": decision.decision,
                "server_incident_id": decision.incident_id.to_string(),
                "incident_id": local.as_ref().map(|i| i.id.to_string()),
                "check_id": decision.check_id,
                "decided_by": decision.decided_by.to_string(),
                "decided_at": decision.decided_at,
                "reason": decision.reason,
                "signature": signed.signature,
                "refusal": refused,
            }),
            artifacts: Vec::new(),
        };
        self.queue.append(self.scrubber.scrub_draft(draft)).await?;
        if let Some(reason) = &refused {
            tracing::error!(incident = %decision.incident_id, %reason, "a decision from central command was refused");
            return Ok(false);
        }
        tracing::info!(incident = %decision.incident_id, check_id = %decision.check_id, "escalated incident rejected by a person");
        if let (Some(escalations), Some(local)) = (self.escalations, &local) {
            escalations.follow_up(local.id, Event::Resolve).await?;
        }
        Ok(true)
    }

    /// An order carrying an approval acknowledges its incident's ticket.
    ///
    /// # Errors
    /// When the state database fails.
    pub(crate) async fn approved(&self, order: &SignedOrder) -> Result<(), AgentError> {
        let (Some(approval), Some(escalations)) = (&order.body.approval, self.escalations) else {
            return Ok(());
        };
        if let Some(local) = self
            .state
            .incident_by_server_id(approval.incident_id)
            .await?
        {
            escalations.follow_up(local.id, Event::Acknowledge).await?;
        }
        Ok(())
    }
}
