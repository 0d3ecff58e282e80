//! L3 on the appliance: every escalated incident becomes a [`Ticket`]
//! (what drifted, the check's HIPAA citations from the catalog, what was
//! tried, evidence, approve and reject links into Central Command) sent to
//! the `[notify]` channels through a durable outbox in the state database.
//!
//! Each (ticket, event, channel) is one row: sent once Central Command's
//! id of the incident is known (the links name it), retried after a
//! transient failure with exponential backoff and jitter, given up after a
//! permanent one or `max_attempts`; each final outcome is an `escalation`
//! bundle. Every channel's send is its own task under its own time limit,
//! and delivery runs beside the sweep, so a dead channel delays nothing
//! else. An approved incident sends `acknowledge`, a resolved or rejected
//! one `resolve` (PagerDuty closes its alert under the same dedup key).
//!
//! **Invariant:** a ticket is built only from `Scrubbed` text: the stored
//! content was scrubbed before it was written, and is scrubbed again (a
//! no-op, scrubbing is idempotent) to become `Scrubbed` when read back.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use osiris_catalog::{Catalog, Check};
use osiris_core::{BundleId, Clock, IncidentId, Secret, SiteId};
use osiris_evidence::{BundleDraft, Kind};
use osiris_notify::{
    Channel, EmailChannel, EmailConfig, Event, Links, PagerDutyChannel, PagerDutyConfig,
    SlackChannel, SlackConfig, SmtpSecurity, Ticket, TicketParts, WebhookChannel, WebhookConfig,
};
use osiris_queue::Queue;
use osiris_scrub::Scrubber;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinSet;

use crate::AgentError;
use crate::config::{NotifySettings, SecretRef};
use crate::state::{Attempt, DueDelivery, State};
use crate::targets::EnvLookup;

/// Deliveries attempted in one round at most.
const ROUND: u32 = 256;

/// How long to wait before retrying, and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The pause after the first failure.
    pub base: Duration,
    /// The longest pause.
    pub cap: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The pause before attempt `failures + 1`, after `failures` (≥ 1)
    /// transient failures: `min(cap, base·2^(failures-1))`, of which the
    /// upper half is random (`random`), so appliances that failed together
    /// do not retry together, and no retry comes sooner than half the
    /// exponential step.
    #[must_use]
    pub fn delay(&self, failures: u32, random: u64) -> Duration {
        let base = u64::try_from(self.base.as_millis()).unwrap_or(u64::MAX);
        let cap = u64::try_from(self.cap.as_millis()).unwrap_or(u64::MAX);
        let shift = failures.saturating_sub(1).min(40);
        let step = base.saturating_mul(1_u64 << shift).min(cap);
        let half = step / 2;
        let spread = step - half;
        Duration::from_millis(half + random % spread.saturating_add(1))
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliverySummary {
    /// Deliveries that reached their channel.
    pub sent: u32,
    /// Transient failures to be retried.
    pub retrying: u32,
    /// Deliveries given up (permanent failure or too many attempts).
    pub failed: u32,
}

/// The ticket's content as stored: scrubbed text and ids only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Content {
    check_id: String,
    host: String,
    drift: String,
    tried: Vec<String>,
    evidence: Vec<BundleId>,
}

/// What is known when an incident is escalated.
#[derive(Debug)]
pub struct Escalated<'a> {
    /// The appliance's incident.
    pub incident: IncidentId,
    /// The target's inventory name.
    pub host: &'a str,
    /// The failed check.
    pub check: &'a Check,
    /// What the check found (its output), unscrubbed.
    pub drift: &'a str,
    /// What was tried and why it stopped, unscrubbed.
    pub tried: Vec<String>,
}

