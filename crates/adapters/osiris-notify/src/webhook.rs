//! A generic webhook: the ticket's JSON, signed with HMAC-SHA256.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use osiris_core::{Clock, Secret};
use reqwest::Url;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::http;
use crate::notifier::{BoxFuture, Channel};
use crate::ticket::{Event, Ticket};

/// The header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Osiris-Timestamp";
/// The header carrying `sha256=<hex HMAC-SHA256(key, "{timestamp}.{body}")>`.
pub const SIGNATURE_HEADER: &str = "X-Osiris-Signature";

/// Where to post and the shared key.
#[derive(Debug)]
pub struct WebhookConfig {
    /// The receiver's URL.
    pub url: String,
    /// The shared signing key (at least 16 bytes).
    pub key: Secret<String>,
    /// The limit for one post.
    pub timeout: Duration,
}

/// A generic signed webhook.
#[derive(Debug)]
pub struct WebhookChannel {
    url: Url,
    key: Secret<String>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

impl WebhookChannel {
    /// A channel posting to `config.url`, signing with the time from `clock`.
    ///
    /// # Errors
    /// A URL that is not https (http only on loopback), or a short key.
    pub fn new(config: WebhookConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        if config.key.expose().len() < 16 {
            return Err(Error::Config {
                channel: "webhook",
                reason: "key is shorter than 16 bytes".to_owned(),
            });
        }
        Ok(Self {
            url: http::url("webhook", "url", &config.url)?,
            http: http::client("webhook", config.timeout)?,
            key: config.key,
            clock,
        })
    }
}

/// `sha256=` and the lowercase hex HMAC-SHA256 under `key` of
/// `{timestamp}.` followed by the body bytes: what a receiver recomputes.
#[must_use]
pub fn signature(key: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let mut text = String::from("sha256=");
    for byte in mac.finalize().into_bytes() {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

impl Channel for WebhookChannel {
    fn name(&self) -> &str {
        "webhook"
    }

    fn send<'a>(&'a self, ticket: &'a Ticket, event: Event) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let body = ticket.to_json(event).to_string().into_bytes();
            let timestamp = self.clock.now().timestamp();
            let signed = signature(self.key.expose().as_bytes(), timestamp, &body);
            let request = self
                .http
                .post(self.url.clone())
                .header("content-type", "application/json")
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, signed)
                .body(body);
            http::post("webhook", request).await?;
            Ok(())
        })
    }
}
