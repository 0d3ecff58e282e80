//! The appliance's durable outbound queue: everything waiting for Central
//! Command (sealed evidence bundles, incidents, telemetry, order results)
//! in one SQLite file, kept until a check-in answer acknowledges it.
//!
//! - [`Queue::append`] takes a [`Scrubbed`] [`BundleDraft`] and seals it as
//!   the next bundle of the appliance's chain *inside the transaction that
//!   stores it*: the chain head on disk is always the last stored bundle, so
//!   a crash or power cut can leave no gap and no seq is ever reused (the
//!   head is kept after everything is acknowledged and deleted).
//! - [`Queue::push`] stores a scrubbed JSON object as an [`ItemKind`] item.
//! - [`Queue::pending`] reads the oldest waiting bundles and items for one
//!   check-in; [`Queue::acknowledge`] applies the answer.
//!
//! **Durability.** WAL journal, `synchronous=FULL`: a write's future
//! resolves only after the commit carrying it was fsynced. One writer task
//! owns the connection that writes, the signing key and the [`Sealer`]; it
//! takes every write waiting at that moment (up to 512) into one
//! transaction (group commit), so many concurrent callers share one fsync.
//! A failed commit fails every write of its group and rewinds the sealer to
//! the committed head. A `.lock` file beside the queue keeps a second
//! writer (which would fork the chain) out.
//!
//! **Bound.** [`QueueConfig::max_bytes`] (default 1 GiB) bounds the queued
//! payload. Over it, the oldest telemetry is dropped first; evidence,
//! incidents and order results are never dropped, and when only they remain
//! a write is refused with [`Error::Full`] and nothing is written.
//!
//! **Time.** The queue never reads the wall clock: enqueue times and
//! [`Queue::stats`] use the [`Clock`] in the config.
//!
//! **Crash safety** is tested by re-running the test binary as a child that
//! appends and acknowledges until the parent kills it with SIGKILL at a
//! random moment, then checking the reopened file (200 kills by default):
//!
//! ```sh
//! cargo test -p osiris-queue --test it crash
//! OSIRIS_CRASH_ITERATIONS=1000 cargo test -p osiris-queue --test it crash   # the full run
//! ```
//!
//! An adapter: it depends on core and the evidence and scrub engines, never
//! on the agent, the server or another adapter.

mod error;
mod open;
mod types;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, Clock, SiteId};
use osiris_evidence::{BundleDraft, ChainHash, ChainHead, KeyPair};
use osiris_scrub::Scrubbed;
use sqlx::sqlite::SqlitePool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use crate::error::{Error, Result};
use crate::open::{Owner, storage, unsigned};
pub use crate::types::{
    Acknowledged, Appended, DEFAULT_MAX_BYTES, ItemId, ItemKind, KindStats, Pending, PendingBundle,
    PendingItem, QueueConfig, QueueStats,
};
use crate::writer::{Counters, Request, Writer};

#[cfg(doc)]
use osiris_evidence::Sealer;

/// How many writes may wait for the writer before callers wait to send.
const CHANNEL: usize = 4096;

