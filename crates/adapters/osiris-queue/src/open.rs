//! Opening a queue file: lock it, make sure it is a queue (or new), migrate,
//! check whose chain it holds, and load the committed state.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use osiris_core::{ApplianceId, SiteId};
use osiris_evidence::{ChainHash, ChainHead};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use crate::error::{Error, Result};
use crate::types::ItemKind;

/// `PRAGMA application_id` of a queue file: "OSQ1", set by the first
/// migration.
pub(crate) const APPLICATION_ID: i64 = 0x4f53_5131;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What the writer continues from: exactly what the last commit stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) head: Option<ChainHead>,
    pub(crate) acknowledged_through: u64,
    pub(crate) dropped_telemetry: u64,
    /// Payload bytes of everything stored.
    pub(crate) used: u64,
    /// The part of `used` that is telemetry (the only droppable kind).
    pub(crate) telemetry: u64,
}

impl State {
    pub(crate) fn head_seq(&self) -> u64 {
        self.head.map_or(0, |head| head.seq)
    }
}

/// Whose chain the queue must hold.
#[derive(Debug, Clone)]
pub(crate) struct Owner {
    pub(crate) site_id: SiteId,
    pub(crate) appliance_id: ApplianceId,
    pub(crate) key_id: String,
}

/// An opened, checked queue file.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) writer: SqliteConnection,
    pub(crate) readers: SqlitePool,
    pub(crate) state: State,
    /// Held (locked) for as long as the writer runs.
    pub(crate) lock: File,
}

#[derive(sqlx::FromRow)]
struct MetaRow {
    appliance_id: String,
    site_id: String,
    key_id: String,
    head_seq: i64,
    head_hash: Option<String>,
    acknowledged_through: i64,
    dropped_telemetry: i64,
}

pub(crate) async fn open(path: &Path, owner: &Owner) -> Result<Opened> {
    let lock = lock(path)?;
    if path.exists() {
        probe(path).await?;
    }
    let options = options(path);
    let mut writer = options
        .connect()
        .await
        .map_err(|source| open_error(path, source))?;
    MIGRATOR
        .run(&mut writer)
        .await
        .map_err(|source| match source {
            sqlx::migrate::MigrateError::Execute(source) if is_not_a_database(&source) => {
                not_a_queue(path, "not a SQLite database")
            }
            source => Error::Migrate {
                path: path.to_owned(),
                source,
            },
        })?;
    let state = load(&mut writer, path, owner).await?;
    let readers = SqlitePoolOptions::new()
        // Check-in reads and statistics; WAL lets them run beside the writer.
        .max_connections(2)
        .min_connections(0)
        .connect_with(options)
        .await
        .map_err(|source| open_error(path, source))?;
    Ok(Opened {
        writer,
        readers,
        state,
        lock,
    })
}

/// The options of every connection to the queue.
fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is fsynced before it returns, so a bundle reported
        // durable survives a power cut, not just a crash of the process.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
}

/// Takes the advisory lock beside the queue: one writer per file, or the
/// chain would fork.
fn lock(path: &Path) -> Result<File> {
    let mut name = OsString::from(path.as_os_str());
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|source| Error::LockFile {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::InUse {
            path: path.to_owned(),
        }),
        Err(TryLockError::Error(source)) => Err(Error::LockFile {
            path: lock_path,
            source,
        }),
    }
}

/// Refuses a file that is not a queue before anything is written to it
/// (the WAL pragma alone would change another database's journal mode).
async fn probe(path: &Path) -> Result<()> {
    let mut connection = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .connect()
        .await
        .map_err(|source| open_error(path, source))?;
    let probed = async {
        let application_id: i64 = sqlx::query_scalar("PRAGMA application_id")
            .fetch_one(&mut connection)
            .await?;
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&mut connection)
                .await?;
        Ok::<_, sqlx::Error>((application_id, tables))
    }
    .await;
    // Closing a read-only probe cannot lose anything; its error is moot.
    drop(connection.close().await);
    let (application_id, tables) = probed.map_err(|source| open_error(path, source))?;
    if application_id == APPLICATION_ID {
        return Ok(());
    }
    if application_id != 0 {
        return Err(not_a_queue(
            path,
            format!("SQLite application id {application_id:#x}"),
        ));
    }
    // A queue whose first migration never committed holds at most sqlx's
    // bookkeeping table: that is a new queue, not someone else's database.
    if let Some(table) = tables
        .iter()
        .find(|table| !matches!(table.as_str(), "_sqlx_migrations" | "sqlite_sequence"))
    {
        return Err(not_a_queue(
            path,
            format!("a SQLite database with a table {table:?}"),
        ));
    }
    Ok(())
}

