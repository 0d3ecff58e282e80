#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The chat-completions client against `peer`, an OpenAI-compatible server
//! scripted per test: answers as content and as tool calls, errors,
//! retries, fallback, slow and malformed answers, and the planner on top.

mod client;
mod peer;
mod planner;
mod smoke;

use std::time::Duration;

use osiris_catalog::{Catalog, Platform};
use osiris_llm::{AnswerMode, ChatModel, EndpointConfig, LlmConfig};
use osiris_planner::{IncidentContext, Prompt};
use osiris_scrub::{IpPolicy, ScrubConfig, ScrubKey, Scrubber, ZipPolicy};

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
    Scrubber::new(&ScrubKey::from_bytes([3; osiris_scrub::KEY_LEN]), &config).unwrap()
}

/// A prompt for a failed ufw check on a Debian host.
pub(crate) fn prompt() -> Prompt {
    let catalog = Catalog::embedded().unwrap();
    let scrubber = scrubber();
    let output = scrubber.scrub_text(r#"{"ok":true,"facts":{"ufw_active":false}}"#);
    let facts = scrubber.scrub_json(&serde_json::json!({"os": "Debian 12"}));
    let history = scrubber.scrub_json(&serde_json::json!([]));
    Prompt::build(
        &catalog,
        &IncidentContext {
            site_id: "5f0c8a2e-1c1d-4b8e-9a51-0d3c6f1b2a77".parse().unwrap(),
            platform: Platform::Debian,
            check: catalog.check("deb.firewall.ufw").unwrap(),
            check_output: &output,
            host_facts: &facts,
            history: &history,
        },
    )
}

pub(crate) fn endpoint(name: &str, url: &str, mode: AnswerMode) -> EndpointConfig {
    EndpointConfig {
        name: name.to_owned(),
        base_url: url.to_owned(),
        model: format!("{name}-model"),
        api_key: None,
        mode,
        timeout: Duration::from_secs(5),
        retries: 0,
    }
}

pub(crate) fn client(endpoints: Vec<EndpointConfig>) -> ChatModel {
    ChatModel::new(LlmConfig {
        endpoints,
        retry_pause: Duration::from_millis(10),
    })
    .unwrap()
}

pub(crate) const PLAN: &str = r#"{"runbook_id":"RB-DEB-FIREWALL-001","params":{"osiris_ip":"10.0.0.5"},"confidence":0.9,"reasoning":"ufw is off"}"#;
