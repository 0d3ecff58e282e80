//! Integration tests of both engines: the shared conformance story and the
//! concurrent check-in race on each, plus what only one engine can show.
//!
//! PostgreSQL tests run against the real server named by
//! `OSIRIS_TEST_DATABASE_URL` (default: local trust-auth PostgreSQL); each
//! creates its own uniquely named database and drops it after. An
//! unreachable server fails them; nothing is skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod concurrency;
mod fresh;
mod postgres_schema;
mod schema_rules;
mod sqlite_schema;
mod story;
