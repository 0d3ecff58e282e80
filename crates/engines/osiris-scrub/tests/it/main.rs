#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod api;
mod corpus;
mod json;
mod memory;
mod pinned;
mod properties;

use osiris_scrub::{IpPolicy, ScrubConfig, ScrubKey, Scrubber, ZipPolicy};

/// The key every test scrubs with.
pub(crate) fn test_key() -> ScrubKey {
    ScrubKey::from_bytes([0x5a; osiris_scrub::KEY_LEN])
}

/// The site used by the corpus: internal ranges kept, its EHR's MRN formats
/// configured, nothing allowlisted.
pub(crate) fn corpus_config() -> ScrubConfig {
    ScrubConfig {
        ip: IpPolicy {
            keep_loopback: true,
            keep_private: true,
            keep_link_local: true,
            inventory: Vec::new(),
        },
        zip: ZipPolicy::Redact,
        allowlist: Vec::new(),
        keep_email_domains: Vec::new(),
        keep_url_hosts: vec!["windowsupdate.com".to_owned()],
        patient_document_roots: Vec::new(),
        mrn_patterns: vec![r"\bE\d{7}\b".to_owned(), r"\bMRN\d{5,8}\b".to_owned()],
        other_patterns: Vec::new(),
    }
}

pub(crate) fn scrubber() -> Scrubber {
    Scrubber::new(&test_key(), &corpus_config()).unwrap()
}

/// Replaces every token with `{{FAMILY}}`, so outputs compare without hashes.
pub(crate) fn mask_tokens(text: &str) -> String {
    let token = regex::Regex::new(r"\[PHI:([A-Z_]+):[0-9a-f]{4}:[0-9a-f]{12}\]").unwrap();
    token.replace_all(text, "{{$1}}").into_owned()
}
