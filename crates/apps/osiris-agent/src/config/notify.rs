//! `[notify]`: where escalation tickets go. Every secret (Slack's webhook
//! URL, PagerDuty's routing key, the SMTP password, the webhook's signing
//! key) is named by an environment variable (`*_env`) or a 0600 file
//! (`*_file`), exactly one of the two, never written in the file itself.

use std::path::PathBuf;

use serde::Deserialize;

/// The L3 channels and how delivery is retried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// The limit of one send on one channel, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The first retry's pause after a transient failure, in seconds;
    /// doubled each attempt, with jitter.
    #[serde(default = "default_retry_base")]
    pub retry_base_secs: u64,
    /// The longest pause between two attempts, in seconds.
    #[serde(default = "default_retry_cap")]
    pub retry_cap_secs: u64,
    /// Attempts before a channel that keeps failing is given up on.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Slack incoming webhook.
    #[serde(default)]
    pub slack: Option<SlackSettings>,
    /// PagerDuty Events API v2.
    #[serde(default)]
    pub pagerduty: Option<PagerDutySettings>,
    /// E-mail over SMTP with STARTTLS or implicit TLS.
    #[serde(default)]
    pub email: Option<EmailSettings>,
    /// A generic webhook, signed with HMAC-SHA256.
    #[serde(default)]
    pub webhook: Option<WebhookSettings>,
}

/// Where a secret is: an environment variable or a 0600 file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// An environment variable holding it.
    #[serde(default)]
    pub env: Option<String>,
    /// A file (mode 0600) holding it.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// `[notify.slack]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    /// Where the incoming webhook URL is (the URL is the credential).
    pub webhook_url: SecretRef,
}

/// `[notify.pagerduty]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySettings {
    /// Where the service integration's routing key is.
    pub routing_key: SecretRef,
    /// The Events API v2 URL.
    #[serde(default = "default_pagerduty_url")]
    pub events_url: String,
}

/// `[notify.email]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The SMTP server.
    pub host: String,
    /// Its port.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// `starttls` (required, the default) or `tls` (implicit, port 465).
    #[serde(default = "default_security")]
    pub security: String,
    /// The name the server's certificate carries; unset: `host`.
    #[serde(default)]
    pub tls_name: Option<String>,
    /// A private CA (PEM file) trusted besides the public roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The login, when the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Where its password is.
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// The sender, `Osiris <osiris@clinic.example>`.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
}

/// `[notify.webhook]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The receiver's URL (https, or http on loopback).
    pub url: String,
    /// Where the shared signing key is (at least 16 bytes).
    pub key: SecretRef,
}

const fn default_timeout() -> u64 {
    10
}

const fn default_retry_base() -> u64 {
    30
}

const fn default_retry_cap() -> u64 {
    3600
}

const fn default_attempts() -> u32 {
    20
}

fn default_pagerduty_url() -> String {
    osiris_notify::PAGERDUTY_EVENTS_URL.to_owned()
}

const fn default_smtp_port() -> u16 {
    587
}

fn default_security() -> String {
    "starttls".to_owned()
}

impl NotifySettings {
    /// The configured channels' names, in delivery order.
    #[must_use]
    pub fn channel_names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.slack.is_some() {
            names.push("slack");
        }
        if self.pagerduty.is_some() {
            names.push("pagerduty");
        }
        if self.email.is_some() {
            names.push("email");
        }
        if self.webhook.is_some() {
            names.push("webhook");
        }
        names
    }
}

fn secret_problems(setting: &str, secret: &SecretRef, bad: &mut impl FnMut(&str, &str)) {
    match (&secret.env, &secret.file) {
        (Some(var), None) if var.trim().is_empty() => {
            bad(&format!("{setting}.env"), "must name a variable");
        }
        (Some(_), None) | (None, Some(_)) => {}
        _ => bad(setting, "needs exactly one of env, file"),
    }
}

fn url_problems(setting: &str, url: &str, bad: &mut impl FnMut(&str, &str)) {
    match reqwest::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "https" => {}
        Ok(parsed) if parsed.scheme() == "http" => {
            let host = parsed.host_str().unwrap_or_default();
            let loopback = host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                bad(setting, "must be https (http only on loopback)");
            }
        }
        _ => bad(setting, "must be an https:// URL"),
    }
}

