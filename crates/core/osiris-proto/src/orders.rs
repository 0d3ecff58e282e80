//! Orders as an appliance receives them: every field that instructs it,
//! signed by the server key over the RFC 8785 canonical bytes of the order
//! without `signature`. The appliance re-canonicalizes what it received,
//! minus `signature`, and verifies; times are strings so that what is
//! signed is exactly what is sent. Signing and verifying need the key
//! types, so they live with the server and the appliance.

use osiris_core::{ApplianceId, OrderId, RunbookId};

use crate::decisions::Approval;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The signed part of an order.
//
// Read through `OrderBodyWire`, which refuses unknown fields: putting
// `deny_unknown_fields` here would make utoipa publish
// `additionalProperties: false` for this schema, which `SignedOrder`
// extends with `signature` (an `allOf` no order could satisfy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(from = "OrderBodyWire")]
pub struct OrderBody {
    /// The order.
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
    /// The appliance that must run it (and refuse it otherwise).
    #[schema(value_type = String, format = Uuid)]
    pub appliance_id: ApplianceId,
    /// The runbook to run.
    #[schema(value_type = String)]
    pub runbook_id: RunbookId,
    /// Its parameters, valid against the runbook's parameter schema.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The inventory host (its name at the site) to run it on; absent: every
    /// host of the site whose platform the runbook suits. Left out of the
    /// signed bytes when absent, so such orders sign as before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// RFC 3339 UTC, milliseconds.
    pub issued_at: String,
    /// RFC 3339 UTC, milliseconds; at most 15 minutes after `issued_at`.
    pub expires_at: String,
    /// One-time value: an appliance refuses a nonce it has seen.
    pub nonce: String,
    /// The approval of an escalated incident this order carries out. Left
    /// out of the signed bytes when absent, so other orders sign as before
    /// it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

/// An order with the server's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(from = "SignedOrderWire")]
pub struct SignedOrder {
    /// What is signed.
    #[serde(flatten)]
    pub body: OrderBody,
    /// Base64 (standard, padded) Ed25519 signature by the server key over
    /// the canonical bytes of the other fields.
    pub signature: String,
}

/// [`OrderBody`] as read: the same fields, unknown ones refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBodyWire {
    order_id: OrderId,
    appliance_id: ApplianceId,
    runbook_id: RunbookId,
    params: serde_json::Value,
    #[serde(default)]
    target: Option<String>,
    issued_at: String,
    expires_at: String,
    nonce: String,
    #[serde(default)]
    approval: Option<Approval>,
}

impl From<OrderBodyWire> for OrderBody {
    fn from(wire: OrderBodyWire) -> Self {
        Self {
            order_id: wire.order_id,
            appliance_id: wire.appliance_id,
            runbook_id: wire.runbook_id,
            params: wire.params,
            target: wire.target,
            issued_at: wire.issued_at,
            expires_at: wire.expires_at,
            nonce: wire.nonce,
            approval: wire.approval,
        }
    }
}

/// [`SignedOrder`] as read: flat, unknown fields refused (serde cannot
/// refuse unknown fields through `flatten`). An order carrying a field the
/// appliance does not know is refused rather than run without it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedOrderWire {
    order_id: OrderId,
    appliance_id: ApplianceId,
    runbook_id: RunbookId,
    params: serde_json::Value,
    #[serde(default)]
    target: Option<String>,
    issued_at: String,
    expires_at: String,
    nonce: String,
    #[serde(default)]
    approval: Option<Approval>,
    signature: String,
}

impl From<SignedOrderWire> for SignedOrder {
    fn from(wire: SignedOrderWire) -> Self {
        Self {
            body: OrderBody {
                order_id: wire.order_id,
                appliance_id: wire.appliance_id,
                runbook_id: wire.runbook_id,
                params: wire.params,
                target: wire.target,
                issued_at: wire.issued_at,
                expires_at: wire.expires_at,
                nonce: wire.nonce,
                approval: wire.approval,
            },
            signature: wire.signature,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> SignedOrder {
        SignedOrder {
            body: OrderBody {
                order_id: OrderId::random(),
                appliance_id: ApplianceId::random(),
                runbook_id: "RB-WIN-AV-001".parse().unwrap(),
                params: serde_json::json!({"a": [1, true]}),
                target: None,
                issued_at: "2026-11-24T12:00:00.000Z".to_owned(),
                expires_at: "2026-11-24T12:15:00.000Z".to_owned(),
                nonce: "n".to_owned(),
                approval: None,
            },
            signature: "c2ln".to_owned(),
        }
    }

    #[test]
    fn a_signed_order_is_flat_and_reads_back() {
        let signed = order();
        let value = serde_json::to_value(&signed).unwrap();
        assert_eq!(value["signature"], "c2ln");
        assert_eq!(value["runbook_id"], "RB-WIN-AV-001");
        assert_eq!(
            serde_json::from_value::<SignedOrder>(value).unwrap(),
            signed
        );
        let body = serde_json::to_value(&signed.body).unwrap();
        assert_eq!(
            serde_json::from_value::<OrderBody>(body).unwrap(),
            signed.body
        );
    }

    #[test]
    fn a_target_is_sent_only_when_there_is_one() {
        let mut signed = order();
        let untargeted = serde_json::to_value(&signed).unwrap();
        assert!(untargeted.get("target").is_none(), "{untargeted}");
        signed.body.target = Some("dc01".to_owned());
        let targeted = serde_json::to_value(&signed).unwrap();
        assert_eq!(targeted["target"], "dc01");
        assert_eq!(
            serde_json::from_value::<SignedOrder>(targeted).unwrap(),
            signed
        );
    }

    #[test]
    fn an_approval_is_sent_only_when_there_is_one() {
        let mut signed = order();
        assert!(
            serde_json::to_value(&signed)
                .unwrap()
                .get("approval")
                .is_none()
        );
        signed.body.approval = Some(Approval {
            incident_id: osiris_core::IncidentId::random(),
            decided_by: osiris_core::UserId::random(),
            decided_at: "2026-11-24T12:00:00.000Z".to_owned(),
        });
        let value = serde_json::to_value(&signed).unwrap();
        assert_eq!(value["approval"]["decided_at"], "2026-11-24T12:00:00.000Z");
        assert_eq!(
            serde_json::from_value::<SignedOrder>(value).unwrap(),
            signed
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut value = serde_json::to_value(order()).unwrap();
        value["extra"] = serde_json::json!(1);
        let error = serde_json::from_value::<SignedOrder>(value).unwrap_err();
        assert!(error.to_string().contains("extra"), "{error}");
        let mut body = serde_json::to_value(order().body).unwrap();
        body["signature"] = serde_json::json!("x");
        assert!(serde_json::from_value::<OrderBody>(body).is_err());
    }
}
