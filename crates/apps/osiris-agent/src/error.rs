//! The appliance's errors: each names the part that failed, so the log and
//! `osiris agent` can say what to fix.

/// Why the appliance could not start or carry on.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The durable queue failed.
    #[error("outbound queue: {0}")]
    Queue(#[from] osiris_queue::Error),
    /// The healing engine failed (evidence could not be recorded).
    #[error("healing: {0}")]
    Healing(#[from] osiris_healing::Error),
    /// Talking to Central Command failed.
    #[error("central command: {0}")]
    Uplink(#[from] crate::uplink::UplinkError),
    /// The catalog does not load.
    #[error("catalog: {0}")]
    Catalog(#[from] osiris_catalog::Error),
    /// The rule set does not load.
    #[error(transparent)]
    Rules(#[from] crate::rules::RuleSetError),
    /// The scrubbing key or configuration is unusable.
    #[error("phi scrubber: {0}")]
    Scrub(#[from] osiris_scrub::Error),
    /// The L2 planner could not be set up.
    #[error("l2 planner: {0}")]
    Planner(String),
    /// A value could not be encoded for the wire.
    #[error("encoding: {0}")]
    Encode(String),
    /// A background task ended abnormally.
    #[error("task: {0}")]
    Task(String),
    /// A file of the data directory could not be used.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
}
