//! The PostgreSQL 15+ engine. Ids are `uuid`, instants `timestamptz`
//! (microsecond precision), hashes and keys `bytea`; every unique
//! constraint is named as in `osiris_store::constraint`. sqlx takes an
//! advisory lock while migrating, so replicas starting together migrate
//! once.

// Loaded once per engine on purpose (see `aggregates/mod.rs`); the level
// covers its child modules too. `allow` rather than `expect` because with
// one engine feature the files load once.
#[allow(
    clippy::duplicate_mod,
    reason = "the shared aggregates are compiled once per engine"
)]
#[path = "aggregates/mod.rs"]
mod aggregates;

use std::str::FromStr;

use osiris_core::Secret;
use osiris_store::Result;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::db::backend;

/// The engine the shared aggregate modules are compiled for here.
type Db = sqlx::Postgres;
/// The store type the shared aggregate modules implement the port on.
type Store = PgStore;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`)
    /// and applies the pending migrations.
    ///
    /// # Errors
    /// `Backend` when the URL is malformed, the server is unreachable or a
    /// migration fails.
    pub async fn connect(url: &Secret<String>) -> Result<Self> {
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(backend("parsing the postgresql url"))?;
        Self::connect_with(options).await
    }

    /// Connects with ready-made options and applies the pending migrations.
    ///
    /// # Errors
    /// `Backend` when the server is unreachable or a migration fails.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await
            .map_err(backend("connecting to postgresql"))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(backend("applying postgresql migrations"))?;
        Ok(Self { pool })
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
