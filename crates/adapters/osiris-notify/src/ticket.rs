//! [`Ticket`]: what a person needs to decide, built from scrubbed text,
//! catalog data, ids and links.

use chrono::{DateTime, SecondsFormat, Utc};
use osiris_catalog::{Check, HipaaRef, Severity};
use osiris_core::{BundleId, IncidentId, SiteId};
use osiris_scrub::Scrubbed;
use reqwest::Url;
use serde_json::{Value, json};

/// What happened to the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Escalated: a person must look.
    Trigger,
    /// Someone took it (approved, or is working on it).
    Acknowledge,
    /// Fixed, or rejected and closed.
    Resolve,
}

impl Event {
    /// `trigger`, `acknowledge` or `resolve` (PagerDuty's words).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Trigger => "trigger",
            Self::Acknowledge => "acknowledge",
            Self::Resolve => "resolve",
        }
    }

    pub(crate) const fn label(self) -> &'static str {
        match self {
            Self::Trigger => "Needs a decision",
            Self::Acknowledge => "Acknowledged",
            Self::Resolve => "Resolved",
        }
    }
}

/// Links into Central Command, built only from its base URL and ids, so no
/// site text can reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    evidence: Vec<Url>,
    approve: Url,
    reject: Url,
}

impl Links {
    /// `{base}/evidence/{bundle}` for each bundle, and
    /// `{base}/incidents/{incident}/approve` and `…/reject`.
    #[must_use]
    pub fn new(base: &Url, incident: IncidentId, bundles: &[BundleId]) -> Self {
        let at = |path: String| {
            let mut url = base.clone();
            let joined = format!("{}{path}", base.path().trim_end_matches('/'));
            url.set_path(&joined);
            url.set_query(None);
            url.set_fragment(None);
            url
        };
        Self {
            evidence: bundles
                .iter()
                .map(|bundle| at(format!("/evidence/{bundle}")))
                .collect(),
            approve: at(format!("/incidents/{incident}/approve")),
            reject: at(format!("/incidents/{incident}/reject")),
        }
    }
}

/// The parts of a ticket: site data only as [`Scrubbed`] text.
#[derive(Debug)]
pub struct TicketParts<'a> {
    /// The incident.
    pub incident_id: IncidentId,
    /// Its site.
    pub site_id: SiteId,
    /// The failed check, from the catalog.
    pub check: &'a Check,
    /// The host's name, scrubbed.
    pub host: Scrubbed<String>,
    /// What drifted, in words, scrubbed.
    pub drift: Scrubbed<String>,
    /// What was tried (L1 runs, the L2 planner's refusal), scrubbed.
    pub tried: Vec<Scrubbed<String>>,
    /// Evidence, approve and reject links.
    pub links: Links,
    /// When the incident was escalated.
    pub raised_at: DateTime<Utc>,
}

/// An escalation ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    incident_id: IncidentId,
    site_id: SiteId,
    check_id: String,
    title: String,
    severity: Severity,
    hipaa: Vec<HipaaRef>,
    host: Scrubbed<String>,
    drift: Scrubbed<String>,
    tried: Vec<Scrubbed<String>>,
    links: Links,
    raised_at: DateTime<Utc>,
}

impl Ticket {
    /// The ticket for `parts`.
    #[must_use]
    pub fn new(parts: TicketParts<'_>) -> Self {
        Self {
            incident_id: parts.incident_id,
            site_id: parts.site_id,
            check_id: parts.check.id.clone(),
            title: parts.check.title.clone(),
            severity: parts.check.severity,
            hipaa: parts.check.hipaa.clone(),
            host: parts.host,
            drift: parts.drift,
            tried: parts.tried,
            links: parts.links,
            raised_at: parts.raised_at,
        }
    }

    /// The key every channel uses for this incident (PagerDuty's
    /// `dedup_key`): the same for its trigger, acknowledgement and resolution.
    #[must_use]
    pub fn dedup_key(&self) -> String {
        format!("osiris-incident-{}", self.incident_id)
    }

    /// A one-line summary: severity, check title and host.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "{}: {} on {}",
            severity(self.severity),
            self.title,
            self.host.as_str()
        )
    }

    /// The ticket as JSON (`osiris.ticket.v1`), the generic webhook's body.
    #[must_use]
    pub fn to_json(&self, event: Event) -> Value {
        json!({
            "schema": "osiris.ticket.v1",
            "event": event.as_str(),
            "dedup_key": self.dedup_key(),
            "incident_id": self.incident_id.to_string(),
            "site_id": self.site_id.to_string(),
            "severity": severity(self.severity),
            "check": {"id": self.check_id, "title": self.title},
            "host": self.host.as_str(),
            "drift": self.drift.as_str(),
            "hipaa": self.hipaa.iter().map(|h| json!({"cite": h.cite.to_string(), "name": h.name})).collect::<Vec<_>>(),
            "tried": self.tried.iter().map(Scrubbed::as_str).collect::<Vec<_>>(),
            "evidence": self.links.evidence.iter().map(Url::as_str).collect::<Vec<_>>(),
            "approve_url": self.links.approve.as_str(),
            "reject_url": self.links.reject.as_str(),
            "raised_at": self.raised_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
    }

    pub(crate) fn incident_id(&self) -> IncidentId {
        self.incident_id
    }
    pub(crate) fn check_id(&self) -> &str {
        &self.check_id
    }
    pub(crate) fn title(&self) -> &str {
        &self.title
    }
    pub(crate) const fn severity(&self) -> Severity {
        self.severity
    }
    pub(crate) fn hipaa(&self) -> &[HipaaRef] {
        &self.hipaa
    }
    pub(crate) fn host(&self) -> &str {
        self.host.as_str()
    }
    pub(crate) fn drift(&self) -> &str {
        self.drift.as_str()
    }
    pub(crate) fn tried(&self) -> impl Iterator<Item = &str> {
        self.tried.iter().map(Scrubbed::as_str)
    }
    pub(crate) fn evidence(&self) -> &[Url] {
        &self.links.evidence
    }
    pub(crate) const fn approve(&self) -> &Url {
        &self.links.approve
    }
    pub(crate) const fn reject(&self) -> &Url {
        &self.links.reject
    }
    pub(crate) const fn raised_at(&self) -> DateTime<Utc> {
        self.raised_at
    }
    pub(crate) const fn site_id(&self) -> SiteId {
        self.site_id
    }
}

pub(crate) const fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}
