//! Drafting evidence and sealing it into an appliance's hash chain.
//!
//! A [`BundleDraft`] is what a check or action produced (already scrubbed
//! of PHI by the caller). The [`Sealer`] assigns `seq` and `prev_hash`,
//! signs the canonical bytes and returns a [`SealedBundle`]: from then on
//! the bundle is those exact bytes, stored and sent as they are.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use osiris_core::{ApplianceId, BundleId, HipaaCitation, SiteId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical;
use crate::error::{Error, Result};
use crate::keys::KeyPair;

/// The schema tag every bundle carries.
pub const SCHEMA: &str = "osiris.evidence.v1";

/// What a bundle records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A drift check ran.
    Check,
    /// A runbook ran (remediate, verify, rollback).
    Remediation,
    /// An incident went to a human.
    Escalation,
    /// An order from Central Command was received and ended.
    Order,
    /// The rule set changed (promotion, demotion, sync).
    RuleChange,
    /// A finding was accepted by a person, with a reason.
    Waiver,
}

/// An output captured while producing the evidence, referenced by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    name: String,
    sha256: String,
    bytes: u64,
}

impl Artifact {
    /// Describes the raw output `raw` under `name`.
    #[must_use]
    pub fn of(name: impl Into<String>, raw: &[u8]) -> Self {
        Self {
            name: name.into(),
            sha256: hex(&Sha256::digest(raw)),
            bytes: u64::try_from(raw.len()).unwrap_or(u64::MAX),
        }
    }

    /// The artifact's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Lowercase hex SHA-256 of the raw output.
    #[must_use]
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// The content of a bundle before it joins the chain. The caller must have
/// scrubbed every string in it: sealing is final.
#[derive(Debug, Clone)]
pub struct BundleDraft {
    /// Unique id of this bundle.
    pub bundle_id: BundleId,
    /// When the recorded event happened (from the caller's clock).
    pub created_at: DateTime<Utc>,
    /// What is recorded.
    pub kind: Kind,
    /// The target host (inventory name).
    pub host: String,
    /// HIPAA citations the evidence supports.
    pub hipaa: Vec<HipaaCitation>,
    /// The result: `pass`, `fail`, `unknown`, `executed`, `rolled_back`…
    pub outcome: String,
    /// Pre/post state, check or runbook id, tier. Must be a JSON object.
    pub detail: Value,
    /// Raw outputs, referenced by digest.
    pub artifacts: Vec<Artifact>,
}

/// SHA-256 of a bundle's canonical bytes (signature included).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The `prev_hash` of the first bundle of a chain: 64 zeros.
    pub const GENESIS: Self = Self([0; 32]);

    /// The chain hash of canonical bundle bytes.
    #[must_use]
    pub fn of(canonical_bytes: &[u8]) -> Self {
        Self(Sha256::digest(canonical_bytes).into())
    }

    /// Parses 64 lowercase hex digits.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        decode_hex::<32>(text).map(Self)
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// Where a chain stands: its last seq and that bundle's chain hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Seq of the last sealed bundle.
    pub seq: u64,
    /// Its chain hash.
    pub hash: ChainHash,
}

/// A signed bundle: its canonical bytes and what the chain needs to know.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBundle {
    bytes: Vec<u8>,
    head: ChainHead,
    bundle_id: BundleId,
}

impl SealedBundle {
    /// The canonical bytes, exactly as signed, stored and sent.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The bytes, consumed.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Seq of this bundle in its appliance's chain.
    #[must_use]
    pub const fn seq(&self) -> u64 {
        self.head.seq
    }

    /// Chain hash of this bundle.
    #[must_use]
    pub const fn hash(&self) -> ChainHash {
        self.head.hash
    }

    /// The bundle's id.
    #[must_use]
    pub const fn bundle_id(&self) -> BundleId {
        self.bundle_id
    }
}

impl fmt::Debug for SealedBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedBundle")
            .field("bundle_id", &self.bundle_id)
            .field("seq", &self.head.seq)
            .field("hash", &self.head.hash)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// Seals drafts into one appliance's chain: seq 1, 2, 3… with no gaps.
#[derive(Debug)]
pub struct Sealer<'k> {
    key: &'k KeyPair,
    key_id: String,
    site_id: SiteId,
    appliance_id: ApplianceId,
    head: Option<ChainHead>,
}

#[derive(Serialize)]
struct Body<'a> {
    appliance_id: ApplianceId,
    artifacts: &'a [Artifact],
    bundle_id: BundleId,
    created_at: String,
    detail: &'a Value,
    hipaa: &'a [HipaaCitation],
    host: &'a str,
    kind: Kind,
    outcome: &'a str,
    prev_hash: String,
    schema: &'static str,
    seq: u64,
    site_id: SiteId,
}

