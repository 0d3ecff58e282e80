//! Properties of the GCRA over arbitrary request sequences, with time
//! jumping forwards and backwards.

use chrono::{DateTime, Duration, TimeZone, Utc};
use osiris_limits::{Bucket, Decision, InProcessLimiter, LimitKey, Quota};
use proptest::prelude::*;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

proptest! {
    /// After the first allowed request at `first`, no more than
    /// `max + (latest - first) / T` requests are ever allowed, where
    /// `latest` is the latest time seen so far: going back in time never
    /// adds capacity.
    #[test]
    fn allowed_requests_never_exceed_the_burst_plus_the_elapsed_rate(
        max in 1u32..20,
        per_secs in 1i64..600,
        steps in proptest::collection::vec(-120_000_000i64..120_000_000, 1..200),
    ) {
        let quota = Quota::new(max, Duration::seconds(per_secs)).unwrap();
        let limiter = InProcessLimiter::new();
        let key = LimitKey::new(Bucket::LOGIN, "alice").unwrap();
        let t = quota.emission_interval_us();
        let base = at(1_000_000);
        let (mut now_us, mut latest_us) = (0i64, 0i64);
        let mut first_allowed = None;
        let mut allowed = 0i64;
        for delta in steps {
            now_us += delta;
            latest_us = latest_us.max(now_us);
            let now = base + Duration::microseconds(now_us);
            match limiter.decide(&key, quota, now).unwrap() {
                Decision::Allowed { remaining } => {
                    prop_assert!(remaining < max);
                    allowed += 1;
                    first_allowed.get_or_insert(now_us);
                }
                Decision::Limited { retry_after } => {
                    prop_assert!(retry_after > Duration::zero());
                    prop_assert!(retry_after <= quota.per() + Duration::microseconds(latest_us - now_us));
                }
            }
            if let Some(first) = first_allowed {
                prop_assert!(allowed <= i64::from(max) + (latest_us - first) / t);
            }
        }
    }

    /// Waiting exactly the `retry_after` of a limited answer is enough.
    #[test]
    fn waiting_retry_after_is_always_enough(
        max in 1u32..20,
        per_secs in 1i64..600,
        burst in 0u32..40,
    ) {
        let quota = Quota::new(max, Duration::seconds(per_secs)).unwrap();
        let limiter = InProcessLimiter::new();
        let key = LimitKey::new(Bucket::LOGIN, "alice").unwrap();
        let mut last = None;
        for _ in 0..burst {
            last = Some(limiter.decide(&key, quota, at(0)).unwrap());
        }
        if let Some(Decision::Limited { retry_after }) = last {
            prop_assert!(limiter.decide(&key, quota, at(0) + retry_after).unwrap().is_allowed());
            prop_assert!(!limiter.decide(&key, quota, at(0) + retry_after).unwrap().is_allowed());
        }
    }
}
