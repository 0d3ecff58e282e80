//! The Transport port over SSH, for Debian and RHEL targets.
//!
//! Main types: [`SshTransport`] (one authenticated connection reused for a
//! whole sweep; each script runs on its own channel), [`SshConfig`],
//! [`SshTarget`] (`USER@HOST[:PORT]`), [`KnownHosts`] (host keys pinned on
//! first contact, refused when they change) and [`Privilege`] (run as the
//! login user or through a non-interactive `sudo` rule). [`cli`] holds the
//! entry points of `osiris target test` and `osiris target exec`.
//!
//! Built on `russh` with the `ring` crypto provider. This crate depends only
//! on `osiris-core` and the `osiris-transport` port; it knows nothing of the
//! catalog or of healing.

#![warn(missing_docs)]

pub mod cli;
mod known_hosts;
mod session;
mod target;

use std::path::PathBuf;

pub use known_hosts::{KnownHosts, Pinning};
pub use session::{HostKey, Privilege, SshConfig, SshTransport};
pub use target::SshTarget;

/// Why an SSH session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target refused, timed out, changed identity or broke the protocol.
    #[error(transparent)]
    Transport(#[from] osiris_transport::Error),
    /// A target was not written `USER@HOST[:PORT]`.
    #[error("{spec:?} is not USER@HOST[:PORT]: {reason}")]
    TargetSpec {
        /// What was given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The private key could not be decoded (wrong passphrase, unknown format).
    #[error("cannot use the private key for {target}: {reason}")]
    Key {
        /// The target it was meant for.
        target: String,
        /// Why the key was refused; never the key itself.
        reason: String,
    },
    /// The credentials are of a kind SSH cannot use.
    #[error("{target}: ssh needs a private key or a password")]
    NoCredentials {
        /// The target.
        target: String,
    },
    /// A line of the known-hosts file could not be parsed.
    #[error("{}:{line}: {reason}; fix or delete that line", path.display())]
    KnownHostsLine {
        /// The known-hosts file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The known-hosts file could not be read or written.
    #[error("cannot {action} the known-hosts file {}: {source}", path.display())]
    KnownHostsIo {
        /// Read, create or append to.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
