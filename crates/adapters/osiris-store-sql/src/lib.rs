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

mod db;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
