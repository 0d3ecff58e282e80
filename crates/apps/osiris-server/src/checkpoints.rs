//! Server checkpoints: the server's signed statement that an appliance's
//! chain had reached a seq with a head hash, on a schedule (every
//! `evidence.checkpoint_interval_minutes`) and on demand. Each is stored in
//! the database and, as its exact JSON, in the WORM store under
//! `checkpoints/<site>/<appliance>/<seq, 20 digits>.json`.

use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use osiris_core::ApplianceId;
use osiris_evidence::{ChainHash, ChainHead, Checkpoint, KeyPair};
use osiris_store::{CheckpointEntry, EvidenceEntry, Store, TenantScope};
use osiris_worm::{ObjectKey, WormStore};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What signing a checkpoint needs: the server's own parts, so that
/// `osiris evidence export` can sign offline as the running server does.
#[derive(Clone)]
pub struct Signer {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The WORM store.
    pub worm: Arc<dyn WormStore>,
    /// The server's signing key.
    pub server_key: Arc<KeyPair>,
    /// When the checkpoints are signed (milliseconds are kept).
    pub now: DateTime<Utc>,
    /// How long their WORM copies are retained.
    pub retention: Duration,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The signer of the running server, at the clock's current time.
    #[must_use]
    pub fn signer(&self) -> Signer {
        Signer {
            store: Arc::clone(&self.store),
            worm: Arc::clone(&self.evidence),
            server_key: Arc::clone(&self.server_key),
            now: self.clock.now(),
            retention: self.policy.evidence_retention,
        }
    }
}

/// A stored checkpoint as the signed statement.
#[must_use]
pub fn from_entry(entry: &CheckpointEntry) -> Checkpoint {
    Checkpoint::from_parts(
        entry.appliance_id,
        entry.seq,
        entry.head_hash.as_str().to_owned(),
        entry.signed_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        entry.signature.clone(),
    )
}

/// The checkpoint of `appliance`'s chain at its current head: the stored
/// one when the head has not moved since, else a new one signed now.
/// `None` for an appliance without evidence.
///
/// # Errors
/// `NotFound` for an appliance outside `scope`; internal faults otherwise.
pub async fn checkpoint_head(
    state: &Signer,
    scope: &TenantScope,
    appliance: ApplianceId,
) -> ApiResult<Option<Checkpoint>> {
    let Some(head) = state.store.evidence_head(scope, appliance).await? else {
        return Ok(None);
    };
    checkpoint_at(state, scope, &head).await.map(Some)
}

/// The checkpoint at exactly `entry`'s seq: the stored one if any, else a
/// new one signed now (stored, then written to the WORM store).
///
/// # Errors
/// `NotFound` for an appliance outside `scope`; internal faults otherwise.
pub async fn checkpoint_at(
    state: &Signer,
    scope: &TenantScope,
    entry: &EvidenceEntry,
) -> ApiResult<Checkpoint> {
    if let Some(stored) = stored_at(state, scope, entry.appliance_id, entry.seq).await? {
        return Ok(stored);
    }
    let hash =
        ChainHash::parse(entry.chain_hash.as_str()).ok_or_else(|| ApiError::internal(&BadHash))?;
    let signed_at = state.now.trunc_subsecs(3);
    let checkpoint = Checkpoint::sign(
        entry.appliance_id,
        ChainHead {
            seq: entry.seq,
            hash,
        },
        signed_at,
        &state.server_key,
    )
    .map_err(|error| ApiError::internal(&error))?;
    let row = CheckpointEntry {
        appliance_id: entry.appliance_id,
        seq: entry.seq,
        head_hash: entry.chain_hash.clone(),
        signed_at,
        signature: checkpoint.signature().to_owned(),
    };
    match state.store.record_checkpoint(scope, &row).await {
        Ok(()) => {}
        Err(osiris_store::Error::Conflict { .. }) => {
            // Another replica signed this seq first: its checkpoint stands.
            return stored_at(state, scope, entry.appliance_id, entry.seq)
                .await?
                .ok_or_else(|| ApiError::internal(&Vanished));
        }
        Err(other) => return Err(other.into()),
    }
    write_to_worm(state, entry, &checkpoint, signed_at).await?;
    Ok(checkpoint)
}

async fn stored_at(
    state: &Signer,
    scope: &TenantScope,
    appliance: ApplianceId,
    seq: u64,
) -> ApiResult<Option<Checkpoint>> {
    Ok(state
        .store
        .list_checkpoints(scope, appliance, seq, seq)
        .await?
        .first()
        .map(from_entry))
}

async fn write_to_worm(
    state: &Signer,
    entry: &EvidenceEntry,
    checkpoint: &Checkpoint,
    signed_at: DateTime<Utc>,
) -> ApiResult<()> {
    let key = ObjectKey::parse(&format!(
        "checkpoints/{}/{}/{:020}.json",
        entry.site_id, entry.appliance_id, entry.seq
    ))
    .map_err(|error| ApiError::internal(&error))?;
    let bytes = serde_json::to_vec(checkpoint).map_err(|error| ApiError::internal(&error))?;
    let retain_until = signed_at
        .checked_add_signed(state.retention)
        .ok_or_else(|| ApiError::internal(&BadHash))?;
    match state.worm.put_once(&key, bytes, retain_until).await {
        Ok(_) => Ok(()),
        Err(other) => Err(ApiError::internal(&other)),
    }
}

/// Checkpoints every appliance whose head moved since its last checkpoint.
/// Returns how many were signed; an appliance that fails is logged and
/// skipped so one cannot stop the others.
///
/// # Errors
/// When the appliances cannot be listed.
pub async fn checkpoint_all(state: &AppState) -> ApiResult<usize> {
    let state = &state.signer();
    let scope = TenantScope::platform();
    let mut signed = 0;
    for appliance in state.store.list_appliances(&scope).await? {
        let before = state.store.latest_checkpoint(&scope, appliance.id).await?;
        match checkpoint_head(state, &scope, appliance.id).await {
            Ok(Some(now)) if before.as_ref().map(|b| b.seq) != Some(now.seq()) => signed += 1,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(appliance = %appliance.id, error = ?error, "checkpoint failed");
            }
        }
    }
    Ok(signed)
}

/// A stored chain hash is not 64 hex digits.
#[derive(Debug, thiserror::Error)]
#[error("stored chain hash or retention date is malformed")]
struct BadHash;

/// A conflicting checkpoint could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("a conflicting checkpoint vanished")]
struct Vanished;
