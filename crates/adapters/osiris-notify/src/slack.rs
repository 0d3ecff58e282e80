//! Slack incoming webhooks with a Block Kit message.

use std::fmt::Write as _;
use std::time::Duration;

use osiris_core::Secret;
use reqwest::Url;
use serde_json::{Value, json};

use crate::error::Result;
use crate::http;
use crate::notifier::{BoxFuture, Channel};
use crate::ticket::{Event, Ticket, severity};

/// Slack's limits on a header block's and a section's text.
const HEADER_LIMIT: usize = 150;
const SECTION_LIMIT: usize = 3000;

/// Where to post.
#[derive(Debug)]
pub struct SlackConfig {
    /// The incoming webhook URL (it is the credential).
    pub webhook_url: Secret<String>,
    /// The limit for one post.
    pub timeout: Duration,
}

/// A Slack incoming webhook.
pub struct SlackChannel {
    url: Url,
    http: reqwest::Client,
}

impl std::fmt::Debug for SlackChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackChannel([redacted webhook])")
    }
}

impl SlackChannel {
    /// A channel posting to `config.webhook_url`.
    ///
    /// # Errors
    /// A URL that is not https (http only on loopback).
    pub fn new(config: &SlackConfig) -> Result<Self> {
        Ok(Self {
            url: http::url("slack", "webhook_url", config.webhook_url.expose())?,
            http: http::client("slack", config.timeout)?,
        })
    }

    /// The Block Kit message for `event` on `ticket`.
    #[must_use]
    pub fn payload(ticket: &Ticket, event: Event) -> Value {
        let header = format!("{} · {}", event.label(), ticket.title());
        let mut hipaa = String::from("*HIPAA*");
        for cite in ticket.hipaa() {
            let _ = write!(hipaa, "\n• {} {}", cite.cite, escape(&cite.name));
        }
        let mut tried = String::from("*What was tried*");
        let mut any = false;
        for attempt in ticket.tried() {
            any = true;
            let _ = write!(tried, "\n• {}", escape(attempt));
        }
        if !any {
            tried.push_str("\nnothing: no rule or plan applied");
        }
        let evidence: Vec<String> = ticket
            .evidence()
            .iter()
            .enumerate()
            .map(|(i, url)| format!("<{url}|bundle {}>", i + 1))
            .collect();
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": http::cut(&header, HEADER_LIMIT), "emoji": false}}),
            json!({"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Host*\n{}", escape(ticket.host()))},
                {"type": "mrkdwn", "text": format!("*Severity*\n{}", severity(ticket.severity()))},
                {"type": "mrkdwn", "text": format!("*Check*\n`{}`", escape(ticket.check_id()))},
                {"type": "mrkdwn", "text": format!("*Status*\n{}", event.label())},
            ]}),
            section(&format!("*What drifted*\n{}", escape(ticket.drift()))),
            section(&hipaa),
            section(&tried),
        ];
        if !evidence.is_empty() {
            blocks.push(json!({"type": "context", "elements": [
                {"type": "mrkdwn", "text": http::cut(&format!("Evidence: {}", evidence.join(" · ")), SECTION_LIMIT)},
            ]}));
        }
        if event == Event::Trigger {
            blocks.push(json!({"type": "actions", "block_id": "osiris_decision", "elements": [
                {"type": "button", "action_id": "approve", "style": "primary",
                 "text": {"type": "plain_text", "text": "Approve"}, "url": ticket.approve().as_str()},
                {"type": "button", "action_id": "reject", "style": "danger",
                 "text": {"type": "plain_text", "text": "Reject"}, "url": ticket.reject().as_str()},
            ]}));
        }
        json!({
            "text": format!("{} · {}", event.label(), ticket.summary()),
            "blocks": blocks,
        })
    }
}

impl Channel for SlackChannel {
    fn name(&self) -> &str {
        "slack"
    }

    fn send<'a>(&'a self, ticket: &'a Ticket, event: Event) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let body = Self::payload(ticket, event);
            http::post("slack", self.http.post(self.url.clone()).json(&body)).await?;
            Ok(())
        })
    }
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": http::cut(text, SECTION_LIMIT)}})
}

/// Slack's three control characters in message text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
