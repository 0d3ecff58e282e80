//! The single writer: it owns the connection that writes, the signing key
//! and the committed state, and commits every write waiting at one moment
//! in one transaction (group commit).
//!
//! Each group starts a [`Sealer`] at the committed head. A bundle is sealed,
//! stored and the head advanced inside the group's transaction; callers are
//! answered only after COMMIT returned (fsynced, `synchronous=FULL`). When
//! anything in the group fails, the transaction rolls back, the sealer is
//! dropped and the state is read back from the file, so the next group
//! seals from the committed head and no seq sealed in a failed group ever
//! leaves the writer.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use osiris_core::{ApplianceId, BundleId, Clock, SiteId};
use osiris_evidence::{BundleDraft, KeyPair, SealedBundle, Sealer};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, QueryBuilder, Sqlite, Transaction};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::open::{State, read_state, unsigned};
use crate::types::{Acknowledged, Appended, ItemId, ItemKind};

/// Most writes one transaction carries; more wait for the next group, so a
/// burst cannot hold one transaction (and its callers) open for long.
pub(crate) const MAX_GROUP: usize = 512;

/// How many of the oldest telemetry rows the drop policy reads at a time.
const DROP_PAGE: i64 = 256;

/// One write, sent to the writer task.
#[derive(Debug)]
pub(crate) enum Request {
    Append {
        draft: BundleDraft,
        reply: oneshot::Sender<Result<Appended>>,
    },
    Push {
        kind: ItemKind,
        /// The JSON object, serialized by the caller.
        body: String,
        reply: oneshot::Sender<Result<ItemId>>,
    },
    Acknowledge {
        through_seq: u64,
        items: Vec<ItemId>,
        reply: oneshot::Sender<Result<Acknowledged>>,
    },
    Close {
        reply: oneshot::Sender<Result<()>>,
    },
}

/// Writer activity since open, shared with [`crate::Queue::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) commits: AtomicU64,
    pub(crate) writes: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Writer {
    pub(crate) path: PathBuf,
    pub(crate) connection: SqliteConnection,
    pub(crate) key: KeyPair,
    pub(crate) site_id: SiteId,
    pub(crate) appliance_id: ApplianceId,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) max_bytes: u64,
    pub(crate) state: State,
    pub(crate) counters: Arc<Counters>,
    /// Held until the writer stops; the lock is released with it.
    pub(crate) lock: File,
}

/// A write of the current group and, once applied, its outcome. A write
/// without an outcome when the group fails gets the group's failure.
enum Slot {
    Append {
        draft: BundleDraft,
        reply: oneshot::Sender<Result<Appended>>,
        outcome: Option<Result<Appended>>,
    },
    Push {
        kind: ItemKind,
        body: String,
        reply: oneshot::Sender<Result<ItemId>>,
        outcome: Option<Result<ItemId>>,
    },
    Acknowledge {
        through_seq: u64,
        items: Vec<ItemId>,
        reply: oneshot::Sender<Result<Acknowledged>>,
        outcome: Option<Result<Acknowledged>>,
    },
}

/// Why a whole group was rolled back.
enum Failure {
    Sql {
        context: &'static str,
        source: Arc<sqlx::Error>,
    },
    /// The stored head is not the one this writer sealed from: something
    /// else wrote to the file.
    HeadMoved,
}

impl Failure {
    fn sql(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Sql {
            context,
            source: Arc::new(source),
        }
    }

    fn to_error(&self, path: &std::path::Path) -> Error {
        match self {
            Self::Sql { context, source } => Error::Storage {
                path: path.to_owned(),
                context,
                source: Arc::clone(source),
            },
            Self::HeadMoved => Error::Corrupt {
                path: path.to_owned(),
                what: "the stored chain head moved under the writer (another writer?)".into(),
            },
        }
    }
}

