//! The Central Command store over SQL, on two engines selected by cargo
//! features: [`SqliteStore`] (feature `sqlite`: the embedded default, one
//! file, zero setup) and [`PgStore`] (feature `postgres`: the production
//! engine shared by every server replica). Both implement every trait of
//! `osiris-store` with runtime `sqlx::query_as` and `FromRow` rows, from
//! ONE set of aggregate modules (`aggregates/`, compiled once per engine);
//! each engine has its own schema in `migrations/<engine>/`, embedded and
//! applied when the store opens.
//!
//! Tenant scope is a SQL predicate bound as the first parameters of every
//! scoped statement (see `aggregates/scope.rs`).
//!
//! Must not depend on another adapter or on an app.

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("osiris-store-sql needs an engine: enable feature `sqlite`, `postgres` or both");

mod db;

/// Declares one engine's store inside that engine's module: the struct
/// over a `Pool<$db>`, the shared aggregate modules compiled for it (they
/// name it `Store` and its engine `Db`), its embedded migrations
/// (`MIGRATOR`), `migrated` and `close`. The engine module adds how to
/// open the pool.
macro_rules! engine_store {
    ($(#[$doc:meta])* $store:ident, $db:ty, $engine:literal, $migrations:literal) => {
        // Loaded once per engine on purpose (see `aggregates/mod.rs`); the
        // level covers its child modules too. `allow` rather than `expect`
        // because with one engine feature the files load once.
        #[allow(
            clippy::duplicate_mod,
            reason = "the shared aggregates are compiled once per engine"
        )]
        #[path = "aggregates/mod.rs"]
        mod aggregates;

        /// The engine the shared aggregate modules are compiled for here.
        type Db = $db;
        /// The store type the shared aggregate modules implement the port on.
        type Store = $store;

        static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!($migrations);

        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $store {
            pool: sqlx::Pool<$db>,
        }

        impl $store {
            /// Applies the pending migrations on `pool`, then keeps it.
            async fn migrated(pool: sqlx::Pool<$db>) -> osiris_store::Result<Self> {
                MIGRATOR
                    .run(&pool)
                    .await
                    .map_err(crate::db::backend(concat!("applying ", $engine, " migrations")))?;
                Ok(Self { pool })
            }

            /// Closes every connection (SQLite checkpoints its WAL).
            pub async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
