//! The only forms in which credentials reach the store: a SHA-256 digest of
//! a bearer secret, and an opaque password hash string.

use std::fmt;

use osiris_core::Secret;
use sha2::{Digest, Sha256};

/// The SHA-256 of a high-entropy bearer secret (session cookie, API token,
/// appliance claim code). The store keeps only this, so a database leak
/// yields no usable credential. No salt is needed: the secrets are random,
/// and lookups must be by exact digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes the secret as presented by the client.
    #[must_use]
    pub fn of(secret: &Secret<String>) -> Self {
        Self(Sha256::digest(secret.expose().as_bytes()).into())
    }

    /// A digest read back from storage.
    #[must_use]
    pub const fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The 32 digest bytes, for binding into a query.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    // A prefix identifies the row in logs without giving the whole digest away.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, ..] = self.0;
        write!(f, "TokenHash({a:02x}{b:02x}{c:02x}{d:02x}…)")
    }
}

/// A password hash in PHC string form (`$argon2id$v=19$…`). The store never
/// parses or checks it; the auth layer produces and verifies it.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string.
    #[must_use]
    pub const fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    // Offline cracking starts from the hash, so it stays out of logs too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_the_sha256_of_the_secret_and_debug_shows_only_a_prefix() {
        let hash = TokenHash::of(&Secret::new("abc".to_owned()));
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex: String = hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
        assert_eq!(format!("{hash:?}"), "TokenHash(ba7816bf…)");
    }

    #[test]
    fn password_hash_debug_is_redacted() {
        let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned());
        assert!(!format!("{hash:?}").contains("argon2id"));
    }
}
