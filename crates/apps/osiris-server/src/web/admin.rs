//! `/admin/…`: users and roles, sites, appliances and claim codes,
//! credentials and keys, for admins. Each form posts with the session's
//! CSRF token and works without JavaScript. A valid form is sent on to the
//! JSON API in-process, as the same session, so validation, audit records
//! and tenancy are the API's and exist once; the API's error names the
//! field, and the form is shown again with that field marked and what was
//! typed kept (never a password or secret).

use std::collections::HashMap;
use std::str::FromStr;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequestParts as _, Path, Query, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use osiris_core::SiteId;
use osiris_store::{Membership, Role};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::incidents::Choice;
use super::session::cookie;
use super::{Layout, Viewer, WebError, WebResult, format};
use crate::auth::{CSRF_HEADER, SESSION_COOKIE, tokens};
use crate::error::ApiError;
use crate::state::AppState;

/// The largest form body the admin pages accept.
const BODY_LIMIT: usize = 64 * 1024;

/// A logged-in admin.
pub(super) struct Admin(Viewer);

impl axum::extract::FromRequestParts<AppState> for Admin {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, WebError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        viewer.caller.require(&[Role::Admin])?;
        Ok(Self(viewer))
    }
}

/// What a form posts: its fields by name.
pub(super) type Fields = HashMap<String, String>;

/// Why a form was refused: the field at fault and what was wrong.
#[derive(Debug, Clone)]
pub(super) struct FormError {
    pub(super) field: String,
    pub(super) message: String,
}

/// What every admin page shows besides its data.
pub(super) struct Feedback {
    /// The refused form's error.
    pub(super) error: Option<FormError>,
    /// What a form just did (a claim code is shown here, once).
    pub(super) notice: Option<String>,
    /// What was typed into the refused form, secrets left out.
    pub(super) values: Fields,
}

impl Feedback {
    pub(super) fn none() -> Self {
        Self {
            error: None,
            notice: None,
            values: Fields::new(),
        }
    }

    /// What was typed into field `name`, to show it again.
    pub(super) fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// Whether field `name` is the one at fault.
    pub(super) fn invalid(&self, name: &str) -> bool {
        self.error.as_ref().is_some_and(|e| e.field == name)
    }
}

/// Fields never shown back.
const SECRET_FIELDS: [&str; 3] = ["password", "secret", "csrf"];

