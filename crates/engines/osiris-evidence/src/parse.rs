//! Reading one bundle line without trusting it.
//!
//! The fast path deserializes into borrowed fields and finds the
//! `signature` member's exact byte range, so the signed message (the
//! canonical bytes without `signature`) is the line with that member cut
//! out: no re-serialization. Any difference from the canonical bytes the
//! appliance signed then shows up as a bad signature or a broken link.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use ed25519_dalek::Signature;
use osiris_core::{ApplianceId, BundleId, SiteId};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::bundle::{ChainHash, Kind, SCHEMA, SignatureField};
use crate::keys::{KeyId, decode_signature};

/// A bundle line that parsed; nothing in it is verified yet except shape.
#[derive(Debug)]
pub struct ParsedBundle {
    /// The bundle's id.
    pub bundle_id: BundleId,
    /// The site it claims.
    pub site_id: SiteId,
    /// The appliance it claims.
    pub appliance_id: ApplianceId,
    /// Its position in the chain.
    pub seq: u64,
    /// The claimed hash of the previous bundle.
    pub prev_hash: ChainHash,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// What it records.
    pub kind: Kind,
    /// The claimed signing key.
    pub key_id: KeyId,
    /// The signature.
    pub signature: Signature,
    /// The bytes the signature must cover.
    pub signed_message: Vec<u8>,
    /// SHA-256 of the whole line: this bundle's chain hash.
    pub hash: ChainHash,
}

/// Why a line is not a well-formed bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
pub struct BundleError {
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// What is wrong with it.
    pub reason: String,
}

impl BundleError {
    fn field(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            reason: reason.into(),
        }
    }
}

#[derive(Deserialize)]
struct RawBundle<'a> {
    #[serde(borrow)]
    schema: Cow<'a, str>,
    #[serde(borrow)]
    bundle_id: Cow<'a, str>,
    #[serde(borrow)]
    site_id: Cow<'a, str>,
    #[serde(borrow)]
    appliance_id: Cow<'a, str>,
    seq: u64,
    #[serde(borrow)]
    prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    created_at: Cow<'a, str>,
    kind: Kind,
    #[serde(borrow)]
    host: Cow<'a, str>,
    #[serde(borrow)]
    hipaa: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    outcome: Cow<'a, str>,
    #[serde(borrow)]
    detail: &'a RawValue,
    #[serde(borrow)]
    artifacts: &'a RawValue,
    #[serde(borrow)]
    signature: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "fields are read only to check their types")]
struct RawArtifact<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    sha256: Cow<'a, str>,
    bytes: u64,
}

/// Parses one bundle line (without its newline).
///
/// # Errors
/// A [`BundleError`] naming the field at fault.
pub fn parse_bundle(line: &[u8]) -> Result<ParsedBundle, BundleError> {
    let raw: RawBundle<'_> = serde_json::from_slice(line).map_err(|e| diagnose(line, &e))?;
    if raw.schema != SCHEMA {
        return Err(BundleError::field(
            "schema",
            format!("expected {SCHEMA:?}, found {:?}", raw.schema),
        ));
    }
    let bundle_id = raw
        .bundle_id
        .parse()
        .map_err(|e| BundleError::field("bundle_id", format!("{e}")))?;
    let site_id = raw
        .site_id
        .parse()
        .map_err(|e| BundleError::field("site_id", format!("{e}")))?;
    let appliance_id = raw
        .appliance_id
        .parse()
        .map_err(|e| BundleError::field("appliance_id", format!("{e}")))?;
    let prev_hash = ChainHash::parse(&raw.prev_hash)
        .ok_or_else(|| BundleError::field("prev_hash", "expected 64 lowercase hex digits"))?;
    let created_at = DateTime::parse_from_rfc3339(&raw.created_at)
        .map_err(|e| BundleError::field("created_at", format!("not an RFC 3339 time ({e})")))?;
    if created_at.offset().local_minus_utc() != 0 || !raw.created_at.ends_with('Z') {
        return Err(BundleError::field(
            "created_at",
            "must be UTC with a Z suffix",
        ));
    }
    if raw.host.is_empty() {
        return Err(BundleError::field("host", "must not be empty"));
    }
    if raw.outcome.is_empty() {
        return Err(BundleError::field("outcome", "must not be empty"));
    }
    if !raw.detail.get().starts_with('{') {
        return Err(BundleError::field("detail", "must be a JSON object"));
    }
    for (index, citation) in raw.hipaa.iter().enumerate() {
        citation
            .parse::<osiris_core::HipaaCitation>()
            .map_err(|e| BundleError::field(&format!("hipaa[{index}]"), e.to_string()))?;
    }
    let _: Vec<RawArtifact<'_>> = serde_json::from_str(raw.artifacts.get())
        .map_err(|e| BundleError::field("artifacts", e.to_string()))?;
    let signature: SignatureField<'_> = serde_json::from_str(raw.signature.get())
        .map_err(|e| BundleError::field("signature", e.to_string()))?;
    if signature.alg != "ed25519" {
        return Err(BundleError::field(
            "signature.alg",
            format!("expected \"ed25519\", found {:?}", signature.alg),
        ));
    }
    let key_id = KeyId::parse(&signature.key_id).ok_or_else(|| {
        BundleError::field("signature.key_id", "expected 16 lowercase hex digits")
    })?;
    let sig =
        decode_signature(&signature.sig).map_err(|e| BundleError::field("signature.sig", e))?;
    let signed_message = without_member(line, raw.signature.get())
        .ok_or_else(|| BundleError::field("signature", "bundle is not in canonical form (JCS)"))?;
    Ok(ParsedBundle {
        bundle_id,
        site_id,
        appliance_id,
        seq: raw.seq,
        prev_hash,
        created_at: created_at.with_timezone(&Utc),
        kind: raw.kind,
        key_id,
        signature: sig,
        signed_message,
        hash: ChainHash::of(line),
    })
}