impl Writer {
    /// Serves requests until every handle is dropped or one asks to close.
    pub(crate) async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut closers = Vec::new();
        while let Some(first) = requests.recv().await {
            let mut group = Vec::new();
            let mut next = Some(first);
            while let Some(request) = next {
                match Slot::try_from(request) {
                    Ok(slot) => group.push(slot),
                    // Writes sent before the close are still served (the
                    // loop drains the channel); later sends fail.
                    Err(closer) => {
                        requests.close();
                        closers.push(closer);
                    }
                }
                next = if group.len() < MAX_GROUP {
                    requests.try_recv().ok()
                } else {
                    None
                };
            }
            if !group.is_empty() {
                self.commit_group(group).await;
            }
        }
        let closed = self
            .connection
            .close()
            .await
            .map_err(|source| Error::Storage {
                path: self.path.clone(),
                context: "closing the queue",
                source: Arc::new(source),
            });
        drop(self.lock);
        let mut closed = Some(closed);
        for reply in closers {
            let answer = closed.take().unwrap_or(Ok(()));
            // A closer that stopped waiting needs no answer.
            drop(reply.send(answer));
        }
    }

    async fn commit_group(&mut self, mut group: Vec<Slot>) {
        let now = self.clock.now().timestamp_millis();
        let writes = group.len();
        let result = self.apply(&mut group, now).await;
        match &result {
            Ok(state) => {
                self.state = *state;
                self.counters.commits.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .writes
                    .fetch_add(u64::try_from(writes).unwrap_or(u64::MAX), Ordering::Relaxed);
                tracing::trace!(writes, head = self.state.head_seq(), "group committed");
            }
            Err(failure) => {
                let error = failure.to_error(&self.path);
                tracing::error!(writes, error = %error, source = ?std::error::Error::source(&error), "group commit failed; nothing of it is stored");
                // COMMIT can fail after the WAL was written; trust only what
                // the file says now.
                match read_state(&mut self.connection, &self.path).await {
                    Ok(state) => self.state = state,
                    Err(error) => {
                        tracing::error!(error = %error, "cannot re-read the queue state; keeping the last committed state");
                    }
                }
            }
        }
        let failure = result.err();
        for slot in group {
            slot.answer(failure.as_ref(), &self.path);
        }
    }

    /// Applies the group in one transaction; returns the state it committed.
    async fn apply(&mut self, group: &mut [Slot], now: i64) -> Result<State, Failure> {
        let Self {
            connection,
            key,
            site_id,
            appliance_id,
            max_bytes,
            state,
            ..
        } = self;
        let key: &KeyPair = key;
        let transaction = connection
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Failure::sql("beginning a group of writes"))?;
        let mut open = Group {
            transaction,
            key,
            site_id: *site_id,
            appliance_id: *appliance_id,
            sealer: Sealer::new(key, *site_id, *appliance_id, state.head),
            max_bytes: *max_bytes,
            committed: *state,
            state: *state,
            now,
            rows: Vec::new(),
            taken_ids: BTreeSet::new(),
        };
        open.find_waiting_ids(group).await?;
        for slot in group.iter_mut() {
            match slot {
                Slot::Append { draft, outcome, .. } => *outcome = Some(open.append(draft).await?),
                Slot::Push {
                    kind,
                    body,
                    outcome,
                    ..
                } => *outcome = Some(open.push(*kind, body).await?),
                Slot::Acknowledge {
                    through_seq,
                    items,
                    outcome,
                    ..
                } => *outcome = Some(open.acknowledge(*through_seq, items).await?),
            }
        }
        open.commit().await
    }
}

/// The writes of one open transaction, and the state they lead to.
struct Group<'a> {
    transaction: Transaction<'a, Sqlite>,
    key: &'a KeyPair,
    site_id: SiteId,
    appliance_id: ApplianceId,
    sealer: Sealer<'a>,
    max_bytes: u64,
    committed: State,
    state: State,
    now: i64,
    /// Sealed bundles not yet inserted: one multi-row INSERT per group
    /// instead of a statement per bundle.
    rows: Vec<SealedBundle>,
    /// Ids of this group's drafts already waiting in the table (read in one
    /// statement up front) and of the bundles this group sealed.
    taken_ids: BTreeSet<BundleId>,
}