pub(super) fn refused(fields: &Fields, error: FormError) -> Feedback {
    Feedback {
        error: Some(error),
        notice: None,
        values: fields
            .iter()
            .filter(|(k, _)| !SECRET_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// A posted admin form: a [`SessionForm`] of an admin.
pub(super) struct AdminForm {
    admin: Admin,
    fields: Fields,
}

impl axum::extract::FromRequest<AppState> for AdminForm {
    type Rejection = WebError;

    async fn from_request(request: Request<Body>, state: &AppState) -> Result<Self, WebError> {
        let SessionForm { viewer, fields } = SessionForm::from_request(request, state).await?;
        viewer.caller.require(&[Role::Admin])?;
        Ok(Self {
            admin: Admin(viewer),
            fields,
        })
    }
}

/// A posted form of any logged-in user: its fields, once its CSRF token
/// matched the session's. The token comes in the body (forms work without
/// JavaScript), so it is checked here and then handed on as the header
/// the session's caller extraction expects of a cookie-authenticated write.
/// Roles are the caller's business (or the API's, when forwarded).
pub(super) struct SessionForm {
    pub(super) viewer: Viewer,
    pub(super) fields: Fields,
}

impl axum::extract::FromRequest<AppState> for SessionForm {
    type Rejection = WebError;

    async fn from_request(request: Request<Body>, state: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = request.into_parts();
        let Some(secret) = super::session::session_cookie(&parts.headers) else {
            return Err(ApiError::unauthorized("log in").into());
        };
        let expected = tokens::csrf_token(&secret);
        let Form(fields) =
            Form::<Fields>::from_request(Request::from_parts(parts.clone(), body), state)
                .await
                .map_err(|_: FormRejection| WebError::bad_request("the form is incomplete"))?;
        let token = fields.get("csrf").map_or("", String::as_str);
        if !tokens::constant_time_eq(expected.as_bytes(), token.as_bytes()) {
            return Err(
                ApiError::forbidden("the form's CSRF token does not match the session")
                    .with_code("csrf_failed")
                    .into(),
            );
        }
        let header = axum::http::HeaderValue::from_str(&expected)
            .map_err(|_| WebError::bad_request("the form is incomplete"))?;
        parts.headers.insert(CSRF_HEADER, header);
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        Ok(Self { viewer, fields })
    }
}

pub(super) fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.get(name).map_or("", |v| v.trim())
}

/// Sends `body` to the JSON API as the admin's own session and returns
/// the answer's body, or the API's error (its field, or `fallback`).
async fn call_api(
    state: &AppState,
    headers: &HeaderMap,
    admin: &Admin,
    method: Method,
    path: &str,
    body: &Value,
    fallback: &str,
) -> WebResult<Result<Value, FormError>> {
    Ok(
        forward(state, headers, &admin.0, method, path, body, fallback)
            .await?
            .map_err(|mut error| {
                if let Some((_, last)) = error.field.rsplit_once('.') {
                    error.field = last.to_owned();
                }
                error
            }),
    )
}

/// Sends `body` to the JSON API as the viewer's own session and returns
/// the answer's body, or the API's error with its field as the API named
/// it (`params.mount_point`), or `fallback` when it named none.
pub(super) async fn forward(
    state: &AppState,
    headers: &HeaderMap,
    viewer: &Viewer,
    method: Method,
    path: &str,
    body: &Value,
    fallback: &str,
) -> WebResult<Result<Value, FormError>> {
    let session = cookie(headers, SESSION_COOKIE).unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, format!("{SESSION_COOKIE}={session}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(CSRF_HEADER, &viewer.csrf)
        .body(Body::from(body.to_string()))
        .map_err(|e| ApiError::internal(&e))?;
    let response = crate::api::router(state.clone(), BODY_LIMIT)
        .oneshot(request)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), BODY_LIMIT)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(Ok(value));
    }
    // Not allowed or not visible is the page's own answer, not a field's.
    if status == StatusCode::NOT_FOUND {
        return Err(WebError::not_found());
    }
    if status == StatusCode::FORBIDDEN {
        return Err(ApiError::forbidden("your role may not do this").into());
    }
    if status.is_server_error() {
        return Err(ApiError::internal(&std::io::Error::other(format!(
            "{path} answered {status}"
        )))
        .into());
    }
    let field = value
        .pointer("/error/field")
        .and_then(Value::as_str)
        .map_or_else(|| fallback.to_owned(), str::to_owned);
    let message = value
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("the request was refused")
        .to_owned();
    Ok(Err(FormError { field, message }))
}

/// A page shown again after a refused form: 422 with the form.
pub(super) fn unprocessable(page: impl IntoResponse) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

// ---------------------------------------------------------------- index

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/index.html")]
pub(super) struct IndexPage {
    layout: Layout,
    key_id: String,
    public_key: String,
}

/// `GET /admin`: the sections and the server key.
pub(super) async fn index(State(state): State<AppState>, admin: Admin) -> WebResult<IndexPage> {
    Ok(IndexPage {
        layout: Layout::for_viewer(&admin.0, "admin"),
        key_id: state.server_key.public_key().key_id().to_string(),
        public_key: state.server_key.public_key().to_base64(),
    })
}

// ---------------------------------------------------------------- users

