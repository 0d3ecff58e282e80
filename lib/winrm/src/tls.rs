//! rustls client configuration: verified certificates, optional pinning.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Which certificates a client trusts for HTTPS.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Extra trust anchors (an internal CA, DER); when empty the public web
    /// PKI roots are used.
    pub roots: Vec<Vec<u8>>,
    /// SHA-256 of the server's leaf certificate, checked after normal
    /// verification succeeded.
    pub pin_sha256: Option<[u8; 32]>,
}

impl TlsOptions {
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>> {
        let mut store = RootCertStore::empty();
        if self.roots.is_empty() {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        } else {
            for der in &self.roots {
                store
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| Error::Tls(format!("trust anchor refused: {e}")))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    pub(crate) fn check_pin(&self, leaf: Option<&CertificateDer<'_>>) -> Result<()> {
        let Some(pin) = self.pin_sha256 else {
            return Ok(());
        };
        let actual: [u8; 32] = leaf
            .map(|c| Sha256::digest(c.as_ref()).into())
            .unwrap_or_default();
        if actual == pin {
            Ok(())
        } else {
            Err(Error::PinMismatch {
                actual: actual.iter().map(|b| format!("{b:02x}")).collect(),
            })
        }
    }
}
