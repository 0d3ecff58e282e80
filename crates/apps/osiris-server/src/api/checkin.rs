//! The appliance check-in: evidence, incidents, telemetry, order results
//! and the inventory up; signed orders, rule-set updates, the site's hosts,
//! the server time and the next check-in down. Authenticated by the
//! appliance's request signature ([`crate::auth::appliance`]); the body is
//! validated as a whole before anything is stored.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, HostId, IncidentId, OrderId, SiteId};
use osiris_proto::checkin::{
    CheckinRequest, CheckinResponse, IncidentAck, IncidentReport, InventoryHost, OrderResult,
    RejectedResult, SiteHost,
};
use osiris_store::{Host, NewHost, NewIncident, OrderOutcome, Platform, Severity, Tier};
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
    let inventory = parse_inventory(identity.site_id, &request.inventory)?;
    let known = state.store.list_hosts(&scope, identity.site_id).await?;
    let incidents = parse_incidents(&state, &known, &inventory, &request.incidents)?;
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
    crate::learning::observe(&state, &identity, &scope, &request.bundles, &intake, now).await;
    let mut rejected_order_results = Vec::new();
    for (order_id, outcome, detail) in results {
        if let Some(reason) =
            record_result(&state, &scope, identity.id, order_id, outcome, detail, now).await?
        {
            rejected_order_results.push(RejectedResult { order_id, reason });
        }
    }
    let hosts = if inventory.is_empty() {
        known
    } else {
        state.store.upsert_hosts(&scope, &inventory, now).await?;
        state.store.list_hosts(&scope, identity.site_id).await?
    };
    let host_ids: BTreeMap<&str, HostId> = hosts
        .iter()
        .map(|host| (host.hostname.as_str(), host.id))
        .collect();
    let mut acks = Vec::with_capacity(incidents.len());
    for incident in incidents {
        let incident = incident.resolve(identity.site_id, &host_ids)?;
        let opened = state.store.report_incident(&scope, &incident, now).await?;
        // Decisions on this incident go to the appliance that reported it.
        state
            .store
            .note_incident_reporter(&scope, opened.incident.id, identity.id)
            .await?;
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
        .map(osiris_proto::OrderBody::of)
        .collect::<Vec<_>>();
    let orders = crate::orders::with_approvals(&state, &scope, orders)
        .await?
        .into_iter()
        .map(|body| body.sign(&state.server_key))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| ApiError::internal(&error))?;
    let decisions = crate::orders::take_decisions(&state, &scope, identity.id, &hosts, now).await?;
    // Built-in rules plus the learned rules in force for the site's fleet.
    let rule_set = crate::learning::rule_set_for(&state, &scope, identity.site_id).await?;
    let rule_set = (request.rule_set_version.as_deref() != Some(rule_set.version.as_str()))
        .then(|| (*rule_set).clone());
    Ok(AppJson(CheckinResponse {
        acknowledged_through_seq: intake.acknowledged_through_seq,
        rejected: intake.rejected.into_iter().collect(),
        rejected_order_results,
        incidents: acks,
        orders,
        rule_set,
        hosts: hosts
            .into_iter()
            .map(|host| SiteHost {
                hostname: host.hostname,
                host_id: host.id,
            })
            .collect(),
        server_time: now,
        next_checkin_secs: state.policy.checkin_interval_secs,
        decisions,
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

/// The most hosts one check-in may report.
const MAX_INVENTORY: usize = 1000;

/// The inventory as hosts of the appliance's site, or the first bad field.
fn parse_inventory(site_id: SiteId, inventory: &[InventoryHost]) -> ApiResult<Vec<NewHost>> {
    if inventory.len() > MAX_INVENTORY {
        return Err(ApiError::invalid(
            "inventory",
            format!("at most {MAX_INVENTORY} hosts per check-in"),
        ));
    }
    let mut seen = BTreeSet::new();
    inventory
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let field = |name: &str| format!("inventory[{index}].{name}");
            if !is_hostname(&host.hostname) {
                return Err(ApiError::invalid(
                    field("hostname"),
                    "must be 1 to 253 letters, digits, '-', '_' or '.', starting with a letter or digit",
                ));
            }
            if !seen.insert(host.hostname.as_str()) {
                return Err(ApiError::invalid(
                    field("hostname"),
                    "is listed twice in the inventory",
                ));
            }
            let platform = match host.platform.as_str() {
                "windows" => Platform::Windows,
                "debian" => Platform::Debian,
                "rhel" => Platform::Rhel,
                "appliance" => Platform::Appliance,
                _ => {
                    return Err(ApiError::invalid(
                        field("platform"),
                        "expected windows, debian, rhel or appliance",
                    ));
                }
            };
            if !is_address(&host.address) {
                return Err(ApiError::invalid(
                    field("address"),
                    "must be a host name or IP address of 1 to 253 characters without spaces",
                ));
            }
            Ok(NewHost {
                id: HostId::random(),
                site_id,
                hostname: host.hostname.clone(),
                platform,
                address: host.address.clone(),
            })
        })
        .collect()
}

/// A DNS or NetBIOS-style host name (underscores occur in the latter).
fn is_hostname(name: &str) -> bool {
    name.len() <= 253
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A host name or an IP address (IPv6 with `:`, `[]` and a `%` zone).
fn is_address(address: &str) -> bool {
    !address.is_empty() && address.len() <= 253 && address.chars().all(|c| c.is_ascii_graphic())
}

/// Which host an incident names, before the inventory is stored.
#[derive(Debug)]
enum HostRef {
    None,
    /// A host already stored at the site.
    Known(HostId),
    /// A host by name: stored, or added by this check-in's inventory.
    Named(String),
}

/// A validated incident whose host is resolved once the inventory is in.
#[derive(Debug)]
struct PendingIncident {
    field: String,
    host: HostRef,
    check_id: String,
    dedup_key: Option<String>,
    severity: Severity,
    tier: Tier,
}

impl PendingIncident {
    fn resolve(self, site_id: SiteId, host_ids: &BTreeMap<&str, HostId>) -> ApiResult<NewIncident> {
        let host_id = match &self.host {
            HostRef::None => None,
            HostRef::Known(id) => Some(*id),
            HostRef::Named(name) => {
                Some(host_ids.get(name.as_str()).copied().ok_or_else(|| {
                    // Validation saw this name stored or in the inventory.
                    ApiError::internal(&UnresolvedHost(self.field.clone()))
                })?)
            }
        };
        let dedup_key = self.dedup_key.unwrap_or_else(|| match host_id {
            Some(host) => format!("{}:{host}", self.check_id),
            None => self.check_id.clone(),
        });
        Ok(NewIncident {
            id: IncidentId::random(),
            site_id,
            host_id,
            check_id: self.check_id,
            dedup_key,
            severity: self.severity,
            tier: self.tier,
        })
    }
}

/// An incident's host name vanished between validation and storage.
#[derive(Debug, thiserror::Error)]
#[error("{0}: the host named was not stored")]
struct UnresolvedHost(String);

fn parse_incidents(
    state: &AppState,
    known: &[Host],
    inventory: &[NewHost],
    reports: &[IncidentReport],
) -> ApiResult<Vec<PendingIncident>> {
    let by_name: BTreeMap<&str, HostId> = known
        .iter()
        .map(|host| (host.hostname.as_str(), host.id))
        .collect();
    let reported: BTreeSet<&str> = inventory.iter().map(|h| h.hostname.as_str()).collect();
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
        // The appliance's scope is its site, so the site's hosts are the
        // only ones it can name; another tenant's host is as unknown.
        if let Some(id) = report.host_id
            && !known.iter().any(|host| host.id == id)
        {
            return Err(ApiError::invalid(
                field("host_id"),
                "no such host at this site",
            ));
        }
        let host = match (&report.hostname, report.host_id) {
            (None, None) => HostRef::None,
            (None, Some(id)) => HostRef::Known(id),
            (Some(name), id) => {
                let stored = by_name.get(name.as_str()).copied();
                if stored.is_none() && !reported.contains(name.as_str()) {
                    return Err(ApiError::invalid(
                        field("hostname"),
                        "no such host at this site or in this inventory",
                    ));
                }
                match (id, stored) {
                    (Some(id), Some(stored)) if id == stored => HostRef::Known(id),
                    (Some(_), _) => {
                        return Err(ApiError::invalid(
                            field("hostname"),
                            "names another host than host_id",
                        ));
                    }
                    (None, _) => HostRef::Named(name.clone()),
                }
            }
        };
        let dedup_key = match &report.dedup_key {
            Some(key) if key.is_empty() || key.chars().count() > 200 => {
                return Err(ApiError::invalid(
                    field("dedup_key"),
                    "must be 1 to 200 characters",
                ));
            }
            other => other.clone(),
        };
        incidents.push(PendingIncident {
            field: field("hostname"),
            host,
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
        Ok(_) => {
            crate::orders::resolve_approved(state, scope, order_id, outcome, now).await?;
            Ok(None)
        }
        Err(error @ osiris_store::Error::IllegalTransition { .. }) => Ok(Some(error.to_string())),
        Err(other) => Err(other.into()),
    }
}
