//! User accounts: listing, creating, password changes, auditor grants.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use osiris_core::{ClientId, PartnerId, Secret, SiteId, UserId};
use osiris_store::{Membership, NewUser, Role, User, Username};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ANYONE, Caller, MANAGERS, password};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user))
        .routes(routes!(set_password))
        .routes(routes!(grant_site))
}

/// A user as the API shows it (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    id: UserId,
    /// Login name.
    username: String,
    /// `admin`, `operator`, `partner`, `client` or `auditor`.
    role: String,
    /// The partner a partner user works for.
    #[schema(value_type = Option<String>, format = Uuid)]
    partner_id: Option<PartnerId>,
    /// The practice a client user belongs to.
    #[schema(value_type = Option<String>, format = Uuid)]
    client_id: Option<ClientId>,
    /// Whether logins are refused until `locked_until`.
    locked_until: Option<DateTime<Utc>>,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// Last successful login.
    last_login_at: Option<DateTime<Utc>>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        let (partner_id, client_id) = match user.membership {
            Membership::Partner(partner) => (Some(partner), None),
            Membership::Client(client) => (None, Some(client)),
            Membership::Admin | Membership::Operator | Membership::Auditor => (None, None),
        };
        Self {
            id: user.id,
            username: user.username.to_string(),
            role: user.membership.role().as_str().to_owned(),
            partner_id,
            client_id,
            locked_until: user.locked_until,
            created_at: user.created_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// A user to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateUser {
    /// 1 to 64 of `a-z 0-9 . _ @ -`.
    username: String,
    /// `admin`, `operator`, `partner`, `client` or `auditor`.
    role: String,
    /// Required for `partner`.
    #[schema(value_type = Option<String>, format = Uuid)]
    partner_id: Option<PartnerId>,
    /// Required for `client`.
    #[schema(value_type = Option<String>, format = Uuid)]
    client_id: Option<ClientId>,
    /// At least 12 characters.
    #[schema(value_type = String, format = Password)]
    password: Secret<String>,
}

/// Turns a role name and optional tenant into a membership, naming the
/// field at fault.
pub(crate) fn membership(
    role: &str,
    partner_id: Option<PartnerId>,
    client_id: Option<ClientId>,
) -> ApiResult<Membership> {
    let role = Role::parse(role).ok_or_else(|| {
        ApiError::invalid(
            "role",
            "expected admin, operator, partner, client or auditor",
        )
    })?;
    let stray = |field: &str| {
        ApiError::invalid(
            field.to_owned(),
            format!("not allowed for the {} role", role.as_str()),
        )
    };
    match role {
        Role::Partner => {
            if client_id.is_some() {
                return Err(stray("client_id"));
            }
            partner_id
                .map(Membership::Partner)
                .ok_or_else(|| ApiError::invalid("partner_id", "required for the partner role"))
        }
        Role::Client => {
            if partner_id.is_some() {
                return Err(stray("partner_id"));
            }
            client_id
                .map(Membership::Client)
                .ok_or_else(|| ApiError::invalid("client_id", "required for the client role"))
        }
        Role::Admin | Role::Operator | Role::Auditor => {
            if partner_id.is_some() {
                return Err(stray("partner_id"));
            }
            if client_id.is_some() {
                return Err(stray("client_id"));
            }
            Ok(match role {
                Role::Admin => Membership::Admin,
                Role::Operator => Membership::Operator,
                _ => Membership::Auditor,
            })
        }
    }
}

/// Every user visible to the caller.
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Visible users", body = [UserView]),
        (status = 403, description = "Role may not manage users", body = crate::error::ErrorBody)
    )
)]
async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<UserView>>> {
    caller.require(MANAGERS)?;
    let users = state.store.list_users(&caller.scope).await?;
    Ok(AppJson(users.iter().map(UserView::from).collect()))
}

