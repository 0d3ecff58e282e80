#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The binary as users and scripts meet it: commands, exit codes, `--json`.

mod agent;
mod cli;
mod crash;
mod demo;
mod export;
mod server;
