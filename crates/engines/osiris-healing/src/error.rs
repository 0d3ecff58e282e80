//! The one error type of the healing engine.
//!
//! A refusal by a guardrail is not an error: it is an outcome, recorded as
//! evidence. Errors are what stops the engine from recording at all (the
//! queue refused a bundle, a draft has no canonical form) or a caller's
//! mistake (a check the catalog does not have, an invalid window).

use osiris_core::RunbookId;

use crate::ports::BoxError;

/// The result of an engine call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the engine could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The recorder (the durable queue) refused a bundle: nothing that would
    /// need evidence may run until it accepts again.
    #[error("recording the {kind} bundle failed")]
    Record {
        /// The bundle's kind (`check`, `remediation`, …).
        kind: &'static str,
        /// What the recorder said.
        #[source]
        source: BoxError,
    },
    /// A check id is not in the engine's catalog.
    #[error(
        "check {check_id} is not in the catalog; run checks of the catalog the healer was built with"
    )]
    UnknownCheck {
        /// The id asked for.
        check_id: String,
    },
    /// A maintenance window opens and closes at the same minute, which
    /// could mean "never" or "always": the site must say which.
    #[error(
        "maintenance window opens and closes at {at}: give different start and end times (end before start means overnight)"
    )]
    EmptyWindow {
        /// The time given for both.
        at: chrono::NaiveTime,
    },
    /// A rate-limit quota or bucket name is invalid.
    #[error("action rate limit is invalid")]
    Limit(#[source] osiris_limits::Error),
    /// A runbook's parameter schema does not compile (the catalog validates
    /// them, so only an overridden catalog can get here).
    #[error("parameter schema of runbook {runbook_id} does not compile: {reason}")]
    Schema {
        /// The runbook.
        runbook_id: RunbookId,
        /// The compiler's message.
        reason: String,
    },
}
