//! Who is looking at a page: the [`Caller`] of the request (its session
//! cookie), which alone gives the tenant scope, plus the CSRF token the
//! page's forms must post back.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use osiris_core::Secret;

use super::WebError;
use crate::auth::{ANYONE, Caller, READERS, SESSION_COOKIE, tokens};
use crate::state::AppState;

/// A logged-in user who may read the dashboard.
#[derive(Debug)]
pub(crate) struct Viewer {
    /// The authenticated caller and its scope.
    pub caller: Caller,
    /// The session's CSRF token (empty for bearer callers, which need none).
    pub csrf: String,
}

/// The session secret in the request's cookie, if any.
pub(super) fn session_cookie(headers: &HeaderMap) -> Option<Secret<String>> {
    cookie(headers, SESSION_COOKIE).map(Secret::new)
}

/// The value of cookie `name`, if the request sent it.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
}

/// A logged-in user of any role, auditors included.
#[derive(Debug)]
pub(crate) struct Visitor(pub Viewer);

async fn viewer(
    parts: &mut Parts,
    state: &AppState,
    roles: &[osiris_store::Role],
) -> Result<Viewer, WebError> {
    let caller = Caller::from_request_parts(parts, state).await?;
    caller.require(roles)?;
    let csrf = session_cookie(&parts.headers)
        .map(|secret| tokens::csrf_token(&secret))
        .unwrap_or_default();
    Ok(Viewer { caller, csrf })
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        viewer(parts, state, READERS).await
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        viewer(parts, state, ANYONE).await.map(Self)
    }
}
