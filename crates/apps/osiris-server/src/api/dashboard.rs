//! Read-only views: the fleet overview, active incidents, the runbook
//! catalog and server statistics.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use osiris_core::{IncidentId, SiteId};
use osiris_store::{IncidentFilter, IncidentStatus, OverviewPeriod, Severity, TenantScope, Tier};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ANYONE, Caller, READERS, STAFF};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppQuery};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(fleet))
        .routes(routes!(incidents))
        .routes(routes!(runbooks))
        .routes(routes!(stats))
}

/// One site in the fleet overview.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FleetSite {
    #[schema(value_type = String, format = Uuid)]
    site_id: SiteId,
    name: String,
    /// Appliances serving it.
    appliances: u64,
    /// The most recent check-in of any of them.
    last_checkin_at: Option<DateTime<Utc>>,
    /// Open incidents.
    open_incidents: u64,
    /// Share of passing check results over the last 24 hours (the current
    /// UTC hour and the 23 before it), 0 to 100; none without a check
    /// result in that time.
    compliance_score: Option<f64>,
    /// Check results counted for the score.
    checks_counted: u64,
}

/// The fleet.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Fleet {
    sites: Vec<FleetSite>,
    generated_at: DateTime<Utc>,
    /// Whether the evidence store guarantees the configured retention.
    evidence_retention: super::health::RetentionView,
}

/// Days the fleet's trend covers: today (UTC) and the 29 days before.
pub(crate) const TREND_DAYS: i64 = 30;

/// Every visible site with its appliances, last check-in, open incidents
/// and compliance score.
#[utoipa::path(
    get, path = "/api/dashboard/fleet", tag = "dashboard",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The fleet overview", body = Fleet),
        (status = 403, description = "Auditors see evidence only", body = crate::error::ErrorBody)
    )
)]
async fn fleet(State(state): State<AppState>, caller: Caller) -> ApiResult<AppJson<Fleet>> {
    caller.require(READERS)?;
    let now = state.clock.now();
    let sites = state
        .store
        .fleet_overview(&caller.scope, OverviewPeriod::ending_at(now, TREND_DAYS))
        .await?;
    let fleet = sites
        .into_iter()
        .map(|site| {
            #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
            let compliance_score = (site.recent.results > 0).then(|| {
                (site.recent.passed as f64 * 1000.0 / site.recent.results as f64).round() / 10.0
            });
            FleetSite {
                site_id: site.site_id,
                name: site.name,
                appliances: site.appliances,
                last_checkin_at: site.last_checkin_at,
                open_incidents: site.open_incidents,
                compliance_score,
                checks_counted: site.recent.results,
            }
        })
        .collect();
    Ok(AppJson(Fleet {
        sites: fleet,
        generated_at: now,
        evidence_retention: super::health::retention(&state).await,
    }))
}

/// Which incidents to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct IncidentQuery {
    /// Only this site.
    #[param(value_type = Option<String>, format = Uuid)]
    site_id: Option<SiteId>,
    /// `open` (the default) or `resolved`.
    status: Option<String>,
    /// `low`, `medium`, `high` or `critical`.
    severity: Option<String>,
    /// `l1`, `l2` or `l3`.
    tier: Option<String>,
}

/// An incident.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IncidentView {
    #[schema(value_type = String, format = Uuid)]
    id: IncidentId,
    #[schema(value_type = String, format = Uuid)]
    site_id: SiteId,
    check_id: String,
    severity: String,
    tier: String,
    status: String,
    occurrences: u32,
    opened_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
}

fn parse_filter<T>(
    field: &str,
    value: Option<&String>,
    parse: fn(&str) -> Option<T>,
    expected: &str,
) -> ApiResult<Option<T>> {
    value
        .map(|text| {
            parse(text)
                .ok_or_else(|| ApiError::invalid(field.to_owned(), format!("expected {expected}")))
        })
        .transpose()
}

