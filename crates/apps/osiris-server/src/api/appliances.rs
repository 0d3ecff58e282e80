//! Appliances: created at a site with a one-time claim code (and, if the
//! operator gives one, the MAC address it may claim by instead), claimed by
//! the appliance itself with its public key.

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use osiris_core::{ApplianceId, MacAddress, SiteId};
use osiris_proto::enrol::{ClaimRequest, ClaimResponse};
use osiris_store::{Appliance, NewAppliance, TokenHash};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, MANAGERS, READERS, tokens};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_appliance))
        .routes(routes!(list_appliances))
        .routes(routes!(get_appliance))
        .routes(routes!(claim_appliance))
}

/// An appliance.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApplianceView {
    #[schema(value_type = String, format = Uuid)]
    id: ApplianceId,
    #[schema(value_type = String, format = Uuid)]
    site_id: SiteId,
    name: String,
    /// The MAC address it was armed with, normalised (`aa:bb:cc:dd:ee:ff`).
    mac: Option<String>,
    /// Until when it may still be claimed by that MAC; none once claimed
    /// or without a MAC.
    mac_claim_until: Option<DateTime<Utc>>,
    /// Whether it has claimed its identity (registered its key).
    claimed: bool,
    /// Base64 of its raw Ed25519 public key, once claimed.
    public_key: Option<String>,
    last_checkin_at: Option<DateTime<Utc>>,
    agent_version: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Appliance> for ApplianceView {
    fn from(appliance: Appliance) -> Self {
        Self {
            id: appliance.id,
            site_id: appliance.site_id,
            name: appliance.name,
            mac: appliance.mac.map(|mac| mac.to_string()),
            mac_claim_until: appliance.mac_armed_at.map(|armed| armed + MAC_CLAIM_WINDOW),
            claimed: appliance.public_key.is_some(),
            public_key: appliance
                .public_key
                .map(|key| STANDARD.encode(key.as_bytes())),
            last_checkin_at: appliance.last_checkin_at,
            agent_version: appliance.agent_version,
            created_at: appliance.created_at,
        }
    }
}

/// An appliance to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAppliance {
    /// 1 to 200 characters.
    name: String,
    /// The MAC address of the appliance's network card, which lets it
    /// claim its identity without the code for 24 hours (`aa:bb:cc:dd:ee:ff`;
    /// hyphens, Cisco dots and upper case are accepted). At most one
    /// unclaimed appliance per MAC.
    #[serde(default)]
    mac: Option<String>,
}

/// How long after its creation an appliance may be claimed by its MAC
/// address: a MAC is no secret, so the window is what bounds a claim by
/// someone else (docs/design/checkin.md).
pub(crate) const MAC_CLAIM_WINDOW: Duration = Duration::hours(24);

fn parse_mac(field: &str, text: &str) -> ApiResult<MacAddress> {
    text.parse()
        .map_err(|error: osiris_core::MacError| ApiError::invalid(field, error.to_string()))
}

/// A created appliance and its claim code.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedAppliance {
    appliance: ApplianceView,
    /// The one-time code the installer enters on the appliance; shown only
    /// here (only its hash is stored).
    claim_code: String,
}

/// Creates an appliance at a site and returns its one-time claim code.
#[utoipa::path(
    post, path = "/api/sites/{site_id}/appliances", tag = "appliances",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site")),
    request_body = CreateAppliance,
    responses(
        (status = 201, description = "Created, with its claim code", body = CreatedAppliance),
        (status = 404, description = "No such site visible to the caller", body = crate::error::ErrorBody),
        (status = 409, description = "An unclaimed appliance is already armed with this MAC", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid value", body = crate::error::ErrorBody)
    )
)]
async fn create_appliance(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
    AppJson(request): AppJson<CreateAppliance>,
) -> ApiResult<(StatusCode, AppJson<CreatedAppliance>)> {
    caller.require(MANAGERS)?;
    let name = super::sites::display_name(&request.name)?;
    let mac = request
        .mac
        .as_deref()
        .map(|text| parse_mac("mac", text))
        .transpose()?;
    let claim_code = tokens::generate_claim_code().map_err(|e| ApiError::internal(&e))?;
    let now = state.clock.now();
    let site = state.store.get_site(&caller.scope, site_id).await?;
    let appliance = state
        .store
        .create_appliance(
            &caller.scope,
            &NewAppliance {
                id: ApplianceId::random(),
                site_id,
                name,
                claim_code: TokenHash::of(&tokens::normalise_claim_code(claim_code.expose())),
                mac,
            },
            now,
        )
        .await
        .map_err(|error| match error {
            osiris_store::Error::Conflict { constraint }
                if constraint == osiris_store::constraint::APPLIANCE_UNCLAIMED_MAC =>
            {
                ApiError::conflict("an unclaimed appliance is already armed with this MAC address")
                    .with_field("mac")
            }
            other => other.into(),
        })?;
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(caller.user.id),
            partner_id: Some(site.partner_id),
            action: "appliance.create",
            target: appliance.id.to_string(),
            detail: serde_json::json!({"site_id": site_id, "mac": mac}),
        },
        now,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(CreatedAppliance {
            appliance: appliance.into(),
            claim_code: claim_code.expose().clone(),
        }),
    ))
}

