//! The sidecar metadata file written beside every object.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, LegalHold, ObjectInfo, ObjectKey, Result};

/// The sidecar's JSON form.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Sidecar {
    sha256: String,
    len: u64,
    retain_until: DateTime<Utc>,
    legal_hold: bool,
}

impl Sidecar {
    pub(crate) fn from_info(info: &ObjectInfo) -> Self {
        Self {
            sha256: info.sha256.to_string(),
            len: info.len,
            retain_until: info.retain_until,
            legal_hold: info.legal_hold == LegalHold::On,
        }
    }

    pub(crate) fn decode(key: &ObjectKey, bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes)
            .map_err(|error| Error::corrupt(key, format!("sidecar metadata: {error}")))
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|error| Error::backend("encoding sidecar metadata", error))
    }

    pub(crate) fn info(&self, key: &ObjectKey) -> Result<ObjectInfo> {
        let sha256 = self
            .sha256
            .parse()
            .map_err(|_| Error::corrupt(key, "sidecar metadata: sha256 is not 64 hex digits"))?;
        Ok(ObjectInfo {
            len: self.len,
            sha256,
            retain_until: self.retain_until,
            legal_hold: if self.legal_hold {
                LegalHold::On
            } else {
                LegalHold::Off
            },
        })
    }
}
