//! Orders: an operator asks an appliance to run a catalog runbook, on one
//! named host of its site or on every host the runbook suits. The order is
//! checked here (runbook exists, suits the target or the site's hosts,
//! valid parameters) and delivered, signed, at the appliance's next
//! check-in.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use osiris_catalog::{Platform as CatalogPlatform, Runbook};
use osiris_core::{ApplianceId, OrderId, RunbookId, SiteId, UserId};
use osiris_store::{Host, NewOrder, Order, OrderFilter, OrderState, Platform};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, MANAGERS, READERS, tokens};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders, create_order))
        .routes(routes!(get_order))
}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrderView {
    #[schema(value_type = String, format = Uuid)]
    id: OrderId,
    #[schema(value_type = String, format = Uuid)]
    appliance_id: ApplianceId,
    #[schema(value_type = String, format = Uuid)]
    site_id: SiteId,
    #[schema(value_type = String)]
    runbook_id: RunbookId,
    #[schema(value_type = Object)]
    params: serde_json::Value,
    /// The host it is for; none: every host of the site the runbook suits.
    target: Option<String>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// `pending`, `executed`, `failed`, `rolled_back`, `refused` or `expired`.
    state: String,
    delivered_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    result_detail: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    created_by: Option<UserId>,
}

impl From<Order> for OrderView {
    fn from(order: Order) -> Self {
        Self {
            id: order.id,
            appliance_id: order.appliance_id,
            site_id: order.site_id,
            runbook_id: order.runbook_id,
            params: order.params,
            target: order.target,
            issued_at: order.issued_at,
            expires_at: order.expires_at,
            state: order.state.as_str().to_owned(),
            delivered_at: order.delivered_at,
            completed_at: order.completed_at,
            result_detail: order.result_detail,
            created_by: order.created_by,
        }
    }
}

/// An order to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOrder {
    #[schema(value_type = String, format = Uuid)]
    appliance_id: ApplianceId,
    /// A catalog runbook, e.g. `RB-WIN-AV-001`.
    runbook_id: String,
    /// Parameters, valid against the runbook's parameter schema; `{}` when
    /// omitted.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    params: serde_json::Value,
    /// The host to run it on: a host name known at the appliance's site,
    /// whose platform the runbook must suit. Omitted: every host of the
    /// site whose platform the runbook suits.
    #[serde(default)]
    target: Option<String>,
}

pub(super) fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Issues an order; the appliance receives it, signed, at its next
/// check-in, and it expires after the configured lifetime (at most 15
/// minutes).
#[utoipa::path(
    post, path = "/api/orders", tag = "orders",
    security(("bearer" = []), ("session" = [])),
    request_body = CreateOrder,
    responses(
        (status = 201, description = "Issued", body = OrderView),
        (status = 404, description = "No such appliance visible to the caller", body = crate::error::ErrorBody),
        (status = 422, description = "Unknown runbook or target, unsuitable platform or invalid parameters", body = crate::error::ErrorBody)
    )
)]
async fn create_order(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<CreateOrder>,
) -> ApiResult<(StatusCode, AppJson<OrderView>)> {
    caller.require(MANAGERS)?;
    let runbook_id: RunbookId = request.runbook_id.parse().map_err(|_| {
        ApiError::invalid("runbook_id", "expected a runbook id such as RB-WIN-AV-001")
    })?;
    let runbook = state
        .catalog
        .runbook(&runbook_id)
        .ok_or_else(|| ApiError::invalid("runbook_id", "no such runbook in the catalog"))?;
    let appliance = state
        .store
        .get_appliance(&caller.scope, request.appliance_id)
        .await?;
    let hosts = state
        .store
        .list_hosts(&caller.scope, appliance.site_id)
        .await?;
    let target = match request.target.as_deref() {
        Some(name) => Some(check_target(runbook, &hosts, name)?),
        None => {
            check_platform(runbook, &hosts)?;
            None
        }
    };
    check_params(runbook, &request.params)?;
    let now = state.clock.now();
    let nonce = tokens::generate_nonce().map_err(|error| ApiError::internal(&error))?;
    let order = state
        .store
        .create_order(
            &caller.scope,
            &NewOrder {
                id: OrderId::random(),
                appliance_id: appliance.id,
                runbook_id,
                params: request.params,
                target,
                nonce,
                issued_at: now,
                expires_at: now + state.policy.order_ttl,
                created_by: Some(caller.user.id),
            },
        )
        .await?;
    let site = state.store.get_site(&caller.scope, order.site_id).await?;
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(caller.user.id),
            partner_id: Some(site.partner_id),
            action: "order.create",
            target: order.id.to_string(),
            detail: serde_json::json!({
                "appliance_id": order.appliance_id,
                "runbook_id": order.runbook_id,
                "target": order.target,
            }),
        },
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(order.into())))
}

