#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fuzz;
mod golden;
mod pyspnego_peer;
mod python;
