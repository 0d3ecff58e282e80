//! Incidents: report with deduplication, resolve, list.

use chrono::{DateTime, Utc};
use osiris_core::{HostId, IncidentId, SiteId};
use osiris_store::{
    BoxFuture, Error, Incident, IncidentFilter, IncidentStatus, IncidentStore, NewIncident, Opened,
    Severity, TenantScope, Tier,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_sites, site_visible};
use crate::db::{backend, count, parse};

macro_rules! incident_columns {
    () => {
        "id, site_id, host_id, check_id, dedup_key, severity, tier, status, occurrences,
         opened_at, last_seen_at, resolved_at, resolution"
    };
}

#[derive(sqlx::FromRow)]
struct IncidentRow {
    id: Uuid,
    site_id: Uuid,
    host_id: Option<Uuid>,
    check_id: String,
    dedup_key: String,
    severity: String,
    tier: String,
    status: String,
    occurrences: i64,
    opened_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    resolution: Option<String>,
}

impl TryFrom<IncidentRow> for Incident {
    type Error = Error;
    fn try_from(row: IncidentRow) -> Result<Self, Error> {
        Ok(Self {
            id: IncidentId::from_uuid(row.id),
            site_id: SiteId::from_uuid(row.site_id),
            host_id: row.host_id.map(HostId::from_uuid),
            severity: parse(
                Severity::parse(&row.severity),
                "incidents",
                "severity",
                &row.severity,
            )?,
            tier: parse(Tier::parse(&row.tier), "incidents", "tier", &row.tier)?,
            status: parse(
                IncidentStatus::parse(&row.status),
                "incidents",
                "status",
                &row.status,
            )?,
            occurrences: count(row.occurrences, "incidents", "occurrences")?,
            check_id: row.check_id,
            dedup_key: row.dedup_key,
            opened_at: row.opened_at,
            last_seen_at: row.last_seen_at,
            resolved_at: row.resolved_at,
            resolution: row.resolution,
        })
    }
}

impl IncidentStore for Store {
    fn report_incident<'a>(
        &'a self,
        scope: &'a TenantScope,
        incident: &'a NewIncident,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Opened> {
        Box::pin(async move {
            // One statement, so two replicas reporting at once still fold
            // into one incident (the partial unique index arbitrates).
            let query = sqlx::query_as::<_, IncidentRow>(concat!(
                "INSERT INTO incidents (id, site_id, host_id, check_id, dedup_key, severity, tier,
                    status, occurrences, opened_at, last_seen_at)
                 SELECT $6, $7, $8, $9, $10, $11, $12, 'open', 1, $13, $13 WHERE ",
                site_visible!("$7"),
                " ON CONFLICT (site_id, dedup_key) WHERE status = 'open'
                 DO UPDATE SET occurrences = incidents.occurrences + 1, last_seen_at = excluded.last_seen_at
                 RETURNING ",
                incident_columns!()
            ));
            let row = bind_sites(query, scope)
                .bind(incident.id.as_uuid())
                .bind(incident.site_id.as_uuid())
                .bind(incident.host_id.as_ref().map(|id| *id.as_uuid()))
                .bind(incident.check_id.as_str())
                .bind(incident.dedup_key.as_str())
                .bind(incident.severity.as_str())
                .bind(incident.tier.as_str())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reporting an incident"))?
                .ok_or_else(|| Error::not_found("site", incident.site_id))?;
            let incident_row = Incident::try_from(row)?;
            Ok(Opened {
                created: incident_row.id == incident.id,
                incident: incident_row,
            })
        })
    }

    fn resolve_incident<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: IncidentId,
        resolution: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Incident> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, IncidentRow>(concat!(
                "UPDATE incidents SET status = 'resolved', resolved_at = $7, resolution = $8
                 WHERE id = $6 AND status = 'open' AND ",
                site_visible!("site_id"),
                " RETURNING ",
                incident_columns!()
            ));
            let resolved = bind_sites(query, scope)
                .bind(id.as_uuid())
                .bind(now)
                .bind(resolution)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("resolving an incident"))?;
            match resolved {
                Some(row) => row.try_into(),
                None => {
                    let current = self.get_incident(scope, id).await?;
                    Err(Error::IllegalTransition {
                        entity: "incident",
                        id: id.to_string(),
                        from: current.status.to_string(),
                        to: IncidentStatus::Resolved.to_string(),
                    })
                }
            }
        })
    }

    fn get_incident<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: IncidentId,
    ) -> BoxFuture<'a, Incident> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, IncidentRow>(concat!(
                "SELECT ",
                incident_columns!(),
                " FROM incidents WHERE id = $6 AND ",
                site_visible!("site_id")
            ));
            bind_sites(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading an incident"))?
                .ok_or_else(|| Error::not_found("incident", id))?
                .try_into()
        })
    }

    fn list_incidents<'a>(
        &'a self,
        scope: &'a TenantScope,
        filter: IncidentFilter,
    ) -> BoxFuture<'a, Vec<Incident>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, IncidentRow>(concat!(
                "SELECT ",
                incident_columns!(),
                " FROM incidents WHERE ($6 IS NULL OR status = $6) AND ($7 IS NULL OR site_id = $7) AND ",
                site_visible!("site_id"),
                " ORDER BY opened_at DESC, id"
            ));
            bind_sites(query, scope)
                .bind(filter.status.map(IncidentStatus::as_str))
                .bind(filter.site.as_ref().map(|id| *id.as_uuid()))
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing incidents"))?
                .into_iter()
                .map(Incident::try_from)
                .collect()
        })
    }
}
