//! Integration tests of the PostgreSQL store against the real server named
//! by `OSIRIS_TEST_DATABASE_URL` (default: local trust-auth PostgreSQL).
//! Each test creates its own uniquely named database and drops it after.
//! An unreachable server fails the tests; nothing is skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod concurrency;
mod fresh;
mod schema;
mod story;
