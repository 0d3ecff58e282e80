//! Decisions on escalated incidents: an operator approves a whitelisted
//! runbook with valid parameters, which becomes a signed order to the
//! appliance that reported the incident (carrying the approval, so the
//! appliance copies it into the order's evidence), or rejects with a
//! reason, which the appliance receives signed at its next check-in and
//! records as evidence. Both are in the audit log and on the incident.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use osiris_core::{IncidentId, OrderId, RunbookId, UserId};
use osiris_store::{
    DecisionKind, IncidentDecision, IncidentStatus, NewDecision, NewOrder, Store, TenantScope,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::orders::{check_params, check_target, empty_object};
use crate::auth::{Caller, MANAGERS, READERS, tokens};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath};
use crate::state::AppState;

/// The longest rejection reason, in characters.
const MAX_REASON: usize = 2000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(approve_incident))
        .routes(routes!(reject_incident))
        .routes(routes!(get_decision))
}

/// A decision on an incident.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DecisionView {
    #[schema(value_type = String, format = Uuid)]
    incident_id: IncidentId,
    /// `approved` or `rejected`.
    decision: String,
    #[schema(value_type = String, format = Uuid)]
    decided_by: UserId,
    decided_at: DateTime<Utc>,
    /// Why (rejections).
    reason: Option<String>,
    /// The order carrying out an approval.
    #[schema(value_type = Option<String>, format = Uuid)]
    order_id: Option<OrderId>,
    /// When a rejection reached the appliance.
    delivered_at: Option<DateTime<Utc>>,
}

impl From<IncidentDecision> for DecisionView {
    fn from(decision: IncidentDecision) -> Self {
        Self {
            incident_id: decision.incident_id,
            decision: decision.decision.as_str().to_owned(),
            decided_by: decision.decided_by,
            decided_at: decision.decided_at,
            reason: decision.reason,
            order_id: decision.order_id,
            delivered_at: decision.delivered_at,
        }
    }
}

/// Approve: the fix to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveIncident {
    /// A catalog runbook suiting the incident's check platform.
    runbook_id: String,
    /// Parameters valid against the runbook's schema; `{}` when omitted.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    params: serde_json::Value,
    /// The host to run it on; omitted: the incident's host.
    #[serde(default)]
    target: Option<String>,
}

/// Reject: why no fix runs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RejectIncident {
    /// 1 to 2000 characters.
    reason: String,
}

/// An open incident of the caller's scope without a decision, and the
/// appliance that reported it.
async fn decidable(
    store: &dyn Store,
    scope: &TenantScope,
    incident_id: IncidentId,
) -> ApiResult<(osiris_store::Incident, osiris_core::ApplianceId)> {
    let incident = store.get_incident(scope, incident_id).await?;
    if incident.status != IncidentStatus::Open {
        return Err(ApiError::conflict("the incident is resolved"));
    }
    if store.incident_decision(scope, incident_id).await?.is_some() {
        return Err(ApiError::conflict("the incident was already decided"));
    }
    let appliance = store
        .incident_reporter(scope, incident_id)
        .await?
        .ok_or_else(|| {
            ApiError::conflict("no appliance reported this incident, so none can act on it")
        })?;
    Ok((incident, appliance))
}

