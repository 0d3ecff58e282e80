//! The appliance check-in: evidence, incidents, telemetry and order
//! results up; signed orders, rule-set updates, the server time and the
//! next check-in down. Authenticated by the appliance's request signature
//! ([`crate::auth::appliance`]); the body is validated as a whole before
//! anything is stored.

use axum::extract::State;
use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, IncidentId, OrderId};
use osiris_proto::checkin::{
    CheckinRequest, CheckinResponse, IncidentAck, IncidentReport, OrderResult, RejectedResult,
};
use osiris_store::{NewIncident, OrderOutcome, Severity, Tier};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::appliance::SignedAppliance;
use crate::error::{ApiError, ApiResult};
use crate::extract::AppJson;
use crate::intake;
use crate::orders::{OrderBodyExt as _, SignOrder as _};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(checkin))
}

/// The appliance's periodic check-in.
#[utoipa::path(
    post, path = "/api/appliances/checkin", tag = "appliances",
    params(
        ("X-Osiris-Appliance" = String, Header, format = Uuid, description = "The appliance"),
        ("X-Osiris-Date" = String, Header, description = "RFC 3339 request time, within 5 minutes of the server's"),
        ("X-Osiris-Signature" = String, Header, description = "Base64 Ed25519 signature by the appliance key (docs/design/checkin.md)")
    ),
    request_body = CheckinRequest,
    responses(
        (status = 200, description = "Processed; refusals are in the body", body = CheckinResponse),
        (status = 401, description = "Unknown appliance, bad signature or stale date", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid value", body = crate::error::ErrorBody)
    )
)]
async fn checkin(
    State(state): State<AppState>,
    signed: SignedAppliance<CheckinRequest>,
) -> ApiResult<AppJson<CheckinResponse>> {
    let SignedAppliance {
        identity,
        scope,
        body: request,
    } = signed;
    crate::limits::check_appliance(&state, identity.site_id).await?;
    let now = state.clock.now();
    if request.appliance_id != identity.id {
        return Err(ApiError::invalid(
            "appliance_id",
            "is not the appliance that signed the request",
        ));
    }
    let agent_version = request.agent_version.trim();
    if agent_version.is_empty()
        || agent_version.chars().count() > 64
        || agent_version.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "agent_version",
            "must be 1 to 64 printable characters",
        ));
    }
    let results = parse_results(&request.order_results)?;
    let incidents = parse_incidents(&state, &scope, identity.site_id, &request.incidents).await?;
    for (index, record) in request.telemetry.iter().enumerate() {
        if !record.is_object() {
            return Err(ApiError::invalid(
                format!("telemetry[{index}]"),
                "must be a JSON object",
            ));
        }
    }

    state.store.expire_orders(&scope, now).await?;
    let intake = intake::accept(&state, &identity, &scope, &request.bundles, now).await?;
    let mut rejected_order_results = Vec::new();
    for (order_id, outcome, detail) in results {
        if let Some(reason) =
            record_result(&state, &scope, identity.id, order_id, outcome, detail, now).await?
        {
            rejected_order_results.push(RejectedResult { order_id, reason });
        }
    }
    let mut acks = Vec::with_capacity(incidents.len());
    for incident in &incidents {
        let opened = state.store.report_incident(&scope, incident, now).await?;
        acks.push(IncidentAck {
            incident_id: opened.incident.id,
            created: opened.created,
        });
    }
    metrics::counter!("osiris_checkin_telemetry_records_total")
        .increment(u64::try_from(request.telemetry.len()).unwrap_or(u64::MAX));
    metrics::counter!("osiris_checkin_bundles_stored_total").increment(intake.stored);
    state
        .store
        .record_checkin(&scope, identity.id, agent_version, now)
        .await?;
    let orders = state
        .store
        .take_undelivered_orders(&scope, identity.id, now)
        .await?
        .iter()
        .map(|order| osiris_proto::OrderBody::of(order).sign(&state.server_key))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::internal(&error))?;
    let rule_set = (request.rule_set_version.as_deref() != Some(state.rule_set.version.as_str()))
        .then(|| (*state.rule_set).clone());
    Ok(AppJson(CheckinResponse {
        acknowledged_through_seq: intake.acknowledged_through_seq,
        rejected: intake.rejected.into_iter().collect(),
        rejected_order_results,
        incidents: acks,
        orders,
        rule_set,
        server_time: now,
        next_checkin_secs: state.policy.checkin_interval_secs,
    }))
}