impl Group<'_> {
    /// Reads which of the group's bundle ids are already waiting.
    async fn find_waiting_ids(&mut self, group: &[Slot]) -> Result<(), Failure> {
        let ids: Vec<String> = group
            .iter()
            .filter_map(|slot| match slot {
                Slot::Append { draft, .. } => Some(format!("\"{}\"", draft.bundle_id)),
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT bundle_id FROM bundles WHERE bundle_id IN (SELECT value FROM json_each($1))",
        )
        .bind(format!("[{}]", ids.join(",")))
        .fetch_all(&mut *self.transaction)
        .await
        .map_err(Failure::sql("looking up bundle ids"))?;
        // Ids read back are the ones just bound, so they parse; one that
        // did not would only miss a duplicate, which the unique index
        // still refuses (failing the group).
        self.taken_ids
            .extend(waiting.iter().filter_map(|id| id.parse::<BundleId>().ok()));
        Ok(())
    }

    /// Seals one draft; it is stored with the group. `Ok(Err(..))` refuses
    /// this write alone.
    async fn append(&mut self, draft: &BundleDraft) -> Result<Result<Appended>, Failure> {
        if self.taken_ids.contains(&draft.bundle_id) {
            return Ok(Err(Error::DuplicateBundle {
                bundle_id: draft.bundle_id,
            }));
        }
        let before = self.sealer.head();
        // A refused draft does not advance the sealer.
        let sealed = match self.sealer.seal(draft) {
            Ok(sealed) => sealed,
            Err(error) => return Ok(Err(Error::Seal(error))),
        };
        let size = u64::try_from(sealed.bytes().len()).unwrap_or(u64::MAX);
        if let Err(full) = self.make_room(size, "bundle").await? {
            // Nothing of it is stored: the next draft takes this seq.
            self.sealer = Sealer::new(self.key, self.site_id, self.appliance_id, before);
            return Ok(Err(full));
        }
        let appended = Appended {
            seq: sealed.seq(),
            hash: sealed.hash(),
            bundle_id: sealed.bundle_id(),
            bytes: size,
        };
        self.taken_ids.insert(sealed.bundle_id());
        self.rows.push(sealed);
        self.state.head = Some(appended.head());
        self.state.used = self.state.used.saturating_add(size);
        Ok(Ok(appended))
    }

    /// Inserts the sealed bundles not yet stored.
    async fn flush(&mut self) -> Result<(), Failure> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO bundles (seq, bundle_id, chain_hash, bytes, enqueued_at, body) ",
        );
        let now = self.now;
        insert.push_values(self.rows.drain(..), |mut row, sealed| {
            row.push_bind(int(sealed.seq()))
                .push_bind(sealed.bundle_id().to_string())
                .push_bind(sealed.hash().to_string())
                .push_bind(int(u64::try_from(sealed.bytes().len()).unwrap_or(u64::MAX)))
                .push_bind(now)
                .push_bind(sealed.into_bytes());
        });
        insert
            .build()
            .execute(&mut *self.transaction)
            .await
            .map_err(Failure::sql("storing sealed bundles"))?;
        Ok(())
    }

    async fn push(&mut self, kind: ItemKind, body: &str) -> Result<Result<ItemId>, Failure> {
        let size = u64::try_from(body.len()).unwrap_or(u64::MAX);
        if let Err(refusal) = self.make_room(size, kind.as_str()).await? {
            return Ok(Err(refusal));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO items (kind, bytes, enqueued_at, body) VALUES ($1, $2, $3, $4)
             RETURNING id",
        )
        .bind(kind.as_str())
        .bind(int(size))
        .bind(self.now)
        .bind(body)
        .fetch_one(&mut *self.transaction)
        .await
        .map_err(Failure::sql("storing an item"))?;
        self.state.used = self.state.used.saturating_add(size);
        if kind == ItemKind::Telemetry {
            self.state.telemetry = self.state.telemetry.saturating_add(size);
        }
        Ok(Ok(ItemId::from_u64(unsigned(id).unwrap_or_default())))
    }

    async fn acknowledge(
        &mut self,
        through_seq: u64,
        items: &[ItemId],
    ) -> Result<Result<Acknowledged>, Failure> {
        let head_seq = self.state.head_seq();
        if through_seq > head_seq {
            return Ok(Err(Error::AckBeyondHead {
                through_seq,
                head_seq,
            }));
        }
        // The acknowledged seqs may include bundles sealed by this group.
        self.flush().await?;
        let mut bundles_deleted = 0;
        // A repeated or older acknowledgement changes nothing.
        if through_seq > self.state.acknowledged_through {
            let (count, bytes): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM bundles WHERE seq <= $1",
            )
            .bind(int(through_seq))
            .fetch_one(&mut *self.transaction)
            .await
            .map_err(Failure::sql("sizing acknowledged bundles"))?;
            sqlx::query("DELETE FROM bundles WHERE seq <= $1")
                .bind(int(through_seq))
                .execute(&mut *self.transaction)
                .await
                .map_err(Failure::sql("deleting acknowledged bundles"))?;
            bundles_deleted = unsigned(count).unwrap_or_default();
            self.state.used = self
                .state
                .used
                .saturating_sub(unsigned(bytes).unwrap_or_default());
            self.state.acknowledged_through = through_seq;
        }
        let mut items_deleted = 0;
        if !items.is_empty() {
            let ids = items
                .iter()
                .map(|id| id.get().to_string())
                .collect::<Vec<_>>()
                .join(",");
            let deleted: Vec<(String, i64)> = sqlx::query_as(
                "DELETE FROM items WHERE id IN (SELECT value FROM json_each($1))
                 RETURNING kind, bytes",
            )
            .bind(format!("[{ids}]"))
            .fetch_all(&mut *self.transaction)
            .await
            .map_err(Failure::sql("deleting acknowledged items"))?;
            for (kind, bytes) in deleted {
                let bytes = unsigned(bytes).unwrap_or_default();
                self.state.used = self.state.used.saturating_sub(bytes);
                if ItemKind::parse(&kind) == Some(ItemKind::Telemetry) {
                    self.state.telemetry = self.state.telemetry.saturating_sub(bytes);
                }
                items_deleted += 1;
            }
        }
        Ok(Ok(Acknowledged {
            bundles_deleted,
            items_deleted,
            acknowledged_through: self.state.acknowledged_through,
        }))
    }

    /// Makes room for `size` more bytes of `what` by dropping the oldest
    /// telemetry, or refuses with `Full` (dropping nothing) when even
    /// dropping all of it would not be enough.
    async fn make_room(&mut self, size: u64, what: &'static str) -> Result<Result<()>, Failure> {
        let fits = |used: u64| used.saturating_add(size) <= self.max_bytes;
        if fits(self.state.used) {
            return Ok(Ok(()));
        }
        let undroppable = self.state.used.saturating_sub(self.state.telemetry);
        let full = Error::Full {
            needed: size,
            undroppable,
            max_bytes: self.max_bytes,
        };
        if !fits(undroppable) {
            tracing::warn!(
                what,
                size,
                undroppable,
                max_bytes = self.max_bytes,
                "queue full: write refused"
            );
            return Ok(Err(full));
        }
        let must_free = self
            .state
            .used
            .saturating_add(size)
            .saturating_sub(self.max_bytes);
        let mut freed = 0u64;
        let mut dropped = 0u64;
        let mut last = None;
        'pages: loop {
            let page: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT id, bytes FROM items WHERE kind = 'telemetry' AND id > $1
                 ORDER BY id LIMIT $2",
            )
            .bind(last.unwrap_or(0))
            .bind(DROP_PAGE)
            .fetch_all(&mut *self.transaction)
            .await
            .map_err(Failure::sql("finding the oldest telemetry"))?;
            if page.is_empty() {
                break;
            }
            for (id, bytes) in page {
                last = Some(id);
                freed = freed.saturating_add(unsigned(bytes).unwrap_or_default());
                dropped += 1;
                if freed >= must_free {
                    break 'pages;
                }
            }
        }
        let Some(last) = last.filter(|_| freed >= must_free) else {
            // The telemetry sum said enough could go but the rows disagree:
            // refuse rather than drop part of it for nothing.
            tracing::error!(
                telemetry = self.state.telemetry,
                freed,
                "queue accounting disagrees with the stored telemetry"
            );
            return Ok(Err(full));
        };
        sqlx::query("DELETE FROM items WHERE kind = 'telemetry' AND id <= $1")
            .bind(last)
            .execute(&mut *self.transaction)
            .await
            .map_err(Failure::sql("dropping the oldest telemetry"))?;
        self.state.used = self.state.used.saturating_sub(freed);
        self.state.telemetry = self.state.telemetry.saturating_sub(freed);
        self.state.dropped_telemetry = self.state.dropped_telemetry.saturating_add(dropped);
        tracing::warn!(
            dropped,
            freed,
            max_bytes = self.max_bytes,
            "queue over its bound: dropped the oldest telemetry"
        );
        Ok(Ok(()))
    }

    /// Advances the stored head (compare-and-set on the head this group
    /// sealed from) and commits.
    async fn commit(mut self) -> Result<State, Failure> {
        self.flush().await?;
        let state = self.state;
        let committed = self.committed;
        if (
            state.head,
            state.acknowledged_through,
            state.dropped_telemetry,
        ) != (
            committed.head,
            committed.acknowledged_through,
            committed.dropped_telemetry,
        ) {
            let updated = sqlx::query(
                "UPDATE meta SET head_seq = $1, head_hash = $2, acknowledged_through = $3,
                                 dropped_telemetry = $4
                 WHERE id = 1 AND head_seq = $5",
            )
            .bind(int(state.head_seq()))
            .bind(state.head.map(|head| head.hash.to_string()))
            .bind(int(state.acknowledged_through))
            .bind(int(state.dropped_telemetry))
            .bind(int(committed.head_seq()))
            .execute(&mut *self.transaction)
            .await
            .map_err(Failure::sql("advancing the chain head"))?;
            if updated.rows_affected() != 1 {
                return Err(Failure::HeadMoved);
            }
        }
        self.transaction
            .commit()
            .await
            .map_err(Failure::sql("committing a group of writes"))?;
        Ok(state)
    }
}

