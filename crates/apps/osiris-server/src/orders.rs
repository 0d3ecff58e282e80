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