#[derive(Serialize)]
struct SignatureMember<'a, 'b> {
    signature: &'b SignatureField<'a>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignatureField<'a> {
    #[serde(borrow)]
    pub(crate) alg: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) key_id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) sig: std::borrow::Cow<'a, str>,
}

impl<'k> Sealer<'k> {
    /// A sealer continuing after `head` (or starting a new chain at seq 1).
    #[must_use]
    pub fn new(
        key: &'k KeyPair,
        site_id: SiteId,
        appliance_id: ApplianceId,
        head: Option<ChainHead>,
    ) -> Self {
        let key_id = key.public_key().key_id().to_string();
        Self {
            key,
            key_id,
            site_id,
            appliance_id,
            head,
        }
    }

    /// The last sealed bundle's position, if any.
    #[must_use]
    pub const fn head(&self) -> Option<ChainHead> {
        self.head
    }

    /// Signs `draft` as the next bundle of the chain.
    ///
    /// # Errors
    /// When the draft is not acceptable evidence (empty host or outcome,
    /// `detail` not an object, a float that JSON cannot carry).
    pub fn seal(&mut self, draft: &BundleDraft) -> Result<SealedBundle> {
        validate(draft)?;
        let (seq, prev_hash) = match self.head {
            Some(head) => (head.seq + 1, head.hash),
            None => (1, ChainHash::GENESIS),
        };
        let body = Body {
            appliance_id: self.appliance_id,
            artifacts: &draft.artifacts,
            bundle_id: draft.bundle_id,
            created_at: draft
                .created_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            detail: &draft.detail,
            hipaa: &draft.hipaa,
            host: &draft.host,
            kind: draft.kind,
            outcome: &draft.outcome,
            prev_hash: prev_hash.to_string(),
            schema: SCHEMA,
            seq,
            site_id: self.site_id,
        };
        let unsigned = canonical::to_vec("bundle", &body)?;
        let signature = SignatureField {
            alg: "ed25519".into(),
            key_id: self.key_id.as_str().into(),
            sig: self.key.sign_base64(&unsigned).into(),
        };
        let bytes = insert_signature(&unsigned, &self.site_id, &signature)?;
        let head = ChainHead {
            seq,
            hash: ChainHash::of(&bytes),
        };
        self.head = Some(head);
        Ok(SealedBundle {
            bytes,
            head,
            bundle_id: draft.bundle_id,
        })
    }
}

fn validate(draft: &BundleDraft) -> Result<()> {
    let invalid = |field, reason: &str| {
        Err(Error::InvalidDraft {
            field,
            reason: reason.into(),
        })
    };
    if draft.host.trim().is_empty() {
        return invalid("host", "must name the target host");
    }
    if draft.outcome.is_empty()
        || !draft
            .outcome
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return invalid(
            "outcome",
            "must be a lowercase word such as pass or rolled_back",
        );
    }
    if !draft.detail.is_object() {
        return invalid("detail", "must be a JSON object");
    }
    Ok(())
}

/// The canonical bytes of the bundle with its `signature` member.
///
/// `signature` sorts between `seq` and `site_id`, and `site_id` is the last
/// member, so the signed form is the unsigned form with the member spliced
/// in before `,"site_id":…}`. That avoids canonicalizing twice; the general
/// path below stays as the definition and is used if the shape ever differs.
fn insert_signature(
    unsigned: &[u8],
    site_id: &SiteId,
    signature: &SignatureField<'_>,
) -> Result<Vec<u8>> {
    let member = canonical::to_vec("signature", &SignatureMember { signature })?;
    let tail = format!(",\"site_id\":\"{site_id}\"}}");
    // `member` is `{"signature":{…}}`; the spliced text is `,"signature":{…}`.
    let inner = member
        .get(1..member.len().saturating_sub(1))
        .unwrap_or_default();
    if let Some(prefix) = unsigned.strip_suffix(tail.as_bytes()) {
        let mut bytes = Vec::with_capacity(unsigned.len() + inner.len() + 1);
        bytes.extend_from_slice(prefix);
        bytes.push(b',');
        bytes.extend_from_slice(inner);
        bytes.extend_from_slice(tail.as_bytes());
        return Ok(bytes);
    }
    general_insert_signature(unsigned, signature)
}

fn general_insert_signature(unsigned: &[u8], signature: &SignatureField<'_>) -> Result<Vec<u8>> {
    let mut value: serde_json::Map<String, Value> =
        serde_json::from_slice(unsigned).map_err(|source| Error::Canonical {
            what: "bundle",
            source,
        })?;
    let signature = serde_json::to_value(signature).map_err(|source| Error::Canonical {
        what: "signature",
        source,
    })?;
    value.insert("signature".into(), signature);
    canonical::to_vec("bundle", &value)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.extend(char::from_digit(u32::from(nibble), 16));
        }
    }
    out
}