/// The line with the top-level `"signature":…` member removed, given the
/// member's value as a slice of `line`.
fn without_member(line: &[u8], value: &str) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"\"signature\":";
    let start = (value.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    let end = start.checked_add(value.len())?;
    let key_start = start.checked_sub(KEY.len())?;
    if line.get(key_start..start)? != KEY {
        return None;
    }
    let before = line.get(..key_start)?;
    let after = line.get(end..)?;
    let mut message = Vec::with_capacity(line.len());
    match (before.last(), after.first()) {
        // `,"signature":…` in the middle or at the end: drop the comma before.
        (Some(b','), Some(b',' | b'}')) => {
            message.extend_from_slice(before.get(..before.len() - 1)?);
            message.extend_from_slice(after);
        }
        // `{"signature":…,` first member: drop the comma after.
        (Some(b'{'), Some(b',')) => {
            message.extend_from_slice(before);
            message.extend_from_slice(after.get(1..)?);
        }
        (Some(b'{'), Some(b'}')) => {
            message.extend_from_slice(before);
            message.extend_from_slice(after);
        }
        _ => return None,
    }
    Some(message)
}

/// Explains a failed fast parse in terms of the field at fault.
fn diagnose(line: &[u8], fast: &serde_json::Error) -> BundleError {
    let mut deserializer = serde_json::Deserializer::from_slice(line);
    match serde_path_to_error::deserialize::<_, RawBundle<'_>>(&mut deserializer) {
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let message = inner.to_string();
            let reason = format!("{} (column {})", strip_position(&message), inner.column());
            if path == "." || path.is_empty() {
                BundleError {
                    field: None,
                    reason,
                }
            } else {
                BundleError {
                    field: Some(path),
                    reason,
                }
            }
        }
        Ok(_) => BundleError {
            field: None,
            reason: fast.to_string(),
        },
    }
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_removal_handles_every_position() {
        let check = |line: &str, value_at: &str, expected: &str| {
            let start = line.find(value_at).unwrap();
            let value = &line[start..start + value_at.len()];
            let out = without_member(line.as_bytes(), value).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        };
        check(
            r#"{"a":1,"signature":{"x":1},"z":2}"#,
            r#"{"x":1}"#,
            r#"{"a":1,"z":2}"#,
        );
        check(r#"{"a":1,"signature":{"x":1}}"#, r#"{"x":1}"#, r#"{"a":1}"#);
        check(r#"{"signature":{"x":1},"z":2}"#, r#"{"x":1}"#, r#"{"z":2}"#);
        check(r#"{"signature":{"x":1}}"#, r#"{"x":1}"#, r#"{}"#);
    }

    #[test]
    fn whitespace_around_the_signature_is_not_canonical() {
        let line = r#"{"a":1, "signature": {"x":1}}"#;
        let start = line.find(r#"{"x":1}"#).unwrap();
        assert_eq!(
            without_member(line.as_bytes(), &line[start..start + 7]),
            None
        );
    }
}
