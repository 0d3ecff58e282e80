use std::path::PathBuf;

/// Everything that can go wrong in this crate. Verification findings are
/// not errors: they are [`crate::Failure`]s in a [`crate::Report`]. An
/// `Error` from the verifier means the input could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A private key file is readable by other users.
    #[error(
        "{path}: key file is accessible by other users (mode {mode:o}); \
         run `chmod 600 {path}` and check who could have read it"
    )]
    KeyFileTooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key (file or base64 text) is not a usable Ed25519 key.
    #[error("{what}: {reason}")]
    BadKey {
        /// Where the key came from.
        what: String,
        /// Why it was refused.
        reason: String,
    },
    /// The operating system's random source failed.
    #[error("cannot read the system random source: {0}")]
    Random(String),
    /// A value could not be serialized as canonical JSON.
    #[error("cannot serialize {what} as canonical JSON: {source}")]
    Canonical {
        /// What was being serialized.
        what: &'static str,
        /// The serializer's reason.
        source: serde_json::Error,
    },
    /// A draft bundle is not acceptable evidence.
    #[error("invalid bundle draft: field `{field}`: {reason}")]
    InvalidDraft {
        /// The offending field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// An export could not be written.
    #[error("cannot write export: {0}")]
    Export(String),
    /// The input to the verifier is not an export at all, or is too damaged
    /// to say what it should contain.
    #[error("{location}: {reason}")]
    Unusable {
        /// File (and line, column, field where known).
        location: String,
        /// What is wrong.
        reason: String,
    },
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn unusable(location: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Unusable {
            location: location.into(),
            reason: reason.into(),
        }
    }
}
