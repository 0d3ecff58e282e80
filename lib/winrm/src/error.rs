//! The crate's one error type.

use crate::fault::Fault;

/// Everything that can go wrong talking WS-Management.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint URL is not `http(s)://host[:port]/path`.
    #[error("invalid endpoint url {url:?}: {reason}")]
    InvalidEndpoint {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A configuration that would send credentials or SOAP in clear text.
    #[error("refusing insecure configuration: {0}")]
    Insecure(&'static str),
    /// TCP connect, read or write failed.
    #[error("connection to {endpoint} failed")]
    Connect {
        /// host:port
        endpoint: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// TLS setup or handshake failed, including certificate verification.
    #[error("tls: {0}")]
    Tls(String),
    /// The pinned server certificate fingerprint did not match.
    #[error("server certificate sha-256 {actual} does not match the pinned fingerprint")]
    PinMismatch {
        /// Hex SHA-256 of the certificate the server presented.
        actual: String,
    },
    /// HTTP framing failed or the connection closed.
    #[error("http: {0}")]
    Http(String),
    /// The server answered with an unexpected HTTP status and no SOAP fault.
    #[error("unexpected http status {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The start of the body, for diagnosis (never contains credentials).
        body: String,
    },
    /// The server refused the credentials (HTTP 401 after the last leg).
    #[error(
        "authentication rejected by the server (check user, domain and password; not retried to avoid lockout)"
    )]
    AuthRejected,
    /// The security package failed (bad token, unsupported flags).
    #[error("authentication: {0}")]
    Auth(String),
    /// A sealed message failed its signature, sequence or length check.
    #[error("sealed message refused: {0}")]
    Tampered(String),
    /// The `multipart/encrypted` body is malformed.
    #[error("encrypted body framing: {0}")]
    Framing(String),
    /// The SOAP document is not well-formed XML.
    #[error("malformed xml: {0}")]
    Xml(String),
    /// The SOAP document is XML but not the expected message.
    #[error("unexpected soap reply: {0}")]
    Protocol(String),
    /// The server returned a SOAP fault.
    #[error("{0}")]
    Fault(Fault),
    /// No HTTP response within the deadline.
    #[error("no response within {seconds} s")]
    Timeout {
        /// The deadline that passed, in seconds.
        seconds: u64,
    },
    /// The command ran longer than its deadline and was terminated.
    #[error("command still running after {seconds} s; it was terminated")]
    CommandTimeout {
        /// The deadline that passed, in seconds.
        seconds: u64,
    },
    /// A command printed more than the session's output limit on one stream;
    /// it was terminated.
    #[error("command output exceeded {max} bytes; it was terminated")]
    OutputTooLarge {
        /// The limit.
        max: usize,
    },
    /// A script is larger than this client will stream.
    #[error("script of {len} bytes exceeds the limit of {max} bytes")]
    ScriptTooLarge {
        /// Script length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
