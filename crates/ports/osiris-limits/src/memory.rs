//! The in-process limiter: the embedded default for a single server.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use crate::{BoxFuture, Decision, LimitKey, Quota, RateLimiter, Result, gcra};

/// Shards of the key map: concurrent requests for different keys rarely
/// wait on one another's lock.
const SHARDS: usize = 16;

/// A [`RateLimiter`] that keeps each key's GCRA state in this process.
///
/// State lives only while it matters: call [`InProcessLimiter::retain_recent`]
/// periodically (every minute, say) to drop keys whose capacity is full
/// again, so memory stays proportional to the keys seen within the longest
/// quota period. Subjects are hashed with a random seed, so chosen
/// usernames cannot flood one map bucket.
#[derive(Debug)]
pub struct InProcessLimiter {
    hasher: RandomState,
    shards: [Mutex<HashMap<LimitKey, i64>>; SHARDS],
}

impl Default for InProcessLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessLimiter {
    /// An empty limiter.
    #[must_use]
    pub fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    /// Decides one request, synchronously; [`RateLimiter::check`] is this
    /// behind a ready future.
    ///
    /// # Errors
    /// [`crate::Error::TimeOutOfRange`] when `now` is before 1970 or after
    /// [`gcra::MAX_NOW_US`].
    pub fn decide(&self, key: &LimitKey, quota: Quota, now: DateTime<Utc>) -> Result<Decision> {
        let now_us = gcra::micros(now)?;
        let mut shard = self.shard(key);
        let stored = shard.get_mut(key);
        let (decision, new_tat) = gcra::step(stored.as_deref().copied(), now_us, &quota);
        match (new_tat, stored) {
            (Some(tat), Some(slot)) => *slot = tat,
            (Some(tat), None) => {
                shard.insert(key.clone(), tat);
            }
            (None, _) => {}
        }
        Ok(decision)
    }

    /// Forgets every key whose capacity is full again at `now` (its TAT is
    /// not after `now`): such a key answers exactly like one never seen.
    /// Returns how many keys were dropped. A `now` outside the supported
    /// range drops nothing.
    pub fn retain_recent(&self, now: DateTime<Utc>) -> usize {
        let Ok(now_us) = gcra::micros(now) else {
            return 0;
        };
        self.shards
            .iter()
            .map(|shard| {
                let mut map = lock(shard);
                let before = map.len();
                map.retain(|_, tat| *tat > now_us);
                before - map.len()
            })
            .sum()
    }

    /// How many keys hold state.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    /// Whether no key holds state.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &LimitKey) -> MutexGuard<'_, HashMap<LimitKey, i64>> {
        // Truncating the hash is fine: only its low bits pick the shard.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::indexing_slicing,
            reason = "the index is reduced modulo the array's length"
        )]
        lock(&self.shards[(self.hasher.hash_one(key) as usize) % SHARDS])
    }
}

/// A poisoned shard is still consistent (each entry is one integer written
/// in one store), so a panic elsewhere must not disable rate limiting.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RateLimiter for InProcessLimiter {
    fn check<'a>(
        &'a self,
        key: &'a LimitKey,
        quota: Quota,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Decision> {
        Box::pin(std::future::ready(self.decide(key, quota, now)))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::Bucket;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap()
    }

    #[test]
    fn retain_recent_drops_only_keys_whose_capacity_is_full_again() {
        let limiter = InProcessLimiter::new();
        let quota = Quota::new(10, Duration::minutes(5)).unwrap();
        let early = LimitKey::new(Bucket::LOGIN, "early").unwrap();
        let late = LimitKey::new(Bucket::LOGIN, "late").unwrap();
        assert!(limiter.decide(&early, quota, t0()).unwrap().is_allowed());
        assert!(
            limiter
                .decide(&late, quota, t0() + Duration::seconds(20))
                .unwrap()
                .is_allowed()
        );
        assert_eq!(limiter.len(), 2);

        assert_eq!(limiter.retain_recent(t0() + Duration::seconds(29)), 0);
        assert_eq!(limiter.retain_recent(t0() + Duration::seconds(30)), 1);
        assert_eq!(limiter.len(), 1);
        assert_eq!(limiter.retain_recent(t0() + Duration::seconds(50)), 1);
        assert!(limiter.is_empty());
    }

    #[test]
    fn a_limited_request_stores_nothing_new() {
        let limiter = InProcessLimiter::new();
        let quota = Quota::new(1, Duration::minutes(1)).unwrap();
        let key = LimitKey::new(Bucket::LOGIN, "alice").unwrap();
        assert!(limiter.decide(&key, quota, t0()).unwrap().is_allowed());
        for _ in 0..5 {
            assert!(!limiter.decide(&key, quota, t0()).unwrap().is_allowed());
        }
        assert_eq!(
            limiter
                .decide(&key, quota, t0() + Duration::minutes(1))
                .unwrap(),
            Decision::Allowed { remaining: 0 }
        );
    }

    // The suite runs here rather than in `tests/`: an integration test
    // would need this crate as its own dev-dependency to turn on `testkit`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_in_process_limiter_passes_the_conformance_suite() {
        crate::testkit::run_suite(std::sync::Arc::new(InProcessLimiter::new())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_suite_leaves_no_state_once_every_key_has_recovered() {
        let limiter = std::sync::Arc::new(InProcessLimiter::new());
        crate::testkit::run_suite(limiter.clone()).await;
        assert!(!limiter.is_empty());
        limiter.retain_recent(crate::testkit::at(86_400));
        assert!(limiter.is_empty());
    }
}