/// The durable outbound queue of one appliance. Cheap to clone; every clone
/// talks to the same writer.
#[derive(Debug, Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    requests: mpsc::Sender<Request>,
    readers: SqlitePool,
    max_bytes: u64,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Queue {
    /// Opens the queue at `config.path` (creating it when missing) for the
    /// chain of `appliance_id`, signed by `key`, continuing from the stored
    /// head. Must be called inside a Tokio runtime (the writer is a task).
    ///
    /// # Errors
    /// [`Error::InUse`] when another `Queue` holds the file;
    /// [`Error::NotAQueue`] for a file that is not a queue;
    /// [`Error::WrongAppliance`], [`Error::WrongSite`] or [`Error::WrongKey`]
    /// for another appliance's queue; [`Error::Corrupt`] when the stored
    /// bundles disagree with the head; `Open`, `Migrate`, `LockFile` or
    /// `Storage` when the file cannot be used. Every one names the file.
    #[tracing::instrument(skip_all, fields(%appliance_id, %site_id, path = %config.path.display()))]
    pub async fn open(
        config: QueueConfig,
        key: KeyPair,
        site_id: SiteId,
        appliance_id: ApplianceId,
    ) -> Result<Self> {
        let owner = Owner {
            site_id,
            appliance_id,
            key_id: key.public_key().key_id().to_string(),
        };
        let opened = open::open(&config.path, &owner).await?;
        tracing::info!(
            head = opened.state.head_seq(),
            acknowledged_through = opened.state.acknowledged_through,
            used_bytes = opened.state.used,
            "queue opened"
        );
        let counters = Arc::new(Counters::default());
        let (requests, receiver) = mpsc::channel(CHANNEL);
        let writer = Writer {
            path: config.path.clone(),
            connection: opened.writer,
            key,
            site_id,
            appliance_id,
            clock: Arc::clone(&config.clock),
            max_bytes: config.max_bytes,
            state: opened.state,
            counters: Arc::clone(&counters),
            lock: opened.lock,
        };
        let writer = tokio::spawn(writer.run(receiver));
        Ok(Self {
            inner: Arc::new(Inner {
                path: config.path,
                requests,
                readers: opened.readers,
                max_bytes: config.max_bytes,
                clock: config.clock,
                counters,
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// The queue file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Seals the scrubbed draft as the next bundle of the appliance's chain
    /// and stores it; returns once it is durable (committed and fsynced).
    ///
    /// Cancelling the returned future after it started does not withdraw
    /// the write: the bundle may still be stored.
    ///
    /// # Errors
    /// [`Error::Seal`] for a draft that is not acceptable evidence,
    /// [`Error::DuplicateBundle`] when a waiting bundle has the same id,
    /// [`Error::Full`] at the bound (nothing written), [`Error::Storage`]
    /// when the group commit failed, [`Error::Closed`] after [`Self::close`].
    pub async fn append(&self, draft: Scrubbed<BundleDraft>) -> Result<Appended> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Append {
            draft: draft.into_inner(),
            reply,
        })
        .await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Stores an incident, telemetry or order result (a scrubbed JSON
    /// object); returns its id once it is durable.
    ///
    /// # Errors
    /// [`Error::NotAnObject`] unless `body` is a JSON object, otherwise as
    /// [`Self::append`].
    pub async fn push(&self, kind: ItemKind, body: Scrubbed<serde_json::Value>) -> Result<ItemId> {
        if !body.as_inner().is_object() {
            return Err(Error::NotAnObject { kind });
        }
        // Serialized here, on the caller's task, to keep the writer short.
        let body = body.as_inner().to_string();
        let (reply, answer) = oneshot::channel();
        self.send(Request::Push { kind, body, reply }).await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// The oldest waiting bundles (ascending seq, at most `max_bundles`) and
    /// items (ascending id, at most `max_items`) for one check-in, read from
    /// one committed snapshot.
    ///
    /// # Errors
    /// [`Error::Storage`] when the read fails, [`Error::Corrupt`] for a
    /// stored row that is not what the queue wrote.
    pub async fn pending(&self, max_bundles: usize, max_items: usize) -> Result<Pending> {
        let path = &self.inner.path;
        let mut snapshot = self
            .inner
            .readers
            .begin()
            .await
            .map_err(|source| storage(path, "starting a read", source))?;
        let bundles: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, body FROM bundles ORDER BY seq LIMIT $1")
                .bind(limit(max_bundles))
                .fetch_all(&mut *snapshot)
                .await
                .map_err(|source| storage(path, "reading waiting bundles", source))?;
        let items: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, kind, body FROM items ORDER BY id LIMIT $1")
                .bind(limit(max_items))
                .fetch_all(&mut *snapshot)
                .await
                .map_err(|source| storage(path, "reading waiting items", source))?;
        // Read-only: ending it cannot lose anything.
        drop(snapshot.rollback().await);
        let bundles = bundles
            .into_iter()
            .map(|(seq, body)| {
                let seq = unsigned(seq).ok_or_else(|| self.corrupt("negative seq"))?;
                let canonical = String::from_utf8(body)
                    .map_err(|_| self.corrupt(format!("bundle {seq} is not UTF-8")))?;
                Ok(PendingBundle { seq, canonical })
            })
            .collect::<Result<_>>()?;
        let items = items
            .into_iter()
            .map(|(id, kind, body)| {
                Ok(PendingItem {
                    id: ItemId::from_u64(
                        unsigned(id).ok_or_else(|| self.corrupt("negative item id"))?,
                    ),
                    kind: ItemKind::parse(&kind)
                        .ok_or_else(|| self.corrupt(format!("unknown item kind {kind:?}")))?,
                    body,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Pending { bundles, items })
    }

    /// Applies a check-in answer: deletes the bundles with seq ≤
    /// `through_seq` and the listed items. Repeating an acknowledgement, or
    /// acknowledging a seq below one already acknowledged, changes nothing;
    /// ids no longer waiting are skipped.
    ///
    /// # Errors
    /// [`Error::AckBeyondHead`] (nothing applied) when `through_seq` was
    /// never sealed; otherwise as [`Self::append`].
    pub async fn acknowledge(&self, through_seq: u64, items: &[ItemId]) -> Result<Acknowledged> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Acknowledge {
            through_seq,
            items: items.to_vec(),
            reply,
        })
        .await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// The committed chain head: the last sealed bundle's seq and hash, kept
    /// after it is acknowledged. `None` before the first bundle.
    ///
    /// # Errors
    /// [`Error::Storage`] or [`Error::Corrupt`].
    pub async fn head(&self) -> Result<Option<ChainHead>> {
        let (seq, hash): (i64, Option<String>) =
            sqlx::query_as("SELECT head_seq, head_hash FROM meta WHERE id = 1")
                .fetch_one(&self.inner.readers)
                .await
                .map_err(|source| storage(&self.inner.path, "reading the chain head", source))?;
        self.chain_head(seq, hash.as_deref())
    }

    /// Counts and payload bytes per kind, the oldest waiting entry's age by
    /// the queue's clock, the head, and the writer's group-commit counters.
    ///
    /// # Errors
    /// [`Error::Storage`] or [`Error::Corrupt`].
    pub async fn stats(&self) -> Result<QueueStats> {
        let path = &self.inner.path;
        let mut snapshot = self
            .inner
            .readers
            .begin()
            .await
            .map_err(|source| storage(path, "starting a read", source))?;
        let (head_seq, head_hash, acknowledged_through, dropped_telemetry): (
            i64,
            Option<String>,
            i64,
            i64,
        ) = sqlx::query_as(
            "SELECT head_seq, head_hash, acknowledged_through, dropped_telemetry
             FROM meta WHERE id = 1",
        )
        .fetch_one(&mut *snapshot)
        .await
        .map_err(|source| storage(path, "reading the chain head", source))?;
        let bundle_row: (String, i64, i64, Option<i64>) = sqlx::query_as(
            "SELECT 'bundle', COUNT(*), COALESCE(SUM(bytes), 0), MIN(enqueued_at) FROM bundles",
        )
        .fetch_one(&mut *snapshot)
        .await
        .map_err(|source| storage(path, "counting waiting bundles", source))?;
        let item_rows: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT kind, COUNT(*), COALESCE(SUM(bytes), 0), MIN(enqueued_at)
             FROM items GROUP BY kind",
        )
        .fetch_all(&mut *snapshot)
        .await
        .map_err(|source| storage(path, "counting waiting items", source))?;
        drop(snapshot.rollback().await);

        let bundles = kind_stats(&bundle_row);
        let mut stats = QueueStats {
            bundles,
            incidents: KindStats::default(),
            telemetry: KindStats::default(),
            order_results: KindStats::default(),
            used_bytes: bundles.bytes,
            max_bytes: self.inner.max_bytes,
            head: self.chain_head(head_seq, head_hash.as_deref())?,
            acknowledged_through: unsigned(acknowledged_through).unwrap_or_default(),
            dropped_telemetry: unsigned(dropped_telemetry).unwrap_or_default(),
            oldest_waiting: None,
            commits: self
                .inner
                .counters
                .commits
                .load(std::sync::atomic::Ordering::Relaxed),
            writes: self
                .inner
                .counters
                .writes
                .load(std::sync::atomic::Ordering::Relaxed),
        };
        for row in &item_rows {
            let kind = ItemKind::parse(&row.0)
                .ok_or_else(|| self.corrupt(format!("unknown item kind {:?}", row.0)))?;
            let counted = kind_stats(row);
            stats.used_bytes = stats.used_bytes.saturating_add(counted.bytes);
            match kind {
                ItemKind::Incident => stats.incidents = counted,
                ItemKind::Telemetry => stats.telemetry = counted,
                ItemKind::OrderResult => stats.order_results = counted,
            }
        }
        let oldest = [
            stats.bundles,
            stats.incidents,
            stats.telemetry,
            stats.order_results,
        ]
        .iter()
        .filter_map(|kind| kind.oldest_enqueued_at)
        .min();
        stats.oldest_waiting = oldest.map(|oldest| self.inner.clock.now() - oldest);
        Ok(stats)
    }

    /// Serves the writes already sent, closes the file and releases its
    /// lock; every clone is closed with it (later calls answer
    /// [`Error::Closed`]). Dropping every clone instead also stops the
    /// writer; committed writes are durable either way.
    ///
    /// # Errors
    /// [`Error::Storage`] when SQLite reports an error while closing.
    pub async fn close(self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        let closed = match self.inner.requests.send(Request::Close { reply }).await {
            Ok(()) => answer.await.unwrap_or(Ok(())),
            // Already closed by another clone.
            Err(_) => Ok(()),
        };
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer
            && let Err(error) = writer.await
        {
            tracing::error!(error = %error, "the queue writer task ended abnormally");
        }
        self.inner.readers.close().await;
        closed
    }

    async fn send(&self, request: Request) -> Result<()> {
        self.inner
            .requests
            .send(request)
            .await
            .map_err(|_| Error::Closed)
    }

    fn chain_head(&self, seq: i64, hash: Option<&str>) -> Result<Option<ChainHead>> {
        match (unsigned(seq), hash) {
            (Some(0), None) => Ok(None),
            (Some(seq), Some(hash)) => Ok(Some(ChainHead {
                seq,
                hash: ChainHash::parse(hash)
                    .ok_or_else(|| self.corrupt("head hash is not 64 hex digits"))?,
            })),
            _ => Err(self.corrupt("head seq and head hash disagree")),
        }
    }

    fn corrupt(&self, what: impl Into<String>) -> Error {
        Error::Corrupt {
            path: self.inner.path.clone(),
            what: what.into(),
        }
    }
}

fn kind_stats(row: &(String, i64, i64, Option<i64>)) -> KindStats {
    KindStats {
        count: unsigned(row.1).unwrap_or_default(),
        bytes: unsigned(row.2).unwrap_or_default(),
        oldest_enqueued_at: row.3.and_then(DateTime::<Utc>::from_timestamp_millis),
    }
}

/// A caller's limit as a SQL `LIMIT`.
fn limit(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
