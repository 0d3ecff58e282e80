//! A WS-Management (WinRM) client for the Windows shell resource.
//!
//! It opens one authenticated HTTP connection per [`Session`] (NTLMv2 with
//! message sealing over HTTP 5985, or NTLM/Basic over verified HTTPS 5986),
//! creates shells, runs commands and PowerShell scripts in them, and reads
//! their output until the command is done. Envelopes are written with
//! `quick_xml::Writer` and read with `NsReader` ([`envelope`]); the sealed
//! `multipart/encrypted` framing is in [`framing`]; NTLM comes from the
//! `sspi` crate behind the [`auth::Authenticator`] trait, so Kerberos can be
//! added as another implementation.
//!
//! The protocol types serve both directions: [`envelope::Request::parse`],
//! [`envelope::Reply::to_xml`] and [`auth::NtlmAcceptor`] let a test server
//! stand in for Windows with the same code paths.
//!
//! This crate depends on no Osiris crate and never logs credentials.

#![warn(missing_docs)]

pub mod auth;
pub mod endpoint;
pub mod envelope;
mod error;
pub mod fault;
pub mod framing;
mod http;
pub mod powershell;
mod session;
mod sweep;
mod tls;
pub mod xml;

pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use fault::{Fault, FaultKind};
pub use session::{CommandOutput, Credentials, Mechanism, Session, SessionOptions, ShellId};
pub use sweep::{HostSweep, sweep};
pub use tls::TlsOptions;
