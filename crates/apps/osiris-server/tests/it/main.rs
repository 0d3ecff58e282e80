//! Central Command, driven over HTTP as clients drive it.

mod auth;
mod credentials;
mod errors;
mod openapi;
mod sites;
mod support;
mod transport;