/// Checks (or, for a new queue, records) whose chain this is, checks the
/// stored rows against the head, and returns the committed state.
async fn load(connection: &mut SqliteConnection, path: &Path, owner: &Owner) -> Result<State> {
    let storage = |context| move |source| storage(path, context, source);
    let meta: Option<MetaRow> = sqlx::query_as(
        "SELECT appliance_id, site_id, key_id, head_seq, head_hash, acknowledged_through,
                dropped_telemetry
         FROM meta WHERE id = 1",
    )
    .fetch_optional(&mut *connection)
    .await
    .map_err(storage("reading the queue's owner"))?;
    match meta {
        None => {
            sqlx::query(
                "INSERT INTO meta (id, appliance_id, site_id, key_id, head_seq, head_hash,
                                   acknowledged_through, dropped_telemetry)
                 VALUES (1, $1, $2, $3, 0, NULL, 0, 0)",
            )
            .bind(owner.appliance_id.to_string())
            .bind(owner.site_id.to_string())
            .bind(&owner.key_id)
            .execute(&mut *connection)
            .await
            .map_err(storage("recording the queue's owner"))?;
        }
        Some(meta) if meta.appliance_id != owner.appliance_id.to_string() => {
            return Err(Error::WrongAppliance {
                path: path.to_owned(),
                expected: owner.appliance_id.to_string(),
                found: meta.appliance_id,
            });
        }
        Some(meta) if meta.site_id != owner.site_id.to_string() => {
            return Err(Error::WrongSite {
                path: path.to_owned(),
                expected: owner.site_id.to_string(),
                found: meta.site_id,
            });
        }
        Some(meta) if meta.key_id != owner.key_id => {
            return Err(Error::WrongKey {
                path: path.to_owned(),
                expected: owner.key_id.clone(),
                found: meta.key_id,
            });
        }
        Some(_) => {}
    }
    read_state(connection, path).await
}

