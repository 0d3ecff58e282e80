//! Pattern figures and the promotion threshold: a conservative estimate
//! of the success rate (the lower bound of the 95% Wilson score
//! interval), never the raw ratio, so a handful of lucky runs does not
//! make a rule.

use crate::{Error, Result};

/// The normal quantile of a two-sided 95% interval.
const Z_95: f64 = 1.959_963_984_540_054;

/// Samples and verified successes of one pattern (or of one promoted rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    /// Runs that executed (verified, rolled back or failed).
    pub samples: u64,
    /// Runs that were verified.
    pub successes: u64,
}

impl Figures {
    /// Figures of `samples` runs of which `successes` were verified
    /// (capped at `samples`).
    #[must_use]
    pub fn new(samples: u64, successes: u64) -> Self {
        Self {
            samples,
            successes: successes.min(samples),
        }
    }

    /// The raw success ratio, 0 with no samples.
    #[must_use]
    pub fn success_rate(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            ratio(self.successes, self.samples)
        }
    }

    /// The raw failure ratio, 0 with no samples.
    #[must_use]
    pub fn failure_rate(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            1.0 - self.success_rate()
        }
    }

    /// The 95% Wilson lower bound of the success rate.
    #[must_use]
    pub fn lower_bound(&self) -> f64 {
        wilson_lower_bound(self.successes, self.samples)
    }
}

/// The lower bound of the 95% Wilson score interval for `successes` out
/// of `samples` (0 with no samples). Always within `[0, p̂]`.
#[must_use]
pub fn wilson_lower_bound(successes: u64, samples: u64) -> f64 {
    if samples == 0 {
        return 0.0;
    }
    let n = ratio(samples, 1);
    let p = ratio(successes.min(samples), samples);
    let z2 = Z_95 * Z_95;
    let centre = p + z2 / (2.0 * n);
    let spread = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).clamp(0.0, p)
}

/// `a / b` in floating point. Counts stay far below 2^53, where the
/// conversion is exact.
#[expect(
    clippy::cast_precision_loss,
    reason = "sample counts are far below 2^53, where u64 to f64 is exact"
)]
fn ratio(a: u64, b: u64) -> f64 {
    a as f64 / b as f64
}

/// When a pattern becomes a promotion candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// At least this many executed runs (default 5).
    pub min_samples: u64,
    /// A Wilson lower bound of at least this (default 0.90).
    pub min_lower_bound: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_samples: 5,
            min_lower_bound: 0.90,
        }
    }
}

impl Thresholds {
    /// Validated thresholds.
    ///
    /// # Errors
    /// [`Error::Setting`] when `min_samples` is below 2 or the bound is
    /// not within (0, 1].
    pub fn new(min_samples: u64, min_lower_bound: f64) -> Result<Self> {
        if min_samples < 2 {
            return Err(Error::Setting {
                field: "min_samples",
                reason: "must be at least 2",
            });
        }
        if !(min_lower_bound > 0.0 && min_lower_bound <= 1.0) {
            return Err(Error::Setting {
                field: "min_lower_bound",
                reason: "must be greater than 0 and at most 1",
            });
        }
        Ok(Self {
            min_samples,
            min_lower_bound,
        })
    }

    /// Whether `figures` make a promotion candidate.
    #[must_use]
    pub fn eligible(&self, figures: &Figures) -> bool {
        self.why_not(figures).is_none()
    }

    /// Why `figures` do not make a candidate, or `None` when they do.
    #[must_use]
    pub fn why_not(&self, figures: &Figures) -> Option<String> {
        if figures.samples < self.min_samples {
            return Some(format!(
                "{} samples, at least {} needed",
                figures.samples, self.min_samples
            ));
        }
        let bound = figures.lower_bound();
        (bound < self.min_lower_bound).then(|| {
            format!(
                "success rate lower bound {bound:.3} is below {:.3}",
                self.min_lower_bound
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_values_of_the_wilson_bound() {
        // 5/5 is only 0.566 at 95%: a perfect short run is weak evidence.
        assert!((wilson_lower_bound(5, 5) - 0.5655).abs() < 1e-3);
        assert!((wilson_lower_bound(35, 35) - 0.9011).abs() < 1e-3);
        assert!((wilson_lower_bound(95, 100) - 0.8882).abs() < 1e-3);
        assert!(wilson_lower_bound(0, 10).abs() < f64::EPSILON);
        assert!(wilson_lower_bound(0, 0).abs() < f64::EPSILON);
    }

    #[test]
    fn the_defaults_need_thirty_five_verified_runs_in_a_row() {
        let defaults = Thresholds::default();
        assert!(!defaults.eligible(&Figures::new(34, 34)));
        assert!(defaults.eligible(&Figures::new(35, 35)));
        assert!(!defaults.eligible(&Figures::new(4, 4)));
        assert!(
            defaults
                .why_not(&Figures::new(4, 4))
                .unwrap()
                .contains("at least 5")
        );
    }

    #[test]
    fn thresholds_out_of_range_are_refused_naming_the_setting() {
        assert!(
            Thresholds::new(1, 0.9)
                .unwrap_err()
                .to_string()
                .contains("min_samples")
        );
        for bound in [0.0, -0.1, 1.5, f64::NAN] {
            let error = Thresholds::new(5, bound).unwrap_err().to_string();
            assert!(error.contains("min_lower_bound"), "{error}");
        }
    }

    proptest! {
        #[test]
        fn the_bound_rises_with_successes(samples in 1_u64..10_000, seed in any::<u64>()) {
            let successes = seed % samples;
            prop_assert!(
                wilson_lower_bound(successes, samples) <= wilson_lower_bound(successes + 1, samples)
            );
        }

        #[test]
        fn the_bound_is_conservative(samples in 0_u64..100_000, seed in any::<u64>()) {
            let successes = if samples == 0 { 0 } else { seed % (samples + 1) };
            let figures = Figures::new(samples, successes);
            let bound = figures.lower_bound();
            prop_assert!((0.0..=1.0).contains(&bound));
            prop_assert!(bound <= figures.success_rate());
        }

        #[test]
        fn a_perfect_record_grows_more_convincing(samples in 1_u64..10_000) {
            prop_assert!(wilson_lower_bound(samples, samples) < wilson_lower_bound(samples + 1, samples + 1));
        }

        #[test]
        fn two_of_two_is_never_a_candidate(min_samples in 2_u64..50, bound in 0.9_f64..=1.0) {
            let thresholds = Thresholds::new(min_samples, bound).unwrap();
            prop_assert!(!thresholds.eligible(&Figures::new(2, 2)));
            prop_assert!(!Thresholds::default().eligible(&Figures::new(2, 2)));
        }
    }
}
