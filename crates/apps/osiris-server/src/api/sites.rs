//! The tenant tree: partners, their clients (practices), and sites with
//! their settings.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveTime, Utc};
use osiris_core::{ClientId, PartnerId, SiteId};
use osiris_store::{
    HealingMode, MaintenanceWindow, Membership, NewClient, NewPartner, NewSite, Site, SiteSettings,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ANYONE, Caller, MANAGERS, STAFF};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_partners, create_partner))
        .routes(routes!(list_clients, create_client))
        .routes(routes!(list_sites, create_site))
        .routes(routes!(get_site, update_site))
}

/// A partner (MSP).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PartnerView {
    #[schema(value_type = String, format = Uuid)]
    id: PartnerId,
    name: String,
    created_at: DateTime<Utc>,
}

/// A name for a new partner or client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePartner {
    /// 1 to 200 characters, unique.
    name: String,
}

pub(super) fn display_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "must be 1 to 200 printable characters",
        ));
    }
    Ok(name.to_owned())
}

/// Partners visible to the caller.
#[utoipa::path(
    get, path = "/api/partners", tag = "tenants",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Visible partners", body = [PartnerView]))
)]
async fn list_partners(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<PartnerView>>> {
    caller.require(MANAGERS)?;
    let partners = state.store.list_partners(&caller.scope).await?;
    Ok(AppJson(
        partners
            .into_iter()
            .map(|p| PartnerView {
                id: p.id,
                name: p.name,
                created_at: p.created_at,
            })
            .collect(),
    ))
}

/// Creates a partner (platform staff only).
#[utoipa::path(
    post, path = "/api/partners", tag = "tenants",
    security(("bearer" = []), ("session" = [])),
    request_body = CreatePartner,
    responses(
        (status = 201, description = "Created", body = PartnerView),
        (status = 403, description = "Not platform staff", body = crate::error::ErrorBody),
        (status = 409, description = "Name taken", body = crate::error::ErrorBody)
    )
)]
async fn create_partner(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<CreatePartner>,
) -> ApiResult<(StatusCode, AppJson<PartnerView>)> {
    caller.require(STAFF)?;
    let now = state.clock.now();
    let partner = state
        .store
        .create_partner(
            &caller.scope,
            &NewPartner {
                id: PartnerId::random(),
                name: display_name(&request.name)?,
            },
            now,
        )
        .await?;
    audit(
        &state,
        &caller,
        "partner.create",
        partner.id.to_string(),
        Some(partner.id),
        now,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(PartnerView {
            id: partner.id,
            name: partner.name,
            created_at: partner.created_at,
        }),
    ))
}

/// A practice.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClientView {
    #[schema(value_type = String, format = Uuid)]
    id: ClientId,
    #[schema(value_type = String, format = Uuid)]
    partner_id: PartnerId,
    name: String,
    created_at: DateTime<Utc>,
}

/// A practice to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateClient {
    /// The serving partner; partners may omit it (their own).
    #[schema(value_type = Option<String>, format = Uuid)]
    partner_id: Option<PartnerId>,
    /// 1 to 200 characters, unique within the partner.
    name: String,
}

/// Practices visible to the caller.
#[utoipa::path(
    get, path = "/api/clients", tag = "tenants",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Visible practices", body = [ClientView]))
)]
async fn list_clients(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<ClientView>>> {
    caller.require(&[
        osiris_store::Role::Admin,
        osiris_store::Role::Operator,
        osiris_store::Role::Partner,
        osiris_store::Role::Client,
    ])?;
    let clients = state.store.list_clients(&caller.scope).await?;
    Ok(AppJson(clients.into_iter().map(client_view).collect()))
}

fn client_view(client: osiris_store::Client) -> ClientView {
    ClientView {
        id: client.id,
        partner_id: client.partner_id,
        name: client.name,
        created_at: client.created_at,
    }
}

/// Creates a practice under a visible partner.
#[utoipa::path(
    post, path = "/api/clients", tag = "tenants",
    security(("bearer" = []), ("session" = [])),
    request_body = CreateClient,
    responses(
        (status = 201, description = "Created", body = ClientView),
        (status = 404, description = "Partner not visible", body = crate::error::ErrorBody),
        (status = 409, description = "Name taken", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid value", body = crate::error::ErrorBody)
    )
)]
async fn create_client(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<CreateClient>,
) -> ApiResult<(StatusCode, AppJson<ClientView>)> {
    caller.require(MANAGERS)?;
    let partner_id = match (request.partner_id, caller.user.membership) {
        (Some(partner), _) => partner,
        (None, Membership::Partner(own)) => own,
        (None, _) => return Err(ApiError::invalid("partner_id", "required")),
    };
    let now = state.clock.now();
    let client = state
        .store
        .create_client(
            &caller.scope,
            &NewClient {
                id: ClientId::random(),
                partner_id,
                name: display_name(&request.name)?,
            },
            now,
        )
        .await?;
    audit(
        &state,
        &caller,
        "client.create",
        client.id.to_string(),
        Some(partner_id),
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(client_view(client))))
}

/// A site's maintenance window, in its own time zone.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowView {
    /// IANA time zone, e.g. `America/Chicago`.
    time_zone: String,
    /// Local start, `HH:MM`.
    starts_at: String,
    /// Length in minutes (1 to 1440).
    duration_minutes: u16,
}

/// A site's settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsView {
    /// When disruptive runbooks may run.
    maintenance_window: WindowView,
    /// `observe`, `dry_run` or `heal`.
    healing_mode: String,
}

