//! What a site keeps. There is no `Default`: every site states its choices.

use std::net::IpAddr;

use serde::Deserialize;

/// The site's scrubbing choices, typically read from the appliance config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubConfig {
    /// Which IP addresses stay readable.
    pub ip: IpPolicy,
    /// How ZIP codes are redacted.
    pub zip: ZipPolicy,
    /// Terms kept verbatim wherever they appear (hostnames, service
    /// accounts, asset serials), compared ASCII case-insensitively. A
    /// would-be redaction lying wholly inside an occurrence is dropped.
    pub allowlist: Vec<String>,
    /// Email domains kept, e.g. the practice's own system domain. A domain
    /// also keeps its subdomains.
    pub keep_email_domains: Vec<String>,
    /// Hosts whose URLs are kept whole (vendor update sites). A host also
    /// keeps its subdomains.
    pub keep_url_hosts: Vec<String>,
    /// Path prefixes under which the next path segment names a patient, such
    /// as `\\srv\scans\`; that segment is redacted as a name.
    pub patient_document_roots: Vec<String>,
    /// The site's EHR medical-record-number formats (regular expressions),
    /// matched without a label, e.g. `\bE\d{7}\b`.
    pub mrn_patterns: Vec<String>,
    /// Further site identifiers (claim, accession, specimen numbers) as
    /// regular expressions, redacted as family `ID`.
    pub other_patterns: Vec<String>,
}

impl ScrubConfig {
    /// The choice for IT evidence when the site has configured nothing yet:
    /// loopback, private and link-local addresses stay (evidence needs them),
    /// ZIP codes go entirely, nothing is allowlisted.
    #[must_use]
    pub const fn it_evidence() -> Self {
        Self {
            ip: IpPolicy {
                keep_loopback: true,
                keep_private: true,
                keep_link_local: true,
                inventory: Vec::new(),
            },
            zip: ZipPolicy::Redact,
            allowlist: Vec::new(),
            keep_email_domains: Vec::new(),
            keep_url_hosts: Vec::new(),
            patient_document_roots: Vec::new(),
            mrn_patterns: Vec::new(),
            other_patterns: Vec::new(),
        }
    }
}

/// Which IP addresses stay. Public addresses outside the inventory are
/// always redacted: they can be a patient's home connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpPolicy {
    /// 127.0.0.0/8 and ::1.
    pub keep_loopback: bool,
    /// RFC 1918, 100.64.0.0/10 (CGNAT) and fc00::/7.
    pub keep_private: bool,
    /// 169.254.0.0/16 and fe80::/10.
    pub keep_link_local: bool,
    /// The site's own managed hosts, kept whatever their range.
    pub inventory: Vec<IpAddr>,
}

/// ZIP codes under the Safe Harbor 3-digit rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZipPolicy {
    /// The whole ZIP code becomes a token (the simplest safe choice).
    Redact,
    /// The first three digits stay before the token, or `000` for the
    /// 3-digit areas of 20,000 people or fewer (HHS list, 2000 Census).
    KeepThreeDigits,
}
