//! Who is calling. [`Caller`] is the only way a handler obtains a
//! [`TenantScope`]: it authenticates the request (bearer token or session
//! cookie), refuses cookie-authenticated writes without the session's CSRF
//! token, slides the session's idle timeout, and derives the scope from the
//! stored user, never from request input. Appliances authenticate by
//! signing each request instead ([`appliance::SignedAppliance`]).

pub mod appliance;
pub mod password;
pub mod tokens;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use osiris_core::Secret;
use osiris_store::{Role, TenantScope, TokenHash, User};

use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "osiris_session";
/// The header a cookie-authenticated write must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer …` (session secret or API token): no ambient
    /// credential, so no CSRF risk.
    Bearer,
    /// The session cookie a browser sends by itself.
    Cookie,
}

/// An authenticated user and its tenant scope.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The stored account.
    pub user: User,
    /// What it may see.
    pub scope: TenantScope,
    /// How it authenticated.
    pub via: Via,
    /// The session secret's hash, when authenticated by a session.
    pub session: Option<TokenHash>,
}

impl Caller {
    /// The caller's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.user.membership.role()
    }

    /// Refuses with 403 unless the caller has one of `roles`.
    ///
    /// # Errors
    /// 403 `forbidden` naming the role.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role()) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the {} role cannot use this endpoint",
                self.role().as_str()
            )))
        }
    }
}

/// Roles that manage tenants' sites and appliances.
pub const MANAGERS: &[Role] = &[Role::Admin, Role::Operator, Role::Partner];
/// Roles that may read a practice's compliance state.
pub const READERS: &[Role] = &[Role::Admin, Role::Operator, Role::Partner, Role::Client];
/// Every role.
pub const ANYONE: &[Role] = &[
    Role::Admin,
    Role::Operator,
    Role::Partner,
    Role::Client,
    Role::Auditor,
];
/// Platform staff.
pub const STAFF: &[Role] = &[Role::Admin, Role::Operator];

/// The bearer value or session cookie of a request, and how it came.
fn credential(headers: &HeaderMap) -> Option<(Secret<String>, Via)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| (Secret::new(token.trim().to_owned()), Via::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| (Secret::new(value.to_owned()), Via::Cookie))
        })
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (secret, via) = credential(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("log in or send a bearer token"))?;
        let now = state.clock.now();
        let hash = TokenHash::of(&secret);
        let invalid = || ApiError::unauthorized("the session or token is invalid or expired");
        let (user, session) = match (tokens::kind_of(secret.expose()), via) {
            (Some(tokens::Kind::ApiToken), Via::Bearer) => {
                let (_, user) = state
                    .store
                    .token_user(&hash, now)
                    .await
                    .map_err(|e| not_found_as(e, invalid()))?;
                (user, None)
            }
            (Some(tokens::Kind::Session), _) => {
                let (_, user) = state
                    .store
                    .session_user(&hash, now)
                    .await
                    .map_err(|e| not_found_as(e, invalid()))?;
                if via == Via::Cookie && !is_safe(&parts.method) {
                    check_csrf(&parts.headers, &secret)?;
                }
                state
                    .store
                    .extend_session(&hash, now + state.policy.session_idle, now)
                    .await
                    .map_err(|e| not_found_as(e, invalid()))?;
                (user, Some(hash))
            }
            _ => return Err(invalid()),
        };
        let scope = TenantScope::for_user(&user);
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        Ok(Self {
            user,
            scope,
            via,
            session,
        })
    }
}

fn check_csrf(headers: &HeaderMap, session: &Secret<String>) -> Result<(), ApiError> {
    let expected = tokens::csrf_token(session);
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if tokens::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "a cookie-authenticated change needs the session's X-CSRF-Token header",
        )
        .with_code("csrf_failed"))
    }
}

/// A store `NotFound` becomes `replacement`; anything else is internal.
fn not_found_as(error: osiris_store::Error, replacement: ApiError) -> ApiError {
    match error {
        osiris_store::Error::NotFound { .. } => replacement,
        other => ApiError::from(other),
    }
}
