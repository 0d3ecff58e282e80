//! When a promoted rule is taken back: its verified failure rate over a
//! window of recent L1 runs rises above a threshold, with enough runs in
//! the window for the rate to mean something.

use chrono::{DateTime, Duration, Utc};

use crate::{Error, Figures, Result};

/// The demotion threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemotionPolicy {
    /// Demote above this failure rate (default 0.20).
    pub max_failure_rate: f64,
    /// Only with at least this many runs in the window (default 5).
    pub min_samples: u64,
    /// How far back runs count (default 7 days).
    pub window: Duration,
}

impl Default for DemotionPolicy {
    fn default() -> Self {
        Self {
            max_failure_rate: 0.20,
            min_samples: 5,
            window: Duration::days(7),
        }
    }
}

impl DemotionPolicy {
    /// A validated policy.
    ///
    /// # Errors
    /// [`Error::Setting`] naming the value out of range.
    pub fn new(max_failure_rate: f64, min_samples: u64, window: Duration) -> Result<Self> {
        if !(0.0..1.0).contains(&max_failure_rate) {
            return Err(Error::Setting {
                field: "demote_failure_rate",
                reason: "must be at least 0 and below 1",
            });
        }
        if min_samples == 0 {
            return Err(Error::Setting {
                field: "demote_min_samples",
                reason: "must be at least 1",
            });
        }
        if window <= Duration::zero() {
            return Err(Error::Setting {
                field: "demote_window_days",
                reason: "must be at least 1",
            });
        }
        Ok(Self {
            max_failure_rate,
            min_samples,
            window,
        })
    }

    /// The start of the window ending at `now`: runs at or after it count.
    #[must_use]
    pub fn since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.window
    }

    /// Why a rule with `figures` in the window is demoted, or `None`.
    #[must_use]
    pub fn evaluate(&self, figures: &Figures) -> Option<String> {
        if figures.samples < self.min_samples {
            return None;
        }
        let rate = figures.failure_rate();
        (rate > self.max_failure_rate).then(|| {
            format!(
                "{} of {} runs in {} h failed verification ({:.0}%, above {:.0}%)",
                figures.samples - figures.successes,
                figures.samples,
                self.window.num_hours(),
                rate * 100.0,
                self.max_failure_rate * 100.0
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_rule_above_the_failure_rate_is_demoted_with_the_figures() {
        let policy = DemotionPolicy::default();
        assert!(
            policy.evaluate(&Figures::new(5, 4)).is_none(),
            "20% is not above 20%"
        );
        let reason = policy.evaluate(&Figures::new(5, 3)).unwrap();
        assert!(reason.contains("2 of 5 runs in 168 h"), "{reason}");
        assert!(
            policy.evaluate(&Figures::new(4, 0)).is_none(),
            "too few runs to judge"
        );
        assert_eq!(
            policy.since("2026-11-24T12:00:00Z".parse().unwrap()),
            "2026-11-17T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn policies_out_of_range_are_refused_naming_the_setting() {
        let day = Duration::days(1);
        assert!(
            DemotionPolicy::new(1.0, 5, day)
                .unwrap_err()
                .to_string()
                .contains("demote_failure_rate")
        );
        assert!(
            DemotionPolicy::new(0.2, 0, day)
                .unwrap_err()
                .to_string()
                .contains("demote_min_samples")
        );
        assert!(
            DemotionPolicy::new(0.2, 5, Duration::zero())
                .unwrap_err()
                .to_string()
                .contains("demote_window_days")
        );
    }

    proptest! {
        #[test]
        fn more_failures_never_save_a_rule(samples in 1_u64..1000, seed in any::<u64>()) {
            let policy = DemotionPolicy::default();
            let successes = seed % (samples + 1);
            if policy.evaluate(&Figures::new(samples, successes)).is_some() && successes > 0 {
                prop_assert!(policy.evaluate(&Figures::new(samples, successes - 1)).is_some());
            }
        }
    }
}
