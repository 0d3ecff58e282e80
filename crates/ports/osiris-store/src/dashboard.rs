//! The fleet overview in a constant number of statements: every visible
//! site with its appliances, last check-in, open incidents and its check
//! results counted per UTC day and hour. The counts come from rollups the
//! backends keep as evidence is indexed (one row per site and day, and per
//! site and hour), so the overview reads a few rows per site, never every
//! check result of the period.

use chrono::{DateTime, Utc};
use osiris_core::SiteId;

use crate::{BoxFuture, TenantScope};

/// Check results and how many of them passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckCounts {
    /// Check results (`check` bundles) indexed.
    pub results: u64,
    /// Those whose outcome is `pass`.
    pub passed: u64,
}

/// One UTC day of a site's check results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyChecks {
    /// Midnight UTC starting the day.
    pub day: DateTime<Utc>,
    /// Its check results (by their `created_at`).
    pub counts: CheckCounts,
}

/// One visible site as the fleet overview shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteOverview {
    /// The site.
    pub site_id: SiteId,
    /// Its display name.
    pub name: String,
    /// Appliances serving it.
    pub appliances: u64,
    /// The most recent check-in of any of them.
    pub last_checkin_at: Option<DateTime<Utc>>,
    /// Its open incidents.
    pub open_incidents: u64,
    /// Its check results per UTC day in the period, oldest first; days
    /// without results are left out.
    pub daily: Vec<DailyChecks>,
    /// Its check results in the UTC hours of the recent period.
    pub recent: CheckCounts,
}

/// What the fleet overview covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverviewPeriod {
    /// The first UTC day counted (midnight UTC; a later instant counts
    /// from the next midnight).
    pub days_from: DateTime<Utc>,
    /// The first UTC hour of the recent counts (a whole hour; a later
    /// instant counts from the next hour).
    pub recent_from: DateTime<Utc>,
    /// Days and hours that start at or after this are not counted.
    pub until: DateTime<Utc>,
}

/// The fleet overview.
pub trait DashboardStore {
    /// Every site visible to `scope`, by name then id, with its figures
    /// over `period`. Check results are counted by the UTC day and hour of
    /// their `created_at`; other kinds of evidence are not counted. The
    /// number of statements does not depend on the number of sites.
    fn fleet_overview<'a>(
        &'a self,
        scope: &'a TenantScope,
        period: OverviewPeriod,
    ) -> BoxFuture<'a, Vec<SiteOverview>>;
}
