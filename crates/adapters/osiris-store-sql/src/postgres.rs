//! The PostgreSQL 15+ engine. Ids are `uuid`, instants `timestamptz`
//! (microsecond precision), hashes and keys `bytea`; every unique
//! constraint is named as in `osiris_store::constraint`. sqlx takes an
//! advisory lock while migrating, so replicas starting together migrate
//! once.

use std::str::FromStr;

use osiris_core::Secret;
use osiris_store::Result;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::db::backend;

engine_store!(
    /// The store in a PostgreSQL database.
    PgStore,
    sqlx::Postgres,
    "postgresql",
    "./migrations/postgres"
);

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
        Self::migrated(pool).await
    }
}
