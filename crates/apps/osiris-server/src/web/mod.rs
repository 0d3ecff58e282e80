//! The operator dashboard as server-rendered pages: askama templates
//! (`templates/`, checked at compile time, HTML-escaped because they are
//! named `.html`), one embedded stylesheet, no JavaScript, charts drawn as
//! SVG here. Every page takes a `Viewer` (the session cookie's
//! [`crate::auth::Caller`]), so its data is read through the caller's
//! tenant scope; without a session a page redirects to `/login`.
//!
//! **Invariant:** every response of these routes carries [`CSP`],
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`;
//! pages are `Cache-Control: no-store`. The pages are not part of the
//! JSON API's OpenAPI document.

mod admin;
mod approvals;
pub mod assets;
mod audit;
mod error;
mod evidence;
mod fleet;
mod format;
mod incident;
mod incidents;
mod learning;
mod login;
mod orders;
mod portal;
mod session;
mod site;
mod svg;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

pub(crate) use error::{WebError, WebResult};
pub(crate) use session::{Viewer, Visitor};

use crate::state::AppState;

/// The pages' Content-Security-Policy: nothing but our own stylesheet and
/// inline `data:` images; forms post only to us; no framing.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The pages and the stylesheet.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(fleet::landing))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/sites/{id}", get(site::page))
        .route("/incidents", get(incidents::page))
        .route("/incidents/{id}", get(incident::page))
        .route("/incidents/{id}/approve", post(incident::approve))
        .route("/incidents/{id}/reject", post(incident::reject))
        .route("/approvals", get(approvals::page))
        .route("/learning", get(learning::page))
        .route("/learning/candidates/{id}/promote", post(learning::promote))
        .route("/learning/rules/{id}/demote", post(learning::demote))
        .route("/evidence", get(evidence::list))
        .route("/evidence/{id}", get(evidence::bundle))
        .route("/evidence/{id}/download", get(evidence::download))
        .route("/evidence/{id}/verify", get(evidence::verify))
        .route("/orders", get(orders::page))
        .route("/portal", get(portal::page))
        .route("/audit", get(audit::page))
        .route("/admin", get(admin::index))
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{id}/password", post(admin::reset_password))
        .route("/admin/sites", get(admin::sites))
        .route("/admin/sites/{id}", post(admin::update_site))
        .route(
            "/admin/appliances",
            get(admin::appliances).post(admin::create_appliance),
        )
        .route(
            "/admin/credentials",
            get(admin::credentials).post(admin::store_credential),
        )
        .route("/static/{file}", get(assets::serve))
        .layer(middleware::from_fn(security_headers))
}

/// Adds the security headers to every page and asset.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// What the layout needs: the stylesheet's URL and, once logged in, the
/// navigation with the user and the logout form's CSRF token.
#[derive(Debug)]
pub(crate) struct Layout {
    /// `/static/osiris-<hash>.css`.
    pub stylesheet: &'static str,
    /// The navigation, for a logged-in user.
    pub nav: Option<Nav>,
}

/// The navigation bar.
#[derive(Debug)]
pub(crate) struct Nav {
    /// Which entry is the current page.
    pub current: &'static str,
    /// Who is logged in.
    pub username: String,
    /// Their role.
    pub role: &'static str,
    /// The session's CSRF token, for the logout form.
    pub csrf: String,
}

impl Layout {
    /// The session's CSRF token, for the page's forms.
    pub(crate) fn csrf(&self) -> &str {
        self.nav.as_ref().map_or("", |nav| nav.csrf.as_str())
    }

    /// The layout of a page without navigation (login, errors).
    pub(crate) fn bare() -> Self {
        Self {
            stylesheet: assets::stylesheet_url(),
            nav: None,
        }
    }

    /// The layout of a logged-in page.
    pub(crate) fn for_viewer(viewer: &Viewer, current: &'static str) -> Self {
        Self {
            stylesheet: assets::stylesheet_url(),
            nav: Some(Nav {
                current,
                username: viewer.caller.user.username.as_str().to_owned(),
                role: viewer.caller.role().as_str(),
                csrf: viewer.csrf.clone(),
            }),
        }
    }
}
