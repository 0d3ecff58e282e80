//! Properties of the GCRA arithmetic over arbitrary request sequences, on
//! the in-process limiter (the conformance suite runs as a unit test of
//! `memory`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod properties;