/// The channels, the outbox and what a ticket needs.
#[derive(Debug)]
pub struct Escalations {
    channels: Vec<Arc<dyn Channel>>,
    timeout: Duration,
    retry: RetryPolicy,
    server: Url,
    site_id: SiteId,
    catalog: Arc<Catalog>,
    scrubber: Arc<Scrubber>,
    queue: Queue,
    state: State,
    clock: Arc<dyn Clock>,
}

/// The parts the appliance hands over.
#[derive(Debug)]
pub struct EscalationParts {
    /// Central Command's URL (ticket links point there).
    pub server_url: String,
    /// The site.
    pub site_id: SiteId,
    /// The catalog (check titles and HIPAA citations).
    pub catalog: Arc<Catalog>,
    /// Scrubs everything a ticket says.
    pub scrubber: Arc<Scrubber>,
    /// Where evidence goes.
    pub queue: Queue,
    /// The outbox.
    pub state: State,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

fn secret(
    setting: &str,
    reference: &SecretRef,
    env: &EnvLookup,
) -> Result<Secret<String>, AgentError> {
    let bad = |reason: String| {
        AgentError::Config(crate::ConfigError::Invalid(vec![format!(
            "{setting}: {reason}"
        )]))
    };
    match (&reference.env, &reference.file) {
        (Some(var), _) => env(var)
            .filter(|value| !value.is_empty())
            .map(Secret::new)
            .ok_or_else(|| bad(format!("environment variable {var} is not set or empty"))),
        (None, Some(file)) => crate::targets::read_secret_file(file)
            .map(|text| Secret::new(text.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(bad),
        (None, None) => Err(bad("needs exactly one of env, file".to_owned())),
    }
}

/// The configured channels, each checked now so a bad setting stops the
/// start, naming it.
///
/// # Errors
/// A secret that cannot be read, or a channel that refuses its settings.
pub fn channels(
    settings: &NotifySettings,
    env: &EnvLookup,
    clock: &Arc<dyn Clock>,
    source: &str,
) -> Result<Vec<Arc<dyn Channel>>, AgentError> {
    let timeout = Duration::from_secs(settings.timeout_secs);
    let refused = |setting: &str, error: osiris_notify::Error| {
        AgentError::Config(crate::ConfigError::Invalid(vec![format!(
            "{setting}: {error}"
        )]))
    };
    let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
    if let Some(slack) = &settings.slack {
        let webhook_url = secret("notify.slack.webhook_url", &slack.webhook_url, env)?;
        let channel = SlackChannel::new(&SlackConfig {
            webhook_url,
            timeout,
        })
        .map_err(|e| refused("notify.slack", e))?;
        channels.push(Arc::new(channel));
    }
    if let Some(pagerduty) = &settings.pagerduty {
        let routing_key = secret("notify.pagerduty.routing_key", &pagerduty.routing_key, env)?;
        let channel = PagerDutyChannel::new(PagerDutyConfig {
            events_url: pagerduty.events_url.clone(),
            routing_key,
            source: source.to_owned(),
            timeout,
        })
        .map_err(|e| refused("notify.pagerduty", e))?;
        channels.push(Arc::new(channel));
    }
    if let Some(email) = &settings.email {
        let password = match &email.password {
            Some(reference) => Some(secret("notify.email.password", reference, env)?),
            None => None,
        };
        let ca_pem = match &email.ca_file {
            Some(file) => Some(std::fs::read_to_string(file).map_err(|e| {
                AgentError::Config(crate::ConfigError::Invalid(vec![format!(
                    "notify.email.ca_file: cannot read {}: {e}",
                    file.display()
                )]))
            })?),
            None => None,
        };
        let channel = EmailChannel::new(EmailConfig {
            host: email.host.clone(),
            port: email.port,
            tls_name: email.tls_name.clone().unwrap_or_else(|| email.host.clone()),
            security: if email.security == "tls" {
                SmtpSecurity::ImplicitTls
            } else {
                SmtpSecurity::Starttls
            },
            ca_pem,
            username: email.username.clone(),
            password,
            from: email.from.clone(),
            to: email.to.clone(),
            timeout,
        })
        .map_err(|e| refused("notify.email", e))?;
        channels.push(Arc::new(channel));
    }
    if let Some(webhook) = &settings.webhook {
        let key = secret("notify.webhook.key", &webhook.key, env)?;
        let channel = WebhookChannel::new(
            WebhookConfig {
                url: webhook.url.clone(),
                key,
                timeout,
            },
            Arc::clone(clock),
        )
        .map_err(|e| refused("notify.webhook", e))?;
        channels.push(Arc::new(channel));
    }
    Ok(channels)
}

fn event(name: &str) -> Option<Event> {
    match name {
        "trigger" => Some(Event::Trigger),
        "acknowledge" => Some(Event::Acknowledge),
        "resolve" => Some(Event::Resolve),
        _ => None,
    }
}

impl Escalations {
    /// The outbox over `channels`.
    ///
    /// # Errors
    /// A server URL that does not parse.
    pub fn new(
        settings: &NotifySettings,
        channels: Vec<Arc<dyn Channel>>,
        parts: EscalationParts,
    ) -> Result<Self, AgentError> {
        let server = Url::parse(&parts.server_url).map_err(|e| {
            AgentError::Config(crate::ConfigError::Invalid(vec![format!(
                "server.url: {e}"
            )]))
        })?;
        Ok(Self {
            channels,
            timeout: Duration::from_secs(settings.timeout_secs),
            retry: RetryPolicy {
                base: Duration::from_secs(settings.retry_base_secs),
                cap: Duration::from_secs(settings.retry_cap_secs),
                max_attempts: settings.max_attempts,
            },
            server,
            site_id: parts.site_id,
            catalog: parts.catalog,
            scrubber: parts.scrubber,
            queue: parts.queue,
            state: parts.state,
            clock: parts.clock,
        })
    }

    fn names(&self) -> Vec<&str> {
        self.channels.iter().map(|c| c.name()).collect()
    }

    /// Opens the ticket of an escalated incident: its content scrubbed
    /// and stored with a trigger due on every channel, and an `escalation`
    /// bundle the ticket links to as its evidence. A second call for the
    /// same incident changes nothing.
    ///
    /// # Errors
    /// When the state database or the queue fails.
    pub async fn open(&self, escalated: Escalated<'_>) -> Result<(), AgentError> {
        let now = self.clock.now();
        let bundle_id = BundleId::random();
        let content = Content {
            check_id: escalated.check.id.clone(),
            host: self.scrubber.scrub_text(escalated.host).into_inner(),
            drift: self
                .scrubber
                .scrub_text(&drift_text(escalated.check, escalated.drift))
                .into_inner(),
            tried: escalated
                .tried
                .iter()
                .map(|t| self.scrubber.scrub_text(t).into_inner())
                .collect(),
            evidence: vec![bundle_id],
        };
        let text =
            serde_json::to_string(&content).map_err(|e| AgentError::Encode(e.to_string()))?;
        let names = self.names();
        if !self
            .state
            .open_ticket(escalated.incident, &text, &names, now)
            .await?
        {
            return Ok(());
        }
        let draft = BundleDraft {
            bundle_id,
            created_at: now,
            kind: Kind::Escalation,
            host: escalated.host.to_owned(),
            hipaa: Vec::new(),
            outcome: "ticket_opened".to_owned(),
            detail: json!({
                "incident_id": escalated.incident.to_string(),
                "check_id": escalated.check.id,
                "tier": "L3",
                "channels": names,
                "tried": content.tried,
            }),
            artifacts: Vec::new(),
        };
        self.queue.append(self.scrubber.scrub_draft(draft)).await?;
        tracing::info!(incident = %escalated.incident, check_id = %escalated.check.id, "escalation ticket opened");
        Ok(())
    }

    /// Queues `event` on every channel for an incident with a ticket
    /// (approved: acknowledge; resolved or rejected: resolve).
    ///
    /// # Errors
    /// When the state database fails.
    pub async fn follow_up(&self, incident: IncidentId, event: Event) -> Result<bool, AgentError> {
        let names = self.names();
        Ok(self
            .state
            .queue_ticket_event(incident, event.as_str(), &names, self.clock.now())
            .await?)
    }

    /// When the next delivery is due, if one is waiting.
    ///
    /// # Errors
    /// When the state database fails.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, AgentError> {
        Ok(self.state.next_delivery_at().await?)
    }

    /// Sends every delivery due now, each channel in its own task under
    /// its own time limit, and records how each ended.
    ///
    /// # Errors
    /// When the state database or the queue fails.
    pub async fn deliver_due(&self) -> Result<DeliverySummary, AgentError> {
        let now = self.clock.now();
        let due = self.state.due_deliveries(now, ROUND).await?;
        let mut tasks = JoinSet::new();
        for delivery in due {
            let Some(channel) = self
                .channels
                .iter()
                .find(|c| c.name() == delivery.channel)
                .cloned()
            else {
                // A channel removed from the configuration since.
                self.state
                    .record_attempt(
                        delivery.incident_id,
                        &delivery.event,
                        &delivery.channel,
                        &Attempt::GaveUp {
                            error: "the channel is no longer configured".to_owned(),
                        },
                        now,
                    )
                    .await?;
                continue;
            };
            let ticket = self.ticket(&delivery);
            let timeout = self.timeout;
            tasks.spawn(async move {
                let result = match (ticket, event(&delivery.event)) {
                    (Ok(ticket), Some(event)) => {
                        match tokio::time::timeout(timeout, channel.send(&ticket, event)).await {
                            Ok(result) => result.map_err(|e| (e.to_string(), e.is_transient())),
                            Err(_) => Err((
                                format!(
                                    "{}: no answer within {} s",
                                    delivery.channel,
                                    timeout.as_secs()
                                ),
                                true,
                            )),
                        }
                    }
                    (Err(error), _) => Err((error, false)),
                    (_, None) => Err((format!("unknown event {}", delivery.event), false)),
                };
                (delivery, result)
            });
        }
        let mut summary = DeliverySummary::default();
        while let Some(joined) = tasks.join_next().await {
            let (delivery, result) = joined.map_err(|e| AgentError::Task(e.to_string()))?;
            self.settle(&delivery, result, &mut summary).await?;
        }
        Ok(summary)
    }

    async fn settle(
        &self,
        delivery: &DueDelivery,
        result: Result<(), (String, bool)>,
        summary: &mut DeliverySummary,
    ) -> Result<(), AgentError> {
        let now = self.clock.now();
        let attempts = delivery.attempts.saturating_add(1);
        let attempt = match result {
            Ok(()) => Attempt::Sent,
            Err((error, true)) if attempts < self.retry.max_attempts => Attempt::Retry {
                at: now
                    + chrono::Duration::from_std(self.retry.delay(
                        attempts,
                        crate::uplink::RandomSource::next_u64(&mut crate::uplink::OsRandom),
                    ))
                    .unwrap_or_else(|_| chrono::Duration::hours(1)),
                error,
            },
            Err((error, _)) => Attempt::GaveUp { error },
        };
        self.state
            .record_attempt(
                delivery.incident_id,
                &delivery.event,
                &delivery.channel,
                &attempt,
                now,
            )
            .await?;
        let (outcome, error) = match &attempt {
            Attempt::Sent => {
                summary.sent += 1;
                tracing::info!(incident = %delivery.incident_id, channel = %delivery.channel, event = %delivery.event, "escalation ticket delivered");
                ("ticket_sent", None)
            }
            Attempt::Retry { at, error } => {
                summary.retrying += 1;
                tracing::warn!(incident = %delivery.incident_id, channel = %delivery.channel, event = %delivery.event, %error, retry_at = %at, "escalation ticket not delivered; retrying later");
                return Ok(());
            }
            Attempt::GaveUp { error } => {
                summary.failed += 1;
                tracing::error!(incident = %delivery.incident_id, channel = %delivery.channel, event = %delivery.event, %error, "escalation ticket given up");
                ("ticket_failed", Some(error.clone()))
            }
        };
        let host = serde_json::from_str::<Content>(&delivery.content)
            .map(|c| c.host)
            .unwrap_or_else(|_| "appliance".to_owned());
        let draft = BundleDraft {
            bundle_id: BundleId::random(),
            created_at: now,
            kind: Kind::Escalation,
            host,
            hipaa: Vec::new(),
            outcome: outcome.to_owned(),
            detail: json!({
                "incident_id": delivery.incident_id.to_string(),
                "server_incident_id": delivery.server_id.to_string(),
                "event": delivery.event,
                "channel": delivery.channel,
                "attempts": attempts,
                "error": error,
                "tier": "L3",
            }),
            artifacts: Vec::new(),
        };
        self.queue.append(self.scrubber.scrub_draft(draft)).await?;
        Ok(())
    }

    /// The ticket of a stored delivery.
    fn ticket(&self, delivery: &DueDelivery) -> Result<Ticket, String> {
        let content: Content = serde_json::from_str(&delivery.content)
            .map_err(|e| format!("the stored ticket does not read: {e}"))?;
        let check = self
            .catalog
            .check(&content.check_id)
            .ok_or_else(|| format!("{} is not in the catalog", content.check_id))?;
        Ok(Ticket::new(TicketParts {
            incident_id: delivery.server_id,
            site_id: self.site_id,
            check,
            host: self.scrubber.scrub_text(&content.host),
            drift: self.scrubber.scrub_text(&content.drift),
            tried: content
                .tried
                .iter()
                .map(|t| self.scrubber.scrub_text(t))
                .collect(),
            links: Links::new(&self.server, delivery.server_id, &content.evidence),
            raised_at: delivery.created_at,
        }))
    }
}

/// What drifted, in words: the check and what it printed (cut at 2 KiB).
fn drift_text(check: &Check, output: &str) -> String {
    let mut end = output.len().min(2048);
    while !output.is_char_boundary(end) {
        end -= 1;
    }
    let shown = output.get(..end).unwrap_or_default().trim();
    if shown.is_empty() {
        format!("{} failed", check.title)
    } else {
        format!("{} failed. The check found: {shown}", check.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_pause_doubles_within_jitter_and_stops_at_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_secs(30),
            cap: Duration::from_secs(600),
            max_attempts: 10,
        };
        for (failures, step) in [
            (1, 30),
            (2, 60),
            (3, 120),
            (4, 240),
            (5, 480),
            (6, 600),
            (40, 600),
        ] {
            let step = Duration::from_secs(step);
            assert_eq!(policy.delay(failures, 0), step / 2, "{failures}: the floor");
            assert!(
                policy.delay(failures, u64::MAX) <= step,
                "{failures}: the ceiling"
            );
            for random in [1, 7, 123_456_789, u64::MAX / 3] {
                let delay = policy.delay(failures, random);
                assert!(delay >= step / 2 && delay <= step, "{failures}: {delay:?}");
            }
        }
        assert_eq!(
            policy.delay(0, 0),
            Duration::from_secs(15),
            "no failure counts as one"
        );
    }

    #[test]
    fn drift_text_names_the_check_and_cuts_long_output() {
        let catalog = Catalog::embedded().unwrap();
        let check = catalog.check("win.encryption.bitlocker").unwrap();
        assert_eq!(drift_text(check, "  "), format!("{} failed", check.title));
        let long = "é".repeat(3000);
        let text = drift_text(check, &long);
        assert!(text.len() < 2200 && text.ends_with('é'), "{}", text.len());
    }
}
