//! Integration tests of the in-process limiter: the shared conformance
//! suite, and properties of the GCRA arithmetic over arbitrary sequences.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod properties;
mod suite;