/// Incidents, open by default, filtered by site, severity and tier.
#[utoipa::path(
    get, path = "/api/dashboard/incidents", tag = "dashboard",
    security(("bearer" = []), ("session" = [])),
    params(IncidentQuery),
    responses(
        (status = 200, description = "Matching incidents, newest first", body = [IncidentView]),
        (status = 400, description = "Malformed query", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid filter value", body = crate::error::ErrorBody)
    )
)]
async fn incidents(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<IncidentQuery>,
) -> ApiResult<AppJson<Vec<IncidentView>>> {
    caller.require(READERS)?;
    let status = parse_filter(
        "status",
        query.status.as_ref(),
        IncidentStatus::parse,
        "open or resolved",
    )?
    .unwrap_or(IncidentStatus::Open);
    let severity = parse_filter(
        "severity",
        query.severity.as_ref(),
        Severity::parse,
        "low, medium, high or critical",
    )?;
    let tier = parse_filter("tier", query.tier.as_ref(), Tier::parse, "l1, l2 or l3")?;
    let incidents = state
        .store
        .list_incidents(
            &caller.scope,
            IncidentFilter {
                status: Some(status),
                site: query.site_id,
            },
        )
        .await?;
    let mut views: Vec<_> = incidents
        .into_iter()
        .filter(|i| severity.is_none_or(|s| i.severity == s) && tier.is_none_or(|t| i.tier == t))
        .map(|i| IncidentView {
            id: i.id,
            site_id: i.site_id,
            check_id: i.check_id,
            severity: i.severity.as_str().to_owned(),
            tier: i.tier.as_str().to_owned(),
            status: i.status.as_str().to_owned(),
            occurrences: i.occurrences,
            opened_at: i.opened_at,
            last_seen_at: i.last_seen_at,
            resolved_at: i.resolved_at,
        })
        .collect();
    views.sort_by_key(|view| std::cmp::Reverse(view.last_seen_at));
    Ok(AppJson(views))
}

/// A runbook of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunbookView {
    /// `RB-WIN-AV-001`.
    id: String,
    title: String,
    description: String,
    /// `windows`, `debian`, `rhel`, `appliance`.
    platforms: Vec<String>,
    /// `false`, `true` (maintenance window only) or `approval`.
    disruptive: String,
    /// JSON Schema of its parameters.
    parameters: serde_json::Value,
}

/// The runbook catalog: the only actions any tier may take.
#[utoipa::path(
    get, path = "/runbooks", tag = "catalog",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Every runbook", body = [RunbookView]))
)]
async fn runbooks(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<RunbookView>>> {
    caller.require(ANYONE)?;
    Ok(AppJson(
        state
            .catalog
            .runbooks()
            .values()
            .map(|runbook| RunbookView {
                id: runbook.id.to_string(),
                title: runbook.title.clone(),
                description: runbook.description.clone(),
                platforms: runbook
                    .platforms
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect(),
                disruptive: match runbook.disruptive {
                    osiris_catalog::Disruptive::No => "false",
                    osiris_catalog::Disruptive::Yes => "true",
                    osiris_catalog::Disruptive::Approval => "approval",
                }
                .to_owned(),
                parameters: runbook.parameters.clone(),
            })
            .collect(),
    ))
}

/// Server statistics.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Stats {
    partners: usize,
    clients: usize,
    sites: usize,
    appliances: usize,
    /// Appliances that checked in within the last 15 minutes.
    appliances_online: usize,
    open_incidents: usize,
    /// Open incidents by tier.
    open_by_tier: BTreeMap<String, usize>,
    users: usize,
    checks_in_catalog: usize,
    runbooks_in_catalog: usize,
    version: &'static str,
}

/// Counts across the platform (staff only).
#[utoipa::path(
    get, path = "/stats", tag = "operations",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Counts", body = Stats),
        (status = 403, description = "Staff only", body = crate::error::ErrorBody)
    )
)]
async fn stats(State(state): State<AppState>, caller: Caller) -> ApiResult<AppJson<Stats>> {
    caller.require(STAFF)?;
    let scope = TenantScope::platform();
    let now = state.clock.now();
    let appliances = state.store.list_appliances(&scope).await?;
    let open = state
        .store
        .list_incidents(
            &scope,
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                site: None,
            },
        )
        .await?;
    let mut open_by_tier = BTreeMap::new();
    for incident in &open {
        *open_by_tier
            .entry(incident.tier.as_str().to_owned())
            .or_insert(0) += 1;
    }
    Ok(AppJson(Stats {
        partners: state.store.list_partners(&scope).await?.len(),
        clients: state.store.list_clients(&scope).await?.len(),
        sites: state.store.list_sites(&scope).await?.len(),
        appliances_online: appliances
            .iter()
            .filter(|a| {
                a.last_checkin_at
                    .is_some_and(|at| now - at <= Duration::minutes(15))
            })
            .count(),
        appliances: appliances.len(),
        open_incidents: open.len(),
        open_by_tier,
        users: state.store.list_users(&scope).await?.len(),
        checks_in_catalog: state.catalog.checks().len(),
        runbooks_in_catalog: state.catalog.runbooks().len(),
        version: env!("CARGO_PKG_VERSION"),
    }))
}
