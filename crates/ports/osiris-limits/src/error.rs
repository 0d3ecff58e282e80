//! The one error type of the rate-limiting port.

/// The result of a limiter call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a limiter call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bucket name is empty, too long or has a character outside
    /// `a-z 0-9 - _ .`.
    #[error("bucket name {name:?} is invalid: {reason}")]
    InvalidBucket {
        /// The refused name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key's subject is empty or longer than [`crate::LimitKey::MAX_SUBJECT_LEN`] bytes.
    #[error("limit key subject is invalid: {reason}")]
    InvalidSubject {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A quota's `max` or `per` is out of range.
    #[error("quota {field} is invalid: {reason}")]
    InvalidQuota {
        /// `max` or `per`.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `now` is before 1970 or so far ahead that microseconds since the
    /// epoch no longer fit the exact range every backend shares.
    #[error("now {now} is outside the supported range 1970 to 2223")]
    TimeOutOfRange {
        /// The refused instant (RFC 3339).
        now: String,
    },
    /// The backend (Redis) failed or answered something unexpected.
    #[error("rate limiter backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}
