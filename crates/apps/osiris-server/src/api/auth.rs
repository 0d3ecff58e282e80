//! Logging in and out, and API tokens.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use osiris_core::{Secret, TokenId};
use osiris_store::{NewSession, NewToken, TokenHash, User, Username};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::users::UserView;
use crate::auth::{ANYONE, Caller, SESSION_COOKIE, password, tokens};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

/// Credentials for a login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// The login name.
    username: String,
    /// The password.
    #[schema(value_type = String, format = Password)]
    password: Secret<String>,
}

/// A started session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`; the same value is set as
    /// the session cookie for browsers.
    token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// When the session ends unless used (idle timeout).
    expires_at: DateTime<Utc>,
    /// Cookie-authenticated writes must send this as `X-CSRF-Token`.
    csrf_token: String,
    /// Who logged in.
    user: UserView,
}

/// Starts a session. Five consecutive failures lock the account for 15
/// minutes (configurable); unknown users and wrong passwords get the same
/// answer.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 401, description = "Wrong username or password", body = crate::error::ErrorBody),
        (status = 423, description = "Account locked", body = crate::error::ErrorBody),
        (status = 429, description = "Too many attempts", body = crate::error::ErrorBody)
    )
)]
async fn login(
    State(state): State<AppState>,
    AppJson(request): AppJson<LoginRequest>,
) -> ApiResult<Response> {
    let (user, secret, session) =
        start_session(&state, &request.username, &request.password).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}",
        secret.expose(),
        state.policy.session_idle.num_seconds()
    );
    let body = LoginResponse {
        token: secret.expose().clone(),
        token_type: "Bearer",
        expires_at: session.expires_at,
        csrf_token: tokens::csrf_token(&secret),
        user: UserView::from(&user),
    };
    let mut response = axum::Json(body).into_response();
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal(&e))?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Checks a username and password (rate limit, lockout, argon2id) and
/// starts a session: the JSON login and the login page share it.
///
/// # Errors
/// 401 `invalid_credentials` for an unknown user or a wrong password (the
/// same answer), 423 while locked, 429 over the login quota.
pub(crate) async fn start_session(
    state: &AppState,
    username: &str,
    password: &Secret<String>,
) -> ApiResult<(User, Secret<String>, osiris_store::Session)> {
    let wrong =
        || ApiError::unauthorized("wrong username or password").with_code("invalid_credentials");
    let now = state.clock.now();
    let Some(username) = Username::parse(username) else {
        password::verify_against_nothing(password)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        return Err(wrong());
    };
    crate::limits::check_login(state, &username).await?;
    let user = match state.store.user_by_username(&username).await {
        Ok(user) => user,
        Err(osiris_store::Error::NotFound { .. }) => {
            password::verify_against_nothing(password)
                .await
                .map_err(|e| ApiError::internal(&e))?;
            return Err(wrong());
        }
        Err(other) => return Err(other.into()),
    };
    if let Some(until) = user.locked_until.filter(|until| *until > now) {
        return Err(ApiError::locked(seconds_until(now, until)));
    }
    let matches = password::verify(password, &user.password_hash)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if !matches {
        let throttle = state
            .store
            .record_failed_login(user.id, state.policy.lockout, now)
            .await?;
        tracing::info!(user_id = %user.id, failures = throttle.failed_logins, "failed login");
        if let Some(until) = throttle.locked_until.filter(|until| *until > now) {
            audit(state, &user, "user.locked", now).await?;
            return Err(ApiError::locked(seconds_until(now, until)));
        }
        return Err(wrong());
    }
    state.store.record_successful_login(user.id, now).await?;
    let secret = tokens::generate(tokens::Kind::Session).map_err(|e| ApiError::internal(&e))?;
    let session = state
        .store
        .create_session(
            &NewSession {
                hash: TokenHash::of(&secret),
                user_id: user.id,
                expires_at: now + state.policy.session_idle,
            },
            now,
        )
        .await?;
    audit(state, &user, "user.login", now).await?;
    Ok((user, secret, session))
}

fn seconds_until(now: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
    u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1)
}

async fn audit(state: &AppState, user: &User, action: &str, now: DateTime<Utc>) -> ApiResult<()> {
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(user.id),
            partner_id: None,
            action,
            target: user.id.to_string(),
            detail: serde_json::json!({ "username": user.username.as_str() }),
        },
        now,
    )
    .await?;
    Ok(())
}