/// Appliances visible to the caller, by site then name.
#[utoipa::path(
    get, path = "/api/appliances", tag = "appliances",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "Visible appliances", body = [ApplianceView]))
)]
async fn list_appliances(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<ApplianceView>>> {
    caller.require(READERS)?;
    let appliances = state.store.list_appliances(&caller.scope).await?;
    Ok(AppJson(appliances.into_iter().map(Into::into).collect()))
}

/// One visible appliance.
#[utoipa::path(
    get, path = "/api/appliances/{appliance_id}", tag = "appliances",
    security(("bearer" = []), ("session" = [])),
    params(("appliance_id" = String, Path, format = Uuid, description = "The appliance")),
    responses(
        (status = 200, description = "The appliance", body = ApplianceView),
        (status = 404, description = "No such appliance visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn get_appliance(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(appliance_id): AppPath<ApplianceId>,
) -> ApiResult<AppJson<ApplianceView>> {
    caller.require(READERS)?;
    let appliance = state
        .store
        .get_appliance(&caller.scope, appliance_id)
        .await?;
    Ok(AppJson(appliance.into()))
}

/// Enrolment: an appliance claims its identity with a one-time code, or
/// with the MAC address it was armed with (unauthenticated; the code, or
/// the MAC within its window, is the credential and is consumed).
#[utoipa::path(
    post, path = "/api/appliances/claim", tag = "appliances",
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "Claimed", body = ClaimResponse),
        (status = 404, description = "Unknown or already used claim code; no unclaimed appliance armed with this MAC in the last 24 hours", body = crate::error::ErrorBody),
        (status = 422, description = "Unusable public key or MAC, or not exactly one of claim_code and mac", body = crate::error::ErrorBody),
        (status = 429, description = "Too many claims by MAC address", body = crate::error::ErrorBody)
    )
)]
async fn claim_appliance(
    State(state): State<AppState>,
    AppJson(request): AppJson<ClaimRequest>,
) -> ApiResult<AppJson<ClaimResponse>> {
    let key = osiris_evidence::PublicKey::from_base64(request.public_key.trim())
        .map_err(|reason| ApiError::invalid("public_key", reason))?;
    let raw: [u8; 32] = STANDARD
        .decode(key.to_base64())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| ApiError::invalid("public_key", "expected 32 bytes"))?;
    let public_key = osiris_store::PublicKey::from_bytes(raw);
    let now = state.clock.now();
    let (identity, method) = match (&request.claim_code, &request.mac) {
        (Some(code), None) => {
            let code = TokenHash::of(&tokens::normalise_claim_code(code));
            let claimed = state.store.claim_appliance(&code, &public_key, now).await;
            (claimed, "claim_code")
        }
        (None, Some(mac)) => {
            let mac = parse_mac("mac", mac)?;
            crate::limits::check_mac_claim(&state).await?;
            let claimed = state
                .store
                .claim_appliance_by_mac(mac, &public_key, now - MAC_CLAIM_WINDOW, now)
                .await;
            (claimed, "mac")
        }
        _ => {
            return Err(ApiError::invalid(
                "claim_code",
                "give exactly one of claim_code and mac",
            ));
        }
    };
    // Unknown, used, expired and other-tenant look the same: 404.
    let identity = identity.map_err(|error| match error {
        osiris_store::Error::NotFound { .. } => ApiError::not_found("claim code"),
        other => other.into(),
    })?;
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: None,
            partner_id: Some(identity.partner_id),
            action: "appliance.claim",
            target: identity.id.to_string(),
            detail: serde_json::json!({"key_id": key.key_id().to_string(), "method": method}),
        },
        now,
    )
    .await?;
    Ok(AppJson(ClaimResponse {
        appliance_id: identity.id,
        site_id: identity.site_id,
        server_public_key: state.server_key.public_key().to_base64(),
        server_time: now,
    }))
}
