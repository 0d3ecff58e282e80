//! Target credentials: sealed by the vault before they reach the store,
//! listed as metadata, never returned in plaintext.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use osiris_core::{CredentialId, HostId, Secret, SiteId};
use osiris_store::{Credential, CredentialKind, NewCredential};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, MANAGERS};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(store_credential, list_credentials))
        .routes(routes!(delete_credential))
}

/// A credential to store.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCredentialBody {
    /// `winrm_password`, `ssh_password` or `ssh_key`.
    kind: String,
    /// The account (not secret), 1 to 256 characters.
    username: String,
    /// The password or private key; sealed at once, never returned.
    #[schema(value_type = String, format = Password)]
    secret: Secret<String>,
    /// The host it is for; none for every host of the site.
    #[schema(value_type = Option<String>, format = Uuid)]
    host_id: Option<HostId>,
}

/// A credential's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CredentialView {
    #[schema(value_type = String, format = Uuid)]
    id: CredentialId,
    #[schema(value_type = String, format = Uuid)]
    site_id: SiteId,
    #[schema(value_type = Option<String>, format = Uuid)]
    host_id: Option<HostId>,
    kind: String,
    username: String,
    /// The vault key version it is sealed under.
    key_version: u32,
    created_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
}

impl From<&Credential> for CredentialView {
    fn from(c: &Credential) -> Self {
        Self {
            id: c.id,
            site_id: c.site_id,
            host_id: c.host_id,
            kind: c.kind.as_str().to_owned(),
            username: c.username.clone(),
            key_version: c.key_version,
            created_at: c.created_at,
            rotated_at: c.rotated_at,
        }
    }
}

/// Stores a target credential, encrypted at rest.
#[utoipa::path(
    post, path = "/api/sites/{site_id}/credentials", tag = "sites",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site")),
    request_body = NewCredentialBody,
    responses(
        (status = 201, description = "Stored; the secret is not echoed", body = CredentialView),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 404, description = "Site or host not visible", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid value", body = crate::error::ErrorBody)
    )
)]
async fn store_credential(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
    AppJson(body): AppJson<NewCredentialBody>,
) -> ApiResult<(StatusCode, AppJson<CredentialView>)> {
    caller.require(MANAGERS)?;
    let kind = CredentialKind::parse(&body.kind).ok_or_else(|| {
        ApiError::invalid("kind", "expected winrm_password, ssh_password or ssh_key")
    })?;
    let username = body.username.trim();
    if username.is_empty()
        || username.chars().count() > 256
        || username.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "username",
            "must be 1 to 256 printable characters",
        ));
    }
    if body.secret.expose().is_empty() || body.secret.expose().len() > 64 * 1024 {
        return Err(ApiError::invalid("secret", "must be 1 byte to 64 KiB"));
    }
    // Visibility first, so another tenant's site is a 404 before any work.
    let site = state.store.get_site(&caller.scope, site_id).await?;
    let id = CredentialId::random();
    let sealed = state
        .vault
        .seal(site_id, id, &body.secret)
        .map_err(|e| ApiError::internal(&e))?;
    let now = state.clock.now();
    let credential = state
        .store
        .create_credential(
            &caller.scope,
            &NewCredential {
                id,
                site_id,
                host_id: body.host_id,
                kind,
                username: username.to_owned(),
                sealed,
            },
            now,
        )
        .await?;
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(caller.user.id),
            partner_id: Some(site.partner_id),
            action: "credential.create",
            target: id.to_string(),
            detail: serde_json::json!({"site_id": site_id, "kind": kind.as_str(), "username": username}),
        },
        now,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        AppJson(CredentialView::from(&credential)),
    ))
}

/// A site's credentials, as metadata.
#[utoipa::path(
    get, path = "/api/sites/{site_id}/credentials", tag = "sites",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site")),
    responses(
        (status = 200, description = "Metadata only", body = [CredentialView]),
        (status = 404, description = "Site not visible", body = crate::error::ErrorBody)
    )
)]
async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
) -> ApiResult<AppJson<Vec<CredentialView>>> {
    caller.require(MANAGERS)?;
    let credentials = state.store.list_credentials(&caller.scope, site_id).await?;
    Ok(AppJson(
        credentials.iter().map(CredentialView::from).collect(),
    ))
}

/// Deletes a credential.
#[utoipa::path(
    delete, path = "/api/credentials/{credential_id}", tag = "sites",
    security(("bearer" = []), ("session" = [])),
    params(("credential_id" = String, Path, format = Uuid, description = "The credential")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "Not visible", body = crate::error::ErrorBody)
    )
)]
async fn delete_credential(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(credential_id): AppPath<CredentialId>,
) -> ApiResult<StatusCode> {
    caller.require(MANAGERS)?;
    state
        .store
        .delete_credential(&caller.scope, credential_id)
        .await?;
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(caller.user.id),
            partner_id: None,
            action: "credential.delete",
            target: credential_id.to_string(),
            detail: serde_json::json!({}),
        },
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
