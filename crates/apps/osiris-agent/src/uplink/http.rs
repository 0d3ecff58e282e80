//! One HTTPS client per server and the reading of its answers: the body
//! size limit, the JSON error shape `{"error": {"code", "message",
//! "field"}}`, `Retry-After`, and turning the HTTP client's failures into
//! [`UplinkError`]s that say what went wrong.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, DATE, HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::uplink::error::UplinkError;
use crate::uplink::trust::{SeenCa, ServerTrust, client_config};

/// The largest answer read from the server. A check-in answer carries
/// orders and at most one rule set, far below this.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Central Command's base URL, checked: `https`, or `http` when allowed;
/// no credentials, query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUrl(Url);

impl ServerUrl {
    pub(crate) fn parse(text: &str, allow_http: bool) -> Result<Self, UplinkError> {
        let bad = |reason: &str| UplinkError::BadUrl {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_http => {}
            "http" => {
                return Err(bad(
                    "plain http is refused; use https, or allow http for a loopback test server",
                ));
            }
            _ => return Err(bad("the scheme must be https")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials do not belong in the url"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "no query or fragment: requests are signed over the path alone",
            ));
        }
        Ok(Self(url))
    }

    pub(crate) fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }

    /// `path` (starting with `/`) below the base URL's own path.
    pub(crate) fn endpoint(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let joined = format!("{}{path}", self.0.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }
}

/// Timeouts for one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the TCP connection and finish the TLS handshake.
    pub connect: Duration,
    /// For a whole request, from sending to the last byte of the answer.
    pub request: Duration,
}

/// An HTTP client bound to one server and one trust.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) url: ServerUrl,
    pub(crate) http: reqwest::Client,
    pub(crate) timeouts: Timeouts,
}

impl Endpoint {
    /// A client for `url`. HTTPS needs a `trust`; with a fingerprint, the
    /// returned slot receives the CA the handshake matched.
    pub(crate) fn new(
        url: ServerUrl,
        trust: Option<&ServerTrust>,
        timeouts: Timeouts,
    ) -> Result<(Self, Option<SeenCa>), UplinkError> {
        let builder = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("osiris-agent/", env!("CARGO_PKG_VERSION")))
            .https_only(url.is_https());
        let (builder, seen) = match (url.is_https(), trust) {
            (true, Some(trust)) => {
                let (config, seen) = client_config(trust)?;
                (builder.tls_backend_preconfigured(config), seen)
            }
            (true, None) => {
                return Err(UplinkError::BadTrust {
                    reason: "https needs a CA file, a CA fingerprint or the public roots"
                        .to_owned(),
                });
            }
            // Even for plain HTTP the client is given a ring configuration:
            // the HTTP client has no crypto provider of its own to fall back to.
            (false, _) => (
                builder.tls_backend_preconfigured(client_config(&ServerTrust::PublicRoots)?.0),
                None,
            ),
        };
        let http = builder.build().map_err(|e| UplinkError::BadTrust {
            reason: format!("cannot build the http client ({e})"),
        })?;
        Ok((
            Self {
                url,
                http,
                timeouts,
            },
            seen,
        ))
    }

    /// Sends `request` and reads a JSON answer of type `T`.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
        now: Option<DateTime<Utc>>,
    ) -> Result<T, UplinkError> {
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_limited(response)
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let url = url.as_str().to_owned();
        let Some(body) = body else {
            return Err(UplinkError::BadResponse {
                url,
                status,
                reason: format!("the answer is larger than {MAX_BODY_BYTES} bytes"),
            });
        };
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| UplinkError::BadResponse {
                url,
                status,
                reason: e.to_string(),
            });
        }
        Err(classify(url, status, &headers, &body, now))
    }

    fn transport_error(&self, url: &Url, error: reqwest::Error) -> UplinkError {
        let url = url.as_str().to_owned();
        if error.is_timeout() {
            return UplinkError::Timeout {
                url,
                timeout: self.timeouts.request,
            };
        }
        match tls_reason(&error) {
            Some(reason) => UplinkError::Tls { url, reason },
            None => UplinkError::Transport { url, source: error },
        }
    }
}

/// The body, or `None` when it exceeds [`MAX_BODY_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
    #[serde(default)]
    field: Option<String>,
}

