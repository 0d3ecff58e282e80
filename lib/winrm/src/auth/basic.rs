//! HTTP Basic, allowed only over HTTPS (the session refuses it on HTTP).

use std::fmt;

use zeroize::Zeroizing;

use crate::auth::Authenticator;
use crate::error::{Error, Result};

/// `Authorization: Basic` with the user and password on every request.
pub struct Basic {
    token: Zeroizing<Vec<u8>>,
    sent: bool,
}

impl Basic {
    /// Basic credentials for `user` (as the server expects it, often a
    /// local account name).
    #[must_use]
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            token: Zeroizing::new(format!("{user}:{password}").into_bytes()),
            sent: false,
        }
    }
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Basic([redacted])")
    }
}

impl Authenticator for Basic {
    fn scheme(&self) -> &'static str {
        "Basic"
    }

    fn step(&mut self, _challenge: Option<&[u8]>) -> Result<Vec<u8>> {
        self.sent = true;
        Ok(self.token.to_vec())
    }

    fn is_complete(&self) -> bool {
        self.sent
    }

    fn connection_bound(&self) -> bool {
        false
    }

    fn seal(&mut self, _plaintext: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(None)
    }

    fn unseal(&mut self, _signature: &[u8], _sealed: &[u8]) -> Result<Vec<u8>> {
        Err(Error::Auth(
            "basic authentication cannot unseal messages".into(),
        ))
    }
}
