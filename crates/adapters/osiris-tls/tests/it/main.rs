//! Integration tests of osiris-tls: certificate files on disk (checked with
//! `openssl`), and HTTPS round trips with reqwest, curl and raw sockets.
//! `curl` and `openssl` must be installed; a missing one fails the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test on any unexpected error"
)]

mod https;
mod material;
mod support;
