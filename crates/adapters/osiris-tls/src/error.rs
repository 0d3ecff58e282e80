use std::path::PathBuf;

/// Everything that can go wrong while loading, creating or serving TLS
/// material. File errors name the file, so an operator knows which one to
/// fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
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
    /// A file does not hold what it should (PEM certificates or a key).
    #[error("{path}: {reason}")]
    BadFile {
        /// The file concerned.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The private key does not belong to the first certificate.
    #[error("{key}: private key does not match the certificate in {cert}")]
    KeyMismatch {
        /// The certificate chain file.
        cert: PathBuf,
        /// The private key file.
        key: PathBuf,
    },
    /// The CA certificate exists but its private key does not, so the
    /// server certificate cannot be issued.
    #[error(
        "{key}: missing, but {cert} exists; restore the CA key, or remove {cert} \
         to make a new CA (appliances that pinned the old one must enrol again)"
    )]
    CaKeyMissing {
        /// The CA certificate file.
        cert: PathBuf,
        /// The missing CA key file.
        key: PathBuf,
    },
    /// A configured server name is neither an IP address nor a DNS name.
    #[error("tls server name `{name}`: {reason}")]
    BadName {
        /// The name as configured.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// Certificate generation failed.
    #[error("cannot issue the {what} certificate: {source}")]
    Issue {
        /// Which certificate (`ca` or `server`).
        what: &'static str,
        /// rcgen's reason.
        source: rcgen::Error,
    },
    /// The time given is outside what a certificate can carry.
    #[error("time {0} cannot be written into a certificate")]
    BadTime(String),
    /// rustls refused the configuration.
    #[error("tls configuration: {0}")]
    Config(#[from] rustls::Error),
    /// rustls refused the client-certificate roots.
    #[error("tls client certificate roots: {0}")]
    ClientRoots(#[from] rustls::server::VerifierBuilderError),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::BadFile {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
