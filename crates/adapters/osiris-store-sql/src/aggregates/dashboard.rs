//! The fleet overview: three statements whatever the number of sites (the
//! sites with their appliance and open-incident figures, then the daily
//! and the recent check counts from the rollups that triggers on
//! `evidence` keep; see the `fleet_rollups` migrations).
//! Also the incident openings of the tier chart, and pruning the hourly
//! rollup.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use osiris_core::SiteId;
use osiris_store::{
    BoxFuture, CheckCounts, DailyChecks, DashboardStore, Error, IncidentOpening, OverviewPeriod,
    SiteOverview, TenantScope, Tier,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_sites, site_visible};
use crate::db::{backend, count, parse};

#[derive(sqlx::FromRow)]
struct SiteRow {
    id: Uuid,
    name: String,
    appliances: i64,
    last_checkin_at: Option<DateTime<Utc>>,
    open_incidents: i64,
}

#[derive(sqlx::FromRow)]
struct DayRow {
    site_id: Uuid,
    day: DateTime<Utc>,
    results: i64,
    passed: i64,
}

#[derive(sqlx::FromRow)]
struct RecentRow {
    site_id: Uuid,
    results: i64,
    passed: i64,
}

#[derive(sqlx::FromRow)]
struct OpeningRow {
    opened_at: DateTime<Utc>,
    tier: String,
}

fn counts(results: i64, passed: i64, table: &'static str) -> Result<CheckCounts, Error> {
    Ok(CheckCounts {
        results: count(results, table, "results")?,
        passed: count(passed, table, "passed")?,
    })
}

impl DashboardStore for Store {
    fn fleet_overview<'a>(
        &'a self,
        scope: &'a TenantScope,
        period: OverviewPeriod,
    ) -> BoxFuture<'a, Vec<SiteOverview>> {
        Box::pin(async move {
            let sites = bind_sites(
                sqlx::query_as::<_, SiteRow>(concat!(
                    "SELECT s.id, s.name,
                        (SELECT COUNT(*) FROM appliances a WHERE a.site_id = s.id) AS appliances,
                        (SELECT MAX(a.last_checkin_at) FROM appliances a
                         WHERE a.site_id = s.id) AS last_checkin_at,
                        (SELECT COUNT(*) FROM incidents i
                         WHERE i.site_id = s.id AND i.status = 'open') AS open_incidents
                     FROM sites s WHERE ",
                    site_visible!("s.id"),
                    " ORDER BY s.name, s.id"
                )),
                scope,
            )
            .fetch_all(&self.pool)
            .await
            .map_err(backend("reading the fleet overview"))?;
            let days = bind_sites(
                sqlx::query_as::<_, DayRow>(concat!(
                    "SELECT d.site_id, d.day, d.results, d.passed FROM evidence_check_days d
                     WHERE d.day >= $6 AND d.day < $7 AND ",
                    site_visible!("d.site_id"),
                    " ORDER BY d.site_id, d.day"
                )),
                scope,
            )
            .bind(period.days_from)
            .bind(period.until)
            .fetch_all(&self.pool)
            .await
            .map_err(backend("reading daily check counts"))?;
            let recent = bind_sites(
                sqlx::query_as::<_, RecentRow>(concat!(
                    "SELECT h.site_id, CAST(SUM(h.results) AS BIGINT) AS results,
                        CAST(SUM(h.passed) AS BIGINT) AS passed
                     FROM evidence_check_hours h
                     WHERE h.hour >= $6 AND h.hour < $7 AND ",
                    site_visible!("h.site_id"),
                    " GROUP BY h.site_id"
                )),
                scope,
            )
            .bind(period.recent_from)
            .bind(period.until)
            .fetch_all(&self.pool)
            .await
            .map_err(backend("reading recent check counts"))?;

            let mut daily: BTreeMap<Uuid, Vec<DailyChecks>> = BTreeMap::new();
            for row in days {
                daily.entry(row.site_id).or_default().push(DailyChecks {
                    day: row.day,
                    counts: counts(row.results, row.passed, "evidence_check_days")?,
                });
            }
            let mut recent_counts: BTreeMap<Uuid, CheckCounts> = BTreeMap::new();
            for row in recent {
                recent_counts.insert(
                    row.site_id,
                    counts(row.results, row.passed, "evidence_check_hours")?,
                );
            }
            sites
                .into_iter()
                .map(|row| {
                    Ok(SiteOverview {
                        site_id: SiteId::from_uuid(row.id),
                        name: row.name,
                        appliances: count(row.appliances, "appliances", "count")?,
                        last_checkin_at: row.last_checkin_at,
                        open_incidents: count(row.open_incidents, "incidents", "count")?,
                        daily: daily.remove(&row.id).unwrap_or_default(),
                        recent: recent_counts.remove(&row.id).unwrap_or_default(),
                    })
                })
                .collect()
        })
    }

    fn incident_openings<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: Option<SiteId>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<IncidentOpening>> {
        Box::pin(async move {
            bind_sites(
                sqlx::query_as::<_, OpeningRow>(concat!(
                    "SELECT opened_at, tier FROM incidents
                     WHERE opened_at >= $6 AND opened_at < $7 AND ($8 IS NULL OR site_id = $8)
                     AND ",
                    site_visible!("site_id"),
                    " ORDER BY opened_at, id"
                )),
                scope,
            )
            .bind(from)
            .bind(until)
            .bind(site.as_ref().map(|id| *id.as_uuid()))
            .fetch_all(&self.pool)
            .await
            .map_err(backend("reading incident openings"))?
            .into_iter()
            .map(|row| {
                Ok(IncidentOpening {
                    opened_at: row.opened_at,
                    tier: parse(Tier::parse(&row.tier), "incidents", "tier", &row.tier)?,
                })
            })
            .collect()
        })
    }

    fn prune_check_hours(&self, before: DateTime<Utc>) -> BoxFuture<'_, u64> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM evidence_check_hours WHERE hour < $1")
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err(backend("pruning hourly check counts"))?;
            Ok(done.rows_affected())
        })
    }
}
