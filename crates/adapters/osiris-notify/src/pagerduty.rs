//! PagerDuty Events API v2: trigger, acknowledge and resolve under the
//! ticket's stable dedup key.

use std::time::Duration;

use chrono::SecondsFormat;
use osiris_catalog::Severity;
use osiris_core::Secret;
use reqwest::Url;
use serde_json::{Value, json};

use crate::error::Result;
use crate::http;
use crate::notifier::{BoxFuture, Channel};
use crate::ticket::{Event, Ticket};

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty's limit on `payload.summary`.
const SUMMARY_LIMIT: usize = 1024;

/// Where and how to send events.
#[derive(Debug)]
pub struct PagerDutyConfig {
    /// The Events API v2 URL ([`PAGERDUTY_EVENTS_URL`]).
    pub events_url: String,
    /// The service integration's routing key.
    pub routing_key: Secret<String>,
    /// `payload.source`: the appliance or site the alerts come from.
    pub source: String,
    /// The limit for one request.
    pub timeout: Duration,
}

/// A PagerDuty service.
#[derive(Debug)]
pub struct PagerDutyChannel {
    url: Url,
    routing_key: Secret<String>,
    source: String,
    http: reqwest::Client,
}

impl PagerDutyChannel {
    /// A channel sending to `config.events_url`.
    ///
    /// # Errors
    /// A URL that is not https (http only on loopback), or an empty key.
    pub fn new(config: PagerDutyConfig) -> Result<Self> {
        if config.routing_key.expose().trim().is_empty() {
            return Err(crate::Error::Config {
                channel: "pagerduty",
                reason: "routing_key is empty".to_owned(),
            });
        }
        Ok(Self {
            url: http::url("pagerduty", "events_url", &config.events_url)?,
            http: http::client("pagerduty", config.timeout)?,
            routing_key: config.routing_key,
            source: config.source,
        })
    }

    /// The event body for `ticket` (without the routing key, which is
    /// added when sending).
    #[must_use]
    pub fn payload(&self, ticket: &Ticket, event: Event) -> Value {
        let mut body = json!({
            "event_action": event.as_str(),
            "dedup_key": ticket.dedup_key(),
        });
        if event == Event::Trigger {
            let mut links: Vec<Value> = ticket
                .evidence()
                .iter()
                .enumerate()
                .map(|(i, url)| json!({"href": url.as_str(), "text": format!("Evidence bundle {}", i + 1)}))
                .collect();
            links.push(
                json!({"href": ticket.approve().as_str(), "text": "Approve the proposed fix"}),
            );
            links.push(json!({"href": ticket.reject().as_str(), "text": "Reject"}));
            let extra = json!({
                "payload": {
                    "summary": http::cut(&ticket.summary(), SUMMARY_LIMIT),
                    "source": self.source,
                    "severity": severity(ticket.severity()),
                    "timestamp": ticket.raised_at().to_rfc3339_opts(SecondsFormat::Secs, true),
                    "component": ticket.check_id(),
                    "group": ticket.site_id().to_string(),
                    "class": "compliance-drift",
                    "custom_details": {
                        "incident_id": ticket.incident_id().to_string(),
                        "host": ticket.host(),
                        "what_drifted": ticket.drift(),
                        "hipaa": ticket.hipaa().iter().map(|h| format!("{} {}", h.cite, h.name)).collect::<Vec<_>>(),
                        "what_was_tried": ticket.tried().collect::<Vec<_>>(),
                    },
                },
                "client": "Osiris",
                "client_url": ticket.approve().as_str(),
                "links": links,
            });
            if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
                body.extend(extra);
            }
        }
        body
    }
}

impl Channel for PagerDutyChannel {
    fn name(&self) -> &str {
        "pagerduty"
    }

    fn send<'a>(&'a self, ticket: &'a Ticket, event: Event) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut body = self.payload(ticket, event);
            if let Value::Object(fields) = &mut body {
                fields.insert(
                    "routing_key".to_owned(),
                    Value::String(self.routing_key.expose().clone()),
                );
            }
            http::post("pagerduty", self.http.post(self.url.clone()).json(&body)).await?;
            Ok(())
        })
    }
}

/// PagerDuty's four severities.
const fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "info",
    }
}
