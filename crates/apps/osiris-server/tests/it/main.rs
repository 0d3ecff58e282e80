#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Central Command, driven over HTTP as clients drive it.

mod auth;
mod errors;
mod openapi;
mod sites;
mod support;