/// Decodes exactly `N` bytes of lowercase hex.
pub(crate) fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    fn digit(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            _ => None,
        }
    }
    if text.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let [high, low] = pair else { return None };
        *slot = digit(*high)? << 4 | digit(*low)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn draft(n: u8) -> BundleDraft {
        BundleDraft {
            bundle_id: BundleId::from_uuid(uuid::Uuid::from_bytes([n; 16])),
            created_at: Utc
                .with_ymd_and_hms(2026, 11, 2, 8, 0, u32::from(n % 60))
                .unwrap(),
            kind: Kind::Check,
            host: "NVC-DC01".into(),
            hipaa: vec!["164.312(b)".parse().unwrap()],
            outcome: "pass".into(),
            detail: json!({"check_id": "win.logging.audit", "tier": null, "note": "€ \u{1F600} \"q\""}),
            artifacts: vec![Artifact::of("stdout", b"{\"ok\":true}")],
        }
    }

    #[test]
    fn first_bundle_has_seq_1_and_zero_prev_hash_then_links() {
        let key = KeyPair::from_seed([1; 32]);
        let mut sealer = Sealer::new(&key, SiteId::random(), ApplianceId::random(), None);
        let first = sealer.seal(&draft(1)).unwrap();
        let second = sealer.seal(&draft(2)).unwrap();
        let a: Value = serde_json::from_slice(first.bytes()).unwrap();
        let b: Value = serde_json::from_slice(second.bytes()).unwrap();
        assert_eq!(a["seq"], 1);
        assert_eq!(a["prev_hash"], "0".repeat(64));
        assert_eq!(b["seq"], 2);
        assert_eq!(b["prev_hash"], first.hash().to_string());
        assert_eq!(first.hash(), ChainHash::of(first.bytes()));
    }

    #[test]
    fn spliced_signature_equals_full_canonicalization() {
        let key = KeyPair::from_seed([2; 32]);
        let mut sealer = Sealer::new(&key, SiteId::random(), ApplianceId::random(), None);
        let sealed = sealer.seal(&draft(3)).unwrap();
        let value: Value = serde_json::from_slice(sealed.bytes()).unwrap();
        assert_eq!(canonical::to_vec("t", &value).unwrap(), sealed.bytes());
        let signature_json = value["signature"].to_string();
        let signature: SignatureField<'_> = serde_json::from_str(&signature_json).unwrap();
        let mut unsigned = value.as_object().unwrap().clone();
        unsigned.remove("signature");
        let unsigned = canonical::to_vec("t", &unsigned).unwrap();
        assert_eq!(
            general_insert_signature(&unsigned, &signature).unwrap(),
            sealed.bytes()
        );
    }

    #[test]
    fn signature_covers_the_canonical_bytes_without_signature() {
        let key = KeyPair::from_seed([4; 32]);
        let mut sealer = Sealer::new(&key, SiteId::random(), ApplianceId::random(), None);
        let sealed = sealer.seal(&draft(4)).unwrap();
        let mut value: serde_json::Map<String, Value> =
            serde_json::from_slice(sealed.bytes()).unwrap();
        let signature = value.remove("signature").unwrap();
        assert_eq!(signature["alg"], "ed25519");
        assert_eq!(signature["key_id"], key.public_key().key_id().to_string());
        let sig = crate::keys::decode_signature(signature["sig"].as_str().unwrap()).unwrap();
        let message = canonical::to_vec("t", &value).unwrap();
        assert!(key.public_key().verify_strict(&message, &sig));
    }

    #[test]
    fn drafts_that_are_not_evidence_are_refused_naming_the_field() {
        let key = KeyPair::from_seed([5; 32]);
        let mut sealer = Sealer::new(&key, SiteId::random(), ApplianceId::random(), None);
        let mut bad = draft(5);
        bad.detail = json!([1, 2]);
        assert!(
            sealer
                .seal(&bad)
                .unwrap_err()
                .to_string()
                .contains("`detail`")
        );
        let mut bad = draft(5);
        bad.outcome = "Pass!".into();
        assert!(
            sealer
                .seal(&bad)
                .unwrap_err()
                .to_string()
                .contains("`outcome`")
        );
        let mut bad = draft(5);
        bad.host = " ".into();
        assert!(
            sealer
                .seal(&bad)
                .unwrap_err()
                .to_string()
                .contains("`host`")
        );
        assert_eq!(
            sealer.head(),
            None,
            "a refused draft must not advance the chain"
        );
    }

    #[test]
    fn hex_round_trips() {
        let hash = ChainHash::of(b"abc");
        assert_eq!(
            hash.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ChainHash::parse(&hash.to_string()), Some(hash));
        assert_eq!(ChainHash::parse(&"A".repeat(64)), None);
        assert_eq!(ChainHash::parse("00"), None);
    }
}
