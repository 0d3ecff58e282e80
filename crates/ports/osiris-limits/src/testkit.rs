//! The conformance suite every backend runs: `run_suite(limiter)` from the
//! backend's own tests. It expects exact decisions (remaining counts and
//! retry times to the microsecond), so two backends that pass it answer
//! identically for the same sequence of `(key, quota, now)`.
//!
//! Every step uses keys under a fresh random subject, so a shared backend
//! (Redis) can run the suite again and again without clearing state. A
//! failed expectation panics with a message naming the step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "the suite is test code: a failed expectation must abort the test run"
)]

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use osiris_core::SiteId;

use crate::{Bucket, Decision, Error, LimitKey, Quota, RateLimiter};

/// Runs every step against `limiter`.
pub async fn run_suite(limiter: Arc<dyn RateLimiter>) {
    eleventh_request_within_five_minutes_is_limited(&*limiter).await;
    keys_and_buckets_are_independent(&*limiter).await;
    capacity_returns_one_emission_interval_at_a_time(&*limiter).await;
    a_quota_of_one_allows_one_per_period(&*limiter).await;
    time_going_backwards_grants_nothing_extra(&*limiter).await;
    time_outside_the_supported_range_is_an_error(&*limiter).await;
    concurrent_callers_never_exceed_the_quota(limiter).await;
}

/// The sensitive-endpoint quota of the specification: 10 per 5 minutes.
#[must_use]
pub fn site_quota() -> Quota {
    Quota::new(10, Duration::minutes(5)).expect("valid quota")
}

/// The suite's fixed clock: `seconds` after 2025-01-06 09:00 UTC.
#[must_use]
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
        .single()
        .expect("valid base instant")
        + Duration::seconds(seconds)
}

/// A key no earlier run has used.
#[must_use]
pub fn fresh_key(bucket: Bucket) -> LimitKey {
    LimitKey::site(bucket, SiteId::random())
}

async fn decide(
    limiter: &dyn RateLimiter,
    key: &LimitKey,
    quota: Quota,
    now: DateTime<Utc>,
    step: &str,
) -> Decision {
    limiter
        .check(key, quota, now)
        .await
        .unwrap_or_else(|error| panic!("{step}: check failed: {error}"))
}

/// Spends `count` requests at `now`, expecting them all allowed with the
/// remaining counts going down from `first_remaining`.
async fn spend(
    limiter: &dyn RateLimiter,
    key: &LimitKey,
    quota: Quota,
    now: DateTime<Utc>,
    first_remaining: u32,
    count: u32,
    step: &str,
) {
    for i in 0..count {
        let remaining = first_remaining - i;
        assert_eq!(
            decide(limiter, key, quota, now, step).await,
            Decision::Allowed { remaining },
            "{step}: request {i} at {now}"
        );
    }
}

fn limited_for(retry_after: Duration) -> Decision {
    Decision::Limited { retry_after }
}

async fn eleventh_request_within_five_minutes_is_limited(limiter: &dyn RateLimiter) {
    let step = "eleventh request within five minutes";
    let quota = site_quota();

    // Ten at once: the eleventh waits one emission interval (30 s).
    let burst = fresh_key(Bucket::APPLIANCE_SENSITIVE);
    spend(limiter, &burst, quota, at(0), 9, 10, step).await;
    assert_eq!(
        decide(limiter, &burst, quota, at(0), step).await,
        limited_for(Duration::seconds(30))
    );
    assert_eq!(
        decide(limiter, &burst, quota, at(10), step).await,
        limited_for(Duration::seconds(20))
    );

    // One a second: after ten, the eleventh (at 10 s) waits until 30 s.
    let spread = fresh_key(Bucket::APPLIANCE_SENSITIVE);
    for i in 0..10 {
        let decision = decide(limiter, &spread, quota, at(i), step).await;
        assert!(
            decision.is_allowed(),
            "{step}: spread request {i}: {decision:?}"
        );
    }
    assert_eq!(
        decide(limiter, &spread, quota, at(10), step).await,
        limited_for(Duration::seconds(20))
    );
    assert_eq!(
        decide(limiter, &spread, quota, at(10), step)
            .await
            .retry_after_secs(),
        Some(20),
        "{step}: a limited request does not push the retry time out"
    );
    assert_eq!(
        decide(limiter, &spread, quota, at(30), step).await,
        Decision::Allowed { remaining: 0 },
        "{step}: allowed again after retry_after"
    );
}

async fn keys_and_buckets_are_independent(limiter: &dyn RateLimiter) {
    let step = "keys and buckets are independent";
    let quota = site_quota();
    let site = SiteId::random();
    let sensitive = LimitKey::site(Bucket::APPLIANCE_SENSITIVE, site);
    let other_bucket = LimitKey::site(Bucket::LOGIN, site);
    let other_site = fresh_key(Bucket::APPLIANCE_SENSITIVE);

    spend(limiter, &sensitive, quota, at(0), 9, 10, step).await;
    assert!(
        !decide(limiter, &sensitive, quota, at(0), step)
            .await
            .is_allowed()
    );
    for key in [&other_bucket, &other_site] {
        assert_eq!(
            decide(limiter, key, quota, at(0), step).await,
            Decision::Allowed { remaining: 9 },
            "{step}: {key:?} untouched by the exhausted key"
        );
    }
}

