//! [`SealedCredential`]: a target credential in the only form that is ever
//! stored. The vault (`osiris-vault`) produces and opens it; the store
//! keeps it. It lives here so that neither of the two depends on the other.

use std::fmt;

/// The length of a sealed credential's nonce (XChaCha20-Poly1305).
pub const SEALED_NONCE_LEN: usize = 24;

/// A credential encrypted under one version of the vault key.
///
/// Nothing here is secret, but `Debug` prints only the key version and the
/// ciphertext's length: there is nothing to learn from the bytes in a log.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedCredential {
    /// The version of the key it is sealed under (bound into the AAD).
    pub key_version: u32,
    /// The random nonce it was sealed with.
    pub nonce: [u8; SEALED_NONCE_LEN],
    /// The ciphertext followed by the 16-byte authentication tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedCredential(key_version={}, ciphertext={} bytes)",
            self.key_version,
            self.ciphertext.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_version_and_length_but_not_the_bytes() {
        let sealed = SealedCredential {
            key_version: 3,
            nonce: [0xab; SEALED_NONCE_LEN],
            ciphertext: vec![0xcd; 20],
        };
        let shown = format!("{sealed:?}");
        assert_eq!(
            shown,
            "SealedCredential(key_version=3, ciphertext=20 bytes)"
        );
    }
}
