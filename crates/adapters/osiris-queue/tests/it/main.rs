#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The queue's one integration-test binary.

mod ack;
mod bound;
mod crash;
mod failure;
mod group_commit;
mod model;
mod open;
mod ordering;
mod support;
