#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The SSH transport against Debian's real OpenSSH server, started by the
//! tests on loopback and inside a network namespace (`osiris_testkit::linux`).
//! Needs root and the packages `openssh-server`, `sudo`, `nftables` and
//! `iproute2`; a missing one fails the tests rather than skipping them.

mod catalog;
mod cli;
mod firewall;
mod hardening;
mod transport;
