//! Enrolment: the appliance makes its key, claims its identity at Central
//! Command and keeps it.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;
use std::sync::PoisonError;

use osiris_core::Secret;
use osiris_evidence::{KeyPair, PublicKey};
use osiris_proto::enrol::{ClaimRequest, ClaimResponse};
use reqwest::header::CONTENT_TYPE;
use reqwest::{StatusCode, Url};

use crate::uplink::error::UplinkError;
use crate::uplink::http::{Endpoint, ServerUrl, Timeouts};
use crate::uplink::identity::{Identity, PinnedTrust, replace_key};
use crate::uplink::mac::MacAddress;
use crate::uplink::trust::{CaCertificates, ServerTrust};

/// The claim path.
pub const CLAIM_PATH: &str = "/api/appliances/claim";

/// How the appliance proves it is the one the operator created.
#[derive(Debug, Clone)]
pub enum Claim {
    /// The one-time code shown when the appliance was created.
    Code(Secret<String>),
    /// This machine's MAC addresses
    /// ([`mac_addresses`](crate::uplink::mac_addresses)), one of which the
    /// operator armed the appliance with; tried in order.
    MacAddresses(Vec<MacAddress>),
}

/// What enrolment needs.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// `https://host:port` of Central Command.
    pub server_url: String,
    /// The CA file or fingerprint the installer was given (the server
    /// prints both at start); `None` only for plain HTTP.
    pub trust: Option<ServerTrust>,
    /// Allows an `http://` URL (loopback tests).
    pub allow_http: bool,
    /// The claim code or MAC addresses.
    pub claim: Claim,
    /// Replaces an identity already stored (a new key and a new appliance
    /// id: the old chain ends there).
    pub replace_existing: bool,
    /// Connect and request timeouts.
    pub timeouts: Timeouts,
}

/// Enrols the appliance whose data directory is `data_dir`: makes a new
/// Ed25519 key, claims, and stores the key and the identity the server
/// answered, pinning the CA the connection was verified with.
///
/// Nothing is written unless the claim succeeds; the key reaches its file
/// before the identity, so an identity never names a key that is missing.
///
/// # Errors
/// [`UplinkError::AlreadyEnrolled`] when an identity is stored and
/// `replace_existing` is false; a refused claim (unknown or used code; no
/// unclaimed appliance armed with any of the MACs in the last 24 hours:
/// 404 `not_found`) as [`UplinkError::Refused`] with the server's code;
/// [`UplinkError::NoMacAddress`] for an empty list of MACs; too many claims
/// by MAC as [`UplinkError::Unavailable`] (429); TLS, transport and file
/// errors naming what failed.
#[tracing::instrument(skip_all, fields(server = %enrolment.server_url))]
pub async fn enrol(data_dir: &Path, enrolment: &Enrolment) -> Result<Identity, UplinkError> {
    if !enrolment.replace_existing {
        match Identity::load(data_dir) {
            Err(UplinkError::NotEnrolled { .. }) => {}
            Ok(existing) => {
                return Err(UplinkError::AlreadyEnrolled {
                    path: Identity::path(data_dir),
                    appliance_id: existing.appliance_id.to_string(),
                });
            }
            Err(_) => {
                return Err(UplinkError::AlreadyEnrolled {
                    path: Identity::path(data_dir),
                    appliance_id: "unreadable".to_owned(),
                });
            }
        }
    }
    let url = ServerUrl::parse(&enrolment.server_url, enrolment.allow_http)?;
    let (endpoint, seen) =
        Endpoint::new(url.clone(), enrolment.trust.as_ref(), enrolment.timeouts)?;
    let key = KeyPair::generate()?;
    let claim_url = url.endpoint(CLAIM_PATH);
    let response = claim(&endpoint, &claim_url, &enrolment.claim, &key).await?;
    let server_public_key =
        PublicKey::from_base64(&response.server_public_key).map_err(|reason| {
            UplinkError::BadResponse {
                url: claim_url.to_string(),
                status: StatusCode::OK,
                reason: format!("server_public_key: {reason}"),
            }
        })?;
    let trust = match (&enrolment.trust, url.is_https()) {
        (_, false) => PinnedTrust::PlainHttp,
        (Some(ServerTrust::Ca(certs)), true) => PinnedTrust::Ca(certs.clone()),
        (Some(ServerTrust::PublicRoots), true) => PinnedTrust::PublicRoots,
        (Some(ServerTrust::Fingerprint(pin)), true) => {
            let matched = seen
                .as_ref()
                .and_then(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).take());
            match matched {
                Some(der) => PinnedTrust::Ca(CaCertificates::single(der)),
                None => {
                    return Err(UplinkError::BadTrust {
                        reason: format!("the handshake matched no CA with fingerprint {pin}"),
                    });
                }
            }
        }
        (None, true) => {
            return Err(UplinkError::BadTrust {
                reason: "https needs a CA file, a CA fingerprint or the public roots".to_owned(),
            });
        }
    };
    let identity = Identity {
        appliance_id: response.appliance_id,
        site_id: response.site_id,
        server_url: url.as_str().to_owned(),
        server_public_key,
        public_key: key.public_key(),
        trust,
        enrolled_at: response.server_time,
    };
    create_private_dir(data_dir)?;
    replace_key(data_dir, &key)?;
    identity.save(data_dir)?;
    tracing::info!(
        appliance_id = %identity.appliance_id,
        site_id = %identity.site_id,
        key_id = %identity.public_key.key_id(),
        "enrolled"
    );
    Ok(identity)
}

/// Claims with the code, or with each MAC address in turn until one is
/// the one the operator armed (the others are 404 `not_found`).
async fn claim(
    endpoint: &Endpoint,
    url: &Url,
    claim: &Claim,
    key: &KeyPair,
) -> Result<ClaimResponse, UplinkError> {
    let public_key = key.public_key().to_base64();
    match claim {
        Claim::Code(code) => {
            let request = ClaimRequest {
                claim_code: Some(code.expose().clone()),
                mac: None,
                public_key,
            };
            send_claim(endpoint, url, &request).await
        }
        Claim::MacAddresses(macs) => {
            let mut unknown = None;
            for mac in macs {
                let request = ClaimRequest {
                    claim_code: None,
                    mac: Some(mac.to_string()),
                    public_key: public_key.clone(),
                };
                match send_claim(endpoint, url, &request).await {
                    Ok(response) => {
                        tracing::info!(%mac, "claimed by MAC address");
                        return Ok(response);
                    }
                    Err(error @ UplinkError::Refused { status, .. })
                        if status == StatusCode::NOT_FOUND =>
                    {
                        tracing::info!(%mac, "no appliance is armed with this MAC address");
                        unknown = Some(error);
                    }
                    Err(other) => return Err(other),
                }
            }
            Err(unknown.unwrap_or(UplinkError::NoMacAddress))
        }
    }
}

async fn send_claim(
    endpoint: &Endpoint,
    url: &Url,
    request: &ClaimRequest,
) -> Result<ClaimResponse, UplinkError> {
    let body = serde_json::to_vec(request).map_err(|e| UplinkError::Encode {
        what: "claim",
        reason: e.to_string(),
    })?;
    let post = endpoint
        .http
        .post(url.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    endpoint.send(post, url, None).await
}

/// Creates `dir` (0700) if missing.
fn create_private_dir(dir: &Path) -> Result<(), UplinkError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(UplinkError::io("creating the data directory", dir))
}
