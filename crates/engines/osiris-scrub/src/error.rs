//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong around scrubbing. Scrubbing itself cannot
/// fail: only configuration, keys and the CLI's I/O can.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A site pattern in the configuration does not compile.
    #[error("scrub config field `{field}`: pattern {index} does not compile")]
    Pattern {
        /// The configuration field holding the pattern.
        field: &'static str,
        /// Position of the pattern in that list (0-based).
        index: usize,
        /// The compiler's complaint.
        #[source]
        source: regex::Error,
    },
    /// A built-in pattern failed to compile (a bug in this crate).
    #[error("built-in scrub pattern for {family} does not compile")]
    BuiltIn {
        /// The family the pattern belongs to.
        family: crate::Family,
        /// The compiler's complaint.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The key text is not 64 hex digits.
    #[error("scrub key is malformed: {0}")]
    KeyFormat(String),
    /// The key file may be read by other users.
    #[error(
        "scrub key file {path} is readable by group or others (mode {mode:03o}); run `chmod 600 {path}`"
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or writing the key file failed.
    #[error("scrub key file {path}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The operating system gave no randomness for a new key.
    #[error("cannot generate a scrub key: {0}")]
    Random(String),
    /// Reading the input or writing the output of a stream failed.
    #[error("scrub stream {what}")]
    Io {
        /// `read` or `write`.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The JSON input does not parse.
    #[error("scrub --json input is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// The JSON input is larger than the limit.
    #[error("scrub --json input exceeds {limit} bytes; scrub it as text or split it")]
    JsonTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
