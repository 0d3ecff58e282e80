//! `/health` (liveness and readiness of the database and evidence store)
//! and `/metrics` (Prometheus text format).

use std::str::FromStr;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use osiris_core::SiteId;
use osiris_store::TenantScope;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
}

/// The server's readiness.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok` when every component is, `degraded` otherwise.
    status: &'static str,
    /// The database: `ok` or what failed.
    database: String,
    /// The evidence (WORM) store: `ok` or what failed.
    evidence: String,
    /// Whether the evidence store guarantees `evidence.retention_days`.
    evidence_retention: RetentionView,
    /// What an operator should look at although the server is ready (the
    /// evidence store cannot guarantee the retention, for example).
    warnings: Vec<String>,
    /// The server's version.
    version: &'static str,
}

/// The evidence store's retention guarantee, for `/health` and the fleet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct RetentionView {
    /// `evidence.retention_days`.
    days: u32,
    /// Whether the store keeps every bundle that long on its own.
    guaranteed: bool,
    /// Why not, when it does not.
    warning: Option<String>,
}

/// Asks the evidence store whether it keeps evidence for the configured
/// retention; a store that cannot answer is reported as not guaranteeing.
pub(crate) async fn retention(state: &AppState) -> RetentionView {
    let days = state.policy.evidence_retention_days;
    let warning = match state.evidence.retention_guarantee(days).await {
        Ok(osiris_worm::RetentionGuarantee::Guaranteed) => None,
        Ok(osiris_worm::RetentionGuarantee::NotGuaranteed(why)) => Some(why),
        Err(error) => {
            tracing::warn!(error = %error, "health check: retention guarantee unknown");
            Some("the evidence store could not say whether it keeps evidence for evidence.retention_days".to_owned())
        }
    };
    if let Some(warning) = &warning {
        tracing::warn!(%warning, "evidence retention is not guaranteed");
    }
    RetentionView {
        days,
        guaranteed: warning.is_none(),
        warning,
    }
}

/// Liveness and readiness: 200 when the database and the evidence store
/// answer, 503 otherwise; `warnings` names what holds the server back from
/// its promises without stopping it (evidence retention not guaranteed).
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Every component is ready", body = Health),
        (status = 503, description = "A component is failing", body = Health)
    )
)]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let database = database_status(&state).await;
    let evidence = evidence_status(&state).await;
    let healthy = database == "ok" && evidence == "ok";
    let evidence_retention = retention(&state).await;
    let warnings = evidence_retention.warning.iter().cloned().collect();
    let body = Health {
        status: if healthy { "ok" } else { "degraded" },
        database,
        evidence,
        evidence_retention,
        warnings,
        version: env!("CARGO_PKG_VERSION"),
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

/// Looks up a site that cannot exist: `NotFound` proves the database
/// answered a query, anything else is a failure.
async fn database_status(state: &AppState) -> String {
    let Ok(probe) = SiteId::from_str("00000000-0000-4000-8000-000000000000") else {
        return "probe id invalid".to_owned();
    };
    match state.store.get_site(&TenantScope::platform(), probe).await {
        Ok(_) | Err(osiris_store::Error::NotFound { .. }) => "ok".to_owned(),
        Err(error) => {
            tracing::warn!(error = %error, "health check: database failing");
            "unavailable".to_owned()
        }
    }
}

/// Describes an object that is never written: an answer either way proves
/// the store is reachable.
async fn evidence_status(state: &AppState) -> String {
    let Ok(probe) = osiris_worm::ObjectKey::parse("health-probe") else {
        return "probe key invalid".to_owned();
    };
    match state.evidence.head(&probe).await {
        Ok(_) => "ok".to_owned(),
        Err(error) => {
            tracing::warn!(error = %error, "health check: evidence store failing");
            "unavailable".to_owned()
        }
    }
}

/// Request counts and latencies in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain", body = String))
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state
        .metrics
        .as_ref()
        .map(metrics_exporter_prometheus::PrometheusHandle::render)
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
