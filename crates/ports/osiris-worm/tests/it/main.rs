//! The one integration-test binary of osiris-worm.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation must abort the test"
)]

mod keys;
mod local;
