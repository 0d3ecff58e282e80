//! Evidence intake: an appliance's bundles are verified in order against
//! its chain and stored, exact bytes first in the WORM store and then in
//! the index, so an indexed bundle always has its object (a crash between
//! the two leaves an unindexed object that the idempotent re-upload of the
//! same bytes completes).
//!
//! A bundle is accepted only if it parses, claims the caller's site and
//! appliance, names the caller's key, verifies strictly, is dated no more
//! than 5 minutes ahead of the server clock, and extends the
//! stored chain: `seq` is the head's plus one and `prev_hash` is the head's
//! chain hash (64 zeros for seq 1). A seq already stored with the same
//! chain hash is acknowledged again; with another hash, or after a gap, it
//! is refused. Intake stops at the first refusal: nothing after it can
//! link to the chain.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use osiris_evidence::ChainHash;
use osiris_evidence::parse::{ParsedBundle, parse_bundle};
pub use osiris_proto::checkin::Rejection;
use osiris_store::{ApplianceIdentity, EvidenceEntry, EvidenceKind, TenantScope};
use osiris_worm::{ObjectKey, PutItem};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What intake did with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The highest seq stored for the appliance (the chain has no gaps, so
    /// everything up to it is stored), or 0.
    pub acknowledged_through_seq: u64,
    /// The refused bundle, if any (intake stops at the first).
    pub rejected: Option<Rejection>,
    /// How many bundles this batch newly stored.
    pub stored: u64,
}

/// The chain as stored so far.
#[derive(Debug, Clone, Copy)]
struct Head {
    seq: u64,
    hash: ChainHash,
}

/// Verifies and stores `bundles` for the authenticated appliance.
///
/// The bundles are checked in order against the chain first (each one
/// against the one before it in the batch), and the run that links is
/// then stored with one WORM batch write and one index transaction: a seq
/// is acknowledged only once its object and its index row are durable.
///
/// # Errors
/// Only internal faults (store, WORM); refusals are in the [`Outcome`].
pub async fn accept(
    state: &AppState,
    identity: &ApplianceIdentity,
    scope: &TenantScope,
    bundles: &[String],
    now: DateTime<Utc>,
) -> ApiResult<Outcome> {
    let key = crate::auth::appliance::evidence_key(identity)
        .ok_or_else(|| ApiError::unauthorized("the appliance's key is unusable"))?;
    let stored_head = match state.store.evidence_head(scope, identity.id).await? {
        Some(entry) => Some(Head {
            seq: entry.seq,
            hash: chain_hash(&entry)?,
        }),
        None => None,
    };
    let mut chain = Chain {
        stored: stored_head,
        linked: Vec::new(),
    };
    let mut refusal = None;
    for (index, line) in bundles.iter().enumerate() {
        match link(state, scope, identity, &key, &chain, line, now).await? {
            Link::Next(bundle) => chain.linked.push(Linked {
                index,
                line,
                bundle,
            }),
            Link::Repeated => {}
            Link::Refused(seq, reason) => {
                refusal = Some(Rejection { index, seq, reason });
                break;
            }
        }
    }
    let linked = chain.linked;

    let (stored, conflict) = store_linked(state, scope, identity, &linked, now).await?;
    let head = match linked.get(stored.saturating_sub(1)) {
        Some(last) if stored > 0 => Some(last.bundle.seq),
        _ => stored_head.map(|h| h.seq),
    };
    Ok(Outcome {
        acknowledged_through_seq: head.unwrap_or(0),
        rejected: conflict.or(refusal),
        stored: u64::try_from(stored).unwrap_or(u64::MAX),
    })
}

/// The chain as stored, and the bundles of this batch that extend it.
struct Chain<'a> {
    stored: Option<Head>,
    linked: Vec<Linked<'a>>,
}

impl Chain<'_> {
    /// The head once the linked bundles are stored.
    fn head(&self) -> Option<Head> {
        self.linked
            .last()
            .map(|last| Head {
                seq: last.bundle.seq,
                hash: last.bundle.hash,
            })
            .or(self.stored)
    }

    /// The chain hash of `seq` if it is one of the linked bundles.
    fn linked_hash(&self, seq: u64) -> Option<ChainHash> {
        let first = self.stored.map_or(1, |h| h.seq.saturating_add(1));
        let position = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.linked.get(position).map(|one| one.bundle.hash)
    }
}

/// A bundle that extends the chain, waiting to be stored.
struct Linked<'a> {
    index: usize,
    line: &'a str,
    bundle: ParsedBundle,
}

