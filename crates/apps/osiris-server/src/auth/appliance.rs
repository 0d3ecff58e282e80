//! Appliance authentication: every appliance request is signed with the
//! appliance's own Ed25519 key (the one it registered when it claimed its
//! identity), over the method, path, date and body hash. The scheme and its
//! exact bytes are in `docs/design/checkin.md`.
//!
//! [`SignedAppliance`] consumes the body (the signature covers it), checks
//! the date against the server clock first (cheap, no lookup), then looks
//! the appliance up and verifies strictly, and only then parses the JSON.
//! Each failure is a 401 with its own `code`, before anything is stored.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::Signature;
use osiris_core::ApplianceId;
use osiris_store::{ApplianceIdentity, TenantScope};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::extract::parse_json;
use crate::state::AppState;

// The scheme's names and bytes are shared with the appliance.
pub use osiris_proto::signing::{
    APPLIANCE_HEADER, DATE_HEADER, DOMAIN, MAX_SKEW, SIGNATURE_HEADER, signed_message,
};

/// An authenticated appliance and its parsed request body.
#[derive(Debug)]
pub struct SignedAppliance<T> {
    /// Who signed.
    pub identity: ApplianceIdentity,
    /// Its own site, and nothing else.
    pub scope: TenantScope,
    /// The body, parsed only after the signature held.
    pub body: T,
}

/// The appliance's stored key as a verifying key (`None` for a weak or
/// invalid point, which claiming already refuses).
#[must_use]
pub fn evidence_key(identity: &ApplianceIdentity) -> Option<osiris_evidence::PublicKey> {
    osiris_evidence::PublicKey::from_base64(&STANDARD.encode(identity.public_key.as_bytes())).ok()
}

fn rejection(code: &'static str, message: &str) -> ApiError {
    ApiError::unauthorized(message).with_code(code)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, ApiError> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            rejection(
                "signature_missing",
                &format!("an appliance request needs the {name} header"),
            )
        })
}

impl<T> FromRequest<AppState> for SignedAppliance<T>
where
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = request.headers().clone();
        let method = request.method().clone();
        let uri = request.uri().clone();
        if uri.query().is_some() {
            // The signature covers the path only, so a query string would
            // ride along unsigned.
            return Err(rejection(
                "signature_invalid",
                "appliance requests take no query string",
            ));
        }
        let appliance = header(&headers, APPLIANCE_HEADER)?;
        let date = header(&headers, DATE_HEADER)?;
        let signature = header(&headers, SIGNATURE_HEADER)?;
        let appliance_id: ApplianceId = appliance.parse().map_err(|_| {
            rejection(
                "appliance_unknown",
                "X-Osiris-Appliance is not an appliance id",
            )
        })?;
        let signed_at = DateTime::parse_from_rfc3339(date)
            .map_err(|_| rejection("date_invalid", "X-Osiris-Date is not an RFC 3339 time"))?
            .with_timezone(&Utc);
        let now = state.clock.now();
        if (signed_at - now).abs() > MAX_SKEW {
            return Err(rejection(
                "date_stale",
                "X-Osiris-Date is more than 5 minutes from the server time; check the appliance clock",
            )
            .with_field(DATE_HEADER));
        }
        let signature = STANDARD
            .decode(signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes.as_slice()).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or_else(|| {
                rejection(
                    "signature_invalid",
                    "X-Osiris-Signature is not a base64 Ed25519 signature",
                )
            })?;
        let identity = match state.store.appliance_identity(appliance_id).await {
            Ok(identity) => identity,
            Err(osiris_store::Error::NotFound { .. }) => {
                return Err(rejection(
                    "appliance_unknown",
                    "no claimed appliance has this id",
                ));
            }
            Err(other) => return Err(ApiError::from(other)),
        };
        let key = evidence_key(&identity)
            .ok_or_else(|| rejection("signature_invalid", "the appliance's key is unusable"))?;
        let body = Bytes::from_request(request, state)
            .await
            .map_err(crate::extract::body_rejection)?;
        let message = signed_message(method.as_str(), uri.path(), date, &body);
        if !key.verify_strict(&message, &signature) {
            return Err(rejection(
                "signature_invalid",
                "X-Osiris-Signature does not verify with the appliance's key",
            ));
        }
        tracing::Span::current().record("appliance_id", tracing::field::display(appliance_id));
        let body = parse_json(&body)?;
        Ok(Self {
            scope: TenantScope::for_appliance(&identity),
            identity,
            body,
        })
    }
}
