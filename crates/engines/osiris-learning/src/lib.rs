//! The learning loop's domain logic: how proven L2 fixes become L1 rules
//! and how failing promoted rules are taken back.
//!
//! - [`observe`] reads one accepted remediation bundle into an
//!   [`Observation`]: the [`Pattern`] it belongs to (check, platform, the
//!   failed criteria as the bundle names them, runbook and canonical
//!   parameters) and whether the run was verified.
//! - [`Figures`] and [`Thresholds`]: samples and successes of a pattern,
//!   the 95% Wilson lower bound of its success rate, and whether it is a
//!   promotion candidate (by default at least 5 samples and a lower bound
//!   of at least 0.90, so a raw 2/2 never qualifies).
//! - [`generate`] writes the L1 rule for a pattern in the catalog's
//!   rule-file schema and validates it against the catalog (check and
//!   runbook exist and suit the platform, parameters valid against the
//!   runbook's schema, the rule compiles), refusing with the reason.
//! - [`DemotionPolicy`] decides when a promoted rule's verified failure
//!   rate over a window is too high.
//! - Shadow mode: [`Observation::comparison`] holds what a learned rule in
//!   shadow would have run against what L2 ran (same runbook and
//!   parameters, and L2's run verified); [`ShadowPolicy`] and
//!   [`shadow_verdict`] say when it has agreed enough to act.
//!
//! Pure: no I/O and no clock (every instant is an argument). Storage lives
//! in `osiris-store` and the server; this crate must not depend on them.

mod demotion;
mod pattern;
mod rule;
mod shadow;
mod stats;

pub use demotion::DemotionPolicy;
pub use pattern::{Comparison, Observation, Pattern, ShadowDecision, Tier, observe};
pub use rule::{PROMOTED_RULES_PATH, RULE_ID_PREFIX, generate, rule_file};
pub use shadow::{MAX_SHADOW_SAMPLES, ShadowPolicy, ShadowVerdict, shadow_verdict};
pub use stats::{Figures, Thresholds, wilson_lower_bound};

/// Why a pattern, a threshold or a generated rule was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A stored pattern key does not read back.
    #[error("pattern key: {0}")]
    PatternKey(String),
    /// The pattern's check is not in the catalog.
    #[error("check {check_id} is not in the catalog")]
    UnknownCheck {
        /// The check.
        check_id: String,
    },
    /// The pattern's check is for another platform.
    #[error("check {check_id} is for {check_platform}, not {platform}")]
    CheckPlatform {
        /// The check.
        check_id: String,
        /// Its platform in the catalog.
        check_platform: String,
        /// The pattern's platform.
        platform: String,
    },
    /// The pattern's runbook is not in the catalog.
    #[error("runbook {runbook_id} is not in the catalog")]
    UnknownRunbook {
        /// The runbook.
        runbook_id: String,
    },
    /// The runbook does not run on the pattern's platform.
    #[error("runbook {runbook_id} does not suit platform {platform}")]
    RunbookPlatform {
        /// The runbook.
        runbook_id: String,
        /// The pattern's platform.
        platform: String,
    },
    /// A parameter name is one a rule uses for itself.
    #[error("parameter {name:?} is reserved for the rule itself")]
    ReservedParam {
        /// The parameter.
        name: String,
    },
    /// The parameters fail the runbook's schema.
    #[error("parameters for runbook {runbook_id} are invalid: {reason}")]
    InvalidParams {
        /// The runbook.
        runbook_id: String,
        /// What the schema said.
        reason: String,
    },
    /// The generated rule does not load as a rule file or does not compile.
    #[error("generated rule {rule_id} does not load: {reason}")]
    InvalidRule {
        /// The rule.
        rule_id: String,
        /// The loader's problems.
        reason: String,
    },
    /// A threshold or policy value is out of range.
    #[error("{field}: {reason}")]
    Setting {
        /// The setting.
        field: &'static str,
        /// Its allowed range.
        reason: &'static str,
    },
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;