/// The catalog platforms a stored host platform stands for (a host
/// recorded only as `linux` may be either family).
fn catalog_platforms(platform: Platform) -> &'static [CatalogPlatform] {
    match platform {
        Platform::Windows => &[CatalogPlatform::Windows],
        Platform::Linux => &[CatalogPlatform::Debian, CatalogPlatform::Rhel],
        Platform::Debian => &[CatalogPlatform::Debian],
        Platform::Rhel => &[CatalogPlatform::Rhel],
        Platform::Appliance => &[CatalogPlatform::Appliance],
    }
}

fn suits(runbook: &Runbook, host: &Host) -> bool {
    catalog_platforms(host.platform)
        .iter()
        .any(|platform| runbook.platforms.contains(platform))
}

fn platform_list(runbook: &Runbook) -> String {
    runbook
        .platforms
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The runbook must suit at least one platform present at the site, when
/// the site has hosts at all (without inventory nothing is knowable).
fn check_platform(runbook: &Runbook, hosts: &[Host]) -> ApiResult<()> {
    if hosts.is_empty() || hosts.iter().any(|host| suits(runbook, host)) {
        return Ok(());
    }
    Err(ApiError::invalid(
        "runbook_id",
        format!(
            "the runbook suits {} but the site has no such host",
            platform_list(runbook)
        ),
    ))
}

/// The target must be a host of the site, of a platform the runbook suits;
/// returns its stored name.
pub(super) fn check_target(runbook: &Runbook, hosts: &[Host], name: &str) -> ApiResult<String> {
    // Exact, as the appliance reported it: host names are its keys.
    let host = hosts
        .iter()
        .find(|host| host.hostname == name)
        .ok_or_else(|| {
            ApiError::invalid("target", "no host of this name at the appliance's site")
        })?;
    if !suits(runbook, host) {
        return Err(ApiError::invalid(
            "target",
            format!(
                "{} is a {} host; the runbook suits {}",
                host.hostname,
                host.platform,
                platform_list(runbook)
            ),
        ));
    }
    Ok(host.hostname.clone())
}

/// Validates `params` against the runbook's parameter schema, naming the
/// first offending parameter.
pub(super) fn check_params(runbook: &Runbook, params: &serde_json::Value) -> ApiResult<()> {
    let validator = jsonschema::validator_for(&runbook.parameters)
        .map_err(|error| ApiError::internal(&SchemaError(error.to_string())))?;
    match validator.iter_errors(params).next() {
        None => Ok(()),
        Some(error) => {
            let path = error.instance_path().to_string();
            let field = if path.is_empty() {
                "params".to_owned()
            } else {
                format!("params{}", path.replace('/', "."))
            };
            Err(ApiError::invalid(field, error.to_string()))
        }
    }
}

/// A catalog runbook's parameter schema does not compile (the catalog's
/// validation prevents this).
#[derive(Debug, thiserror::Error)]
#[error("runbook parameter schema: {0}")]
struct SchemaError(String);

/// Which orders to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrderQuery {
    /// Only this state.
    state: Option<String>,
    /// Only this site.
    #[param(value_type = Option<String>, format = Uuid)]
    site_id: Option<SiteId>,
}

/// Visible orders, newest first.
#[utoipa::path(
    get, path = "/api/orders", tag = "orders",
    security(("bearer" = []), ("session" = [])),
    params(OrderQuery),
    responses(
        (status = 200, description = "Visible orders", body = [OrderView]),
        (status = 422, description = "Unknown state", body = crate::error::ErrorBody)
    )
)]
async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<OrderQuery>,
) -> ApiResult<AppJson<Vec<OrderView>>> {
    caller.require(READERS)?;
    let order_state = query
        .state
        .as_deref()
        .map(|text| {
            OrderState::parse(text).ok_or_else(|| {
                ApiError::invalid(
                    "state",
                    "expected pending, executed, failed, rolled_back, refused or expired",
                )
            })
        })
        .transpose()?;
    let orders = state
        .store
        .list_orders(
            &caller.scope,
            OrderFilter {
                state: order_state,
                site: query.site_id,
            },
        )
        .await?;
    Ok(AppJson(orders.into_iter().map(Into::into).collect()))
}

/// One visible order.
#[utoipa::path(
    get, path = "/api/orders/{order_id}", tag = "orders",
    security(("bearer" = []), ("session" = [])),
    params(("order_id" = String, Path, format = Uuid, description = "The order")),
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 404, description = "No such order visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(order_id): AppPath<OrderId>,
) -> ApiResult<AppJson<OrderView>> {
    caller.require(READERS)?;
    let order = state.store.get_order(&caller.scope, order_id).await?;
    Ok(AppJson(order.into()))
}
