//! Orders as an appliance receives them: every field that instructs it,
//! signed by the server key over the RFC 8785 canonical bytes of the order
//! without `signature`. The appliance re-canonicalizes what it received,
//! minus `signature`, and verifies; times are strings so that what is
//! signed is exactly what is sent.

use chrono::SecondsFormat;
use osiris_core::{ApplianceId, OrderId, RunbookId};
use osiris_evidence::KeyPair;
use osiris_store::Order;
use serde::Serialize;
use utoipa::ToSchema;

/// The signed part of an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// RFC 3339 UTC, milliseconds.
    pub issued_at: String,
    /// RFC 3339 UTC, milliseconds; at most 15 minutes after `issued_at`.
    pub expires_at: String,
    /// One-time value: an appliance refuses a nonce it has seen.
    pub nonce: String,
}

/// An order with the server's signature.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignedOrder {
    /// What is signed.
    #[serde(flatten)]
    pub body: OrderBody,
    /// Base64 (standard, padded) Ed25519 signature by the server key over
    /// the canonical bytes of the other fields.
    pub signature: String,
}

impl OrderBody {
    /// The instructing fields of a stored order.
    #[must_use]
    pub fn of(order: &Order) -> Self {
        Self {
            order_id: order.id,
            appliance_id: order.appliance_id,
            runbook_id: order.runbook_id.clone(),
            params: order.params.clone(),
            issued_at: order.issued_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            expires_at: order
                .expires_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            nonce: order.nonce.clone(),
        }
    }

    /// Signs the canonical bytes with `key`.
    ///
    /// # Errors
    /// When the parameters have no canonical form (a non-finite number).
    pub fn sign(self, key: &KeyPair) -> osiris_evidence::Result<SignedOrder> {
        let bytes = osiris_evidence::canonical::to_vec("order", &self)?;
        Ok(SignedOrder {
            signature: key.sign_base64(&bytes),
            body: self,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

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
            issued_at: issued.to_rfc3339_opts(SecondsFormat::Millis, true),
            expires_at: issued.to_rfc3339_opts(SecondsFormat::Millis, true),
            nonce: "n".to_owned(),
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
    }
}