fn parse_results(results: &[OrderResult]) -> ApiResult<Vec<(OrderId, OrderOutcome, &str)>> {
    results
        .iter()
        .enumerate()
        .map(|(index, result)| {
            let outcome = OrderOutcome::parse(&result.outcome).ok_or_else(|| {
                ApiError::invalid(
                    format!("order_results[{index}].outcome"),
                    "expected executed, failed, rolled_back or refused",
                )
            })?;
            if result.detail.chars().count() > 4096 {
                return Err(ApiError::invalid(
                    format!("order_results[{index}].detail"),
                    "must be at most 4096 characters",
                ));
            }
            Ok((result.order_id, outcome, result.detail.as_str()))
        })
        .collect()
}

async fn parse_incidents(
    state: &AppState,
    scope: &osiris_store::TenantScope,
    site_id: osiris_core::SiteId,
    reports: &[IncidentReport],
) -> ApiResult<Vec<NewIncident>> {
    let mut incidents = Vec::with_capacity(reports.len());
    for (index, report) in reports.iter().enumerate() {
        let field = |name: &str| format!("incidents[{index}].{name}");
        if state.catalog.check(&report.check_id).is_none() {
            return Err(ApiError::invalid(
                field("check_id"),
                "no such check in the catalog",
            ));
        }
        let severity = Severity::parse(&report.severity).ok_or_else(|| {
            ApiError::invalid(field("severity"), "expected low, medium, high or critical")
        })?;
        let tier = Tier::parse(&report.tier)
            .ok_or_else(|| ApiError::invalid(field("tier"), "expected l1, l2 or l3"))?;
        if let Some(host) = report.host_id {
            match state.store.get_host(scope, host).await {
                Ok(_) => {}
                Err(osiris_store::Error::NotFound { .. }) => {
                    return Err(ApiError::invalid(
                        field("host_id"),
                        "no such host at this site",
                    ));
                }
                Err(other) => return Err(other.into()),
            }
        }
        let dedup_key = match &report.dedup_key {
            Some(key) if key.is_empty() || key.chars().count() > 200 => {
                return Err(ApiError::invalid(
                    field("dedup_key"),
                    "must be 1 to 200 characters",
                ));
            }
            Some(key) => key.clone(),
            None => match report.host_id {
                Some(host) => format!("{}:{host}", report.check_id),
                None => report.check_id.clone(),
            },
        };
        incidents.push(NewIncident {
            id: IncidentId::random(),
            site_id,
            host_id: report.host_id,
            check_id: report.check_id.clone(),
            dedup_key,
            severity,
            tier,
        });
    }
    Ok(incidents)
}

/// Records one result; `Some(reason)` when it cannot be.
async fn record_result(
    state: &AppState,
    scope: &osiris_store::TenantScope,
    appliance: ApplianceId,
    order_id: OrderId,
    outcome: OrderOutcome,
    detail: &str,
    now: DateTime<Utc>,
) -> ApiResult<Option<String>> {
    // The scope is the site; another appliance's order at the same site is
    // as unknown to this one as another tenant's.
    match state.store.get_order(scope, order_id).await {
        Ok(order) if order.appliance_id == appliance => {}
        Ok(_) | Err(osiris_store::Error::NotFound { .. }) => {
            return Ok(Some("unknown order".to_owned()));
        }
        Err(other) => return Err(other.into()),
    }
    match state
        .store
        .record_order_result(scope, order_id, outcome, detail, now)
        .await
    {
        Ok(_) => Ok(None),
        Err(error @ osiris_store::Error::IllegalTransition { .. }) => Ok(Some(error.to_string())),
        Err(other) => Err(other.into()),
    }
}
