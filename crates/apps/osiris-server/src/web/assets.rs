//! The embedded stylesheet, served under a URL that names its content's
//! hash, so it can be cached for a year and still never goes stale.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::WebError;

/// The stylesheet.
const STYLESHEET: &str = include_str!("../../static/osiris.css");

/// `/static/osiris-<first 16 hex digits of its SHA-256>.css`.
pub(crate) fn stylesheet_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let digest = crate::hex(&Sha256::digest(STYLESHEET.as_bytes()));
        format!("/static/osiris-{}.css", digest.get(..16).unwrap_or(&digest))
    })
}

/// Serves the stylesheet under its current URL only.
pub(super) async fn serve(Path(file): Path<String>) -> Result<Response, WebError> {
    if Some(file.as_str()) != stylesheet_url().strip_prefix("/static/") {
        return Err(WebError::not_found());
    }
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}
