//! Incidents: a failed check at a site, deduplicated while open.

use chrono::{DateTime, Utc};
use osiris_core::{HostId, IncidentId, SiteId};

use crate::{BoxFuture, TenantScope};

text_enum!(
    /// How bad the finding is.
    Severity {
        /// Informational.
        Low = "low",
        /// Fix this week.
        Medium = "medium",
        /// Fix today.
        High = "high",
        /// Exposes ePHI now.
        Critical = "critical",
    }
);

text_enum!(
    /// Which healing tier handles (or handled) the incident.
    Tier {
        /// Deterministic rule.
        L1 = "l1",
        /// LLM planner within the runbook whitelist.
        L2 = "l2",
        /// A human.
        L3 = "l3",
    }
);

text_enum!(
    /// Whether the incident still needs attention.
    IncidentStatus {
        /// Still failing.
        Open = "open",
        /// Healed, or closed by a person.
        Resolved = "resolved",
    }
);

/// An incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Its id.
    pub id: IncidentId,
    /// The site it happened at.
    pub site_id: SiteId,
    /// The host, when the check targets one.
    pub host_id: Option<HostId>,
    /// The check that failed.
    pub check_id: String,
    /// While open, a second report with the same key at the same site bumps
    /// this incident instead of opening another.
    pub dedup_key: String,
    /// How bad.
    pub severity: Severity,
    /// Who handles it.
    pub tier: Tier,
    /// Open or resolved.
    pub status: IncidentStatus,
    /// How many reports it absorbed (1 when opened).
    pub occurrences: u32,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it was last reported.
    pub last_seen_at: DateTime<Utc>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// How it was resolved.
    pub resolution: Option<String>,
}

/// An incident report.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// The id it gets if it opens a new incident.
    pub id: IncidentId,
    /// The site; must be visible to the caller.
    pub site_id: SiteId,
    /// The host, when the check targets one.
    pub host_id: Option<HostId>,
    /// The check that failed.
    pub check_id: String,
    /// Deduplication key.
    pub dedup_key: String,
    /// How bad.
    pub severity: Severity,
    /// Who handles it.
    pub tier: Tier,
}

/// The outcome of reporting an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The incident, new or existing.
    pub incident: Incident,
    /// False when the report was folded into an open incident.
    pub created: bool,
}

/// Which incidents to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Only this site.
    pub site: Option<SiteId>,
}

/// Incidents. Visibility follows the incident's site.
pub trait IncidentStore {
    /// Opens an incident, or folds the report into the open incident with
    /// the same site and dedup key (bumping `occurrences`, `last_seen_at`).
    fn report_incident<'a>(
        &'a self,
        scope: &'a TenantScope,
        incident: &'a NewIncident,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Opened>;

    /// Resolves an open incident; resolving twice is an
    /// [`crate::Error::IllegalTransition`].
    fn resolve_incident<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: IncidentId,
        resolution: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Incident>;

    /// One incident.
    fn get_incident<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: IncidentId,
    ) -> BoxFuture<'a, Incident>;

    /// Visible incidents matching the filter, newest first.
    fn list_incidents<'a>(
        &'a self,
        scope: &'a TenantScope,
        filter: IncidentFilter,
    ) -> BoxFuture<'a, Vec<Incident>>;
}