async fn capacity_returns_one_emission_interval_at_a_time(limiter: &dyn RateLimiter) {
    let step = "capacity returns one emission interval at a time";
    let quota = site_quota();
    let key = fresh_key(Bucket::APPLIANCE_SENSITIVE);
    spend(limiter, &key, quota, at(0), 9, 10, step).await;

    let almost = at(30) - Duration::microseconds(1);
    assert_eq!(
        decide(limiter, &key, quota, almost, step).await,
        limited_for(Duration::microseconds(1)),
        "{step}: one microsecond early"
    );
    spend(limiter, &key, quota, at(30), 0, 1, step).await;
    // Two intervals later, two requests' worth has come back.
    spend(limiter, &key, quota, at(90), 1, 2, step).await;
    assert!(
        !decide(limiter, &key, quota, at(90), step)
            .await
            .is_allowed()
    );
    // A full quiet period restores the whole burst, and no more.
    spend(limiter, &key, quota, at(90 + 300), 9, 10, step).await;
    assert!(
        !decide(limiter, &key, quota, at(90 + 300), step)
            .await
            .is_allowed()
    );
    // Long after, the key answers like a new one.
    spend(limiter, &key, quota, at(7200), 9, 1, step).await;
}

async fn a_quota_of_one_allows_one_per_period(limiter: &dyn RateLimiter) {
    let step = "a quota of one";
    let quota = Quota::new(1, Duration::minutes(1)).expect("valid quota");
    let key = fresh_key(Bucket::LOGIN);
    spend(limiter, &key, quota, at(0), 0, 1, step).await;
    assert_eq!(
        decide(limiter, &key, quota, at(0), step).await,
        limited_for(Duration::minutes(1))
    );
    assert_eq!(
        decide(limiter, &key, quota, at(59), step).await,
        limited_for(Duration::seconds(1))
    );
    spend(limiter, &key, quota, at(60), 0, 1, step).await;
    assert!(
        !decide(limiter, &key, quota, at(61), step)
            .await
            .is_allowed()
    );
}

async fn time_going_backwards_grants_nothing_extra(limiter: &dyn RateLimiter) {
    let step = "time going backwards";
    let quota = site_quota();

    let exhausted = fresh_key(Bucket::APPLIANCE_SENSITIVE);
    spend(limiter, &exhausted, quota, at(3600), 9, 10, step).await;
    assert_eq!(
        decide(limiter, &exhausted, quota, at(0), step).await,
        limited_for(Duration::seconds(3600 + 30)),
        "{step}: an hour back, the wait includes the hour"
    );

    // One request, then the clock jumps back ten minutes: the earlier
    // request still counts, so the key is not fresh again.
    let single = fresh_key(Bucket::APPLIANCE_SENSITIVE);
    spend(limiter, &single, quota, at(600), 9, 1, step).await;
    assert_eq!(
        decide(limiter, &single, quota, at(0), step).await,
        limited_for(Duration::seconds(600 + 30 - 270)),
        "{step}: ten minutes back"
    );
    // A small step back still allows what is left, never more.
    spend(limiter, &single, quota, at(599), 7, 8, step).await;
    assert!(
        !decide(limiter, &single, quota, at(599), step)
            .await
            .is_allowed()
    );
}

async fn time_outside_the_supported_range_is_an_error(limiter: &dyn RateLimiter) {
    let step = "time outside the supported range";
    let key = fresh_key(Bucket::LOGIN);
    let before_epoch = DateTime::<Utc>::UNIX_EPOCH - Duration::seconds(1);
    match limiter.check(&key, site_quota(), before_epoch).await {
        Err(Error::TimeOutOfRange { .. }) => {}
        other => panic!("{step}: expected TimeOutOfRange, got {other:?}"),
    }
}

async fn concurrent_callers_never_exceed_the_quota(limiter: Arc<dyn RateLimiter>) {
    let step = "concurrent callers";
    let quota = Quota::new(50, Duration::minutes(1)).expect("valid quota");
    let key = Arc::new(fresh_key(Bucket::APPLIANCE_SENSITIVE));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let limiter = Arc::clone(&limiter);
        let key = Arc::clone(&key);
        tasks.spawn(async move {
            let mut decisions = Vec::new();
            for _ in 0..4 {
                decisions.push(limiter.check(&key, quota, at(0)).await);
            }
            decisions
        });
    }
    let mut remaining_seen = Vec::new();
    let mut limited = 0;
    while let Some(joined) = tasks.join_next().await {
        for decision in joined.expect("task finished") {
            match decision.unwrap_or_else(|error| panic!("{step}: check failed: {error}")) {
                Decision::Allowed { remaining } => remaining_seen.push(remaining),
                Decision::Limited { .. } => limited += 1,
            }
        }
    }
    remaining_seen.sort_unstable();
    // Exactly one caller saw each remaining count: no two shared a slot.
    assert_eq!(
        remaining_seen,
        (0..50).collect::<Vec<_>>(),
        "{step}: allowed decisions"
    );
    assert_eq!(limited, 64 * 4 - 50, "{step}: limited decisions");
}
