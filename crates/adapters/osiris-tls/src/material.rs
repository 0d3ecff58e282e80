//! [`TlsMaterial`]: the server's certificate chain and key, generated on
//! first start or provided by the operator, and the rustls configurations
//! built from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use osiris_core::Secret;
use rcgen::{KeyPair, PublicKeyData};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use crate::error::{Error, Result};
use crate::fingerprint::Fingerprint;
use crate::names::parse_names;
use crate::{files, inspect, issue};

/// A server certificate expiring sooner than this is issued again.
pub const RENEW_BEFORE: Duration = Duration::days(30);

/// The file names inside the material directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key (mode 0600).
pub const CA_KEY_FILE: &str = "ca.key";
/// The server certificate chain: the server certificate, then the CA.
pub const SERVER_CERT_FILE: &str = "server.pem";
/// The server's private key (mode 0600).
pub const SERVER_KEY_FILE: &str = "server.key";

/// What [`TlsMaterial::load_or_create`] did, for the start-up log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A new CA and server certificate were made (first start).
    Created,
    /// The stored CA and server certificate were used as they were.
    Loaded,
    /// The stored CA was kept and a new server certificate issued (expiring
    /// soon, names changed, or server certificate missing).
    Reissued,
    /// The operator's own certificate chain and key.
    Operator,
}

/// The server's certificate chain and private key, and the CA that signed
/// them when Osiris made them itself.
pub struct TlsMaterial {
    chain: Vec<CertificateDer<'static>>,
    // Kept as DER for the life of the process: rustls holds its own copy in
    // every ServerConfig anyway.
    key: PrivateKeyDer<'static>,
    ca: Option<CertificateDer<'static>>,
    origin: Origin,
}

struct Paths {
    ca_cert: PathBuf,
    ca_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

impl TlsMaterial {
    /// Loads the CA and server certificate from `dir`, making what is
    /// missing: on first start a self-signed CA (10 years) and a server
    /// certificate it signs for `names` (1 year; DNS names or IP addresses,
    /// [`DEFAULT_NAMES`](crate::DEFAULT_NAMES) when empty). A server
    /// certificate that expires within [`RENEW_BEFORE`] of `now`, is not yet
    /// valid, names other names, or was not signed by the stored CA is issued
    /// again; the CA is never replaced, since appliances pin it.
    ///
    /// Private keys are created with mode 0600 and never overwritten; a key
    /// file other users can read is refused.
    ///
    /// # Errors
    /// When a file cannot be read or written, a key is too open or
    /// malformed, the CA key is missing while the CA certificate exists, or
    /// a name is invalid.
    pub fn load_or_create(dir: &Path, names: &[String], now: DateTime<Utc>) -> Result<Self> {
        let wanted = parse_names(names)?;
        files::create_dir(dir)?;
        let paths = Paths {
            ca_cert: dir.join(CA_CERT_FILE),
            ca_key: dir.join(CA_KEY_FILE),
            server_cert: dir.join(SERVER_CERT_FILE),
            server_key: dir.join(SERVER_KEY_FILE),
        };
        let (ca_key, ca_pem, mut origin) = load_or_create_ca(&paths, now)?;
        let ca_der = first_certificate(&paths.ca_cert)?;
        let server_key = load_or_create_key(&paths.server_key, "server")?;

        let current = if files::exists(&paths.server_cert)? {
            let certs = files::read_certificates(&paths.server_cert)?;
            let facts = certs
                .first()
                .map(|leaf| inspect::facts(leaf, &ca_der, &server_key.subject_public_key_info()));
            match facts {
                Some(Ok(facts))
                    if facts.not_before <= now
                        && facts.not_after - now > RENEW_BEFORE
                        && facts.names == wanted =>
                {
                    Some(certs)
                }
                Some(Ok(facts)) => {
                    tracing::info!(
                        not_after = %facts.not_after,
                        "server certificate expiring, not yet valid or for other names; issuing a new one"
                    );
                    None
                }
                Some(Err(reason)) => {
                    tracing::warn!(%reason, file = %paths.server_cert.display(), "server certificate unusable; issuing a new one");
                    None
                }
                None => None,
            }
        } else {
            None
        };
        let chain = match current {
            Some(chain) => chain,
            None => {
                let leaf = issue::server_certificate(&ca_pem, &ca_key, &server_key, &wanted, now)?;
                files::replace_certificate(&paths.server_cert, &format!("{leaf}{ca_pem}"))?;
                if origin == Origin::Loaded {
                    origin = Origin::Reissued;
                }
                files::read_certificates(&paths.server_cert)?
            }
        };
        Ok(Self {
            chain,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            ca: Some(ca_der),
            origin,
        })
    }

