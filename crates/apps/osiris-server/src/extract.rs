//! Extractors whose rejections are [`ApiError`]s: handlers never use
//! `axum::Json`, `Path` or `Query` directly, so a malformed request always
//! gets the JSON error shape and a 4xx that names the field.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawPathParams, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body, deserialized with the path of any offending field.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers().get(CONTENT_TYPE)) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(Self)
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Deserializes `bytes`, naming the field at fault on failure.
///
/// # Errors
/// 400 `invalid_body` with the field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let inner = error.inner().to_string();
        let field = field_path(&error.path().to_string(), &inner);
        let message = strip_position(&inner);
        let api = ApiError::bad_request("invalid_body", format!("invalid JSON body: {message}"));
        match field {
            Some(field) => api.with_field(field),
            None => api,
        }
    })?;
    deserializer.end().map_err(|error| {
        ApiError::bad_request(
            "invalid_body",
            format!("invalid JSON body: {}", strip_position(&error.to_string())),
        )
    })?;
    Ok(value)
}

/// The full path of the field at fault. serde reports unknown and missing
/// fields at their parent, so the named field is appended.
fn field_path(parent: &str, message: &str) -> Option<String> {
    // serde_path_to_error already ends the path with an unknown field's
    // name, but stops at the parent of a missing one.
    let named = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let parent = (parent != ".").then_some(parent);
    match (parent, named) {
        (Some(parent), Some(name)) => Some(format!("{parent}.{name}")),
        (None, Some(name)) => Some(name.to_owned()),
        (Some(parent), None) => Some(parent.to_owned()),
        (None, None) => None,
    }
}

/// serde_json appends " at line L column C", which means nothing to an API
/// client that sent one line.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .and_then(|at| message.get(..at))
        .unwrap_or(message)
}

fn is_json(content_type: Option<&axum::http::HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

pub(crate) fn body_rejection(rejection: BytesRejection) -> ApiError {
    match rejection {
        BytesRejection::FailedToBufferBody(inner)
            if inner.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::too_large(crate::api::BODY_LIMIT)
        }
        other => ApiError::bad_request("invalid_body", other.body_text()),
    }
}

/// Path parameters; a malformed one (not a UUID, say) is a 400 naming it.
#[derive(Debug, Clone, Copy)]
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                let kind = error.into_kind();
                let api = ApiError::bad_request("invalid_path", kind.to_string());
                // A single parameter's error carries no key: it is the one.
                let only = RawPathParams::from_request_parts(parts, state)
                    .await
                    .ok()
                    .and_then(|params| {
                        let mut names = params.iter().map(|(name, _)| name.to_owned());
                        let first = names.next();
                        names.next().is_none().then_some(first).flatten()
                    });
                Err(match path_param_name(&kind).or(only) {
                    Some(name) => api.with_field(name),
                    None => api,
                })
            }
            Err(other) => Err(ApiError::bad_request("invalid_path", other.body_text())),
        }
    }
}

fn path_param_name(kind: &axum::extract::path::ErrorKind) -> Option<String> {
    use axum::extract::path::ErrorKind;
    match kind {
        ErrorKind::ParseErrorAtKey { key, .. } | ErrorKind::InvalidUtf8InPathParam { key } => {
            Some(key.clone())
        }
        ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
        _ => None,
    }
}

/// A query string; a malformed or unknown parameter is a 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(error)) => {
                let message = error.body_text();
                let field = message
                    .split('`')
                    .nth(1)
                    .filter(|_| message.contains("field `"))
                    .map(str::to_owned);
                let api = ApiError::bad_request("invalid_query", message);
                Err(match field {
                    Some(field) => api.with_field(field),
                    None => api,
                })
            }
            Err(other) => Err(ApiError::bad_request("invalid_query", other.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only deserialization is under test")]
    struct Body {
        name: String,
        settings: Settings,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only deserialization is under test")]
    struct Settings {
        mode: u8,
    }

    fn field_of(body: &str) -> Option<String> {
        parse_json::<Body>(body.as_bytes())
            .err()
            .and_then(|error| error.field().map(str::to_owned))
    }

    #[test]
    fn unknown_field_is_named_with_its_full_path() {
        assert_eq!(
            field_of(r#"{"name":"a","settings":{"mode":1,"extra":2}}"#).as_deref(),
            Some("settings.extra")
        );
    }

    #[test]
    fn missing_field_is_named() {
        assert_eq!(
            field_of(r#"{"settings":{"mode":1}}"#).as_deref(),
            Some("name")
        );
    }

    #[test]
    fn wrong_type_is_named_at_its_path() {
        assert_eq!(
            field_of(r#"{"name":"a","settings":{"mode":"x"}}"#).as_deref(),
            Some("settings.mode")
        );
    }

    #[test]
    fn trailing_garbage_is_refused() {
        assert!(parse_json::<Body>(br#"{"name":"a","settings":{"mode":1}} x"#).is_err());
    }
}
