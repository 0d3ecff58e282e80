#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Each channel against its real format: a local HTTP receiver for Slack,
//! PagerDuty and the webhook (the signature checked by Python's hmac), a
//! real SMTP server (aiosmtpd) for e-mail, and the notifier with a dead
//! channel beside live ones.

mod email;
mod notifier;
mod pagerduty;
mod receiver;
mod slack;
mod webhook;

use std::path::PathBuf;

use osiris_catalog::Catalog;
use osiris_notify::{Links, Ticket, TicketParts};
use osiris_scrub::{IpPolicy, ScrubConfig, ScrubKey, Scrubber, ZipPolicy};
use reqwest::Url;

/// Site data full of PHI, which every ticket carries only scrubbed.
pub(crate) const PHI: [&str; 4] = [
    "Maria Gonzalez",
    "219-09-9999",
    "maria.gonzalez62@gmail.com",
    "(312) 555-0199",
];

pub(crate) fn scrubber() -> Scrubber {
    let config = ScrubConfig {
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
    };
    Scrubber::new(&ScrubKey::from_bytes([9; osiris_scrub::KEY_LEN]), &config).unwrap()
}

pub(crate) fn ticket() -> Ticket {
    let catalog = Catalog::embedded().unwrap();
    let scrubber = scrubber();
    let incident = "0b6f3d8e-2a4c-4e1f-8d7b-5c9a1e3f2b40".parse().unwrap();
    let bundles = [
        "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6".parse().unwrap(),
        "9e8d7c6b-5a49-4837-a261-5f4e3d2c1b0a".parse().unwrap(),
    ];
    let base: Url = "https://cc.clinic.example/app/".parse().unwrap();
    Ticket::new(TicketParts {
        incident_id: incident,
        site_id: "5f0c8a2e-1c1d-4b8e-9a51-0d3c6f1b2a77".parse().unwrap(),
        check: catalog.check("deb.firewall.ufw").unwrap(),
        host: scrubber.scrub_text("ehr-db-01"),
        drift: scrubber.scrub_text(
            "ufw is inactive; default incoming policy is allow. Last login note: Patient: Maria Gonzalez SSN: 219-09-9999 <b>",
        ),
        tried: vec![
            scrubber.scrub_text("L1 rule L1-DEB-FW-001: RB-DEB-FIREWALL-001 needs approval"),
            scrubber.scrub_text(
                "L2 planner refused: invalid_params (mail maria.gonzalez62@gmail.com, call (312) 555-0199)",
            ),
        ],
        links: Links::new(&base, incident, &bundles),
        raised_at: "2026-06-17T16:00:00Z".parse().unwrap(),
    })
}

/// Asserts that no PHI value is in `text` and that scrubbing left tokens.
pub(crate) fn assert_scrubbed(text: &str) {
    for value in PHI {
        assert!(!text.contains(value), "{value:?} was sent: {text}");
    }
    assert!(text.contains("[PHI:"), "no redaction token in {text}");
}

/// The Python of the test venv (`OSIRIS_TEST_PYTHON`, else the venv's own).
pub(crate) fn python() -> PathBuf {
    let python = std::env::var_os("OSIRIS_TEST_PYTHON").map_or_else(
        || PathBuf::from("/var/tmp/osiris-pyenv/bin/python"),
        PathBuf::from,
    );
    assert!(
        python.exists(),
        "{} is missing: run .ci/setup, or set OSIRIS_TEST_PYTHON",
        python.display()
    );
    python
}