pub(super) struct UserRow {
    id: osiris_core::UserId,
    username: String,
    role: &'static str,
    tenant: String,
    state: String,
    last_login: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/users.html")]
pub(super) struct UsersPage {
    layout: Layout,
    feedback: Feedback,
    users: Vec<UserRow>,
    roles: Vec<Choice>,
    partners: Vec<Choice>,
    clients: Vec<Choice>,
}

async fn users_page(state: &AppState, admin: &Admin, feedback: Feedback) -> WebResult<UsersPage> {
    let scope = &admin.0.caller.scope;
    let now = state.clock.now();
    let partners = state.store.list_partners(scope).await?;
    let clients = state.store.list_clients(scope).await?;
    let partner_name = |id| {
        partners
            .iter()
            .find(|p| p.id == id)
            .map_or_else(String::new, |p| p.name.clone())
    };
    let client_name = |id| {
        clients
            .iter()
            .find(|c| c.id == id)
            .map_or_else(String::new, |c| c.name.clone())
    };
    let mut users = state.store.list_users(scope).await?;
    users.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
    let rows = users
        .iter()
        .map(|user| UserRow {
            id: user.id,
            username: user.username.as_str().to_owned(),
            role: user.membership.role().as_str(),
            tenant: match user.membership {
                Membership::Partner(id) => partner_name(id),
                Membership::Client(id) => client_name(id),
                _ => String::new(),
            },
            state: match user.locked_until {
                Some(until) if user.is_locked(now) => {
                    format!("locked until {}", format::time(until))
                }
                _ => "active".to_owned(),
            },
            last_login: user.last_login_at.map(format::time).unwrap_or_default(),
        })
        .collect();
    let role = feedback.value("role").to_owned();
    let partner = feedback.value("partner_id").to_owned();
    let client = feedback.value("client_id").to_owned();
    Ok(UsersPage {
        layout: Layout::for_viewer(&admin.0, "admin"),
        users: rows,
        roles: ["admin", "operator", "partner", "client", "auditor"]
            .iter()
            .map(|r| Choice::new((*r).to_owned(), (*r).to_owned(), role == *r))
            .collect(),
        partners: partners
            .iter()
            .map(|p| {
                Choice::new(
                    p.id.to_string(),
                    p.name.clone(),
                    partner == p.id.to_string(),
                )
            })
            .collect(),
        clients: clients
            .iter()
            .map(|c| Choice::new(c.id.to_string(), c.name.clone(), client == c.id.to_string()))
            .collect(),
        feedback,
    })
}

/// `GET /admin/users`.
pub(super) async fn users(State(state): State<AppState>, admin: Admin) -> WebResult<UsersPage> {
    users_page(&state, &admin, Feedback::none()).await
}

/// `POST /admin/users`: creates a user.
pub(super) async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: AdminForm,
) -> WebResult<Response> {
    let AdminForm { admin, fields } = form;
    let optional = |name| {
        let value = field(&fields, name);
        (!value.is_empty()).then(|| value.to_owned())
    };
    let body = json!({
        "username": field(&fields, "username"),
        "role": field(&fields, "role"),
        "partner_id": optional("partner_id"),
        "client_id": optional("client_id"),
        "password": fields.get("password").cloned().unwrap_or_default(),
    });
    match call_api(
        &state,
        &headers,
        &admin,
        Method::POST,
        "/api/users",
        &body,
        "username",
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to("/admin/users").into_response()),
        Err(error) => Ok(unprocessable(
            users_page(&state, &admin, refused(&fields, error)).await?,
        )),
    }
}

/// `POST /admin/users/{id}/password`: sets a new password, which also
/// clears a lockout and ends the user's sessions.
pub(super) async fn reset_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: AdminForm,
) -> WebResult<Response> {
    let AdminForm { admin, fields } = form;
    let id = osiris_core::UserId::from_str(&id).map_err(|_| WebError::not_found())?;
    let body = json!({"password": fields.get("password").cloned().unwrap_or_default()});
    let path = format!("/api/users/{id}/password");
    match call_api(
        &state,
        &headers,
        &admin,
        Method::PUT,
        &path,
        &body,
        "password",
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to("/admin/users").into_response()),
        Err(mut error) => {
            error.field = format!("password-{id}");
            Ok(unprocessable(
                users_page(&state, &admin, refused(&fields, error)).await?,
            ))
        }
    }
}

// ---------------------------------------------------------------- sites

pub(super) struct SiteRow {
    id: SiteId,
    name: String,
    modes: Vec<Choice>,
    time_zone: String,
    starts_at: String,
    duration_minutes: u16,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/sites.html")]
pub(super) struct SitesPage {
    layout: Layout,
    feedback: Feedback,
    sites: Vec<SiteRow>,
}

async fn sites_page(state: &AppState, admin: &Admin, feedback: Feedback) -> WebResult<SitesPage> {
    let sites = state.store.list_sites(&admin.0.caller.scope).await?;
    let rows = sites
        .into_iter()
        .map(|site| {
            let window = site.settings.maintenance_window;
            let mode = site.settings.healing_mode.as_str();
            SiteRow {
                id: site.id,
                name: site.name,
                modes: ["observe", "dry_run", "heal"]
                    .iter()
                    .map(|m| Choice::new((*m).to_owned(), (*m).replace('_', " "), mode == *m))
                    .collect(),
                time_zone: window.time_zone.name().to_owned(),
                starts_at: window.starts_at.format("%H:%M").to_string(),
                duration_minutes: window.duration_minutes,
            }
        })
        .collect();
    Ok(SitesPage {
        layout: Layout::for_viewer(&admin.0, "admin"),
        feedback,
        sites: rows,
    })
}

/// `GET /admin/sites`.
pub(super) async fn sites(State(state): State<AppState>, admin: Admin) -> WebResult<SitesPage> {
    sites_page(&state, &admin, Feedback::none()).await
}

/// `POST /admin/sites/{id}`: healing mode and maintenance window.
pub(super) async fn update_site(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: AdminForm,
) -> WebResult<Response> {
    let AdminForm { admin, fields } = form;
    let id = SiteId::from_str(&id).map_err(|_| WebError::not_found())?;
    let Ok(duration) = field(&fields, "duration_minutes").parse::<u16>() else {
        let error = FormError {
            field: format!("duration_minutes-{id}"),
            message: "must be a whole number of minutes, 1 to 1440".to_owned(),
        };
        return Ok(unprocessable(
            sites_page(&state, &admin, refused(&fields, error)).await?,
        ));
    };
    let body = json!({
        "healing_mode": field(&fields, "healing_mode"),
        "maintenance_window": {
            "time_zone": field(&fields, "time_zone"),
            "starts_at": field(&fields, "starts_at"),
            "duration_minutes": duration,
        },
    });
    let path = format!("/api/sites/{id}");
    match call_api(
        &state,
        &headers,
        &admin,
        Method::PUT,
        &path,
        &body,
        "healing_mode",
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to("/admin/sites").into_response()),
        Err(mut error) => {
            error.field = format!("{}-{id}", error.field);
            Ok(unprocessable(
                sites_page(&state, &admin, refused(&fields, error)).await?,
            ))
        }
    }
}

