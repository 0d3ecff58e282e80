//! The one error type of the planner: a configuration it cannot work with.
//! A refused plan is not an error but an outcome ([`crate::PlanRefusal`]).

/// The result of a planner call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a planner could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The confidence threshold is not a number in `0.0..=1.0`.
    #[error("min_confidence {value} is not between 0 and 1")]
    Confidence {
        /// The configured value.
        value: f64,
    },
    /// The hourly call budget is not a usable quota.
    #[error("calls_per_hour {value} is not a usable budget; use 1 to 1000000 calls")]
    Budget {
        /// The configured value.
        value: u32,
        /// What the limiter said.
        #[source]
        source: osiris_limits::Error,
    },
}
