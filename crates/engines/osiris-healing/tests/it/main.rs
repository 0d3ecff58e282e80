#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Integration tests of the healing engine, over a scripted in-memory
//! host (`world.rs`): detect, every gate, execute, flap detection and the
//! maintenance window against brute force.

mod checks;
mod execute;
mod gates;
mod orders;
mod planned;
mod shipped;
mod window;
mod world;