/// Approves an escalated incident: the runbook runs as a signed order on
/// the incident's host, delivered to the reporting appliance at its next
/// check-in with the approval inside the signed bytes.
#[utoipa::path(
    post, path = "/api/incidents/{incident_id}/approve", tag = "incidents",
    security(("bearer" = []), ("session" = [])),
    params(("incident_id" = String, Path, format = Uuid, description = "The incident")),
    request_body = ApproveIncident,
    responses(
        (status = 201, description = "Approved; the order is issued", body = DecisionView),
        (status = 404, description = "No such incident visible to the caller", body = crate::error::ErrorBody),
        (status = 409, description = "Resolved, already decided, or no appliance reported it", body = crate::error::ErrorBody),
        (status = 422, description = "Unknown runbook, not whitelisted for the check's platform, unknown target or invalid parameters", body = crate::error::ErrorBody)
    )
)]
async fn approve_incident(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(incident_id): AppPath<IncidentId>,
    AppJson(request): AppJson<ApproveIncident>,
) -> ApiResult<(StatusCode, AppJson<DecisionView>)> {
    caller.require(MANAGERS)?;
    let store = state.store.as_ref();
    let (incident, appliance) = decidable(store, &caller.scope, incident_id).await?;
    let runbook_id: RunbookId = request.runbook_id.parse().map_err(|_| {
        ApiError::invalid("runbook_id", "expected a runbook id such as RB-WIN-AV-001")
    })?;
    let runbook = state
        .catalog
        .runbook(&runbook_id)
        .ok_or_else(|| ApiError::invalid("runbook_id", "no such runbook in the catalog"))?;
    if let Some(check) = state.catalog.check(&incident.check_id)
        && !runbook.platforms.contains(&check.platform)
    {
        return Err(ApiError::invalid(
            "runbook_id",
            format!(
                "the runbook is not whitelisted for {} checks",
                check.platform.as_str()
            ),
        ));
    }
    let hosts = store.list_hosts(&caller.scope, incident.site_id).await?;
    let name = match (&request.target, incident.host_id) {
        (Some(name), _) => Some(name.clone()),
        (None, Some(host)) => hosts
            .iter()
            .find(|h| h.id == host)
            .map(|h| h.hostname.clone()),
        (None, None) => None,
    };
    let target = match name {
        Some(name) => check_target(runbook, &hosts, &name)?,
        None => {
            return Err(ApiError::invalid(
                "target",
                "the incident names no host: give one",
            ));
        }
    };
    check_params(runbook, &request.params)?;
    let now = state.clock.now();
    let nonce = tokens::generate_nonce().map_err(|error| ApiError::internal(&error))?;
    let order = store
        .create_order(
            &caller.scope,
            &NewOrder {
                id: OrderId::random(),
                appliance_id: appliance,
                runbook_id,
                params: request.params,
                target: Some(target),
                nonce,
                issued_at: now,
                expires_at: now + state.policy.order_ttl,
                created_by: Some(caller.user.id),
            },
        )
        .await?;
    let decision = store
        .decide_incident(
            &caller.scope,
            &NewDecision {
                incident_id,
                appliance_id: appliance,
                decision: DecisionKind::Approved,
                decided_by: caller.user.id,
                decided_at: now,
                reason: None,
                order_id: Some(order.id),
            },
        )
        .await?;
    audit(
        &state,
        &caller,
        &decision,
        "incident.approve",
        serde_json::json!({
            "order_id": order.id,
            "runbook_id": order.runbook_id,
            "target": order.target,
            "appliance_id": appliance,
        }),
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(decision.into())))
}

/// Rejects an escalated incident: no fix runs; the appliance receives the
/// signed decision at its next check-in and records it.
#[utoipa::path(
    post, path = "/api/incidents/{incident_id}/reject", tag = "incidents",
    security(("bearer" = []), ("session" = [])),
    params(("incident_id" = String, Path, format = Uuid, description = "The incident")),
    request_body = RejectIncident,
    responses(
        (status = 201, description = "Rejected", body = DecisionView),
        (status = 404, description = "No such incident visible to the caller", body = crate::error::ErrorBody),
        (status = 409, description = "Resolved, already decided, or no appliance reported it", body = crate::error::ErrorBody),
        (status = 422, description = "An empty or overlong reason", body = crate::error::ErrorBody)
    )
)]
async fn reject_incident(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(incident_id): AppPath<IncidentId>,
    AppJson(request): AppJson<RejectIncident>,
) -> ApiResult<(StatusCode, AppJson<DecisionView>)> {
    caller.require(MANAGERS)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(ApiError::invalid("reason", "must be 1 to 2000 characters"));
    }
    if reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid(
            "reason",
            "must not contain control characters",
        ));
    }
    let store = state.store.as_ref();
    let (_, appliance) = decidable(store, &caller.scope, incident_id).await?;
    let now = state.clock.now();
    let decision = store
        .decide_incident(
            &caller.scope,
            &NewDecision {
                incident_id,
                appliance_id: appliance,
                decision: DecisionKind::Rejected,
                decided_by: caller.user.id,
                decided_at: now,
                reason: Some(reason.to_owned()),
                order_id: None,
            },
        )
        .await?;
    audit(
        &state,
        &caller,
        &decision,
        "incident.reject",
        serde_json::json!({
            "reason": reason,
            "appliance_id": appliance,
        }),
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(decision.into())))
}

/// The decision on a visible incident.
#[utoipa::path(
    get, path = "/api/incidents/{incident_id}/decision", tag = "incidents",
    security(("bearer" = []), ("session" = [])),
    params(("incident_id" = String, Path, format = Uuid, description = "The incident")),
    responses(
        (status = 200, description = "The decision", body = DecisionView),
        (status = 404, description = "No such incident visible to the caller, or no decision yet", body = crate::error::ErrorBody)
    )
)]
async fn get_decision(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(incident_id): AppPath<IncidentId>,
) -> ApiResult<AppJson<DecisionView>> {
    caller.require(READERS)?;
    let decision = state
        .store
        .incident_decision(&caller.scope, incident_id)
        .await?
        .ok_or_else(|| ApiError::not_found("decision"))?;
    Ok(AppJson(decision.into()))
}

async fn audit(
    state: &AppState,
    caller: &Caller,
    decision: &IncidentDecision,
    action: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    let site = state
        .store
        .get_site(&caller.scope, decision.site_id)
        .await?;
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(caller.user.id),
            partner_id: Some(site.partner_id),
            action,
            target: decision.incident_id.to_string(),
            detail,
        },
        decision.decided_at,
    )
    .await?;
    Ok(())
}