/// What one bundle of a batch is to the chain.
enum Link {
    /// It extends the chain.
    Next(ParsedBundle),
    /// It is already stored, or earlier in this batch, byte for byte.
    Repeated,
    /// It is refused: (seq if known, why).
    Refused(Option<u64>, String),
}

/// Checks one bundle against the chain, the batch's earlier bundles
/// included.
async fn link(
    state: &AppState,
    scope: &TenantScope,
    identity: &ApplianceIdentity,
    key: &osiris_evidence::PublicKey,
    chain: &Chain<'_>,
    line: &str,
    now: DateTime<Utc>,
) -> ApiResult<Link> {
    let bundle = match verify(line.as_bytes(), identity, key) {
        Ok(bundle) => bundle,
        Err((seq, reason)) => return Ok(Link::Refused(seq, reason)),
    };
    let seq = bundle.seq;
    if bundle.created_at > now + crate::auth::appliance::MAX_SKEW {
        // Evidence cannot predate its own upload; a future date would
        // also stretch its retention arbitrarily.
        return Ok(Link::Refused(
            Some(seq),
            "created_at is in the future".to_owned(),
        ));
    }
    let head = chain.head();
    let next = head.map_or(1, |h| h.seq.saturating_add(1));
    if seq < next {
        if seq > chain.stored.map_or(0, |h| h.seq) {
            // Earlier in this batch: only the very same bundle repeats.
            return Ok(if chain.linked_hash(seq) == Some(bundle.hash) {
                Link::Repeated
            } else {
                Link::Refused(Some(seq), format!("conflicts with stored seq {seq}"))
            });
        }
        return Ok(match check_stored(state, scope, identity, &bundle).await? {
            None => Link::Repeated,
            Some(reason) => Link::Refused(Some(seq), reason),
        });
    }
    if seq > next {
        return Ok(Link::Refused(
            Some(seq),
            format!("gap: the chain continues at seq {next}"),
        ));
    }
    let expected = head.map_or(ChainHash::GENESIS, |h| h.hash);
    if bundle.prev_hash != expected {
        return Ok(Link::Refused(
            Some(seq),
            format!(
                "broken chain: prev_hash does not match the chain hash of seq {}",
                seq.saturating_sub(1)
            ),
        ));
    }
    Ok(Link::Next(bundle))
}

/// Everything that needs no stored state: form, identity, key, signature.
fn verify(
    line: &[u8],
    identity: &ApplianceIdentity,
    key: &osiris_evidence::PublicKey,
) -> Result<ParsedBundle, (Option<u64>, String)> {
    let bundle =
        parse_bundle(line).map_err(|error| (None, format!("malformed bundle: {error}")))?;
    let seq = Some(bundle.seq);
    if bundle.seq == 0 {
        return Err((
            seq,
            "seq 0 is not a chain position: chains start at 1".to_owned(),
        ));
    }
    if bundle.site_id != identity.site_id {
        return Err((
            seq,
            format!("wrong site: the bundle claims site {}", bundle.site_id),
        ));
    }
    if bundle.appliance_id != identity.id {
        return Err((
            seq,
            format!(
                "wrong appliance: the bundle claims appliance {}",
                bundle.appliance_id
            ),
        ));
    }
    if bundle.key_id != key.key_id() {
        return Err((
            seq,
            format!(
                "wrong key: key_id {} is not the appliance's key",
                bundle.key_id
            ),
        ));
    }
    if !key.verify_strict(&bundle.signed_message, &bundle.signature) {
        return Err((seq, "bad signature".to_owned()));
    }
    Ok(bundle)
}

/// `None` if `bundle` is exactly the stored bundle at its seq (a re-upload
/// of something acknowledged), else why it is refused.
async fn check_stored(
    state: &AppState,
    scope: &TenantScope,
    identity: &ApplianceIdentity,
    bundle: &ParsedBundle,
) -> ApiResult<Option<String>> {
    let stored = state
        .store
        .list_evidence(scope, identity.id, bundle.seq.saturating_sub(1), 1)
        .await?
        .into_iter()
        .find(|entry| entry.seq == bundle.seq);
    Ok(match stored {
        Some(entry) if chain_hash(&entry)? == bundle.hash => None,
        _ => Some(format!("conflicts with stored seq {}", bundle.seq)),
    })
}

