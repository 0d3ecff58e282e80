//! Ed25519 keys: the appliance's evidence key and the server's checkpoint
//! and manifest key. Private keys live in PKCS#8 PEM files that only their
//! owner may read.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A private signing key with its public half.
pub struct KeyPair {
    signing: SigningKey,
}

/// A public Ed25519 key, as carried in manifests (base64 of the raw 32 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// The first 16 hex digits of SHA-256 of the raw public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 8]);

impl KeyPair {
    /// A fresh key from the operating system's random source.
    ///
    /// # Errors
    /// When the random source is unavailable.
    pub fn generate() -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Self::from_seed(seed))
    }

    /// The key whose secret is `seed`. Deterministic: for fixtures and tests.
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// Loads the key at `path`, or creates it (mode 0600) when absent.
    ///
    /// # Errors
    /// When the file is unreadable, malformed, or readable by other users.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match fs::symlink_metadata(path) {
            Ok(_) => Self::load(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                key.save_new(path)?;
                Ok(key)
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Loads the key at `path`, refusing a file other users can access.
    ///
    /// # Errors
    /// When the file is unreadable, malformed, or readable by other users.
    pub fn load(path: &Path) -> Result<Self> {
        let metadata = fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::KeyFileTooOpen {
                path: path.to_owned(),
                mode,
            });
        }
        let pem = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|e| Error::BadKey {
            what: path.display().to_string(),
            reason: format!("not an Ed25519 PKCS#8 PEM private key ({e})"),
        })?;
        Ok(Self { signing })
    }

    /// Writes the key to a new file with mode 0600, fsynced. Never
    /// overwrites: replacing a signing key is a rotation, not a save.
    ///
    /// # Errors
    /// When the file exists or cannot be written.
    pub fn save_new(&self, path: &Path) -> Result<()> {
        let pem = self
            .signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::BadKey {
                what: path.display().to_string(),
                reason: format!("cannot encode key ({e})"),
            })?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.write_all(pem.as_bytes())
            .map_err(|e| Error::io(path, e))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::File::open(parent)
                .and_then(|d| d.sync_all())
                .map_err(|e| Error::io(parent, e))?;
        }
        Ok(())
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key())
    }

    /// Signs `message` (already canonical bytes).
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// The signature of `message` as standard padded base64.
    #[must_use]
    pub fn sign_base64(&self, message: &[u8]) -> String {
        STANDARD.encode(self.sign(message).to_bytes())
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KeyPair(key_id={}, secret=[redacted])",
            self.public_key().key_id()
        )
    }
}

impl PublicKey {
    /// The key from its base64 form, refusing malformed and weak keys.
    ///
    /// # Errors
    /// When the text is not base64 of 32 bytes forming a strong Ed25519 point.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(text)
            .map_err(|e| format!("not standard base64 ({e})"))?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("expected 32 bytes, got {}", bytes.len()))?;
        let key = VerifyingKey::from_bytes(&raw).map_err(|_| "not an Ed25519 point".to_owned())?;
        if key.is_weak() {
            return Err("weak Ed25519 key (small order point)".to_owned());
        }
        Ok(Self(key))
    }

    /// Whether `signature` (standard base64, surrounding whitespace
    /// ignored) is this key's strict Ed25519 signature over `message`.
    #[must_use]
    pub fn verifies_base64(&self, message: &[u8], signature: &str) -> bool {
        decode_signature(signature.trim()).is_ok_and(|sig| self.verify_strict(message, &sig))
    }

    /// Standard padded base64 of the raw 32 bytes.
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    /// The key id: first 16 hex digits of SHA-256 of the raw key.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        let digest = Sha256::digest(self.0.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(digest.get(..8).unwrap_or_default());
        KeyId(id)
    }

    /// Strict single verification (rejects malleable signatures).
    #[must_use]
    pub fn verify_strict(&self, message: &[u8], signature: &Signature) -> bool {
        self.0.verify_strict(message, signature).is_ok()
    }

    pub(crate) const fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl KeyId {
    /// Parses the 16-hex-digit form.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = crate::bundle::decode_hex::<8>(text)?;
        Some(Self(bytes))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Decodes a standard padded base64 Ed25519 signature.
pub(crate) fn decode_signature(text: &str) -> Result<Signature, String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| format!("not standard base64 ({e})"))?;
    let raw: [u8; 64] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("expected a 64-byte signature, got {} bytes", bytes.len()))?;
    Ok(Signature::from_bytes(&raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_with_mode_0600_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appliance.key");
        let created = KeyPair::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = KeyPair::load_or_create(&path).unwrap();
        assert_eq!(created.public_key(), loaded.public_key());
    }

    #[test]
    fn world_readable_key_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        KeyPair::generate().unwrap().save_new(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = KeyPair::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("mode 644") && err.contains("chmod 600"),
            "{err}"
        );
    }

    #[test]
    fn saving_never_overwrites_an_existing_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        KeyPair::from_seed([1; 32]).save_new(&path).unwrap();
        assert!(KeyPair::from_seed([2; 32]).save_new(&path).is_err());
        assert_eq!(
            KeyPair::load(&path).unwrap().public_key(),
            KeyPair::from_seed([1; 32]).public_key()
        );
    }

    #[test]
    fn garbage_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        fs::write(&path, "not a key").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = KeyPair::load(&path).unwrap_err().to_string();
        assert!(err.contains("PKCS#8"), "{err}");
    }

    #[test]
    fn key_id_is_the_first_16_hex_digits_of_sha256_of_the_raw_key() {
        let key = KeyPair::from_seed([7; 32]).public_key();
        let digest = Sha256::digest(key.0.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key.key_id().to_string(), hex[..16]);
        assert_eq!(KeyId::parse(&hex[..16]), Some(key.key_id()));
    }

    #[test]
    fn public_keys_round_trip_and_bad_ones_are_refused() {
        let key = KeyPair::from_seed([9; 32]).public_key();
        assert_eq!(PublicKey::from_base64(&key.to_base64()).unwrap(), key);
        assert!(
            PublicKey::from_base64("AAAA")
                .unwrap_err()
                .contains("32 bytes")
        );
        assert!(PublicKey::from_base64("!!").unwrap_err().contains("base64"));
        // The identity point is of small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(
            PublicKey::from_base64(&STANDARD.encode(identity))
                .unwrap_err()
                .contains("weak")
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = KeyPair::from_seed([3; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("0303"));
    }
}
