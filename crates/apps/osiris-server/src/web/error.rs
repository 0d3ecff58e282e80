//! Errors of the pages: an HTML error page with the API error's status (the
//! same 404 for a missing site and another tenant's), and a redirect to the
//! login page when there is no valid session.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::Layout;
use crate::error::ApiError;

/// A page that could not be shown.
#[derive(Debug)]
pub(crate) struct WebError(ApiError);

/// What page handlers return.
pub(crate) type WebResult<T> = Result<T, WebError>;

impl WebError {
    /// 404.
    pub(crate) fn not_found() -> Self {
        Self(ApiError::not_found("page"))
    }

    /// 400 for a malformed form or query.
    pub(crate) fn bad_request(message: &str) -> Self {
        Self(ApiError::bad_request("invalid_request", message))
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<osiris_store::Error> for WebError {
    fn from(error: osiris_store::Error) -> Self {
        Self(ApiError::from(error))
    }
}

impl From<askama::Error> for WebError {
    fn from(error: askama::Error) -> Self {
        Self(ApiError::internal(&error))
    }
}

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage {
    layout: Layout,
    heading: &'static str,
    message: &'static str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status == StatusCode::UNAUTHORIZED {
            return Redirect::to("/login").into_response();
        }
        let (heading, message) = match status {
            StatusCode::NOT_FOUND => (
                "Not found",
                "There is no such page, or it is not yours to see.",
            ),
            StatusCode::FORBIDDEN => ("Not allowed", "Your role cannot see this page."),
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => (
                "Bad request",
                "The address or form had a value this page does not understand.",
            ),
            status if status.is_client_error() => ("Request refused", "The request was refused."),
            _ => (
                "Something went wrong",
                "The server could not show this page; its log has the details.",
            ),
        };
        let page = ErrorPage {
            layout: Layout::bare(),
            heading,
            message,
        };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                message,
            )
                .into_response(),
        }
    }
}
