//! Making certificates with rcgen: the self-signed CA and the server
//! certificate it signs. ECDSA P-256 throughout, which every browser, curl
//! and rustls accept.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::names::Name;

/// How long the generated CA is valid: appliances pin it, so it outlives
/// many server certificates.
pub(crate) const CA_VALIDITY: Duration = Duration::days(3650);
/// How long a generated server certificate is valid.
pub(crate) const SERVER_VALIDITY: Duration = Duration::days(365);
/// Certificates start a little in the past so a client whose clock lags
/// ours accepts them.
const BACKDATE: Duration = Duration::hours(1);

/// A new key pair.
pub(crate) fn new_key(what: &'static str) -> Result<KeyPair> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|source| Error::Issue { what, source })
}

/// A self-signed CA certificate (PEM) for `key`.
pub(crate) fn ca_certificate(key: &KeyPair, now: DateTime<Utc>) -> Result<String> {
    let issue = |source| Error::Issue { what: "ca", source };
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(issue)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params
        .distinguished_name
        .push(DnType::CommonName, "Osiris Central Command CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = offset(now - BACKDATE)?;
    params.not_after = offset(now + CA_VALIDITY)?;
    params.self_signed(key).map(|c| c.pem()).map_err(issue)
}

/// A server certificate (PEM) for `names` and `key`, signed by the CA.
pub(crate) fn server_certificate(
    ca_pem: &str,
    ca_key: &KeyPair,
    key: &KeyPair,
    names: &BTreeSet<Name>,
    now: DateTime<Utc>,
) -> Result<String> {
    let issue = |source| Error::Issue {
        what: "server",
        source,
    };
    let issuer = Issuer::from_ca_cert_pem(ca_pem, ca_key).map_err(issue)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(issue)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Osiris Central Command");
    params.subject_alt_names = names.iter().map(Name::to_san).collect::<Result<_>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = offset(now - BACKDATE)?;
    params.not_after = offset(now + SERVER_VALIDITY)?;
    params
        .signed_by(key, &issuer)
        .map(|c| c.pem())
        .map_err(issue)
}

fn offset(at: DateTime<Utc>) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(at.timestamp()).map_err(|_| Error::BadTime(at.to_rfc3339()))
}