/// Creates a user inside the caller's tenants (admins, operators and
/// auditors only by platform staff).
#[utoipa::path(
    post,
    path = "/api/users",
    tag = "users",
    security(("bearer" = []), ("session" = [])),
    request_body = CreateUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 403, description = "Role may not create this user", body = crate::error::ErrorBody),
        (status = 404, description = "Tenant not visible", body = crate::error::ErrorBody),
        (status = 409, description = "Username taken", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid value", body = crate::error::ErrorBody)
    )
)]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<CreateUser>,
) -> ApiResult<(StatusCode, AppJson<UserView>)> {
    caller.require(MANAGERS)?;
    let username = Username::parse(&request.username)
        .ok_or_else(|| ApiError::invalid("username", "1 to 64 of a-z 0-9 . _ @ -"))?;
    let membership = membership(&request.role, request.partner_id, request.client_id)?;
    if let Some(reason) = password::weakness(request.password.expose()) {
        return Err(ApiError::invalid("password", reason));
    }
    let now = state.clock.now();
    let hash = password::hash(&request.password)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let user = state
        .store
        .create_user(
            &caller.scope,
            &NewUser {
                id: UserId::random(),
                username,
                membership,
                password_hash: hash,
            },
            now,
        )
        .await?;
    record(&state, &caller, "user.create", &user, now).await?;
    Ok((StatusCode::CREATED, AppJson(UserView::from(&user))))
}

async fn record(
    state: &AppState,
    caller: &Caller,
    action: &str,
    user: &User,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let partner_id = match caller.user.membership {
        Membership::Partner(partner) => Some(partner),
        _ => None,
    };
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(caller.user.id),
            partner_id,
            action,
            target: user.id.to_string(),
            detail: serde_json::json!({
                "username": user.username.as_str(),
                "role": user.membership.role().as_str(),
            }),
        },
        now,
    )
    .await?;
    Ok(())
}

/// One visible user.
#[utoipa::path(
    get,
    path = "/api/users/{user_id}",
    tag = "users",
    security(("bearer" = []), ("session" = [])),
    params(("user_id" = String, Path, format = Uuid, description = "The user")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 404, description = "No such user visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(user_id): AppPath<UserId>,
) -> ApiResult<AppJson<UserView>> {
    if user_id != caller.user.id {
        caller.require(MANAGERS)?;
    }
    let user = state.store.get_user(&caller.scope, user_id).await?;
    Ok(AppJson(UserView::from(&user)))
}

/// A new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetPassword {
    /// At least 12 characters.
    #[schema(value_type = String, format = Password)]
    password: Secret<String>,
}

/// Sets a user's password (its own, or a visible user's for managers),
/// clears its lockout and ends its sessions.
#[utoipa::path(
    put,
    path = "/api/users/{user_id}/password",
    tag = "users",
    security(("bearer" = []), ("session" = [])),
    params(("user_id" = String, Path, format = Uuid, description = "The user")),
    request_body = SetPassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 404, description = "No such user visible to the caller", body = crate::error::ErrorBody),
        (status = 422, description = "Password too weak", body = crate::error::ErrorBody)
    )
)]
async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(user_id): AppPath<UserId>,
    AppJson(request): AppJson<SetPassword>,
) -> ApiResult<StatusCode> {
    if user_id != caller.user.id {
        caller.require(MANAGERS)?;
    } else {
        caller.require(ANYONE)?;
    }
    if let Some(reason) = password::weakness(request.password.expose()) {
        return Err(ApiError::invalid("password", reason));
    }
    let user = state.store.get_user(&caller.scope, user_id).await?;
    let hash = password::hash(&request.password)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let now = state.clock.now();
    state
        .store
        .set_password(&caller.scope, user_id, &hash)
        .await?;
    state
        .store
        .end_user_sessions(&caller.scope, user_id)
        .await?;
    record(&state, &caller, "user.password", &user, now).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets an auditor read a site's evidence.
#[utoipa::path(
    put,
    path = "/api/users/{user_id}/sites/{site_id}",
    tag = "users",
    security(("bearer" = []), ("session" = [])),
    params(
        ("user_id" = String, Path, format = Uuid, description = "The auditor"),
        ("site_id" = String, Path, format = Uuid, description = "The site")
    ),
    responses(
        (status = 204, description = "Granted"),
        (status = 404, description = "User or site not visible", body = crate::error::ErrorBody)
    )
)]
async fn grant_site(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((user_id, site_id)): AppPath<(UserId, SiteId)>,
) -> ApiResult<StatusCode> {
    caller.require(MANAGERS)?;
    let user = state.store.get_user(&caller.scope, user_id).await?;
    if user.membership != Membership::Auditor {
        return Err(ApiError::invalid(
            "user_id",
            "only auditors are granted sites",
        ));
    }
    state
        .store
        .grant_auditor_site(&caller.scope, user_id, site_id)
        .await?;
    record(&state, &caller, "auditor.grant", &user, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
