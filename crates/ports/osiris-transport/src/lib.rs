//! The Transport port: how the appliance runs a read-only detect script or
//! a whitelisted runbook step on a target, whatever the wire (WinRM, SSH,
//! or the appliance itself).
//!
//! Main types: [`Transport`] (one open session to one target, reused for a
//! whole sweep), [`Script`], [`Output`], [`Credentials`] and [`Error`].
//! [`LocalTransport`] is the embedded implementation for the appliance's own
//! checks; WinRM and SSH live in their adapter crates.
//!
//! This crate depends only on `osiris-core`; it knows nothing of the catalog
//! (which decides *what* runs) or of healing (which decides *whether*).

#![warn(missing_docs)]

mod local;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use osiris_core::Secret;

pub use local::LocalTransport;

/// A boxed future, so sessions of different transports share one type.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The most a script may print on one stream before it is refused: check
/// output is a small JSON document, and a runaway command must not exhaust
/// the appliance's memory.
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// The interpreter a script is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shell {
    /// Windows PowerShell 5.1.
    PowerShell,
    /// POSIX `sh`.
    Sh,
}

impl fmt::Display for Shell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PowerShell => "powershell",
            Self::Sh => "sh",
        })
    }
}

/// One script to run.
#[derive(Debug, Clone)]
pub struct Script {
    /// Its interpreter.
    pub shell: Shell,
    /// The script text.
    pub body: String,
    /// Bytes for its standard input (a rollback's captured prior state).
    pub input: Option<Vec<u8>>,
    /// How long it may run before it is stopped.
    pub timeout: Duration,
}

/// What a script printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit code (PowerShell's `$LASTEXITCODE`, the shell's status).
    pub exit_code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error (decoded from CLIXML on Windows).
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether the script exited 0.
    #[must_use]
    pub const fn succeeded(&self) -> bool {
        self.exit_code == 0
    }
}

/// How to authenticate to a target. Secrets never print.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A user name and password (NTLM, Basic over TLS, SSH password).
    Password {
        /// `DOMAIN\user` for Windows, `user` for SSH.
        user: String,
        /// The password.
        password: Secret<String>,
    },
    /// An SSH private key (OpenSSH format), optionally encrypted.
    PrivateKey {
        /// The login user.
        user: String,
        /// The key text.
        key: Secret<String>,
        /// The key's passphrase, if it has one.
        passphrase: Option<Secret<String>>,
    },
    /// No credentials: the appliance itself.
    None,
}

/// An open session to one target.
///
/// Implementations keep one connection (and on Windows one shell) for the
/// whole session, so a sweep of seven checks authenticates once.
pub trait Transport: Send {
    /// The target's inventory name, for errors and evidence.
    fn target(&self) -> &str;

    /// Runs `script` and returns its output, or an error once its timeout
    /// has passed. A non-zero exit code is an [`Output`], not an error.
    fn run<'a>(&'a mut self, script: &'a Script) -> BoxFuture<'a, Result<Output, Error>>;

    /// Ends the session (deletes the shell, closes the connection).
    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>>;
}

/// Why a script could not be run or its result not obtained. Every variant
/// names the target; none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The target could not be reached.
    #[error("{target}: unreachable: {reason}")]
    Unreachable {
        /// The target.
        target: String,
        /// What failed (connection refused, DNS, TLS handshake…).
        reason: String,
    },
    /// The target refused the credentials.
    #[error(
        "{target}: authentication refused for {user}; check the credentials stored for this target"
    )]
    AuthRejected {
        /// The target.
        target: String,
        /// The user name tried.
        user: String,
    },
    /// The target's identity (SSH host key, TLS certificate) changed.
    #[error("{target}: identity changed: {detail}")]
    IdentityChanged {
        /// The target.
        target: String,
        /// Expected and found fingerprints, and how to re-pin if the change is legitimate.
        detail: String,
    },
    /// The script ran past its timeout and was stopped.
    #[error("{target}: script timed out after {after:?}")]
    Timeout {
        /// The target.
        target: String,
        /// The timeout that passed.
        after: Duration,
    },
    /// The script printed more than [`MAX_OUTPUT_BYTES`] on one stream.
    #[error("{target}: script output exceeded {MAX_OUTPUT_BYTES} bytes and was stopped")]
    OutputTooLarge {
        /// The target.
        target: String,
    },
    /// This transport cannot run this kind of script.
    #[error("{target}: cannot run {shell} scripts over this transport")]
    Unsupported {
        /// The target.
        target: String,
        /// The script's shell.
        shell: Shell,
    },
    /// The peer broke the protocol or closed the session mid-command.
    #[error("{target}: {reason}")]
    Protocol {
        /// The target.
        target: String,
        /// What went wrong.
        reason: String,
    },
}
