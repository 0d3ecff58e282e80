//! L3 escalation: what neither L1 rules nor the L2 planner could fix goes
//! to a person as a [`Ticket`] (what drifted, the HIPAA citations, what was
//! tried, evidence links, approve and reject links) over one or more
//! [`Channel`]s:
//!
//! - [`SlackChannel`]: a Slack incoming webhook with a Block Kit message;
//! - [`PagerDutyChannel`]: PagerDuty Events API v2, trigger, acknowledge and
//!   resolve under one stable dedup key per incident;
//! - [`EmailChannel`]: e-mail over SMTP with STARTTLS (or implicit TLS) via
//!   lettre, rustls on ring;
//! - [`WebhookChannel`]: the ticket as JSON, its body signed with
//!   HMAC-SHA256 over `{timestamp}.{body}`.
//!
//! [`Notifier::notify`] sends to every channel at once, each under its own
//! time limit, so a dead channel never blocks or fails the others; every
//! channel's result comes back in a [`Delivery`], with [`Error::is_transient`]
//! telling the caller's durable queue whether to retry.
//!
//! **Invariant:** a ticket holds site data only as
//! [`osiris_scrub::Scrubbed`] text; the rest is catalog data, ids and links
//! built from a base URL and ids ([`Links`]). **Boundary:** webhook URLs,
//! routing keys, SMTP passwords and signing keys are
//! [`osiris_core::Secret`]s, never in `Debug`, a log or an error.
//! This crate must not depend on another adapter or an app.

mod email;
mod error;
mod http;
mod notifier;
mod pagerduty;
mod slack;
mod ticket;
mod webhook;

pub use email::{EmailChannel, EmailConfig, SmtpSecurity};
pub use error::{Error, Result};
pub use notifier::{BoxFuture, Channel, Delivery, Notifier};
pub use pagerduty::{PAGERDUTY_EVENTS_URL, PagerDutyChannel, PagerDutyConfig};
pub use slack::{SlackChannel, SlackConfig};
pub use ticket::{Event, Links, Ticket, TicketParts};
pub use webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookChannel, WebhookConfig, signature};
