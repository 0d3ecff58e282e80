//! Sealing and opening credentials with XChaCha20-Poly1305.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use osiris_core::{CredentialId, SEALED_NONCE_LEN, SealedCredential, Secret, SiteId};
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::ring::{KEY_LEN, KeyRing};

/// Domain separation: these bytes start every AAD, so a ciphertext made
/// for something else with the same key can never open as a credential.
const AAD_LABEL: &[u8; 16] = b"osiris.vault.v1\0";

/// label ‖ site id (16 bytes) ‖ credential id (16 bytes) ‖ key version
/// (big-endian u32). Every part has a fixed length, so no two bindings
/// share bytes.
type Aad = [u8; 16 + 16 + 16 + 4];

impl KeyRing {
    /// Seals `plaintext` as credential `credential` of site `site`, under
    /// the current key and a fresh random nonce.
    ///
    /// # Errors
    /// [`Error::Random`] without randomness; [`Error::Seal`] for a
    /// plaintext beyond the cipher's limit (about 256 GiB).
    pub fn seal(
        &self,
        site: SiteId,
        credential: CredentialId,
        plaintext: &Secret<String>,
    ) -> Result<SealedCredential> {
        let (version, key) = self.current();
        let mut nonce = [0u8; SEALED_NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Error::Random(e.to_string()))?;
        let aad = aad(site, credential, version);
        let ciphertext = cipher(key)
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.expose().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Seal)?;
        Ok(SealedCredential {
            key_version: version,
            nonce,
            ciphertext,
        })
    }

    /// Opens a credential sealed by [`KeyRing::seal`] for the same site and
    /// credential id, under any key version the ring holds.
    ///
    /// # Errors
    /// [`Error::UnknownKeyVersion`] when the ring lacks its key version;
    /// [`Error::Open`] when anything was altered or the site or credential
    /// id differs; [`Error::NotUtf8`] when the plaintext is not text.
    pub fn open(
        &self,
        site: SiteId,
        credential: CredentialId,
        sealed: &SealedCredential,
    ) -> Result<Secret<String>> {
        let version = sealed.key_version;
        let key = self
            .key(version)
            .ok_or(Error::UnknownKeyVersion { version })?;
        let aad = aad(site, credential, version);
        let plaintext = cipher(key)
            .decrypt(
                &XNonce::from(sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Open { version })?;
        String::from_utf8(plaintext)
            .map(Secret::new)
            .map_err(|error| {
                error.into_bytes().zeroize();
                Error::NotUtf8
            })
    }

    /// Rotation, step two: the credential re-sealed under the current key,
    /// or `None` when it already is (it is opened either way, so a damaged
    /// row is reported rather than skipped). Running it again after a
    /// partial rotation therefore only touches what is left.
    ///
    /// # Errors
    /// Those of [`KeyRing::open`] and [`KeyRing::seal`].
    pub fn reseal(
        &self,
        site: SiteId,
        credential: CredentialId,
        sealed: &SealedCredential,
    ) -> Result<Option<SealedCredential>> {
        let plaintext = self.open(site, credential, sealed)?;
        if sealed.key_version == self.current_version() {
            return Ok(None);
        }
        self.seal(site, credential, &plaintext).map(Some)
    }
}

fn aad(site: SiteId, credential: CredentialId, version: u32) -> Aad {
    let mut aad = [0u8; 52];
    let parts: [&[u8]; 4] = [
        AAD_LABEL,
        site.as_uuid().as_bytes(),
        credential.as_uuid().as_bytes(),
        &version.to_be_bytes(),
    ];
    let mut at = 0;
    for part in parts {
        if let Some(slot) = aad.get_mut(at..at + part.len()) {
            slot.copy_from_slice(part);
        }
        at += part.len();
    }
    aad
}

fn cipher(key: &[u8; KEY_LEN]) -> XChaCha20Poly1305 {
    // The cipher wipes its copy of the key on drop (feature `zeroize`).
    XChaCha20Poly1305::new(key.into())
}
