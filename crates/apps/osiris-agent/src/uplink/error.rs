//! [`UplinkError`]: everything that can go wrong between the appliance and
//! Central Command, and [`ErrorClass`], what the run loop should do about
//! it.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;

/// What the caller should do after a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The server could not be reached or could not answer now (transport,
    /// TLS, timeout, 5xx, 429): send the same body again after a backoff.
    Transient,
    /// The server refused the request signature (401): the clock is off,
    /// the key does not match, or the appliance was removed. Retrying with
    /// the same clock and key will not help; say so loudly, keep the queue
    /// and keep trying at the backoff's pace.
    Unauthorized,
    /// The server refused this request (another 4xx, or an answer the
    /// appliance cannot read): a bug on one side. Report it; sending the
    /// same body again will be refused again.
    Rejected,
    /// A local problem (files, keys, configuration): nothing was sent.
    Local,
}

/// Why an uplink operation failed. Messages name the URL, the file or the
/// server's error code; they never contain keys or claim codes.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// The server URL cannot be used.
    #[error("server url {url:?}: {reason}")]
    BadUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The trust settings cannot be used (unreadable CA file, no
    /// certificate in it, malformed fingerprint).
    #[error("server trust: {reason}")]
    BadTrust {
        /// What is wrong.
        reason: String,
    },
    /// The TLS handshake failed: the server's certificate is not signed by
    /// the pinned CA, the fingerprint does not match, the name differs, or
    /// the certificate expired.
    #[error("tls handshake with {url} failed: {reason}")]
    Tls {
        /// The URL requested.
        url: String,
        /// rustls's reason.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("{url}: no answer within {timeout:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The configured limit.
        timeout: Duration,
    },
    /// The connection failed or broke (refused, reset, DNS).
    #[error("{url}: cannot reach the server")]
    Transport {
        /// The URL requested.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered 5xx or 429: try again later.
    #[error("{url}: server unavailable ({status} {code}: {message})")]
    Unavailable {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: StatusCode,
        /// The server's error code (`rate_limited`, `internal`, ...), or
        /// `-` when the body was not the server's error shape.
        code: String,
        /// The server's message.
        message: String,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The server refused the request's signature (401).
    #[error("{url}: request signature refused (401 {code}: {message}){}", skew_note(*server_date))]
    Unauthorized {
        /// The URL requested.
        url: String,
        /// `date_stale`, `date_invalid`, `signature_missing`,
        /// `signature_invalid` or `appliance_unknown`.
        code: String,
        /// The server's message.
        message: String,
        /// The server's HTTP `Date` header, when sent: with `date_stale`
        /// it says which way the appliance's clock is off.
        server_date: Option<DateTime<Utc>>,
    },
    /// The server refused the request (a 4xx other than 401 and 429).
    #[error("{url}: refused ({status} {code}: {message}{})", field.as_deref().map(|f| format!(", field {f}")).unwrap_or_default())]
    Refused {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: StatusCode,
        /// The server's error code (`not_found`, `invalid`, ...), or `-`.
        code: String,
        /// The server's message.
        message: String,
        /// The offending field, when the server named one.
        field: Option<String>,
    },
    /// The server's answer is not what the contract says.
    #[error("{url}: unreadable answer ({status}): {reason}")]
    BadResponse {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: StatusCode,
        /// What is wrong with it.
        reason: String,
    },
    /// An identity is stored already and enrolment was not forced.
    #[error(
        "{}: this appliance is enrolled already (appliance {appliance_id}); \
         enrol again with --force to replace its identity", path.display()
    )]
    AlreadyEnrolled {
        /// The identity file.
        path: PathBuf,
        /// The enrolled appliance.
        appliance_id: String,
    },
    /// No identity is stored: the appliance must enrol first.
    #[error("{}: not enrolled; run `osiris agent enrol` with a claim code first", path.display())]
    NotEnrolled {
        /// The identity file looked for.
        path: PathBuf,
    },
    /// The stored identity cannot be read or does not match the key.
    #[error("{}: {reason}", path.display())]
    BadIdentity {
        /// The identity file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Claim by MAC address was asked for, with no MAC address to claim
    /// with.
    #[error("no network interface has a unicast MAC address to claim with; use a claim code")]
    NoMacAddress,
    /// A file or directory could not be read or written.
    #[error("{what} {}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A request body could not be encoded.
    #[error("cannot encode the {what}: {reason}")]
    Encode {
        /// Which request.
        what: &'static str,
        /// The encoder's reason.
        reason: String,
    },
    /// The appliance key could not be made, loaded or saved.
    #[error("appliance key")]
    Key(#[from] osiris_evidence::Error),
}

fn skew_note(server_date: Option<DateTime<Utc>>) -> String {
    server_date
        .map(|date| {
            format!(
                "; the server's clock reads {}",
                date.format("%Y-%m-%dT%H:%M:%SZ")
            )
        })
        .unwrap_or_default()
}

impl UplinkError {
    /// What the caller should do about it.
    #[must_use]
    pub const fn class(&self) -> ErrorClass {
        match self {
            Self::Tls { .. }
            | Self::Timeout { .. }
            | Self::Transport { .. }
            | Self::Unavailable { .. } => ErrorClass::Transient,
            Self::Unauthorized { .. } => ErrorClass::Unauthorized,
            Self::Refused { .. } | Self::BadResponse { .. } => ErrorClass::Rejected,
            Self::BadUrl { .. }
            | Self::BadTrust { .. }
            | Self::AlreadyEnrolled { .. }
            | Self::NotEnrolled { .. }
            | Self::BadIdentity { .. }
            | Self::NoMacAddress
            | Self::Io { .. }
            | Self::Encode { .. }
            | Self::Key(_) => ErrorClass::Local,
        }
    }

    /// How long the server asked the appliance to wait, if it did.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The server's error code for a 401 or another refusal (`date_stale`,
    /// `not_found`, ...).
    #[must_use]
    pub fn server_code(&self) -> Option<&str> {
        match self {
            Self::Unauthorized { code, .. }
            | Self::Refused { code, .. }
            | Self::Unavailable { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the server refused the request's date: the appliance clock
    /// is more than five minutes off (or the date was unreadable).
    #[must_use]
    pub fn is_clock_problem(&self) -> bool {
        matches!(self, Self::Unauthorized { code, .. } if code == "date_stale" || code == "date_invalid")
    }

    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { what, path, source }
    }
}
