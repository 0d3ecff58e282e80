//! [`KeyRing`]: the versioned vault keys held in memory.

use std::collections::BTreeMap;
use std::fmt;

use osiris_core::Secret;

use crate::error::{Error, Result};

/// The length of one vault key (XChaCha20-Poly1305).
pub const KEY_LEN: usize = 32;

/// The vault keys by version: the current one seals, every one opens.
///
/// Rotation adds a version (see [`crate::keyring::add_key_version`]),
/// re-seals each credential under it ([`KeyRing::reseal`]), and only then
/// may the old versions be removed from the key file.
#[derive(Clone)]
pub struct KeyRing {
    current: (u32, Secret<[u8; KEY_LEN]>),
    older: BTreeMap<u32, Secret<[u8; KEY_LEN]>>,
}

impl KeyRing {
    /// A ring with one fresh random key, version 1.
    ///
    /// # Errors
    /// [`Error::Random`] when the operating system gives no randomness.
    pub fn generate() -> Result<Self> {
        Ok(Self {
            current: (1, random_key()?),
            older: BTreeMap::new(),
        })
    }

    /// The ring from `(version, key)` pairs; the highest version is current.
    /// Versions are checked unique and non-zero by the parsers.
    pub(crate) fn from_versions(mut keys: BTreeMap<u32, Secret<[u8; KEY_LEN]>>) -> Option<Self> {
        let current = keys.pop_last()?;
        Some(Self {
            current,
            older: keys,
        })
    }

    /// This ring plus a fresh random key one version above the current one,
    /// which becomes current.
    ///
    /// # Errors
    /// [`Error::Random`] without randomness; [`Error::VersionsExhausted`]
    /// when the current version is already `u32::MAX`.
    pub fn with_new_key(&self) -> Result<Self> {
        let version = self
            .current
            .0
            .checked_add(1)
            .ok_or(Error::VersionsExhausted {
                version: self.current.0,
            })?;
        let mut older = self.older.clone();
        older.insert(self.current.0, self.current.1.clone());
        Ok(Self {
            current: (version, random_key()?),
            older,
        })
    }

    /// The version new credentials are sealed under.
    #[must_use]
    pub const fn current_version(&self) -> u32 {
        self.current.0
    }

    /// Every version held, oldest first.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.older
            .keys()
            .copied()
            .chain(std::iter::once(self.current.0))
    }

    /// The current version and its key.
    pub(crate) fn current(&self) -> (u32, &[u8; KEY_LEN]) {
        (self.current.0, self.current.1.expose())
    }

    /// The key of `version`, if held.
    pub(crate) fn key(&self, version: u32) -> Option<&[u8; KEY_LEN]> {
        if version == self.current.0 {
            Some(self.current.1.expose())
        } else {
            self.older.get(&version).map(Secret::expose)
        }
    }

    /// Every `(version, key)`, oldest first, for writing the key file.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u32, &[u8; KEY_LEN])> {
        self.older
            .iter()
            .map(|(version, key)| (*version, key.expose()))
            .chain(std::iter::once(self.current()))
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current_version", &self.current.0)
            .field("versions", &self.versions().collect::<Vec<_>>())
            .field("keys", &"[redacted]")
            .finish()
    }
}

fn random_key() -> Result<Secret<[u8; KEY_LEN]>> {
    let mut bytes = [0u8; KEY_LEN];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    // The array is `Copy`: wipe the local once the secret holds its copy.
    let key = Secret::new(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_becomes_current_and_the_old_one_stays() {
        let ring = KeyRing::generate().unwrap();
        let next = ring.with_new_key().unwrap();
        assert_eq!(next.current_version(), 2);
        assert_eq!(next.versions().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(next.key(1), ring.key(1));
        assert_ne!(next.key(2), ring.key(1));
        assert_eq!(next.key(3), None);
    }

    #[test]
    fn no_key_is_added_after_the_last_version() {
        let ring = crate::keyring::parse_key_file(
            "test",
            "v4294967295:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        )
        .unwrap();
        assert!(matches!(
            ring.with_new_key(),
            Err(Error::VersionsExhausted { version: u32::MAX })
        ));
    }

    #[test]
    fn debug_names_the_versions_and_hides_the_keys() {
        let ring = KeyRing::generate().unwrap().with_new_key().unwrap();
        let shown = format!("{ring:?}");
        assert_eq!(
            shown,
            r#"KeyRing { current_version: 2, versions: [1, 2], keys: "[redacted]" }"#
        );
    }
}
