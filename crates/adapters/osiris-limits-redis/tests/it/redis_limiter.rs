use std::sync::Arc;

use chrono::Duration;
use osiris_limits::testkit::{at, fresh_key, run_suite, site_quota};
use osiris_limits::{Bucket, Decision, Error, InProcessLimiter, Quota, RateLimiter};

use crate::{fresh_prefix, limiter, redis_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_limiter_passes_the_conformance_suite() {
    run_suite(Arc::new(limiter(&fresh_prefix()).await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_limiters_on_two_connections_share_one_quota() {
    // Two server replicas: separate connection managers, one Redis.
    let prefix = fresh_prefix();
    let replicas = [limiter(&prefix).await, limiter(&prefix).await];
    let key = fresh_key(Bucket::APPLIANCE_SENSITIVE);
    let quota = site_quota();
    for (i, remaining) in (0..10).rev().enumerate() {
        let decision = replicas[i % 2].check(&key, quota, at(0)).await.unwrap();
        assert_eq!(decision, Decision::Allowed { remaining }, "request {i}");
    }
    for replica in &replicas {
        assert_eq!(
            replica.check(&key, quota, at(0)).await.unwrap(),
            Decision::Limited {
                retry_after: Duration::seconds(30)
            }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_answers_exactly_like_the_in_process_limiter() {
    // A pseudo-random walk of times (with steps back) and two quotas on
    // one key: every decision must be identical.
    let redis = limiter(&fresh_prefix()).await;
    let memory = InProcessLimiter::new();
    let key = fresh_key(Bucket::LOGIN);
    let quotas = [
        site_quota(),
        Quota::new(3, Duration::milliseconds(1001)).unwrap(),
    ];
    let mut now = at(0);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut allowed = 0;
    for i in 0..400 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let step = i64::try_from(state % 40_000_000).unwrap() - 8_000_000;
        now += Duration::microseconds(step);
        let quota = quotas[usize::from(state.is_multiple_of(7))];
        let expected = memory.check(&key, quota, now).await.unwrap();
        let actual = redis.check(&key, quota, now).await.unwrap();
        assert_eq!(actual, expected, "request {i} at {now} under {quota:?}");
        allowed += usize::from(actual.is_allowed());
    }
    // The walk exercises both answers, not only one.
    assert!((100..300).contains(&allowed), "{allowed} of 400 allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_expires_once_its_capacity_is_full_again() {
    let limiter = limiter(&fresh_prefix()).await;
    let key = fresh_key(Bucket::APPLIANCE_SENSITIVE);
    let _ = limiter.check(&key, site_quota(), at(0)).await.unwrap();

    let mut connection = redis::Client::open(redis_url().expose().as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(limiter.storage_key(&key))
        .query_async(&mut connection)
        .await
        .unwrap();
    // One emission interval (30 s) plus the one-second margin.
    assert!((29_000..=31_000).contains(&ttl), "ttl {ttl} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_stored_value_is_a_backend_error() {
    let limiter = limiter(&fresh_prefix()).await;
    let key = fresh_key(Bucket::LOGIN);
    let mut connection = redis::Client::open(redis_url().expose().as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("SET")
        .arg(limiter.storage_key(&key))
        .arg("not a number")
        .arg("EX")
        .arg(60)
        .query_async(&mut connection)
        .await
        .unwrap();
    match limiter.check(&key, site_quota(), at(0)).await {
        Err(Error::Backend(source)) => {
            assert!(source.to_string().contains("script"), "{source}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
}
