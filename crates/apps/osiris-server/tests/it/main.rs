#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Central Command, driven over HTTP as clients drive it.

mod approvals;
mod auth;
mod browser;
mod checkin;
mod credentials;
mod dashboard;
mod enrolment;
mod errors;
mod evidence;
mod evidence_s3;
mod fleet;
mod inventory;
mod learning;
mod openapi;
mod orders;
mod provisioning;
mod replicas;
mod secrets;
mod sites;
mod support;
mod tenancy;
mod transport;
mod web;
