//! The conformance story every backend runs: `run_story(&store)` from the
//! backend's own integration test, against a fresh, empty database.
//!
//! The story builds two complete tenants (partner → client → site →
//! appliance → users) and then walks every aggregate, checking each method
//! and, for each, that the other tenant's rows are `NotFound` and never
//! listed. A failed expectation panics with a message naming the step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "the story is test code: a failed expectation must abort the test run"
)]

mod appliances;
mod audit;
mod credentials;
mod dashboard;
mod decisions;
mod evidence;
mod incidents;
mod learning;
mod orders;
mod sessions;
mod sites;
mod tenants;
mod users;
mod world;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::{Error, Store};

/// Runs the whole story against `store`, which must be empty.
pub async fn run_story(store: &dyn Store) {
    let world = world::World::build(store).await;
    tenants::story(store, &world).await;
    sites::story(store, &world).await;
    appliances::story(store, &world).await;
    incidents::story(store, &world).await;
    evidence::story(store, &world).await;
    orders::story(store, &world).await;
    users::story(store, &world).await;
    sessions::story(store, &world).await;
    audit::story(store, &world).await;
    credentials::story(store, &world).await;
    decisions::story(store, &world).await;
    learning::story(store, &world).await;
    dashboard::story(store, &world).await;
}

/// The story's fixed clock: `minutes` after 2025-01-06 09:00 UTC. Whole
/// seconds, so every backend stores the instant exactly.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
        .single()
        .expect("valid base instant")
        + Duration::minutes(minutes)
}

/// Asserts that `result` is a `NotFound` for `entity`.
#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(result: crate::Result<T>, entity: &str, step: &str) {
    match result {
        Err(Error::NotFound { entity: found, .. }) if found == entity => {}
        other => panic!("{step}: expected NotFound {entity}, got {other:?}"),
    }
}

/// Asserts that `result` is a `Conflict` on `constraint`.
#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: crate::Result<T>, constraint: &str, step: &str) {
    match result {
        Err(Error::Conflict { constraint: found }) if found == constraint => {}
        other => panic!("{step}: expected Conflict on {constraint}, got {other:?}"),
    }
}

/// Asserts that `result` is an `IllegalTransition` into `to`.
#[track_caller]
fn assert_illegal<T: std::fmt::Debug>(result: crate::Result<T>, to: &str, step: &str) {
    match result {
        Err(Error::IllegalTransition { to: found, .. }) if found == to => {}
        other => panic!("{step}: expected IllegalTransition to {to}, got {other:?}"),
    }
}
