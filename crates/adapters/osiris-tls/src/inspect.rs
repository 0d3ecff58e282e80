//! Reading back what a stored server certificate says: its validity and
//! names, to decide whether to issue a new one.

use std::collections::BTreeSet;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::names::Name;

/// The facts of a certificate that decide whether it is still usable.
#[derive(Debug)]
pub(crate) struct Facts {
    pub(crate) not_before: DateTime<Utc>,
    pub(crate) not_after: DateTime<Utc>,
    pub(crate) names: BTreeSet<Name>,
}

/// The facts of `der`, issued by `ca` for `key_spki`, or why it cannot be
/// used: unreadable, signed by another CA, or for another key.
pub(crate) fn facts(der: &[u8], ca: &[u8], key_spki: &[u8]) -> Result<Facts, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
    let (_, ca) = X509Certificate::from_der(ca).map_err(|e| format!("ca: {e}"))?;
    if cert.issuer().as_raw() != ca.subject().as_raw()
        || cert.verify_signature(Some(ca.public_key())).is_err()
    {
        return Err("not issued by the current ca".into());
    }
    if cert.public_key().raw != key_spki {
        return Err("issued for another key".into());
    }
    let validity = cert.validity();
    let time = |t: i64| DateTime::from_timestamp(t, 0).ok_or_else(|| format!("bad time {t}"));
    let mut names = BTreeSet::new();
    if let Some(san) = cert.subject_alternative_name().map_err(|e| e.to_string())? {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => {
                    names.insert(Name::Dns(dns.to_ascii_lowercase()));
                }
                GeneralName::IPAddress(bytes) => {
                    names.insert(Name::Ip(ip(bytes)?));
                }
                _ => {}
            }
        }
    }
    Ok(Facts {
        not_before: time(validity.not_before.timestamp())?,
        not_after: time(validity.not_after.timestamp())?,
        names,
    })
}

fn ip(bytes: &[u8]) -> Result<IpAddr, String> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Ok(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes)
        .map(IpAddr::from)
        .map_err(|_| format!("ip address of {} bytes", bytes.len()))
}