/// Ends the caller's session and clears the cookie.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = crate::error::ErrorBody)
    )
)]
async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    if let Some(session) = &caller.session {
        state.store.end_session(session).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "osiris_session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0",
        ),
    );
    Ok(response)
}

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller", body = UserView),
        (status = 401, description = "Not logged in", body = crate::error::ErrorBody)
    )
)]
async fn me(caller: Caller) -> AppJson<UserView> {
    AppJson(UserView::from(&caller.user))
}

/// A token to create for the caller.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// What it is for (1 to 100 characters).
    name: String,
    /// Days until it stops working (1 to 3650); none never expires.
    expires_in_days: Option<u32>,
}

/// An API token's metadata; the secret is shown only once, at creation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    id: TokenId,
    /// What it is for.
    name: String,
    /// When it was created.
    created_at: DateTime<Utc>,
    /// When it stops working.
    expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    revoked_at: Option<DateTime<Utc>>,
}

impl From<&osiris_store::ApiToken> for TokenView {
    fn from(token: &osiris_store::ApiToken) -> Self {
        Self {
            id: token.id,
            name: token.name.clone(),
            created_at: token.created_at,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
        }
    }
}

/// A created token with its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    /// The secret: send as `Authorization: Bearer <token>`. Not shown again.
    token: String,
    /// Its metadata.
    #[serde(flatten)]
    meta: TokenView,
}

/// Creates an API token acting as the caller.
#[utoipa::path(
    post,
    path = "/api/auth/tokens",
    tag = "auth",
    security(("bearer" = []), ("session" = [])),
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created; the secret is in `token`", body = CreatedToken),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid value", body = crate::error::ErrorBody)
    )
)]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(request): AppJson<CreateToken>,
) -> ApiResult<(StatusCode, AppJson<CreatedToken>)> {
    caller.require(ANYONE)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
    }
    let days = match request.expires_in_days {
        Some(days @ 1..=3650) => Some(Duration::days(i64::from(days))),
        Some(_) => return Err(ApiError::invalid("expires_in_days", "must be 1 to 3650")),
        None => None,
    };
    let now = state.clock.now();
    let secret = tokens::generate(tokens::Kind::ApiToken).map_err(|e| ApiError::internal(&e))?;
    let token = state
        .store
        .create_token(
            &caller.scope,
            &NewToken {
                id: TokenId::random(),
                user_id: caller.user.id,
                name: name.to_owned(),
                hash: TokenHash::of(&secret),
                expires_at: days.map(|days| now + days),
            },
            now,
        )
        .await?;
    audit(&state, &caller.user, "token.create", now).await?;
    Ok((
        StatusCode::CREATED,
        AppJson(CreatedToken {
            token: secret.expose().clone(),
            meta: TokenView::from(&token),
        }),
    ))
}

/// The caller's API tokens, newest first.
#[utoipa::path(
    get,
    path = "/api/auth/tokens",
    tag = "auth",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The caller's tokens", body = [TokenView]))
)]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<TokenView>>> {
    let tokens = state
        .store
        .list_tokens(&caller.scope, caller.user.id)
        .await?;
    Ok(AppJson(tokens.iter().map(TokenView::from).collect()))
}

/// Revokes one of the caller's tokens (staff may revoke any visible one).
#[utoipa::path(
    delete,
    path = "/api/auth/tokens/{token_id}",
    tag = "auth",
    security(("bearer" = []), ("session" = [])),
    params(("token_id" = String, Path, format = Uuid, description = "The token")),
    responses(
        (status = 200, description = "Revoked", body = TokenView),
        (status = 404, description = "No such token visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(token_id): AppPath<TokenId>,
) -> ApiResult<AppJson<TokenView>> {
    let now = state.clock.now();
    let owned = state
        .store
        .list_tokens(&caller.scope, caller.user.id)
        .await?
        .iter()
        .any(|token| token.id == token_id);
    if !owned && !caller.scope.is_platform() {
        return Err(ApiError::not_found("token"));
    }
    let token = state
        .store
        .revoke_token(&caller.scope, token_id, now)
        .await?;
    audit(&state, &caller.user, "token.revoke", now).await?;
    Ok(AppJson(TokenView::from(&token)))
}
