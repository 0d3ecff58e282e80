//! Server-signed checkpoints: "appliance A's chain had reached seq N with
//! head hash H at time T". They fix how long a chain was, so removing its
//! tail is detectable even by someone who can rewrite the bundle files.

use chrono::{DateTime, SecondsFormat, Utc};
use osiris_core::ApplianceId;
use serde::{Deserialize, Serialize};

use crate::bundle::{ChainHash, ChainHead};
use crate::canonical;
use crate::error::Result;
use crate::keys::{KeyPair, PublicKey, decode_signature};

/// One signed statement, as stored in `checkpoints/<appliance_id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    appliance_id: ApplianceId,
    seq: u64,
    head_hash: String,
    signed_at: String,
    signature: String,
}

#[derive(Serialize)]
struct Statement<'a> {
    appliance_id: &'a ApplianceId,
    head_hash: &'a str,
    seq: u64,
    signed_at: &'a str,
}

impl Checkpoint {
    /// The server's statement that `appliance_id`'s chain reached `head`.
    ///
    /// # Errors
    /// Only if canonical serialization fails, which it cannot for these
    /// field types; the error is kept rather than hidden behind a panic.
    pub fn sign(
        appliance_id: ApplianceId,
        head: ChainHead,
        signed_at: DateTime<Utc>,
        server_key: &KeyPair,
    ) -> Result<Self> {
        let mut checkpoint = Self {
            appliance_id,
            seq: head.seq,
            head_hash: head.hash.to_string(),
            signed_at: signed_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            signature: String::new(),
        };
        checkpoint.signature = server_key.sign_base64(&checkpoint.statement_bytes()?);
        Ok(checkpoint)
    }

    /// A checkpoint as stored (fields exactly as signed); whether the
    /// signature holds is for [`Checkpoint::is_signed_by`] to say.
    #[must_use]
    pub const fn from_parts(
        appliance_id: ApplianceId,
        seq: u64,
        head_hash: String,
        signed_at: String,
        signature: String,
    ) -> Self {
        Self {
            appliance_id,
            seq,
            head_hash,
            signed_at,
            signature,
        }
    }

    /// The base64 signature.
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.signature
    }

    fn statement_bytes(&self) -> Result<Vec<u8>> {
        canonical::to_vec(
            "checkpoint",
            &Statement {
                appliance_id: &self.appliance_id,
                head_hash: &self.head_hash,
                seq: self.seq,
                signed_at: &self.signed_at,
            },
        )
    }

    /// Whether `server_key` signed exactly this statement.
    #[must_use]
    pub fn is_signed_by(&self, server_key: &PublicKey) -> bool {
        let Ok(signature) = decode_signature(&self.signature) else {
            return false;
        };
        self.statement_bytes()
            .is_ok_and(|bytes| server_key.verify_strict(&bytes, &signature))
    }

    /// The appliance the statement is about.
    #[must_use]
    pub const fn appliance_id(&self) -> ApplianceId {
        self.appliance_id
    }

    /// The seq the chain had reached.
    #[must_use]
    pub const fn seq(&self) -> u64 {
        self.seq
    }

    /// The chain hash at that seq, if well-formed.
    #[must_use]
    pub fn head_hash(&self) -> Option<ChainHash> {
        ChainHash::parse(&self.head_hash)
    }

    /// When the server signed it, as written.
    #[must_use]
    pub fn signed_at(&self) -> &str {
        &self.signed_at
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn checkpoint_verifies_only_with_the_server_key_and_unchanged() {
        let server = KeyPair::from_seed([8; 32]);
        let head = ChainHead {
            seq: 42,
            hash: ChainHash::of(b"x"),
        };
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let checkpoint = Checkpoint::sign(ApplianceId::random(), head, at, &server).unwrap();
        assert!(checkpoint.is_signed_by(&server.public_key()));
        assert!(!checkpoint.is_signed_by(&KeyPair::from_seed([9; 32]).public_key()));
        let mut edited = checkpoint.clone();
        edited.seq = 41;
        assert!(!edited.is_signed_by(&server.public_key()));
        let mut garbage = checkpoint;
        garbage.signature = "%%".into();
        assert!(!garbage.is_signed_by(&server.public_key()));
    }
}
