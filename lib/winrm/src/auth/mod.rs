//! Authentication mechanisms behind one trait, so Kerberos (or CredSSP) can
//! be added as another implementation without touching the session code.

mod basic;
mod ntlm;

use std::fmt;

pub use basic::Basic;
pub use ntlm::{AcceptStep, NtlmAcceptor, NtlmClient};

use crate::error::Result;

/// A client-side authentication mechanism for one HTTP connection.
pub trait Authenticator: Send + fmt::Debug {
    /// The HTTP auth scheme (`Negotiate`, `Basic`).
    fn scheme(&self) -> &'static str;

    /// The next token to send. `challenge` is the token from the server's
    /// last `WWW-Authenticate` header, `None` on the first call.
    ///
    /// # Errors
    /// [`crate::Error::Auth`] when the server token is malformed.
    fn step(&mut self, challenge: Option<&[u8]>) -> Result<Vec<u8>>;

    /// Whether the handshake is finished.
    fn is_complete(&self) -> bool;

    /// Whether the context belongs to the TCP connection (NTLM, Kerberos)
    /// rather than to every request (Basic).
    fn connection_bound(&self) -> bool;

    /// Seals and signs one message, returning `(signature, sealed)`.
    /// `Ok(None)` means the mechanism cannot seal (Basic).
    ///
    /// # Errors
    /// [`crate::Error::Auth`] when the context is not established.
    fn seal(&mut self, plaintext: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>>;

    /// Unseals one message and checks its signature and sequence number.
    ///
    /// # Errors
    /// [`crate::Error::Tampered`] when the check fails.
    fn unseal(&mut self, signature: &[u8], sealed: &[u8]) -> Result<Vec<u8>>;
}

/// Splits `DOMAIN\user` or `user@domain` for display and matching.
#[must_use]
pub fn split_user(user: &str) -> (Option<&str>, &str) {
    if let Some((domain, name)) = user.split_once('\\') {
        (Some(domain), name)
    } else if let Some((name, domain)) = user.split_once('@') {
        (Some(domain), name)
    } else {
        (None, user)
    }
}