/// Every problem of a `[notify]` section, each naming its setting.
pub(super) fn problems(notify: &NotifySettings, bad: &mut impl FnMut(&str, &str)) {
    if !(1..=300).contains(&notify.timeout_secs) {
        bad("notify.timeout_secs", "must be between 1 and 300");
    }
    if !(1..=86_400).contains(&notify.retry_base_secs) {
        bad("notify.retry_base_secs", "must be between 1 and 86400");
    }
    if notify.retry_cap_secs < notify.retry_base_secs || notify.retry_cap_secs > 7 * 86_400 {
        bad(
            "notify.retry_cap_secs",
            "must be at least notify.retry_base_secs and at most 604800",
        );
    }
    if !(1..=1000).contains(&notify.max_attempts) {
        bad("notify.max_attempts", "must be between 1 and 1000");
    }
    if notify.channel_names().is_empty() {
        bad(
            "notify",
            "names no channel: add [notify.slack], [notify.pagerduty], [notify.email] or [notify.webhook]",
        );
    }
    if let Some(slack) = &notify.slack {
        secret_problems("notify.slack.webhook_url", &slack.webhook_url, bad);
    }
    if let Some(pagerduty) = &notify.pagerduty {
        secret_problems("notify.pagerduty.routing_key", &pagerduty.routing_key, bad);
        url_problems("notify.pagerduty.events_url", &pagerduty.events_url, bad);
    }
    if let Some(email) = &notify.email {
        if email.host.trim().is_empty() {
            bad("notify.email.host", "must name the SMTP server");
        }
        if email.port == 0 {
            bad("notify.email.port", "must not be 0");
        }
        if !matches!(email.security.as_str(), "starttls" | "tls") {
            bad("notify.email.security", "must be starttls or tls");
        }
        if !is_address(&email.from) {
            bad("notify.email.from", "is not an e-mail address");
        }
        if email.to.is_empty() {
            bad("notify.email.to", "needs at least one recipient");
        }
        for (index, to) in email.to.iter().enumerate() {
            if !is_address(to) {
                bad(
                    &format!("notify.email.to[{index}]"),
                    "is not an e-mail address",
                );
            }
        }
        match (&email.username, &email.password) {
            (Some(_), Some(password)) => {
                secret_problems("notify.email.password", password, bad);
            }
            (None, None) => {}
            (Some(_), None) => bad("notify.email.password", "is required with username"),
            (None, Some(_)) => bad("notify.email.username", "is required with password"),
        }
    }
    if let Some(webhook) = &notify.webhook {
        url_problems("notify.webhook.url", &webhook.url, bad);
        secret_problems("notify.webhook.key", &webhook.key, bad);
    }
}

/// `user@domain` or `Name <user@domain>`; lettre checks the rest when the
/// channel is built at start.
fn is_address(text: &str) -> bool {
    let text = text.trim();
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => inner.get(open + 1..).unwrap_or_default(),
        _ => text,
    };
    matches!(address.split_once('@'), Some((user, domain)) if !user.is_empty() && !domain.is_empty())
        && !text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use crate::config::{AgentConfig, ConfigError};

    const BASE: &str = r#"
data_dir = "/var/lib/osiris-agent"
[server]
url = "https://cc.example.net:8443"
[maintenance]
timezone = "UTC"
start = "01:00"
end = "05:00"
"#;

    fn problems(notify: &str) -> Vec<String> {
        match AgentConfig::from_toml(&format!("{BASE}{notify}")) {
            Err(ConfigError::Invalid(problems)) => problems,
            other => panic!("expected invalid settings, got {other:?}"),
        }
    }

    #[test]
    fn a_full_notify_section_loads() {
        let config = AgentConfig::from_toml(&format!(
            "{BASE}{}",
            r#"
[notify]
[notify.slack]
webhook_url = { env = "OSIRIS_SLACK_WEBHOOK" }
[notify.pagerduty]
routing_key = { file = "/etc/osiris/pagerduty.key" }
[notify.email]
host = "smtp.clinic.example"
username = "osiris"
password = { env = "OSIRIS_SMTP_PASSWORD" }
from = "Osiris <osiris@clinic.example>"
to = ["it@clinic.example"]
[notify.webhook]
url = "https://hooks.clinic.example/osiris"
key = { env = "OSIRIS_WEBHOOK_KEY" }
"#
        ))
        .unwrap();
        let notify = config.notify.unwrap();
        assert_eq!(
            notify.channel_names(),
            ["slack", "pagerduty", "email", "webhook"]
        );
        assert_eq!(notify.email.unwrap().port, 587);
        assert_eq!(
            notify.pagerduty.unwrap().events_url,
            osiris_notify::PAGERDUTY_EVENTS_URL
        );
    }

    #[test]
    fn every_bad_notify_setting_is_named() {
        let found = problems(
            r#"
[notify]
timeout_secs = 0
retry_base_secs = 100
retry_cap_secs = 10
[notify.slack]
webhook_url = {}
[notify.pagerduty]
routing_key = { env = "A", file = "/b" }
events_url = "http://events.pagerduty.com/v2/enqueue"
[notify.email]
host = ""
security = "plain"
password = { env = "P" }
from = "nobody"
to = ["ok@clinic.example", "broken"]
[notify.webhook]
url = "ftp://hooks.example"
key = { env = "" }
"#,
        );
        for setting in [
            "notify.timeout_secs",
            "notify.retry_cap_secs",
            "notify.slack.webhook_url",
            "notify.pagerduty.routing_key",
            "notify.pagerduty.events_url",
            "notify.email.host",
            "notify.email.security",
            "notify.email.username",
            "notify.email.from",
            "notify.email.to[1]",
            "notify.webhook.url",
            "notify.webhook.key.env",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(&format!("{setting}:"))),
                "{setting} not named in {found:#?}"
            );
        }
        assert!(
            problems("[notify]\n")
                .iter()
                .any(|p| p.starts_with("notify:"))
        );
    }

    #[test]
    fn a_secret_cannot_be_written_inline() {
        match AgentConfig::from_toml(&format!(
            "{BASE}[notify.webhook]\nurl = \"https://h.example\"\nkey = \"inline-secret-value\"\n"
        )) {
            Err(ConfigError::Load(text)) => {
                assert!(text.contains("notify.webhook.key"), "{text}");
            }
            other => panic!("an inline secret was accepted: {other:?}"),
        }
    }
}
