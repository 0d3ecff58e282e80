//! Decisions on escalated incidents and the appliance that reported each.

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, IncidentId, OrderId, SiteId, UserId};
use osiris_store::{
    BoxFuture, DecisionKind, DecisionStore, Error, IncidentDecision, IncidentStore, NewDecision,
    TenantScope, constraint,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_sites, require_appliance, site_visible};
use crate::db::{backend, parse};

macro_rules! decision_columns {
    () => {
        "incident_id, site_id, appliance_id, decision, decided_by, decided_at, reason, order_id, delivered_at"
    };
}

#[derive(sqlx::FromRow)]
struct DecisionRow {
    incident_id: Uuid,
    site_id: Uuid,
    appliance_id: Uuid,
    decision: String,
    decided_by: Uuid,
    decided_at: DateTime<Utc>,
    reason: Option<String>,
    order_id: Option<Uuid>,
    delivered_at: Option<DateTime<Utc>>,
}

impl TryFrom<DecisionRow> for IncidentDecision {
    type Error = Error;
    fn try_from(row: DecisionRow) -> Result<Self, Error> {
        Ok(Self {
            incident_id: IncidentId::from_uuid(row.incident_id),
            site_id: SiteId::from_uuid(row.site_id),
            appliance_id: ApplianceId::from_uuid(row.appliance_id),
            decision: parse(
                DecisionKind::parse(&row.decision),
                "incident_decisions",
                "decision",
                &row.decision,
            )?,
            decided_by: UserId::from_uuid(row.decided_by),
            decided_at: row.decided_at,
            reason: row.reason,
            order_id: row.order_id.map(OrderId::from_uuid),
            delivered_at: row.delivered_at,
        })
    }
}

impl DecisionStore for Store {
    fn note_incident_reporter<'a>(
        &'a self,
        scope: &'a TenantScope,
        incident: IncidentId,
        appliance: ApplianceId,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // The appliance must be at the incident's site: an appliance's
            // scope is its site, a person's may span several.
            let query = sqlx::query(concat!(
                "INSERT INTO incident_reporters (incident_id, appliance_id)
                 SELECT i.id, a.id FROM incidents i JOIN appliances a ON a.site_id = i.site_id
                 WHERE i.id = $6 AND a.id = $7 AND ",
                site_visible!("i.site_id"),
                " ON CONFLICT (incident_id) DO UPDATE SET appliance_id = excluded.appliance_id"
            ));
            let done = bind_sites(query, scope)
                .bind(incident.as_uuid())
                .bind(appliance.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(backend("noting an incident's reporter"))?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("incident", incident));
            }
            Ok(())
        })
    }

    fn incident_reporter<'a>(
        &'a self,
        scope: &'a TenantScope,
        incident: IncidentId,
    ) -> BoxFuture<'a, Option<ApplianceId>> {
        Box::pin(async move {
            self.get_incident(scope, incident).await?;
            let reporter = sqlx::query_scalar::<_, Uuid>(
                "SELECT appliance_id FROM incident_reporters WHERE incident_id = $1",
            )
            .bind(incident.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading an incident's reporter"))?;
            Ok(reporter.map(ApplianceId::from_uuid))
        })
    }

    fn decide_incident<'a>(
        &'a self,
        scope: &'a TenantScope,
        decision: &'a NewDecision,
    ) -> BoxFuture<'a, IncidentDecision> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, DecisionRow>(concat!(
                "INSERT INTO incident_decisions (incident_id, site_id, appliance_id, decision,
                    decided_by, decided_at, reason, order_id)
                 SELECT i.id, i.site_id, $7, $8, $9, $10, $11, $12 FROM incidents i
                 WHERE i.id = $6 AND ",
                site_visible!("i.site_id"),
                " RETURNING ",
                decision_columns!()
            ));
            let row = bind_sites(query, scope)
                .bind(decision.incident_id.as_uuid())
                .bind(decision.appliance_id.as_uuid())
                .bind(decision.decision.as_str())
                .bind(decision.decided_by.as_uuid())
                .bind(decision.decided_at)
                .bind(decision.reason.as_deref())
                .bind(decision.order_id.as_ref().map(|id| *id.as_uuid()))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("recording a decision"))
                // The primary key is the incident: a second decision.
                .map_err(|error| match error {
                    Error::Conflict { .. } => Error::Conflict {
                        constraint: constraint::INCIDENT_DECISION.to_owned(),
                    },
                    other => other,
                })?
                .ok_or_else(|| Error::not_found("incident", decision.incident_id))?;
            row.try_into()
        })
    }

    fn incident_decision<'a>(
        &'a self,
        scope: &'a TenantScope,
        incident: IncidentId,
    ) -> BoxFuture<'a, Option<IncidentDecision>> {
        Box::pin(async move {
            self.get_incident(scope, incident).await?;
            sqlx::query_as::<_, DecisionRow>(concat!(
                "SELECT ",
                decision_columns!(),
                " FROM incident_decisions WHERE incident_id = $1"
            ))
            .bind(incident.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading a decision"))?
            .map(IncidentDecision::try_from)
            .transpose()
        })
    }

    fn order_decision<'a>(
        &'a self,
        scope: &'a TenantScope,
        order: OrderId,
    ) -> BoxFuture<'a, Option<IncidentDecision>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, DecisionRow>(concat!(
                "SELECT ",
                decision_columns!(),
                " FROM incident_decisions WHERE order_id = $6 AND ",
                site_visible!("site_id")
            ));
            bind_sites(query, scope)
                .bind(order.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading an order's decision"))?
                .map(IncidentDecision::try_from)
                .transpose()
        })
    }

    fn take_undelivered_rejections<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<IncidentDecision>> {
        Box::pin(async move {
            require_appliance(&self.pool, scope, appliance).await?;
            let mut rows = sqlx::query_as::<_, DecisionRow>(concat!(
                "UPDATE incident_decisions SET delivered_at = $2
                 WHERE appliance_id = $1 AND decision = 'rejected' AND delivered_at IS NULL
                 RETURNING ",
                decision_columns!()
            ))
            .bind(appliance.as_uuid())
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(backend("taking undelivered decisions"))?;
            rows.sort_by(|a, b| {
                a.decided_at
                    .cmp(&b.decided_at)
                    .then(a.incident_id.cmp(&b.incident_id))
            });
            rows.into_iter().map(IncidentDecision::try_from).collect()
        })
    }
}