/// The committed state as stored: the head, the acknowledged seq and the
/// payload sums. Checks the stored bundles against the head on the way.
pub(crate) async fn read_state(connection: &mut SqliteConnection, path: &Path) -> Result<State> {
    let storage = |context| move |source| storage(path, context, source);
    let meta: MetaRow = sqlx::query_as(
        "SELECT appliance_id, site_id, key_id, head_seq, head_hash, acknowledged_through,
                dropped_telemetry
         FROM meta WHERE id = 1",
    )
    .fetch_one(&mut *connection)
    .await
    .map_err(storage("reading the chain head"))?;
    let corrupt = |what: String| Error::Corrupt {
        path: path.to_owned(),
        what,
    };
    let head_seq = unsigned(meta.head_seq).ok_or_else(|| corrupt("negative head seq".into()))?;
    let head = match (head_seq, meta.head_hash.as_deref()) {
        (0, None) => None,
        (seq, Some(text)) if seq > 0 => Some(ChainHead {
            seq,
            hash: ChainHash::parse(text)
                .ok_or_else(|| corrupt(format!("head hash {text:?} is not 64 hex digits")))?,
        }),
        _ => return Err(corrupt("head seq and head hash disagree".into())),
    };
    let acknowledged_through = unsigned(meta.acknowledged_through)
        .filter(|through| *through <= head_seq)
        .ok_or_else(|| corrupt("acknowledged seq is outside the chain".into()))?;
    let dropped_telemetry =
        unsigned(meta.dropped_telemetry).ok_or_else(|| corrupt("negative drop count".into()))?;

    // Stored bundles are exactly acknowledged_through+1 ..= head, the last
    // one hashing to the head: anything else means the file was edited.
    let (count, low, high, bundle_bytes): (i64, Option<i64>, Option<i64>, i64) =
        sqlx::query_as("SELECT COUNT(*), MIN(seq), MAX(seq), COALESCE(SUM(bytes), 0) FROM bundles")
            .fetch_one(&mut *connection)
            .await
            .map_err(storage("checking the stored bundles"))?;
    let expected = head_seq - acknowledged_through;
    let contiguous = match (low.and_then(unsigned), high.and_then(unsigned)) {
        (Some(low), Some(high)) => low == acknowledged_through + 1 && high == head_seq,
        (None, None) => true,
        _ => false,
    };
    if unsigned(count) != Some(expected) || !contiguous {
        return Err(corrupt(format!(
            "stored bundles ({count}, seq {low:?} to {high:?}) are not exactly seq {} to {head_seq}",
            acknowledged_through + 1
        )));
    }
    if let Some(head) = head.filter(|_| expected > 0) {
        let stored: String = sqlx::query_scalar("SELECT chain_hash FROM bundles WHERE seq = $1")
            .bind(meta.head_seq)
            .fetch_one(&mut *connection)
            .await
            .map_err(storage("checking the head bundle"))?;
        if stored != head.hash.to_string() {
            return Err(corrupt(format!(
                "bundle {} does not hash to the chain head",
                head.seq
            )));
        }
    }

    let per_kind: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, COALESCE(SUM(bytes), 0) FROM items GROUP BY kind")
            .fetch_all(&mut *connection)
            .await
            .map_err(storage("summing the stored items"))?;
    let mut used = unsigned(bundle_bytes).ok_or_else(|| corrupt("negative size".into()))?;
    let mut telemetry = 0;
    for (kind, bytes) in per_kind {
        let kind =
            ItemKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown item kind {kind:?}")))?;
        let bytes = unsigned(bytes).ok_or_else(|| corrupt("negative size".into()))?;
        used += bytes;
        if kind == ItemKind::Telemetry {
            telemetry = bytes;
        }
    }
    Ok(State {
        head,
        acknowledged_through,
        dropped_telemetry,
        used,
        telemetry,
    })
}

pub(crate) fn unsigned(value: i64) -> Option<u64> {
    u64::try_from(value).ok()
}

pub(crate) fn storage(path: &Path, context: &'static str, source: sqlx::Error) -> Error {
    Error::Storage {
        path: path.to_owned(),
        context,
        source: source.into(),
    }
}

fn open_error(path: &Path, source: sqlx::Error) -> Error {
    if is_not_a_database(&source) {
        return not_a_queue(path, "not a SQLite database");
    }
    Error::Open {
        path: path.to_owned(),
        source,
    }
}

fn not_a_queue(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotAQueue {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// SQLITE_NOTADB: the file is not a database at all.
fn is_not_a_database(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|database| database.code())
        .is_some_and(|code| code == "26")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pragmas(connection: &mut SqliteConnection) -> (String, i64) {
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *connection)
            .await
            .unwrap();
        (journal, synchronous)
    }

    #[tokio::test]
    async fn every_connection_is_wal_with_synchronous_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.sqlite");
        let owner = Owner {
            site_id: SiteId::random(),
            appliance_id: ApplianceId::random(),
            key_id: "0011223344556677".into(),
        };
        let mut opened = open(&path, &owner).await.unwrap();
        // 2 is FULL: each commit is fsynced before it returns.
        assert_eq!(pragmas(&mut opened.writer).await, ("wal".into(), 2));
        let mut reader = opened.readers.acquire().await.unwrap();
        assert_eq!(pragmas(&mut reader).await, ("wal".into(), 2));
        let application_id: i64 = sqlx::query_scalar("PRAGMA application_id")
            .fetch_one(&mut opened.writer)
            .await
            .unwrap();
        assert_eq!(application_id, APPLICATION_ID);
    }
}
