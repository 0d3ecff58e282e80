//! The HTTP client the webhook channels share, and URL checks.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::error::{Error, Result};

/// At most this much of a receiver's answer is kept in an error.
const BODY_LIMIT: usize = 300;

/// A client with rustls on ring and the public roots, no redirects.
pub(crate) fn client(channel: &'static str, timeout: Duration) -> Result<reqwest::Client> {
    let config = |reason: String| Error::Config { channel, reason };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config(format!("tls configuration ({e})")))?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("osiris-notify/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| config(format!("http client ({e})")))
}

/// `text` as a URL that is https, or http on loopback (test receivers).
/// The text itself is never echoed: it may hold a secret.
pub(crate) fn url(channel: &'static str, what: &str, text: &str) -> Result<Url> {
    let bad = |reason: &str| Error::Config {
        channel,
        reason: format!("{what} {reason}"),
    };
    if text.trim().is_empty() {
        return Err(bad("is empty"));
    }
    let url = Url::parse(text.trim()).map_err(|_| bad("is not a URL"))?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(bad("must be https")),
    }
}

/// Posts `body` as JSON and checks the status; failures never name the URL.
pub(crate) async fn post(
    channel: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<String> {
    let response = request.send().await.map_err(|e| failure(channel, &e))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| failure(channel, &e))?;
    if status.is_success() {
        Ok(text)
    } else {
        Err(Error::Status {
            channel,
            status: status.as_u16(),
            body: short(text.trim()).to_owned(),
        })
    }
}

fn failure(channel: &'static str, error: &reqwest::Error) -> Error {
    if error.is_timeout() {
        return Error::Unreachable {
            channel,
            reason: "timed out".to_owned(),
        };
    }
    // The URL may carry a secret (Slack's does): describe without it.
    let mut reason = String::from(if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    });
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Unreachable { channel, reason }
}

pub(crate) fn short(text: &str) -> &str {
    cut(text, BODY_LIMIT)
}

/// `text` cut to at most `limit` bytes on a character boundary.
pub(crate) fn cut(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