/// A refusal as an [`UplinkError`]: 401 is the signature, 408, 429 and
/// 5xx are worth retrying, any other status is a refusal of this request.
/// `now` reads a `Retry-After` given as a date; without it only delay
/// seconds are understood.
fn classify(
    url: String,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: Option<DateTime<Utc>>,
) -> UplinkError {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let parsed = is_json
        .then(|| serde_json::from_slice::<ErrorEnvelope>(body).ok())
        .flatten();
    let (code, message, field) = match parsed {
        Some(ErrorEnvelope { error }) => (error.code, error.message, error.field),
        None => (
            "-".to_owned(),
            String::from_utf8_lossy(body).chars().take(200).collect(),
            None,
        ),
    };
    if status == StatusCode::UNAUTHORIZED {
        return UplinkError::Unauthorized {
            url,
            code,
            message,
            server_date: headers
                .get(DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
                .map(|d| d.with_timezone(&Utc)),
        };
    }
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        return UplinkError::Unavailable {
            url,
            status,
            code,
            message,
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now)),
        };
    }
    if status.is_client_error() {
        return UplinkError::Refused {
            url,
            status,
            code,
            message,
            field,
        };
    }
    UplinkError::BadResponse {
        url,
        status,
        reason: "unexpected status".to_owned(),
    }
}

/// `Retry-After`: delay seconds, or an HTTP date (relative to `now`; a
/// date in the past means now).
pub(crate) fn parse_retry_after(value: &str, now: Option<DateTime<Utc>>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let now = now?;
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// rustls's reason, when `error` is a failed TLS handshake, worded for an
/// installer.
fn tls_reason(error: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(describe_tls(tls));
        }
        // An io::Error's `source` skips the error it wraps (which may be
        // another io::Error), so step inside it rather than past it.
        cause = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

fn describe_tls(error: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match error {
        // A CA with the same name but another key shows as a bad signature.
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => format!(
            "the server's certificate is not signed by the trusted CA ({error}); \
             check the CA file or fingerprint given at enrolment"
        ),
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => {
            format!("the server's certificate does not name this host ({error})")
        }
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => format!(
            "the server's certificate is outside its validity period; check this machine's clock ({error})"
        ),
        rustls::Error::General(reason) => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(ServerUrl::parse("https://cc.example.net:8443", false).is_ok());
        assert!(ServerUrl::parse("http://127.0.0.1:8080", false).is_err());
        assert!(ServerUrl::parse("http://127.0.0.1:8080", true).is_ok());
        assert!(ServerUrl::parse("ftp://cc.example.net", true).is_err());
        assert!(ServerUrl::parse("https://u:p@cc.example.net", false).is_err());
        assert!(ServerUrl::parse("https://cc.example.net/?x=1", false).is_err());
        let url = ServerUrl::parse("https://cc.example.net/osiris/", false).unwrap();
        assert_eq!(
            url.endpoint("/api/appliances/checkin").path(),
            "/osiris/api/appliances/checkin"
        );
        let url = ServerUrl::parse("https://cc.example.net", false).unwrap();
        assert_eq!(
            url.endpoint("/api/x").as_str(),
            "https://cc.example.net/api/x"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = Some(Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap());
        assert_eq!(parse_retry_after("30", None), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 12:01:00 GMT", None),
            None
        );
        assert_eq!(parse_retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 12:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn statuses_are_classified() {
        use crate::uplink::ErrorClass;
        let now = Some(Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap());
        let mut json = HeaderMap::new();
        json.insert(CONTENT_TYPE, "application/json".parse().unwrap());
        let body = br#"{"error": {"code": "date_stale", "message": "too old"}}"#;
        let error = classify("u".into(), StatusCode::UNAUTHORIZED, &json, body, now);
        assert_eq!(error.class(), ErrorClass::Unauthorized);
        assert!(error.is_clock_problem());
        assert_eq!(error.server_code(), Some("date_stale"));
        let mut limited = json.clone();
        limited.insert(RETRY_AFTER, "7".parse().unwrap());
        let error = classify(
            "u".into(),
            StatusCode::TOO_MANY_REQUESTS,
            &limited,
            b"{}",
            now,
        );
        assert_eq!(error.class(), ErrorClass::Transient);
        assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
        let error = classify(
            "u".into(),
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html>",
            now,
        );
        assert_eq!(error.class(), ErrorClass::Transient);
        let body = br#"{"error": {"code": "invalid", "message": "bad", "field": "incidents[0].severity"}}"#;
        let error = classify(
            "u".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            &json,
            body,
            now,
        );
        assert_eq!(error.class(), ErrorClass::Rejected);
        assert!(
            error.to_string().contains("incidents[0].severity"),
            "{error}"
        );
    }
}
