//! The startup check that recorded objects are still present and intact.

use crate::local::{Dirs, fsio};
use crate::{ContentHash, ObjectKey, Result};

/// What [`LocalWormStore::verify_intact`](crate::LocalWormStore::verify_intact)
/// found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct IntactReport {
    /// How many objects were checked.
    pub checked: u64,
    /// Keys whose object is gone.
    pub missing: Vec<ObjectKey>,
    /// Keys whose bytes or sidecar no longer match the expected SHA-256.
    pub altered: Vec<ObjectKey>,
}

impl IntactReport {
    /// Whether every object was present and unaltered.
    #[must_use]
    pub fn is_intact(&self) -> bool {
        self.missing.is_empty() && self.altered.is_empty()
    }
}

pub(crate) fn verify(
    dirs: &Dirs,
    expected: impl IntoIterator<Item = (ObjectKey, ContentHash)>,
) -> Result<IntactReport> {
    let mut report = IntactReport::default();
    for (key, sha256) in expected {
        report.checked += 1;
        let Some(bytes) = fsio::read_optional(&dirs.object(&key))? else {
            report.missing.push(key);
            continue;
        };
        // A damaged or missing sidecar counts as altered: the object's
        // retention can no longer be proved.
        let sidecar_matches = dirs
            .read_sidecar(&key)
            .ok()
            .flatten()
            .and_then(|sidecar| sidecar.info(&key).ok())
            .is_some_and(|info| info.sha256 == sha256 && info.len == bytes.len() as u64);
        if ContentHash::of(&bytes) != sha256 || !sidecar_matches {
            report.altered.push(key);
        }
    }
    Ok(report)
}
