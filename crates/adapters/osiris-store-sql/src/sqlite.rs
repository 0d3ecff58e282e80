//! The SQLite engine: WAL mode, foreign keys on. Ids are 16-byte blobs,
//! instants RFC 3339 UTC text (which sorts and compares in time order
//! because every instant is written with the same `+00:00` offset).

use std::path::Path;
use std::time::Duration;

use osiris_store::Result;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::db::backend;

engine_store!(
    /// The store in one SQLite file.
    SqliteStore,
    sqlx::Sqlite,
    "sqlite",
    "./migrations/sqlite"
);

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and applies
    /// the pending migrations.
    ///
    /// # Errors
    /// `Backend` when the file cannot be opened or a migration fails.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write (an acknowledged evidence bundle,
            // an audit entry) survives a power cut.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Writers queue behind each other instead of failing at once.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(backend("opening the sqlite database"))?;
        Self::migrated(pool).await
    }
}
