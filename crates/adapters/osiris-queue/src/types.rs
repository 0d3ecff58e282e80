//! What the queue takes and hands back.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use osiris_core::{BundleId, Clock};
use osiris_evidence::{ChainHash, ChainHead};

/// The default byte bound: 1 GiB of queued payload.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Where the queue lives and how big it may grow.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The SQLite file (created when missing). SQLite keeps `-wal` and
    /// `-shm` files beside it, and the queue a `.lock` file.
    pub path: PathBuf,
    /// Bound on queued payload bytes (sealed bundles and item bodies; the
    /// file itself is larger by SQLite's page overhead). Over it, the oldest
    /// telemetry is dropped; when only evidence, incidents and order results
    /// remain, writes are refused with [`crate::Error::Full`].
    pub max_bytes: u64,
    /// Stamps each write's enqueue time (for [`QueueStats`]).
    pub clock: Arc<dyn Clock>,
}

impl QueueConfig {
    /// A queue at `path` bounded by [`DEFAULT_MAX_BYTES`].
    #[must_use]
    pub fn new(path: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Self {
            path: path.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            clock,
        }
    }
}

/// The kinds of item that travel beside evidence at check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    /// An incident report (opened, still open, resolved, flapping). Never
    /// dropped.
    Incident,
    /// Appliance telemetry. The only kind dropped (oldest first) when the
    /// queue is over its bound.
    Telemetry,
    /// The result of an order. Never dropped.
    OrderResult,
}

impl ItemKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Incident, Self::Telemetry, Self::OrderResult];

    /// The stored spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "incident",
            Self::Telemetry => "telemetry",
            Self::OrderResult => "order_result",
        }
    }

    /// Parses the stored spelling.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one queued item; never handed out twice by one queue file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(u64);

impl ItemId {
    /// The id as a number (for logs and the check-in request).
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The id of a number read back from a check-in answer.
    #[must_use]
    pub const fn from_u64(id: u64) -> Self {
        Self(id)
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A bundle that is now durable in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Its seq in the appliance's chain.
    pub seq: u64,
    /// Its chain hash (SHA-256 of its canonical bytes).
    pub hash: ChainHash,
    /// The draft's bundle id.
    pub bundle_id: BundleId,
    /// Size of its canonical bytes.
    pub bytes: u64,
}

impl Appended {
    /// The chain head this bundle made.
    #[must_use]
    pub const fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

/// A sealed bundle waiting for Central Command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBundle {
    /// Its seq.
    pub seq: u64,
    /// Its canonical bytes, exactly as signed: send them as they are.
    pub canonical: String,
}

/// An item waiting for Central Command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingItem {
    /// Its id, to acknowledge it.
    pub id: ItemId,
    /// What it is.
    pub kind: ItemKind,
    /// The scrubbed JSON object, as text.
    pub body: String,
}

/// What one check-in carries: the oldest waiting bundles (ascending seq)
/// and items (ascending id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// Bundles, oldest first.
    pub bundles: Vec<PendingBundle>,
    /// Items, oldest first.
    pub items: Vec<PendingItem>,
}

/// What an acknowledgement changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledged {
    /// Bundles deleted now (0 when the seq was already acknowledged).
    pub bundles_deleted: u64,
    /// Items deleted now (ids already gone are skipped).
    pub items_deleted: u64,
    /// Every seq up to this one is acknowledged.
    pub acknowledged_through: u64,
}

/// Counts and payload bytes of one kind of waiting entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindStats {
    /// How many are waiting.
    pub count: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// When the oldest of them was enqueued.
    pub oldest_enqueued_at: Option<DateTime<Utc>>,
}

/// The queue's state, for the agent's log and telemetry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    /// Sealed bundles.
    pub bundles: KindStats,
    /// Incident reports.
    pub incidents: KindStats,
    /// Telemetry.
    pub telemetry: KindStats,
    /// Order results.
    pub order_results: KindStats,
    /// Payload bytes of everything waiting.
    pub used_bytes: u64,
    /// The configured bound.
    pub max_bytes: u64,
    /// The chain head (kept after every bundle is acknowledged).
    pub head: Option<ChainHead>,
    /// Every seq up to this one is acknowledged.
    pub acknowledged_through: u64,
    /// Telemetry items dropped by the bound since the queue was created.
    pub dropped_telemetry: u64,
    /// How long the oldest waiting entry has waited, by the queue's clock.
    pub oldest_waiting: Option<Duration>,
    /// Transactions the writer committed since open.
    pub commits: u64,
    /// Writes (appends, pushes, acknowledgements) those commits carried.
    pub writes: u64,
}

impl QueueStats {
    /// The statistics of one item kind.
    #[must_use]
    pub const fn items(&self, kind: ItemKind) -> &KindStats {
        match kind {
            ItemKind::Incident => &self.incidents,
            ItemKind::Telemetry => &self.telemetry,
            ItemKind::OrderResult => &self.order_results,
        }
    }
}
