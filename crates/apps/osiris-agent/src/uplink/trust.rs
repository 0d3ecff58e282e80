//! Which certificate the appliance accepts from Central Command.
//!
//! The server makes its own CA on first start and prints the CA file's path
//! and SHA-256 fingerprint. The installer gives the appliance one of them at
//! enrolment; from then on the appliance trusts exactly that CA, pinned in
//! its identity. The system's roots are never consulted: the public roots
//! (Mozilla's, compiled in) are used only when configured for a server
//! that presents an operator certificate from a public CA.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::uplink::error::UplinkError;

/// How the appliance decides that it is talking to Central Command.
#[derive(Clone)]
pub enum ServerTrust {
    /// Exactly these CA certificates: the server's `tls/ca.pem`, or the CA
    /// pinned at enrolment.
    Ca(CaCertificates),
    /// The SHA-256 fingerprint of the server's CA, as the server prints it:
    /// the certificate in the server's chain with this fingerprint becomes
    /// the only root, and enrolment pins it.
    Fingerprint(CaFingerprint),
    /// The public web roots compiled into the appliance (webpki-roots), for
    /// a server with an operator certificate from a public CA.
    PublicRoots,
}

/// One or more CA certificates, as DER.
#[derive(Clone, PartialEq, Eq)]
pub struct CaCertificates(Vec<CertificateDer<'static>>);

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CaFingerprint([u8; 32]);

impl ServerTrust {
    /// Trusts the CA certificates in the PEM file at `path`.
    ///
    /// # Errors
    /// [`UplinkError::Io`] when the file cannot be read,
    /// [`UplinkError::BadTrust`] when it holds no certificate.
    pub fn ca_file(path: &Path) -> Result<Self, UplinkError> {
        let pem = std::fs::read(path).map_err(UplinkError::io("reading the CA file", path))?;
        CaCertificates::from_pem(&pem)
            .map(Self::Ca)
            .map_err(|reason| UplinkError::BadTrust {
                reason: format!("{}: {reason}", path.display()),
            })
    }

    /// Trusts the CA with this fingerprint (64 hex digits, optionally in
    /// colon-separated pairs as `openssl x509 -fingerprint -sha256` prints
    /// them).
    ///
    /// # Errors
    /// [`UplinkError::BadTrust`] when it is not a SHA-256 fingerprint.
    pub fn fingerprint(text: &str) -> Result<Self, UplinkError> {
        text.parse().map(Self::Fingerprint)
    }
}

impl fmt::Debug for ServerTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ca(certs) => f.debug_tuple("Ca").field(certs).finish(),
            Self::Fingerprint(pin) => f.debug_tuple("Fingerprint").field(pin).finish(),
            Self::PublicRoots => f.write_str("PublicRoots"),
        }
    }
}

impl CaCertificates {
    /// Every certificate in `pem`.
    ///
    /// # Errors
    /// The reason when a block is malformed or there is none.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not a PEM certificate ({e})"))?;
        if certs.is_empty() {
            return Err("holds no PEM certificate".to_owned());
        }
        Ok(Self(certs))
    }

    /// The certificates as PEM text, one block each.
    #[must_use]
    pub fn to_pem(&self) -> String {
        self.0.iter().map(|der| pem_certificate(der)).collect()
    }

    /// Their SHA-256 fingerprints, in order.
    #[must_use]
    pub fn fingerprints(&self) -> Vec<CaFingerprint> {
        self.0.iter().map(|der| CaFingerprint::of(der)).collect()
    }

    pub(crate) fn single(der: CertificateDer<'static>) -> Self {
        Self(vec![der])
    }
}

impl fmt::Debug for CaCertificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.fingerprints()).finish()
    }
}

impl CaFingerprint {
    /// The fingerprint of a DER certificate.
    #[must_use]
    pub fn of(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }
}

impl std::str::FromStr for CaFingerprint {
    type Err = UplinkError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
        let bad = || UplinkError::BadTrust {
            reason: format!("{text:?} is not a SHA-256 fingerprint (64 hex digits)"),
        };
        if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(bytes))
    }
}

impl fmt::Display for CaFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for CaFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaFingerprint({self})")
    }
}

/// Where a fingerprint check leaves the CA it matched, so that enrolment
/// can pin the certificate itself.
pub(crate) type SeenCa = Arc<Mutex<Option<CertificateDer<'static>>>>;

/// The rustls configuration for `trust`, on the ring provider; for a
/// fingerprint, also the slot the matched CA lands in.
pub(crate) fn client_config(
    trust: &ServerTrust,
) -> Result<(ClientConfig, Option<SeenCa>), UplinkError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| UplinkError::BadTrust {
            reason: format!("tls configuration ({e})"),
        })?;
    let (mut config, seen) = match trust {
        ServerTrust::Ca(certs) => {
            let mut roots = RootCertStore::empty();
            for der in &certs.0 {
                roots.add(der.clone()).map_err(|e| UplinkError::BadTrust {
                    reason: format!(
                        "CA certificate {} is unusable ({e})",
                        CaFingerprint::of(der)
                    ),
                })?;
            }
            (
                builder.with_root_certificates(roots).with_no_client_auth(),
                None,
            )
        }
        ServerTrust::PublicRoots => {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            (
                builder.with_root_certificates(roots).with_no_client_auth(),
                None,
            )
        }
        ServerTrust::Fingerprint(pin) => {
            let seen = SeenCa::default();
            let verifier = FingerprintVerifier {
                pin: *pin,
                provider,
                seen: seen.clone(),
            };
            (
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
                    .with_no_client_auth(),
                Some(seen),
            )
        }
    };
    // Central Command speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, seen))
}

/// Accepts a chain only if one of the CA certificates the server sent has
/// the pinned fingerprint and the server certificate verifies under it
/// (signature, validity, name) exactly as with a configured CA.
#[derive(Debug)]
struct FingerprintVerifier {
    pin: CaFingerprint,
    provider: Arc<CryptoProvider>,
    seen: SeenCa,
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(ca) = intermediates
            .iter()
            .find(|der| CaFingerprint::of(der) == self.pin)
        else {
            let sent: Vec<String> = intermediates
                .iter()
                .map(|der| CaFingerprint::of(der).to_string())
                .collect();
            return Err(rustls::Error::General(format!(
                "no CA certificate sent by the server has the pinned SHA-256 fingerprint {} (it sent [{}])",
                self.pin,
                sent.join(", ")
            )));
        };
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
        let verified = verifier.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(ca.clone().into_owned());
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn pem_certificate(der: &[u8]) -> String {
    let encoded = STANDARD.encode(der);
    let mut pem = String::with_capacity(encoded.len() + encoded.len() / 64 + 60);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_in_both_printed_forms() {
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let plain: CaFingerprint = hex.parse().unwrap();
        assert_eq!(plain, CaFingerprint::of(b"abc"));
        let colons = hex
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|p| std::str::from_utf8(p).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(colons.parse::<CaFingerprint>().unwrap(), plain);
        assert!("abc".parse::<CaFingerprint>().is_err());
        assert!(format!("{}zz", &hex[2..]).parse::<CaFingerprint>().is_err());
    }

    #[test]
    fn pem_round_trips() {
        let der = CertificateDer::from((0u8..200).collect::<Vec<_>>());
        let certs = CaCertificates::single(der.clone());
        let back = CaCertificates::from_pem(certs.to_pem().as_bytes()).unwrap();
        assert_eq!(back, certs);
        assert!(CaCertificates::from_pem(b"nothing here").is_err());
    }
}
