//! The login form and logout. The form carries a one-time token that must
//! match a short-lived cookie set with it (login CSRF); logout posts the
//! session's CSRF token. Both answer with a redirect (303), so the pages
//! work without JavaScript.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use osiris_core::Secret;
use osiris_store::TokenHash;
use serde::Deserialize;

use super::session::{cookie, session_cookie};
use super::{Layout, WebError, WebResult};
use crate::auth::{SESSION_COOKIE, tokens};
use crate::error::ApiError;
use crate::state::AppState;

/// The login form's CSRF cookie, scoped to `/login`.
const LOGIN_COOKIE: &str = "osiris_login";

#[derive(Template, WebTemplate)]
#[template(path = "pages/login.html")]
pub(super) struct LoginPage {
    layout: Layout,
    csrf: String,
    username: String,
    message: Option<&'static str>,
}

/// A login page with a fresh form token and the cookie that matches it.
fn login_page(
    status: StatusCode,
    username: String,
    message: Option<&'static str>,
) -> WebResult<Response> {
    let csrf = tokens::generate_nonce().map_err(|e| ApiError::internal(&e))?;
    let cookie = format!(
        "{LOGIN_COOKIE}={csrf}; Path=/login; HttpOnly; Secure; SameSite=Strict; Max-Age=900"
    );
    let page = LoginPage {
        layout: Layout::bare(),
        csrf,
        username,
        message,
    };
    let mut response = (status, page).into_response();
    let cookie = HeaderValue::from_str(&cookie).map_err(|e| ApiError::internal(&e))?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `GET /login`.
pub(super) async fn form() -> WebResult<Response> {
    login_page(StatusCode::OK, String::new(), None)
}

/// The login form's fields.
#[derive(Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: Secret<String>,
    csrf: String,
}

/// `POST /login`: on success the session cookie and a redirect to the
/// fleet; otherwise the form again with what went wrong.
pub(super) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> WebResult<Response> {
    let Form(form) = form.map_err(|_| WebError::bad_request("the login form is incomplete"))?;
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !tokens::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return login_page(
            StatusCode::FORBIDDEN,
            form.username,
            Some("The form expired. Please log in again."),
        );
    }
    let (_, secret, _) =
        match crate::api::start_session(&state, &form.username, &form.password).await {
            Ok(started) => started,
            Err(error) => {
                let message = match error.status() {
                    StatusCode::UNAUTHORIZED => "Wrong username or password.",
                    StatusCode::LOCKED => {
                        "Too many failed attempts: the account is locked for a while."
                    }
                    StatusCode::TOO_MANY_REQUESTS => "Too many attempts. Try again later.",
                    _ => return Err(error.into()),
                };
                return login_page(error.status(), form.username, Some(message));
            }
        };
    let session = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={}",
        secret.expose(),
        state.policy.session_idle.num_seconds()
    );
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_str(&session).map_err(|e| ApiError::internal(&e))?,
    );
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "osiris_login=; Path=/login; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(response)
}

/// The logout form's field.
#[derive(Deserialize)]
pub(super) struct LogoutForm {
    csrf: String,
}

/// `POST /logout`: ends the session when the form carries its CSRF token.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> WebResult<Response> {
    let Some(secret) = session_cookie(&headers) else {
        return Ok(Redirect::to("/login").into_response());
    };
    let Form(form) = form.map_err(|_| WebError::bad_request("the logout form is incomplete"))?;
    let expected = tokens::csrf_token(&secret);
    if !tokens::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return Err(
            ApiError::forbidden("the form's CSRF token does not match the session")
                .with_code("csrf_failed")
                .into(),
        );
    }
    match state.store.end_session(&TokenHash::of(&secret)).await {
        Ok(()) | Err(osiris_store::Error::NotFound { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "osiris_session=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0",
        ),
    );
    Ok(response)
}