// ----------------------------------------------------------- appliances

pub(super) struct ApplianceRow {
    name: String,
    site: String,
    state: String,
    mac: String,
    last_checkin: String,
    version: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/appliances.html")]
pub(super) struct AppliancesPage {
    layout: Layout,
    feedback: Feedback,
    appliances: Vec<ApplianceRow>,
    sites: Vec<Choice>,
}

async fn appliances_page(
    state: &AppState,
    admin: &Admin,
    feedback: Feedback,
) -> WebResult<AppliancesPage> {
    let scope = &admin.0.caller.scope;
    let sites = state.store.list_sites(scope).await?;
    let names: HashMap<SiteId, String> = sites.iter().map(|s| (s.id, s.name.clone())).collect();
    let rows = state
        .store
        .list_appliances(scope)
        .await?
        .into_iter()
        .map(|a| ApplianceRow {
            site: names.get(&a.site_id).cloned().unwrap_or_default(),
            state: if a.public_key.is_some() {
                "enrolled".to_owned()
            } else if let Some(at) = a.mac_armed_at {
                format!("waiting, MAC armed at {}", format::time(at))
            } else {
                "waiting for its claim code".to_owned()
            },
            mac: a.mac.map(|m| m.to_string()).unwrap_or_default(),
            last_checkin: a.last_checkin_at.map(format::time).unwrap_or_default(),
            version: a.agent_version.unwrap_or_default(),
            name: a.name,
        })
        .collect();
    let site = feedback.value("site").to_owned();
    Ok(AppliancesPage {
        layout: Layout::for_viewer(&admin.0, "admin"),
        appliances: rows,
        sites: sites
            .iter()
            .map(|s| Choice::new(s.id.to_string(), s.name.clone(), site == s.id.to_string()))
            .collect(),
        feedback,
    })
}

/// `GET /admin/appliances`.
pub(super) async fn appliances(
    State(state): State<AppState>,
    admin: Admin,
) -> WebResult<AppliancesPage> {
    appliances_page(&state, &admin, Feedback::none()).await
}

/// `POST /admin/appliances`: a new appliance, its claim code shown once,
/// its MAC armed when one is given.
pub(super) async fn create_appliance(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: AdminForm,
) -> WebResult<Response> {
    let AdminForm { admin, fields } = form;
    let Ok(site) = SiteId::from_str(field(&fields, "site")) else {
        let error = FormError {
            field: "site".to_owned(),
            message: "choose a site".to_owned(),
        };
        return Ok(unprocessable(
            appliances_page(&state, &admin, refused(&fields, error)).await?,
        ));
    };
    let mac = field(&fields, "mac");
    let body = json!({
        "name": field(&fields, "name"),
        "mac": (!mac.is_empty()).then_some(mac),
    });
    let path = format!("/api/sites/{site}/appliances");
    match call_api(&state, &headers, &admin, Method::POST, &path, &body, "name").await? {
        Ok(created) => {
            let mut feedback = Feedback::none();
            feedback.notice = Some(format!(
                "Appliance {} created. Its one-time claim code is {} (shown only now).",
                created
                    .pointer("/appliance/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                created
                    .pointer("/claim_code")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            ));
            Ok(appliances_page(&state, &admin, feedback)
                .await?
                .into_response())
        }
        Err(error) => Ok(unprocessable(
            appliances_page(&state, &admin, refused(&fields, error)).await?,
        )),
    }
}

// ---------------------------------------------------------- credentials

pub(super) struct CredentialRow {
    kind: String,
    username: String,
    host: String,
    key_version: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/admin/credentials.html")]
pub(super) struct CredentialsPage {
    layout: Layout,
    feedback: Feedback,
    site: Option<(SiteId, String)>,
    sites: Vec<Choice>,
    hosts: Vec<Choice>,
    credentials: Vec<CredentialRow>,
}

/// `?site=`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteQuery {
    #[serde(default)]
    site: String,
}

async fn credentials_page(
    state: &AppState,
    headers: &HeaderMap,
    admin: &Admin,
    site: &str,
    feedback: Feedback,
) -> WebResult<CredentialsPage> {
    let scope = &admin.0.caller.scope;
    let sites = state.store.list_sites(scope).await?;
    let site = if site.is_empty() {
        sites.first().map(|s| (s.id, s.name.clone()))
    } else {
        let id = SiteId::from_str(site).map_err(|_| WebError::not_found())?;
        let site = state.store.get_site(scope, id).await?;
        Some((site.id, site.name))
    };
    let (mut credentials, mut hosts) = (Vec::new(), Vec::new());
    if let Some((id, _)) = &site {
        let host_list = state.store.list_hosts(scope, *id).await?;
        let host = feedback.value("host_id").to_owned();
        hosts = host_list
            .iter()
            .map(|h| {
                Choice::new(
                    h.id.to_string(),
                    h.hostname.clone(),
                    host == h.id.to_string(),
                )
            })
            .collect();
        // Through the API, whose view has no secret field at all.
        let path = format!("/api/sites/{id}/credentials");
        if let Ok(Value::Array(list)) = call_api(
            state,
            headers,
            admin,
            Method::GET,
            &path,
            &Value::Null,
            "site",
        )
        .await?
        {
            credentials = list
                .iter()
                .map(|c| CredentialRow {
                    kind: c
                        .get("kind")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    username: c
                        .get("username")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    host: c.get("host_id").and_then(Value::as_str).map_or_else(
                        || "every host".to_owned(),
                        |h| {
                            host_list
                                .iter()
                                .find(|x| x.id.to_string() == h)
                                .map_or_else(|| h.to_owned(), |x| x.hostname.clone())
                        },
                    ),
                    key_version: c
                        .get("key_version")
                        .and_then(Value::as_u64)
                        .unwrap_or_default(),
                })
                .collect();
        }
    }
    let current = site.as_ref().map(|(id, _)| *id);
    Ok(CredentialsPage {
        layout: Layout::for_viewer(&admin.0, "admin"),
        sites: sites
            .iter()
            .map(|s| Choice::new(s.id.to_string(), s.name.clone(), current == Some(s.id)))
            .collect(),
        site,
        hosts,
        credentials,
        feedback,
    })
}

/// `GET /admin/credentials?site=`.
pub(super) async fn credentials(
    State(state): State<AppState>,
    headers: HeaderMap,
    admin: Admin,
    query: Result<Query<SiteQuery>, axum::extract::rejection::QueryRejection>,
) -> WebResult<CredentialsPage> {
    let Query(query) = query.map_err(|_| WebError::bad_request("unknown parameter"))?;
    credentials_page(&state, &headers, &admin, &query.site, Feedback::none()).await
}

/// `POST /admin/credentials`: stores a credential sealed in the vault; the
/// secret is never shown again, not even after a refused form.
pub(super) async fn store_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: AdminForm,
) -> WebResult<Response> {
    let AdminForm { admin, fields } = form;
    let site = field(&fields, "site").to_owned();
    let Ok(site_id) = SiteId::from_str(&site) else {
        return Err(WebError::not_found());
    };
    let host = field(&fields, "host_id");
    let body = json!({
        "kind": field(&fields, "kind"),
        "username": field(&fields, "username"),
        "secret": fields.get("secret").cloned().unwrap_or_default(),
        "host_id": (!host.is_empty()).then_some(host),
    });
    let path = format!("/api/sites/{site_id}/credentials");
    match call_api(&state, &headers, &admin, Method::POST, &path, &body, "kind").await? {
        Ok(_) => Ok(Redirect::to(&format!("/admin/credentials?site={site_id}")).into_response()),
        Err(error) => Ok(unprocessable(
            credentials_page(&state, &headers, &admin, &site, refused(&fields, error)).await?,
        )),
    }
}
