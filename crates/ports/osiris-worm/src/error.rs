//! The one error type of the WORM port.

use chrono::{DateTime, Utc};

use crate::ContentHash;

/// The result of a WORM store call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a WORM store call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key is not a safe relative key.
    #[error("object key {key} is invalid: {reason}")]
    InvalidKey {
        /// The refused key, with control characters escaped.
        key: String,
        /// Which rule it broke.
        reason: String,
    },
    /// No object is stored under the key.
    #[error("object {key} not found")]
    NotFound {
        /// The key that was looked up.
        key: String,
    },
    /// Different bytes are already stored under the key; nothing changed.
    #[error("object {key} already holds other bytes (sha256 {existing})")]
    Conflict {
        /// The key.
        key: String,
        /// The hash of what is stored.
        existing: ContentHash,
    },
    /// Deletion is refused: the retention period has not ended, or the
    /// object is under legal hold.
    #[error("object {key} is retained until {retain_until} (legal hold: {legal_hold})")]
    Retained {
        /// The key.
        key: String,
        /// When the retention period ends.
        retain_until: DateTime<Utc>,
        /// Whether a legal hold is set.
        legal_hold: bool,
    },
    /// A retention change would shorten the retention period; nothing was
    /// sent to the backend.
    #[error("retain_until for {key} cannot move from {current} to the earlier {requested}")]
    ShortenRefused {
        /// The key.
        key: String,
        /// The retention date in force.
        current: DateTime<Utc>,
        /// The earlier date that was asked for.
        requested: DateTime<Utc>,
    },
    /// A stored object or its metadata does not match what was recorded.
    #[error("object {key} is corrupt: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// What does not match.
        reason: String,
    },
    /// The backend failed (I/O, network, unexpected reply).
    #[error("worm backend failed while {context}")]
    Backend {
        /// What the store was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// A `Backend` error with `context` ("writing evidence/…").
    #[must_use]
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A `Corrupt` error for `key`.
    #[must_use]
    pub fn corrupt(key: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}