impl SettingsView {
    fn parse(&self, prefix: &str) -> ApiResult<SiteSettings> {
        let window = &self.maintenance_window;
        let time_zone = window.time_zone.parse().map_err(|_| {
            ApiError::invalid(
                format!("{prefix}maintenance_window.time_zone"),
                "expected an IANA time zone such as America/Chicago",
            )
        })?;
        let starts_at = NaiveTime::parse_from_str(&window.starts_at, "%H:%M").map_err(|_| {
            ApiError::invalid(
                format!("{prefix}maintenance_window.starts_at"),
                "expected HH:MM",
            )
        })?;
        if !(1..=1440).contains(&window.duration_minutes) {
            return Err(ApiError::invalid(
                format!("{prefix}maintenance_window.duration_minutes"),
                "must be 1 to 1440",
            ));
        }
        let healing_mode = HealingMode::parse(&self.healing_mode).ok_or_else(|| {
            ApiError::invalid(
                format!("{prefix}healing_mode"),
                "expected observe, dry_run or heal",
            )
        })?;
        Ok(SiteSettings {
            maintenance_window: MaintenanceWindow {
                time_zone,
                starts_at,
                duration_minutes: window.duration_minutes,
            },
            healing_mode,
        })
    }

    fn of(settings: &SiteSettings) -> Self {
        let window = &settings.maintenance_window;
        Self {
            maintenance_window: WindowView {
                time_zone: window.time_zone.name().to_owned(),
                starts_at: window.starts_at.format("%H:%M").to_string(),
                duration_minutes: window.duration_minutes,
            },
            healing_mode: settings.healing_mode.as_str().to_owned(),
        }
    }
}

/// A site.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SiteView {
    #[schema(value_type = String, format = Uuid)]
    id: SiteId,
    #[schema(value_type = String, format = Uuid)]
    client_id: ClientId,
    #[schema(value_type = String, format = Uuid)]
    partner_id: PartnerId,
    name: String,
    settings: SettingsView,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Site> for SiteView {
    fn from(site: &Site) -> Self {
        Self {
            id: site.id,
            client_id: site.client_id,
            partner_id: site.partner_id,
            name: site.name.clone(),
            settings: SettingsView::of(&site.settings),
            created_at: site.created_at,
            updated_at: site.updated_at,
        }
    }
}

/// A site to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSite {
    /// The practice it belongs to.
    #[schema(value_type = String, format = Uuid)]
    client_id: ClientId,
    /// 1 to 200 characters, unique within the practice.
    name: String,
    /// Initial settings.
    settings: SettingsView,
}

/// Sites visible to the caller.
#[utoipa::path(
    get, path = "/api/sites", tag = "sites",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Visible sites", body = [SiteView]))
)]
async fn list_sites(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<SiteView>>> {
    caller.require(ANYONE)?;
    let sites = state.store.list_sites(&caller.scope).await?;
    Ok(AppJson(sites.iter().map(SiteView::from).collect()))
}

/// Creates a site under a visible practice.
#[utoipa::path(
    post, path = "/api/sites", tag = "sites",
    security(("bearer" = []), ("session" = [])),
    request_body = CreateSite,
    responses(
        (status = 201, description = "Created", body = SiteView),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 404, description = "Practice not visible", body = crate::error::ErrorBody),
        (status = 409, description = "Name taken", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid value", body = crate::error::ErrorBody)
    )
)]
async fn create_site(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<CreateSite>,
) -> ApiResult<(StatusCode, AppJson<SiteView>)> {
    caller.require(MANAGERS)?;
    let settings = request.settings.parse("settings.")?;
    let now = state.clock.now();
    let site = state
        .store
        .create_site(
            &caller.scope,
            &NewSite {
                id: SiteId::random(),
                client_id: request.client_id,
                name: display_name(&request.name)?,
                settings,
            },
            now,
        )
        .await?;
    audit(
        &state,
        &caller,
        "site.create",
        site.id.to_string(),
        Some(site.partner_id),
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, AppJson(SiteView::from(&site))))
}

/// One visible site.
#[utoipa::path(
    get, path = "/api/sites/{site_id}", tag = "sites",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site")),
    responses(
        (status = 200, description = "The site", body = SiteView),
        (status = 404, description = "No such site visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn get_site(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
) -> ApiResult<AppJson<SiteView>> {
    caller.require(ANYONE)?;
    let site = state.store.get_site(&caller.scope, site_id).await?;
    Ok(AppJson(SiteView::from(&site)))
}

/// Replaces a site's settings (maintenance window, healing mode).
#[utoipa::path(
    put, path = "/api/sites/{site_id}", tag = "sites",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site")),
    request_body = SettingsView,
    responses(
        (status = 200, description = "Updated", body = SiteView),
        (status = 404, description = "No such site visible to the caller", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid value", body = crate::error::ErrorBody)
    )
)]
async fn update_site(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
    AppJson(request): AppJson<SettingsView>,
) -> ApiResult<AppJson<SiteView>> {
    caller.require(MANAGERS)?;
    let settings = request.parse("")?;
    let now = state.clock.now();
    let site = state
        .store
        .update_site_settings(&caller.scope, site_id, &settings, now)
        .await?;
    audit(
        &state,
        &caller,
        "site.update",
        site.id.to_string(),
        Some(site.partner_id),
        now,
    )
    .await?;
    Ok(AppJson(SiteView::from(&site)))
}

async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: String,
    partner_id: Option<PartnerId>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(caller.user.id),
            partner_id,
            action,
            target,
            detail: serde_json::json!({}),
        },
        now,
    )
    .await?;
    Ok(())
}
