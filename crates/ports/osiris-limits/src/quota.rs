//! How many requests a key may make: `max` per `per`.

use chrono::Duration;

use crate::{Error, Result};

/// A rate: `max` requests per `per`, with bursts of up to `max`.
///
/// Under GCRA this means one request every `per / max` (the emission
/// interval) on average, and up to `max` at once after a quiet `per`. The
/// emission interval is a whole number of microseconds, rounded up, so a
/// quota never admits more than it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    max: u32,
    per: Duration,
    emission_us: i64,
}

impl Quota {
    /// The largest `max`.
    pub const MAX_REQUESTS: u32 = 1_000_000;

    /// `max` requests per `per`.
    ///
    /// # Errors
    /// [`Error::InvalidQuota`] when `max` is 0 or above
    /// [`Quota::MAX_REQUESTS`], or `per` is shorter than a millisecond or
    /// longer than 366 days (the bounds keep every backend's arithmetic
    /// exact).
    pub fn new(max: u32, per: Duration) -> Result<Self> {
        if max == 0 || max > Self::MAX_REQUESTS {
            return Err(Error::InvalidQuota {
                field: "max",
                reason: "must be between 1 and 1000000",
            });
        }
        if per < Duration::milliseconds(1) || per > Duration::days(366) {
            return Err(Error::InvalidQuota {
                field: "per",
                reason: "must be between 1 millisecond and 366 days",
            });
        }
        // Both bounds checked above: `per` fits in microseconds.
        let per_us = per.num_microseconds().unwrap_or(i64::MAX);
        let emission_us =
            per_us.div_euclid(i64::from(max)) + i64::from(per_us.rem_euclid(i64::from(max)) != 0);
        Ok(Self {
            max,
            per,
            emission_us,
        })
    }

    /// The most requests at once.
    #[must_use]
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// The period `max` refers to.
    #[must_use]
    pub const fn per(&self) -> Duration {
        self.per
    }

    /// GCRA's emission interval `T`: `per / max` in microseconds, rounded
    /// up; one request's worth of capacity returns every `T`.
    #[must_use]
    pub const fn emission_interval_us(&self) -> i64 {
        self.emission_us
    }

    /// GCRA's delay tolerance `τ = (max - 1) · T` in microseconds: how far
    /// ahead of `now` the theoretical arrival time may run and still admit.
    #[must_use]
    pub const fn tolerance_us(&self) -> i64 {
        // T ≤ per / max + 1 µs, so τ ≤ per + max µs ≈ 3.2e13: no overflow.
        (self.max as i64 - 1) * self.emission_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_per_five_minutes_emits_every_thirty_seconds() {
        let quota = Quota::new(10, Duration::minutes(5)).unwrap();
        assert_eq!(quota.emission_interval_us(), 30_000_000);
        assert_eq!(quota.tolerance_us(), 270_000_000);
    }

    #[test]
    fn an_uneven_interval_rounds_up_to_the_next_microsecond() {
        let quota = Quota::new(3, Duration::microseconds(1000)).unwrap();
        assert_eq!(quota.emission_interval_us(), 334);
    }

    #[test]
    fn a_quota_out_of_range_is_refused() {
        for (max, per) in [
            (0, Duration::minutes(1)),
            (1_000_001, Duration::minutes(1)),
            (1, Duration::microseconds(999)),
            (1, Duration::days(367)),
            (1, Duration::minutes(-1)),
        ] {
            assert!(
                matches!(Quota::new(max, per), Err(Error::InvalidQuota { .. })),
                "{max} per {per}"
            );
        }
        assert!(Quota::new(1_000_000, Duration::days(366)).is_ok());
    }
}
