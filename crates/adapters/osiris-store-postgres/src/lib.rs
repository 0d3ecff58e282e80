//! The Central Command store over PostgreSQL 15+: the production engine,
//! shared by every server replica. Implements every trait of
//! `osiris-store` with runtime `sqlx::query_as` and `FromRow` rows; the
//! schema lives in `migrations/` (PostgreSQL dialect), embedded and
//! applied by [`PgStore::connect`] (sqlx takes an advisory lock, so
//! replicas starting together migrate once).
//!
//! Ids are `uuid`, instants `timestamptz` (microsecond precision), hashes
//! and keys `bytea`. Statements are textually the same as the SQLite
//! backend's (both accept `$n` parameters); the schemas differ by dialect.
//! Tenant scope is a SQL predicate bound as the first parameters of every
//! scoped statement (see `scope`).
//!
//! Must not depend on another adapter or on an app.

mod appliances;
mod audit;
mod db;
mod evidence;
mod hosts;
mod incidents;
mod orders;
mod scope;
mod sessions;
mod sites;
mod tenants;
mod users;

use std::str::FromStr;

use osiris_core::Secret;
use osiris_store::Result;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::db::backend;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

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
