//! The evidence index: where each verified bundle of each appliance's chain
//! lives in the WORM store. The bundles themselves are never in the
//! database; their exact signed bytes stay in the WORM object.

use std::fmt;

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, BundleId, SiteId};

use crate::{BoxFuture, TenantScope};

text_enum!(
    /// What a bundle records (the `kind` of `osiris.evidence.v1`).
    EvidenceKind {
        /// A drift check ran.
        Check = "check",
        /// A runbook ran.
        Remediation = "remediation",
        /// An incident went to a human.
        Escalation = "escalation",
        /// An order ended.
        Order = "order",
        /// The rule set changed.
        RuleChange = "rule_change",
        /// A finding was accepted by a person.
        Waiver = "waiver",
    }
);

/// A bundle's chain hash: lowercase hex SHA-256, 64 digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ChainHash(String);

impl ChainHash {
    /// The hash if `hex` is 64 lowercase hex digits.
    #[must_use]
    pub fn parse(hex: &str) -> Option<Self> {
        let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| Self(hex.to_owned()))
    }

    /// The hex digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.0)
    }
}

/// One indexed bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceEntry {
    /// The appliance whose chain it belongs to.
    pub appliance_id: ApplianceId,
    /// Its position in that chain (1, 2, 3… without gaps).
    pub seq: u64,
    /// The site the appliance serves.
    pub site_id: SiteId,
    /// The bundle's id.
    pub bundle_id: BundleId,
    /// Its chain hash, which the next bundle's `prev_hash` must equal.
    pub chain_hash: ChainHash,
    /// When the appliance created it.
    pub created_at: DateTime<Utc>,
    /// What it records.
    pub kind: EvidenceKind,
    /// The bundle's outcome field, for filtering without opening it.
    pub outcome: String,
    /// Where its exact bytes are in the WORM store.
    pub object_key: String,
    /// When Central Command accepted it.
    pub received_at: DateTime<Utc>,
}

/// A server-signed checkpoint: "this appliance's chain had reached `seq`
/// with chain hash `head_hash` at `signed_at`", as the server signed it
/// (`osiris_evidence::Checkpoint`; `signed_at` has millisecond precision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointEntry {
    /// The appliance whose chain it fixes.
    pub appliance_id: ApplianceId,
    /// The seq the chain had reached.
    pub seq: u64,
    /// The chain hash at that seq.
    pub head_hash: ChainHash,
    /// When the server signed it.
    pub signed_at: DateTime<Utc>,
    /// Base64 Ed25519 signature by the server key over the statement.
    pub signature: String,
}

/// The evidence index. Visibility follows the appliance's site.
pub trait EvidenceStore {
    /// Indexes a verified bundle. The appliance must be visible and serve
    /// `entry.site_id` (else `NotFound` appliance); a second entry for the
    /// same (appliance, seq) or bundle id is a `Conflict`.
    fn record_evidence<'a>(
        &'a self,
        scope: &'a TenantScope,
        entry: &'a EvidenceEntry,
    ) -> BoxFuture<'a, ()>;

    /// Indexes several verified bundles in one transaction: all of them,
    /// or none when any is refused as [`EvidenceStore::record_evidence`]
    /// would refuse it (`NotFound` appliance, `Conflict`).
    fn record_evidence_batch<'a>(
        &'a self,
        scope: &'a TenantScope,
        entries: &'a [EvidenceEntry],
    ) -> BoxFuture<'a, ()>;

    /// The highest-seq entry of an appliance's chain, if any.
    fn evidence_head<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
    ) -> BoxFuture<'a, Option<EvidenceEntry>>;

    /// Up to `limit` entries of one chain with seq above `after_seq`,
    /// ascending: a page of the chain.
    fn list_evidence<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        after_seq: u64,
        limit: u32,
    ) -> BoxFuture<'a, Vec<EvidenceEntry>>;

    /// A visible site's entries created in `[from, to)`, by appliance then
    /// seq: the input of an export.
    fn list_site_evidence<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: SiteId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<EvidenceEntry>>;

    /// One entry by bundle id.
    fn get_evidence<'a>(
        &'a self,
        scope: &'a TenantScope,
        bundle: BundleId,
    ) -> BoxFuture<'a, EvidenceEntry>;

    /// The lowest and highest seq of an appliance's entries created in
    /// `[from, to)`, if any: the span of the chain an export covers.
    fn evidence_span<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Option<(u64, u64)>>;

    /// Stores a server checkpoint. The appliance must be visible (else
    /// `NotFound` appliance); a second checkpoint at the same (appliance,
    /// seq) is a `Conflict` (`constraint::CHECKPOINT_SEQ`).
    fn record_checkpoint<'a>(
        &'a self,
        scope: &'a TenantScope,
        checkpoint: &'a CheckpointEntry,
    ) -> BoxFuture<'a, ()>;

    /// An appliance's checkpoints with seq in `[from_seq, to_seq]`,
    /// ascending.
    fn list_checkpoints<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        from_seq: u64,
        to_seq: u64,
    ) -> BoxFuture<'a, Vec<CheckpointEntry>>;

    /// An appliance's highest-seq checkpoint, if any.
    fn latest_checkpoint<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
    ) -> BoxFuture<'a, Option<CheckpointEntry>>;
}
