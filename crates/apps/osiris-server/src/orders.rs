//! Signing orders. The wire form ([`OrderBody`], [`SignedOrder`]) is in
//! `osiris-proto`, shared with the appliance; the signature is the server
//! key's Ed25519 signature over the RFC 8785 canonical bytes of the order
//! without `signature`. The appliance re-canonicalizes what it received,
//! minus `signature`, and verifies; times are strings so that what is
//! signed is exactly what is sent.

use chrono::SecondsFormat;
use osiris_evidence::KeyPair;
pub use osiris_proto::orders::{OrderBody, SignedOrder};
use osiris_store::Order;

/// Building an [`OrderBody`] from a stored order.
pub trait OrderBodyExt {
    /// The instructing fields of a stored order.
    #[must_use]
    fn of(order: &Order) -> Self;
}

impl OrderBodyExt for OrderBody {
    fn of(order: &Order) -> Self {
        Self {
            order_id: order.id,
            appliance_id: order.appliance_id,
            runbook_id: order.runbook_id.clone(),
            params: order.params.clone(),
            target: order.target.clone(),
            issued_at: order.issued_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            expires_at: order
                .expires_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            nonce: order.nonce.clone(),
            approval: None,
        }
    }
}

/// Signing an [`OrderBody`] with the server key.
pub trait SignOrder {
    /// Signs the canonical bytes with `key`.
    ///
    /// # Errors
    /// When the parameters have no canonical form (a non-finite number).
    fn sign(self, key: &KeyPair) -> osiris_evidence::Result<SignedOrder>;
}

impl SignOrder for OrderBody {
    fn sign(self, key: &KeyPair) -> osiris_evidence::Result<SignedOrder> {
        let bytes = osiris_evidence::canonical::to_vec("order", &self)?;
        Ok(SignedOrder {
            signature: key.sign_base64(&bytes),
            body: self,
        })
    }
}

/// Adds to each order the approval it carries out, if any, so the
/// appliance verifies the approval with the order and records it.
///
/// # Errors
/// The store's failure.
pub(crate) async fn with_approvals(
    state: &crate::state::AppState,
    scope: &osiris_store::TenantScope,
    bodies: Vec<OrderBody>,
) -> Result<Vec<OrderBody>, crate::error::ApiError> {
    let mut out = Vec::with_capacity(bodies.len());
    for mut body in bodies {
        if let Some(decision) = state.store.order_decision(scope, body.order_id).await? {
            body.approval = Some(osiris_proto::decisions::Approval {
                incident_id: decision.incident_id,
                decided_by: decision.decided_by,
                decided_at: decision
                    .decided_at
                    .to_rfc3339_opts(SecondsFormat::Millis, true),
            });
        }
        out.push(body);
    }
    Ok(out)
}

/// The appliance's undelivered rejections, each signed by the server key
/// over the RFC 8785 bytes of its `decision`, as orders are; taking them
/// marks them delivered.
///
/// # Errors
/// The store's failure, or a decision with no canonical form.
pub(crate) async fn take_decisions(
    state: &crate::state::AppState,
    scope: &osiris_store::TenantScope,
    appliance: osiris_core::ApplianceId,
    hosts: &[osiris_store::Host],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<osiris_proto::decisions::SignedDecision>, crate::error::ApiError> {
    let taken = state
        .store
        .take_undelivered_rejections(scope, appliance, now)
        .await?;
    let mut signed = Vec::with_capacity(taken.len());
    for decision in taken {
        let incident = state
            .store
            .get_incident(scope, decision.incident_id)
            .await?;
        let body = osiris_proto::decisions::DecisionBody {
            appliance_id: decision.appliance_id,
            incident_id: decision.incident_id,
            check_id: incident.check_id,
            host: incident
                .host_id
                .and_then(|id| hosts.iter().find(|h| h.id == id))
                .map(|h| h.hostname.clone()),
            decision: decision.decision.as_str().to_owned(),
            decided_by: decision.decided_by,
            decided_at: decision
                .decided_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            reason: decision.reason.unwrap_or_default(),
        };
        signed.push(
            sign_decision(body, &state.server_key)
                .map_err(|e| crate::error::ApiError::internal(&e))?,
        );
    }
    Ok(signed)
}

/// Signs a decision with the server key.
///
/// # Errors
/// When it has no canonical form.
pub fn sign_decision(
    body: osiris_proto::decisions::DecisionBody,
    key: &KeyPair,
) -> osiris_evidence::Result<osiris_proto::decisions::SignedDecision> {
    let bytes = osiris_evidence::canonical::to_vec("decision", &body)?;
    Ok(osiris_proto::decisions::SignedDecision {
        signature: key.sign_base64(&bytes),
        decision: body,
    })
}

/// An approved fix that ran and verified resolves its incident.
///
/// # Errors
/// The store's failure.
pub(crate) async fn resolve_approved(
    state: &crate::state::AppState,
    scope: &osiris_store::TenantScope,
    order: osiris_core::OrderId,
    outcome: osiris_store::OrderOutcome,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), crate::error::ApiError> {
    if outcome != osiris_store::OrderOutcome::Executed {
        return Ok(());
    }
    let Some(decision) = state.store.order_decision(scope, order).await? else {
        return Ok(());
    };
    let resolution = format!("approved fix verified by order {order}");
    match state
        .store
        .resolve_incident(scope, decision.incident_id, &resolution, now)
        .await
    {
        Ok(_) | Err(osiris_store::Error::IllegalTransition { .. }) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use osiris_core::{ApplianceId, OrderId};

    use super::*;

    #[test]
    fn the_signature_covers_the_canonical_bytes_without_itself() {
        let key = KeyPair::from_seed([7; 32]);
        let issued = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let body = OrderBody {
            order_id: OrderId::random(),
            appliance_id: ApplianceId::random(),
            runbook_id: "RB-WIN-AV-001".parse().unwrap(),
            params: serde_json::json!({"b": 1, "a": [true]}),
            target: None,
            issued_at: issued.to_rfc3339_opts(SecondsFormat::Millis, true),
            expires_at: issued.to_rfc3339_opts(SecondsFormat::Millis, true),
            nonce: "n".to_owned(),
            approval: None,
        };
        let signed = body.sign(&key).unwrap();
        let mut sent = serde_json::to_value(&signed).unwrap();
        let signature = sent.as_object_mut().unwrap().remove("signature").unwrap();
        let message = osiris_evidence::canonical::to_vec("order", &sent).unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(
            &base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                signature.as_str().unwrap(),
            )
            .unwrap()
            .try_into()
            .unwrap(),
        );
        assert!(key.public_key().verify_strict(&message, &signature));
        assert!(!key.public_key().verify_strict(b"other", &signature));
        // What the appliance reads back signs the same bytes.
        let read: SignedOrder =
            serde_json::from_value(serde_json::to_value(&signed).unwrap()).unwrap();
        assert_eq!(
            osiris_evidence::canonical::to_vec("order", &read.body).unwrap(),
            message
        );
    }
}
