//! [`Uplink`]: the appliance's signed connection to Central Command.

use std::path::Path;
use std::sync::Arc;

use chrono::SecondsFormat;
use osiris_core::Clock;
use osiris_evidence::KeyPair;
use osiris_proto::signing::{APPLIANCE_HEADER, DATE_HEADER, SIGNATURE_HEADER, signed_message};
use osiris_proto::{CheckinRequest, CheckinResponse};
use reqwest::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::uplink::error::UplinkError;
use crate::uplink::http::{Endpoint, ServerUrl, Timeouts};
use crate::uplink::identity::Identity;
use crate::uplink::trust::ServerTrust;

/// The check-in path.
pub const CHECKIN_PATH: &str = "/api/appliances/checkin";

/// A server clock this far from the appliance's is logged as a warning,
/// well before the server's five-minute window refuses requests.
const SKEW_WARNING: chrono::Duration = chrono::Duration::seconds(60);

/// How the uplink connects, beyond what the identity pinned.
#[derive(Debug, Clone)]
pub struct UplinkSettings {
    /// The server URL when it moved since enrolment; `None`: the enrolled
    /// one.
    pub server_url: Option<String>,
    /// A trust replacing the pinned one (the configured `ca_file` after
    /// the operator replaced the server's CA); `None`: the pinned one.
    pub trust: Option<ServerTrust>,
    /// Allows an `http://` URL (loopback tests, a local TLS-terminating
    /// proxy).
    pub allow_http: bool,
    /// Connect and request timeouts.
    pub timeouts: Timeouts,
}

/// The appliance's connection to Central Command: every request is signed
/// with the appliance key and dated by the clock it was given.
#[derive(Debug)]
pub struct Uplink {
    endpoint: Endpoint,
    identity: Identity,
    key: Arc<KeyPair>,
    clock: Arc<dyn Clock>,
}

impl Uplink {
    /// An uplink for `identity`, signing with `key`.
    ///
    /// # Errors
    /// [`UplinkError::BadUrl`] for an unusable URL (or `http` not allowed),
    /// [`UplinkError::BadTrust`] for HTTPS without a usable trust,
    /// [`UplinkError::BadIdentity`] when `key` is not the enrolled key.
    pub fn new(
        identity: Identity,
        key: Arc<KeyPair>,
        clock: Arc<dyn Clock>,
        settings: &UplinkSettings,
    ) -> Result<Self, UplinkError> {
        if key.public_key() != identity.public_key {
            return Err(UplinkError::BadIdentity {
                path: crate::uplink::identity::IDENTITY_FILE.into(),
                reason: format!(
                    "the signing key {} is not the enrolled key {}",
                    key.public_key().key_id(),
                    identity.public_key.key_id()
                ),
            });
        }
        let url = ServerUrl::parse(
            settings
                .server_url
                .as_deref()
                .unwrap_or(&identity.server_url),
            settings.allow_http,
        )?;
        let trust = settings
            .trust
            .clone()
            .or_else(|| identity.trust.server_trust());
        let (endpoint, _) = Endpoint::new(url, trust.as_ref(), settings.timeouts)?;
        Ok(Self {
            endpoint,
            identity,
            key,
            clock,
        })
    }

    /// The uplink of the appliance enrolled in `data_dir`.
    ///
    /// # Errors
    /// As [`Identity::load_with_key`] and [`Uplink::new`].
    pub fn open(
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        settings: &UplinkSettings,
    ) -> Result<Self, UplinkError> {
        let (identity, key) = Identity::load_with_key(data_dir)?;
        Self::new(identity, Arc::new(key), clock, settings)
    }

    /// Who this appliance is.
    #[must_use]
    pub const fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The appliance key (it also seals evidence).
    #[must_use]
    pub const fn key(&self) -> &Arc<KeyPair> {
        &self.key
    }

    /// One check-in: evidence, incidents, telemetry and order results up;
    /// acknowledgements, orders and the rule set down.
    ///
    /// # Errors
    /// An [`UplinkError`] whose [`class`](UplinkError::class) says whether
    /// to send the same body again later.
    #[tracing::instrument(skip_all, fields(appliance_id = %self.identity.appliance_id, bundles = request.bundles.len()))]
    pub async fn checkin(&self, request: &CheckinRequest) -> Result<CheckinResponse, UplinkError> {
        let body = serde_json::to_vec(request).map_err(|e| UplinkError::Encode {
            what: "check-in",
            reason: e.to_string(),
        })?;
        let sent_at = self.clock.now();
        let response: CheckinResponse = self.post_signed(CHECKIN_PATH, body).await?;
        let skew = response.server_time - sent_at;
        if skew.abs() > SKEW_WARNING {
            tracing::warn!(
                skew_secs = skew.num_seconds(),
                server_time = %response.server_time,
                "the server's clock differs from this appliance's; requests are refused beyond five minutes"
            );
        }
        tracing::debug!(
            acknowledged_through_seq = response.acknowledged_through_seq,
            rejected = response.rejected.len(),
            orders = response.orders.len(),
            next_checkin_secs = response.next_checkin_secs,
            "checked in"
        );
        Ok(response)
    }

    /// POSTs `body` to `path`, signed: the appliance id, the date from the
    /// clock and the Ed25519 signature over `signed_message`.
    async fn post_signed<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, UplinkError> {
        let url = self.endpoint.url.endpoint(path);
        let now = self.clock.now();
        let date = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        let signature = self
            .key
            .sign_base64(&signed_message("POST", url.path(), &date, &body));
        let request = self
            .endpoint
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(APPLIANCE_HEADER, self.identity.appliance_id.to_string())
            .header(DATE_HEADER, date)
            .header(SIGNATURE_HEADER, signature)
            .body(body);
        self.endpoint.send(request, &url, Some(now)).await
    }
}
