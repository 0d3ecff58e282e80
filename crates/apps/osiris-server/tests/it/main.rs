//! Central Command, driven over HTTP as clients drive it.

mod auth;
mod credentials;
mod dashboard;
mod errors;
mod openapi;
mod replicas;
mod secrets;
mod sites;
mod support;
mod tenancy;
mod transport;
