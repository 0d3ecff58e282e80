//! The fleet overview in a constant number of statements: every visible
//! site with its appliances, last check-in, open incidents and its check
//! results counted per UTC day and hour. The counts come from rollups the
//! backends keep as evidence is indexed (one row per site and day, and per
//! site and hour), so the overview reads a few rows per site, never every
//! check result of the period.
//!
//! Also what the incidents-by-tier chart counts: each incident's opening
//! instant and tier over the chart's period.

use chrono::{DateTime, Duration, DurationRound as _, Utc};
use osiris_core::SiteId;

use crate::{BoxFuture, TenantScope, Tier};

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

/// An incident's opening, as the incidents-by-tier chart counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentOpening {
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// Its tier now.
    pub tier: Tier,
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

impl OverviewPeriod {
    /// The `days` UTC days up to `now`'s (today included) and the 24 UTC
    /// hours up to `now`'s (the current one included): whole days and
    /// hours, as the counts are kept.
    #[must_use]
    pub fn ending_at(now: DateTime<Utc>, days: i64) -> Self {
        let today = now.duration_trunc(Duration::days(1)).unwrap_or(now);
        let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        Self {
            days_from: today - Duration::days(days - 1),
            recent_from: hour - Duration::hours(23),
            until: hour + Duration::hours(1),
        }
    }
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

    /// When and at which tier every incident visible to `scope` (of `site`
    /// alone when given) opened at or after `from` and before `until` was
    /// opened, oldest first: two columns of the chart's period instead of
    /// every incident ever. A site outside `scope` has none.
    fn incident_openings<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: Option<SiteId>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<IncidentOpening>>;

    /// Deletes the hourly check counts of every site for the UTC hours
    /// that start before `before`, returning how many site-hours went. Only
    /// the recent period reads them, and the daily counts stay, so the
    /// server prunes what has aged out of every possible recent period
    /// rather than keep 24 rows per site per day for ever. Not a tenant
    /// operation: the server's own housekeeping.
    fn prune_check_hours(&self, before: DateTime<Utc>) -> BoxFuture<'_, u64>;
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn a_period_is_whole_utc_days_and_hours_up_to_the_current_ones() {
        let at = |d, h| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 18, 42, 7).unwrap();
        assert_eq!(
            OverviewPeriod::ending_at(now, 3),
            OverviewPeriod {
                days_from: at(1, 0),
                recent_from: at(2, 19),
                until: at(3, 19),
            }
        );
    }
}
