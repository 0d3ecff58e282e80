//! The names a server certificate is issued for: DNS names or IP addresses.

use std::collections::BTreeSet;
use std::net::IpAddr;

use rcgen::SanType;

use crate::error::{Error, Result};

/// The names used when none are configured.
pub const DEFAULT_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// One subject alternative name, normalised so that sets compare equal
/// whatever the configured spelling (case of DNS names, IPv6 forms).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Name {
    Dns(String),
    Ip(IpAddr),
}

impl Name {
    fn parse(name: &str) -> Result<Self> {
        let trimmed = name.trim();
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let dns = trimmed.trim_end_matches('.').to_ascii_lowercase();
        let valid = dns.len() <= 253
            && dns.split('.').enumerate().all(|(i, label)| {
                (i == 0 && label == "*")
                    || (!label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            });
        if !valid {
            return Err(Error::BadName {
                name: name.to_owned(),
                reason: "not an IP address or a DNS name".into(),
            });
        }
        Ok(Self::Dns(dns))
    }

    pub(crate) fn to_san(&self) -> Result<SanType> {
        match self {
            Self::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            Self::Dns(dns) => {
                dns.as_str()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|e| Error::BadName {
                        name: dns.clone(),
                        reason: e.to_string(),
                    })
            }
        }
    }
}

/// The configured names as a set, or [`DEFAULT_NAMES`] when none are given.
pub(crate) fn parse_names(names: &[String]) -> Result<BTreeSet<Name>> {
    if names.is_empty() {
        return DEFAULT_NAMES.iter().map(|n| Name::parse(n)).collect();
    }
    names.iter().map(|n| Name::parse(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_name_compare_equal() {
        let a = parse_names(&["LocalHost.".into(), "::1".into()]).unwrap();
        let b = parse_names(&["localhost".into(), "0:0:0:0:0:0:0:1".into()]).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn no_names_means_localhost_and_loopback() {
        let names = parse_names(&[]).unwrap();
        assert!(names.contains(&Name::Dns("localhost".into())));
        assert!(names.contains(&Name::Ip("127.0.0.1".parse().unwrap())));
    }

    #[test]
    fn a_name_with_spaces_or_slashes_is_refused() {
        let err = parse_names(&["bad name/x".into()]).unwrap_err();
        assert!(err.to_string().contains("bad name/x"), "{err}");
    }
}