/// Stores the linked run: the exact bytes with one WORM batch write, then
/// the index rows of the leading run whose objects are durable in one
/// transaction. Returns how many of `linked` are now stored and indexed
/// (a prefix), and the refusal of the first bundle whose seq turned out
/// to be taken by other bytes (another replica, or a crash after a
/// different upload reached the WORM store).
///
/// # Errors
/// A WORM or index failure: what was indexed before it stays indexed,
/// and nothing is acknowledged by this call.
async fn store_linked(
    state: &AppState,
    scope: &TenantScope,
    identity: &ApplianceIdentity,
    linked: &[Linked<'_>],
    now: DateTime<Utc>,
) -> ApiResult<(usize, Option<Rejection>)> {
    if linked.is_empty() {
        return Ok((0, None));
    }
    let mut items = Vec::with_capacity(linked.len());
    for one in linked {
        let retain_until = one
            .bundle
            .created_at
            .max(now)
            .checked_add_signed(state.policy.evidence_retention)
            .ok_or_else(|| ApiError::internal(&RetentionOverflow))?;
        items.push(PutItem {
            key: object_key(identity, one.bundle.seq)?,
            bytes: one.line.as_bytes().to_vec(),
            retain_until,
        });
    }
    let outcomes = state
        .evidence
        .put_many(items)
        .await
        .map_err(|error| ApiError::internal(&error))?;

    // The chain has no gaps: only the run before the first object that
    // is not durable may be indexed.
    let mut durable = 0;
    let mut stop = None;
    for outcome in outcomes {
        match outcome {
            Ok(_) => durable += 1,
            Err(error) => {
                stop = Some(error);
                break;
            }
        }
    }
    let run = linked.get(..durable).unwrap_or_default();
    let mut entries = Vec::with_capacity(run.len());
    for one in run {
        entries.push(entry(identity, &one.bundle, one.line, now)?);
    }
    let indexed = index(state, scope, identity, run, &entries).await?;
    if let Some((at, reason)) = indexed {
        return Ok((at, run.get(at).map(|one| rejection(one, reason))));
    }
    match (stop, linked.get(durable)) {
        (None, _) | (Some(_), None) => Ok((durable, None)),
        (Some(osiris_worm::Error::Conflict { .. }), Some(one)) => Ok((
            durable,
            Some(rejection(
                one,
                format!("conflicts with stored seq {}", one.bundle.seq),
            )),
        )),
        (Some(other), Some(_)) => Err(ApiError::internal(&other)),
    }
}

fn rejection(one: &Linked<'_>, reason: String) -> Rejection {
    Rejection {
        index: one.index,
        seq: Some(one.bundle.seq),
        reason,
    }
}

/// Indexes `entries` (of `run`) in one transaction. If a row is refused as
/// a duplicate (a concurrent upload of the same seqs won), they are
/// indexed one by one instead, identical bytes counting as a success:
/// `Some((position, reason))` for the first that conflicts.
async fn index(
    state: &AppState,
    scope: &TenantScope,
    identity: &ApplianceIdentity,
    run: &[Linked<'_>],
    entries: &[EvidenceEntry],
) -> ApiResult<Option<(usize, String)>> {
    match state.store.record_evidence_batch(scope, entries).await {
        Ok(()) => return Ok(None),
        Err(osiris_store::Error::Conflict { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    for (position, (one, entry)) in run.iter().zip(entries).enumerate() {
        match state.store.record_evidence(scope, entry).await {
            Ok(()) => {}
            Err(osiris_store::Error::Conflict { .. }) => {
                if let Some(reason) = check_stored(state, scope, identity, &one.bundle).await? {
                    return Ok(Some((position, reason)));
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(None)
}

/// The index row of a stored bundle.
fn entry(
    identity: &ApplianceIdentity,
    bundle: &ParsedBundle,
    line: &str,
    now: DateTime<Utc>,
) -> ApiResult<EvidenceEntry> {
    Ok(EvidenceEntry {
        appliance_id: identity.id,
        seq: bundle.seq,
        site_id: identity.site_id,
        bundle_id: bundle.bundle_id,
        chain_hash: osiris_store::ChainHash::parse(&bundle.hash.to_string())
            .ok_or_else(|| ApiError::internal(&HashForm))?,
        created_at: bundle.created_at,
        kind: kind(bundle.kind),
        outcome: outcome(line)?,
        object_key: object_key(identity, bundle.seq)?.as_str().to_owned(),
        received_at: now,
    })
}

/// Where an appliance's bundle lives in the WORM store:
/// `evidence/<site>/<appliance>/<seq, 20 digits>.json`, so a listing of one
/// chain is in seq order.
///
/// # Errors
/// Internal, if the ids do not form a valid key (they always do).
pub fn object_key(identity: &ApplianceIdentity, seq: u64) -> ApiResult<ObjectKey> {
    ObjectKey::parse(&format!(
        "evidence/{}/{}/{seq:020}.json",
        identity.site_id, identity.id
    ))
    .map_err(|error| ApiError::internal(&error))
}

fn chain_hash(entry: &EvidenceEntry) -> ApiResult<ChainHash> {
    ChainHash::parse(entry.chain_hash.as_str()).ok_or_else(|| ApiError::internal(&HashForm))
}

/// The retention date is beyond what a timestamp can hold.
#[derive(Debug, thiserror::Error)]
#[error("evidence retention date out of range")]
struct RetentionOverflow;

/// The two chain-hash types disagreed about the form of a hash.
#[derive(Debug, thiserror::Error)]
#[error("a stored chain hash is not 64 lowercase hex digits")]
struct HashForm;

const fn kind(kind: osiris_evidence::Kind) -> EvidenceKind {
    use osiris_evidence::Kind;
    match kind {
        Kind::Check => EvidenceKind::Check,
        Kind::Remediation => EvidenceKind::Remediation,
        Kind::Escalation => EvidenceKind::Escalation,
        Kind::Order => EvidenceKind::Order,
        Kind::RuleChange => EvidenceKind::RuleChange,
        Kind::Waiver => EvidenceKind::Waiver,
    }
}

/// The bundle's `outcome`, which the parsed form does not keep.
fn outcome(line: &str) -> ApiResult<String> {
    #[derive(serde::Deserialize)]
    struct Only<'a> {
        #[serde(borrow)]
        outcome: Cow<'a, str>,
    }
    serde_json::from_str::<Only<'_>>(line)
        .map(|only| only.outcome.into_owned())
        .map_err(|error| ApiError::internal(&error))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use chrono::TimeZone;
    use osiris_core::{ApplianceId, BundleId, PartnerId, SiteId};
    use osiris_evidence::{BundleDraft, KeyPair, Kind, Sealer};
    use proptest::prelude::*;

    use super::*;

    fn identity(key: &KeyPair) -> ApplianceIdentity {
        let raw: [u8; 32] = STANDARD
            .decode(key.public_key().to_base64())
            .unwrap()
            .try_into()
            .unwrap();
        ApplianceIdentity {
            id: ApplianceId::random(),
            site_id: SiteId::random(),
            partner_id: PartnerId::random(),
            public_key: osiris_store::PublicKey::from_bytes(raw),
        }
    }

    fn sealed(key: &KeyPair, identity: &ApplianceIdentity) -> Vec<u8> {
        let draft = BundleDraft {
            bundle_id: BundleId::random(),
            created_at: Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(),
            kind: Kind::Check,
            host: "dc01".to_owned(),
            hipaa: vec!["164.312(b)".parse().unwrap()],
            outcome: "pass".to_owned(),
            detail: serde_json::json!({"check_id": "win.audit"}),
            artifacts: vec![],
        };
        Sealer::new(key, identity.site_id, identity.id, None)
            .seal(&draft)
            .unwrap()
            .into_bytes()
    }

    #[test]
    fn a_genuine_bundle_verifies() {
        let key = KeyPair::from_seed([3; 32]);
        let identity = identity(&key);
        let line = sealed(&key, &identity);
        let bundle = verify(&line, &identity, &key.public_key()).unwrap();
        assert_eq!(bundle.seq, 1);
        assert_eq!(
            outcome(std::str::from_utf8(&line).unwrap()).unwrap(),
            "pass"
        );
    }

    #[test]
    fn seq_zero_is_refused_even_when_signed() {
        let key = KeyPair::from_seed([3; 32]);
        let identity = identity(&key);
        let line = String::from_utf8(sealed(&key, &identity)).unwrap();
        let zero = line.replace("\"seq\":1,", "\"seq\":0,");
        let parsed = parse_bundle(zero.as_bytes()).unwrap();
        let old_sig = line
            .split("\"sig\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let resigned = zero.replace(old_sig, &key.sign_base64(&parsed.signed_message));
        let (seq, reason) = verify(resigned.as_bytes(), &identity, &key.public_key()).unwrap_err();
        assert_eq!(seq, Some(0));
        assert!(reason.starts_with("seq 0"), "{reason}");
    }

    proptest! {
        #[test]
        fn arbitrary_input_is_refused_without_panicking(line in proptest::collection::vec(any::<u8>(), 0..512)) {
            let key = KeyPair::from_seed([3; 32]);
            let identity = identity(&key);
            prop_assert!(verify(&line, &identity, &key.public_key()).is_err());
        }

        #[test]
        fn any_altered_byte_of_a_sealed_bundle_is_refused(position in any::<prop::sample::Index>(), flip in 1_u8..=255) {
            let key = KeyPair::from_seed([3; 32]);
            let identity = identity(&key);
            let mut line = sealed(&key, &identity);
            let index = position.index(line.len());
            line[index] ^= flip;
            prop_assert!(verify(&line, &identity, &key.public_key()).is_err());
        }
    }
}
