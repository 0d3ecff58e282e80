//! Shadow mode: a promoted rule first only says what it would do while L2
//! still acts; it is trusted to act once enough of those decisions agreed
//! with L2 and none disagreed.

use crate::{Error, Result};

/// The most agreeing comparisons a setting may ask for.
pub const MAX_SHADOW_SAMPLES: u64 = 1000;

/// How many agreeing comparisons with L2 a new promotion needs before it
/// acts; 0 is no shadow mode (a promotion acts at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShadowPolicy {
    samples: u64,
}

/// Where a rule in shadow mode stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShadowVerdict {
    /// Fewer agreements than required, none against: keep comparing.
    Pending {
        /// Agreements still needed.
        remaining: u64,
    },
    /// Enough agreements and no disagreement: the rule may act.
    Activate,
    /// A disagreement: the rule stays in shadow until a person decides.
    Held {
        /// How many comparisons disagreed.
        disagreements: u64,
    },
}

impl ShadowPolicy {
    /// A validated policy.
    ///
    /// # Errors
    /// [`Error::Setting`] (`shadow_samples`) above [`MAX_SHADOW_SAMPLES`].
    pub fn new(samples: u64) -> Result<Self> {
        if samples > MAX_SHADOW_SAMPLES {
            return Err(Error::Setting {
                field: "shadow_samples",
                reason: "must be at most 1000 (0 turns shadow mode off)",
            });
        }
        Ok(Self { samples })
    }

    /// Agreements a new promotion needs (0: none, it acts at once).
    #[must_use]
    pub const fn samples(&self) -> u64 {
        self.samples
    }

    /// Whether new promotions start in shadow mode.
    #[must_use]
    pub const fn enabled(&self) -> bool {
        self.samples > 0
    }
}

/// Where a rule that needs `required` agreements stands after
/// `agreements` and `disagreements`.
#[must_use]
pub const fn shadow_verdict(required: u64, agreements: u64, disagreements: u64) -> ShadowVerdict {
    if disagreements > 0 {
        ShadowVerdict::Held { disagreements }
    } else if agreements >= required {
        ShadowVerdict::Activate
    } else {
        ShadowVerdict::Pending {
            remaining: required - agreements,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_rule_acts_after_enough_agreements_and_never_after_a_disagreement() {
        assert_eq!(
            shadow_verdict(3, 2, 0),
            ShadowVerdict::Pending { remaining: 1 }
        );
        assert_eq!(shadow_verdict(3, 3, 0), ShadowVerdict::Activate);
        assert_eq!(
            shadow_verdict(3, 10, 1),
            ShadowVerdict::Held { disagreements: 1 }
        );
        assert!(!ShadowPolicy::default().enabled());
        assert_eq!(ShadowPolicy::new(5).unwrap().samples(), 5);
        let error = ShadowPolicy::new(1001).unwrap_err().to_string();
        assert!(error.contains("shadow_samples"), "{error}");
    }

    proptest! {
        #[test]
        fn one_disagreement_always_holds_the_rule(required in 0_u64..100, agreements in 0_u64..1000, disagreements in 1_u64..10) {
            let held = matches!(
                shadow_verdict(required, agreements, disagreements),
                ShadowVerdict::Held { .. }
            );
            prop_assert!(held);
        }
    }
}