impl TryFrom<Request> for Slot {
    /// A close request is not a write: it is handed back.
    type Error = oneshot::Sender<Result<()>>;

    fn try_from(request: Request) -> Result<Self, Self::Error> {
        Ok(match request {
            Request::Append { draft, reply } => Self::Append {
                draft,
                reply,
                outcome: None,
            },
            Request::Push { kind, body, reply } => Self::Push {
                kind,
                body,
                reply,
                outcome: None,
            },
            Request::Acknowledge {
                through_seq,
                items,
                reply,
            } => Self::Acknowledge {
                through_seq,
                items,
                reply,
                outcome: None,
            },
            Request::Close { reply } => return Err(reply),
        })
    }
}

impl Slot {
    /// Answers the caller. Refusals stand whatever happened to the group
    /// (nothing of theirs was written); successes become the group's
    /// failure when it did not commit.
    fn answer(self, failure: Option<&Failure>, path: &std::path::Path) {
        fn resolve<T>(
            outcome: Option<Result<T>>,
            failure: Option<&Failure>,
            path: &std::path::Path,
        ) -> Result<T> {
            match (outcome, failure) {
                (Some(Err(refusal)), _) => Err(refusal),
                (Some(Ok(value)), None) => Ok(value),
                (_, Some(failure)) => Err(failure.to_error(path)),
                // Every slot has an outcome when the group commits.
                (None, None) => Err(Error::Closed),
            }
        }
        // A caller that stopped waiting needs no answer; its write stands.
        match self {
            Self::Append { reply, outcome, .. } => {
                drop(reply.send(resolve(outcome, failure, path)))
            }
            Self::Push { reply, outcome, .. } => drop(reply.send(resolve(outcome, failure, path))),
            Self::Acknowledge { reply, outcome, .. } => {
                drop(reply.send(resolve(outcome, failure, path)));
            }
        }
    }
}

/// A seq, size or count as a stored integer (none reaches 2^63).
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
