//! Integration tests of the SQLite store: the shared conformance story on a
//! temporary file, plus what only this backend can show.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod schema;
mod story;
