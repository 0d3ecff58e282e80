//! The one error type of the channels.

/// The result of a channel operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a ticket was not delivered on a channel, or a channel not built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A channel setting is unusable.
    #[error("{channel}: {reason}")]
    Config {
        /// The channel.
        channel: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No answer within the channel's time limit.
    #[error("{channel}: no answer within {seconds} s")]
    Timeout {
        /// The channel.
        channel: String,
        /// The limit that passed.
        seconds: u64,
    },
    /// The receiver could not be reached.
    #[error("{channel}: the receiver cannot be reached: {reason}")]
    Unreachable {
        /// The channel.
        channel: &'static str,
        /// What failed (never a URL that holds a secret).
        reason: String,
    },
    /// The receiver answered with an error status.
    #[error("{channel}: the receiver answered HTTP {status}: {body}")]
    Status {
        /// The channel.
        channel: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// The SMTP server refused or failed.
    #[error("email: {reason}")]
    Smtp {
        /// What the server or transport said.
        reason: String,
        /// Whether trying again later can succeed (4xx replies, connection loss).
        transient: bool,
    },
}

impl Error {
    /// Whether delivering the same ticket again later can succeed: timeouts,
    /// unreachable receivers, 408, 429, 5xx and transient SMTP replies.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        match self {
            Self::Config { .. } => false,
            Self::Timeout { .. } | Self::Unreachable { .. } => true,
            Self::Status { status, .. } => matches!(*status, 408 | 429 | 500..=599),
            Self::Smtp { transient, .. } => *transient,
        }
    }
}
