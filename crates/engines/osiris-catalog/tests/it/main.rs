#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Integration tests of the catalog: the shipped files, broken files, criteria over recorded outputs.

mod bad_files;
mod criteria;
mod shipped;
