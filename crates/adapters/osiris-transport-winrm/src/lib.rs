//! The [`Transport`](osiris_transport::Transport) port over WinRM.
//!
//! [`WinrmTransport`] holds one authenticated `lib/winrm` session and one
//! remote shell for its whole life, so a sweep of seven checks on a host
//! authenticates once and creates one shell. It runs PowerShell scripts
//! only (`-EncodedCommand`, or streamed on stdin when long), hands a
//! script's [`input`](osiris_transport::Script::input) to it on standard
//! input, and maps every `winrm` error to the port's typed [`Error`]
//! (timeouts, refused credentials, unreachable hosts, changed TLS identity).
//!
//! [`cli`] holds the entry points of `osiris target test` and
//! `osiris target exec`.
//!
//! Credentials come in as [`osiris_transport::Credentials`] and are handed
//! to `lib/winrm` once; neither crate logs or prints them.

#![warn(missing_docs)]

pub mod cli;
mod errors;
mod transport;

pub use transport::{WinrmOptions, WinrmTransport, connect};
pub use winrm::{Mechanism, TlsOptions};

/// The port's error type, re-exported for callers of [`connect`].
pub type Error = osiris_transport::Error;