    /// The operator's own certificate chain (PEM, server certificate first)
    /// and private key (PEM: PKCS#8, PKCS#1 or SEC1; mode 0600 or stricter).
    ///
    /// # Errors
    /// When a file cannot be read, holds no certificate or key, the key is
    /// readable by other users, or the key does not match the certificate;
    /// each error names the file.
    pub fn from_operator_files(cert_chain: &Path, key: &Path) -> Result<Self> {
        let chain = files::read_certificates(cert_chain)?;
        let private = files::read_private_key(key)?;
        let signing = provider()
            .key_provider
            .load_private_key(private.clone_key())
            .map_err(|e| Error::bad_file(key, format!("unsupported private key ({e})")))?;
        CertifiedKey::new(chain.clone(), signing)
            .keys_match()
            .map_err(|_| Error::KeyMismatch {
                cert: cert_chain.to_owned(),
                key: key.to_owned(),
            })?;
        Ok(Self {
            chain,
            key: private,
            ca: None,
            origin: Origin::Operator,
        })
    }

    /// Where this material came from.
    #[must_use]
    pub const fn origin(&self) -> Origin {
        self.origin
    }

    /// The server certificate chain, server certificate first.
    #[must_use]
    pub fn certificate_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The generated CA's certificate; `None` for operator certificates.
    #[must_use]
    pub const fn ca_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.ca.as_ref()
    }

    /// The SHA-256 fingerprint of the generated CA certificate, which an
    /// appliance pins at enrolment; `None` for operator certificates (the
    /// appliance then trusts its usual roots).
    #[must_use]
    pub fn ca_fingerprint(&self) -> Option<Fingerprint> {
        self.ca.as_ref().map(|der| Fingerprint::of(der))
    }

    /// A rustls server configuration (ring provider, TLS 1.2 and 1.3,
    /// HTTP/1.1 by ALPN) that asks for no client certificate.
    ///
    /// # Errors
    /// When rustls refuses the key or certificate.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let config = ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        Ok(finish(config))
    }

    /// Like [`server_config`](Self::server_config), but asking for a client
    /// certificate issued by one of `client_roots`. A client without one is
    /// still served (it authenticates some other way); a client presenting
    /// a certificate not issued by these roots is refused in the handshake.
    /// The accepted certificate's fingerprint reaches handlers in
    /// [`PeerTls`](crate::PeerTls).
    ///
    /// # Errors
    /// When the roots are unusable or rustls refuses the key or certificate.
    pub fn server_config_with_client_certificates(
        &self,
        client_roots: &[CertificateDer<'static>],
    ) -> Result<Arc<ServerConfig>> {
        let mut roots = RootCertStore::empty();
        for root in client_roots {
            roots.add(root.clone())?;
        }
        let provider = Arc::new(provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()?;
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())?;
        Ok(finish(config))
    }
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("origin", &self.origin)
            .field("certificates", &self.chain.len())
            .field("ca_fingerprint", &self.ca_fingerprint())
            .finish_non_exhaustive()
    }
}

/// The one crypto provider: ring, passed explicitly so nothing depends on
/// a process-wide default.
fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn finish(mut config: ServerConfig) -> Arc<ServerConfig> {
    // The accept loop speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The CA key, its certificate's PEM, and whether they were just made.
fn load_or_create_ca(paths: &Paths, now: DateTime<Utc>) -> Result<(KeyPair, String, Origin)> {
    let have_cert = files::exists(&paths.ca_cert)?;
    let have_key = files::exists(&paths.ca_key)?;
    if have_cert && !have_key {
        return Err(Error::CaKeyMissing {
            cert: paths.ca_cert.clone(),
            key: paths.ca_key.clone(),
        });
    }
    let key = load_or_create_key(&paths.ca_key, "ca")?;
    if have_cert {
        let pem =
            std::fs::read_to_string(&paths.ca_cert).map_err(|e| Error::io(&paths.ca_cert, e))?;
        return Ok((key, pem, Origin::Loaded));
    }
    // A key without its certificate means the first start stopped between
    // the two writes: nothing can have pinned a CA yet, so sign a new one.
    let pem = issue::ca_certificate(&key, now)?;
    files::replace_certificate(&paths.ca_cert, &pem)?;
    Ok((key, pem, Origin::Created))
}

fn load_or_create_key(path: &Path, what: &'static str) -> Result<KeyPair> {
    if files::exists(path)? {
        let pem = files::read_key_pem(path)?;
        return KeyPair::from_pem(pem.expose())
            .map_err(|e| Error::bad_file(path, format!("not a PEM private key ({e})")));
    }
    let key = issue::new_key(what)?;
    files::write_new_key(path, &Secret::new(key.serialize_pem()))?;
    Ok(key)
}

fn first_certificate(path: &Path) -> Result<CertificateDer<'static>> {
    files::read_certificates(path)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::bad_file(path, "no PEM certificate in the file"))
}
