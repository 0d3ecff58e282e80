//! When to check in next: the server's interval after a success, and
//! exponential backoff with full jitter after a failure.
//!
//! Full jitter (a delay drawn uniformly from zero to the current ceiling)
//! spreads a fleet that lost Central Command at the same moment, so the
//! appliances do not all come back in the same second when it returns. The
//! ceiling doubles with each consecutive failure up to the cap and drops
//! back to the base after a success. The policy is pure: it reads no clock
//! and takes its randomness from a [`RandomSource`], so tests can drive it.

use std::time::Duration;

/// The shortest interval between two check-ins, whatever the server says,
/// so a zero `next_checkin_secs` cannot make the appliance spin.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Uniform random numbers for jitter.
pub trait RandomSource: Send {
    /// A uniformly distributed 64-bit value.
    fn next_u64(&mut self) -> u64;
}

/// The operating system's random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn next_u64(&mut self) -> u64 {
        // Jitter only spreads load; if the source fails, the middle of the
        // range is as good a delay as any.
        getrandom::u64().unwrap_or(u64::MAX / 2)
    }
}

/// The shape of the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The ceiling after the first failure.
    pub base: Duration,
    /// The ceiling never exceeds this; nor does an honoured `Retry-After`.
    pub cap: Duration,
}

/// The backoff state of one uplink: how many attempts in a row failed.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
}

impl Backoff {
    /// No failure yet.
    #[must_use]
    pub const fn new(policy: BackoffPolicy) -> Self {
        Self {
            policy,
            failures: 0,
        }
    }

    /// Consecutive failures since the last success.
    #[must_use]
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// The upper bound of the delay after the next failure:
    /// `min(cap, base * 2^failures)`.
    #[must_use]
    pub fn ceiling(&self) -> Duration {
        1u32.checked_shl(self.failures)
            .and_then(|factor| self.policy.base.checked_mul(factor))
            .map_or(self.policy.cap, |ceiling| ceiling.min(self.policy.cap))
    }

    /// After a successful check-in: the failure count starts again, and the
    /// next check-in is when the server asked (at least [`MIN_INTERVAL`]).
    pub fn succeeded(&mut self, next_checkin_secs: u32) -> Duration {
        self.failures = 0;
        Duration::from_secs(u64::from(next_checkin_secs)).max(MIN_INTERVAL)
    }

    /// After a failed attempt: a delay drawn uniformly from
    /// `[0, ceiling]`, but no shorter than the server's `Retry-After`. A
    /// `Retry-After` beyond the cap is cut to the cap, so one answer cannot
    /// silence the appliance for longer than the policy allows. The next
    /// ceiling doubles.
    pub fn failed(
        &mut self,
        retry_after: Option<Duration>,
        random: &mut dyn RandomSource,
    ) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let draw = random.next_u64();
        let jittered =
            Duration::from_millis(ceiling_ms.checked_add(1).map_or(draw, |range| draw % range));
        match retry_after {
            Some(asked) => jittered.max(asked.min(self.policy.cap)),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u64);

    impl RandomSource for Fixed {
        fn next_u64(&mut self) -> u64 {
            self.0
        }
    }

    fn policy() -> BackoffPolicy {
        BackoffPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
        }
    }

    #[test]
    fn the_ceiling_doubles_to_the_cap_and_a_success_resets_it() {
        let mut backoff = Backoff::new(policy());
        let mut top = Fixed(u64::MAX);
        let ceilings: Vec<u64> = (0..10)
            .map(|_| {
                let ceiling = backoff.ceiling().as_secs();
                backoff.failed(None, &mut top);
                ceiling
            })
            .collect();
        assert_eq!(ceilings, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff.succeeded(60), Duration::from_secs(60));
        assert_eq!(backoff.ceiling(), Duration::from_secs(2));
        assert_eq!(backoff.succeeded(0), MIN_INTERVAL);
    }

    #[test]
    fn retry_after_is_a_floor_up_to_the_cap() {
        let mut backoff = Backoff::new(policy());
        let mut zero = Fixed(0);
        assert_eq!(backoff.failed(None, &mut zero), Duration::ZERO);
        assert_eq!(
            backoff.failed(Some(Duration::from_secs(30)), &mut zero),
            Duration::from_secs(30)
        );
        assert_eq!(
            backoff.failed(Some(Duration::from_secs(86_400)), &mut zero),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn thousands_of_failures_do_not_overflow() {
        let mut backoff = Backoff::new(policy());
        let mut top = Fixed(u64::MAX);
        for _ in 0..5000 {
            assert!(backoff.failed(None, &mut top) <= Duration::from_secs(300));
        }
        assert_eq!(backoff.ceiling(), Duration::from_secs(300));
    }
}
