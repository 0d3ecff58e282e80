//! The vault's integration tests: sealing and opening, what must not open,
//! rotation, and the key file and variable.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod keyfile;
mod seal;
