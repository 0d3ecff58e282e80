//! The generic cell rate algorithm in integer microseconds, shared by every
//! backend so that all of them answer identically.
//!
//! The state of a key is one number, its theoretical arrival time (TAT). A
//! request at `now` looks at `tat = max(TAT, now)`: if `tat - now` exceeds
//! the delay tolerance `τ` it is limited for `tat - now - τ`; otherwise it
//! is allowed and `TAT` becomes `tat + T`. A backend that cannot run Rust
//! next to its data (Redis runs a Lua script) implements only that state
//! step and turns its result into a [`Decision`] with [`allowed`] and
//! [`limited`].
//!
//! Every value stays below 2^53, so Lua's doubles compute it exactly too:
//! `now` is at most [`MAX_NOW_US`] and `T + τ` at most 366 days.

use chrono::{DateTime, Duration, Utc};

use crate::{Error, Quota, Result};

/// The latest `now` accepted, in microseconds since the Unix epoch (the
/// year 2223): with a stored TAT up to 2 · 366 days further it still stays
/// below 2^53.
pub const MAX_NOW_US: i64 = 8_000_000_000_000_000;

/// The answer for one request.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Serve it; `remaining` more requests would be allowed right now.
    Allowed {
        /// Requests left at this instant (0 when this one used the last).
        remaining: u32,
    },
    /// Refuse it; the next request is allowed after `retry_after`.
    Limited {
        /// How long until the next allowed request, always positive.
        retry_after: Duration,
    },
}

impl Decision {
    /// Whether the request is allowed.
    #[must_use]
    pub const fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// Whole seconds to wait, rounded up, for an HTTP `Retry-After`
    /// header; `None` when allowed.
    #[must_use]
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Allowed { .. } => None,
            Self::Limited { retry_after } => {
                let us = retry_after.num_microseconds().unwrap_or(i64::MAX);
                Some(
                    u64::try_from(
                        us.div_euclid(1_000_000) + i64::from(us.rem_euclid(1_000_000) != 0),
                    )
                    .unwrap_or(0),
                )
            }
        }
    }
}

/// `now` in microseconds since the epoch.
///
/// # Errors
/// [`Error::TimeOutOfRange`] before 1970 or after [`MAX_NOW_US`].
pub fn micros(now: DateTime<Utc>) -> Result<i64> {
    let us = now.timestamp_micros();
    if (0..=MAX_NOW_US).contains(&us) {
        Ok(us)
    } else {
        Err(Error::TimeOutOfRange {
            now: now.to_rfc3339(),
        })
    }
}

/// One GCRA step: the decision for a request at `now_us` given the key's
/// stored TAT (`None` for a key never seen or expired), and the TAT to
/// store when the request is allowed (`None`: leave the state alone).
pub fn step(stored_tat: Option<i64>, now_us: i64, quota: &Quota) -> (Decision, Option<i64>) {
    let tat = stored_tat.map_or(now_us, |stored| stored.max(now_us));
    let wait = tat - now_us - quota.tolerance_us();
    if wait > 0 {
        return (limited(wait), None);
    }
    let new_tat = tat + quota.emission_interval_us();
    (allowed(new_tat - now_us, quota), Some(new_tat))
}

/// The decision for an allowed request whose new TAT lies `ahead_us` after
/// `now` (between `T` and `τ + T`).
pub fn allowed(ahead_us: i64, quota: &Quota) -> Decision {
    let room = quota.tolerance_us() + quota.emission_interval_us() - ahead_us;
    let remaining = room
        .div_euclid(quota.emission_interval_us())
        .clamp(0, i64::from(quota.max()));
    Decision::Allowed {
        remaining: u32::try_from(remaining).unwrap_or(0),
    }
}

/// The decision for a limited request that may retry in `wait_us` (> 0).
pub fn limited(wait_us: i64) -> Decision {
    Decision::Limited {
        retry_after: Duration::microseconds(wait_us.max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota() -> Quota {
        Quota::new(10, Duration::minutes(5)).unwrap()
    }

    #[test]
    fn a_fresh_key_has_max_minus_one_left_after_its_first_request() {
        let (decision, tat) = step(None, 1_000, &quota());
        assert_eq!(decision, Decision::Allowed { remaining: 9 });
        assert_eq!(tat, Some(1_000 + 30_000_000));
    }

    #[test]
    fn a_request_over_the_tolerance_is_limited_and_leaves_the_state() {
        let (decision, tat) = step(Some(300_000_000), 0, &quota());
        assert_eq!(
            decision,
            Decision::Limited {
                retry_after: Duration::seconds(30)
            }
        );
        assert_eq!(tat, None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(limited(1).retry_after_secs(), Some(1));
        assert_eq!(limited(30_000_000).retry_after_secs(), Some(30));
        assert_eq!(limited(30_000_001).retry_after_secs(), Some(31));
        assert_eq!(Decision::Allowed { remaining: 0 }.retry_after_secs(), None);
    }

    #[test]
    fn time_outside_the_exact_range_is_refused() {
        assert!(micros(DateTime::<Utc>::UNIX_EPOCH).is_ok());
        assert!(micros(DateTime::<Utc>::UNIX_EPOCH - Duration::microseconds(1)).is_err());
        let last = DateTime::<Utc>::from_timestamp_micros(MAX_NOW_US).unwrap();
        assert!(micros(last).is_ok());
        assert!(micros(last + Duration::microseconds(1)).is_err());
    }
}
