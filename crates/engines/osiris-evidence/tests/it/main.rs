#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Integration tests of the evidence contract: exports written, tampered
//! with and verified end to end.

mod fixture;
mod golden;
mod malformed;
mod tamper;
