//! `POST /api/appliances/claim`: an appliance registers its key and
//! receives its identity and the server's order-signing key. It proves
//! which appliance it is with exactly one of the one-time claim code or the
//! MAC address an operator armed it with.

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, SiteId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A claim: the installer's code or the appliance's MAC address, and the
/// appliance's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The one-time code, as typed (case, spaces and dashes do not matter).
    /// Exactly one of `claim_code` and `mac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_code: Option<String>,
    /// The MAC address the operator armed the appliance with
    /// (`aa:bb:cc:dd:ee:ff`; hyphens, Cisco dots and upper case are
    /// accepted). Claims only an unclaimed appliance, within 24 hours of its
    /// creation. Exactly one of `claim_code` and `mac`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Base64 (standard, padded) of the appliance's raw 32-byte Ed25519
    /// public key, which will verify its requests and its evidence.
    pub public_key: String,
}

/// The identity an appliance receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimResponse {
    #[schema(value_type = String, format = Uuid)]
    pub appliance_id: ApplianceId,
    #[schema(value_type = String, format = Uuid)]
    pub site_id: SiteId,
    /// Base64 of the server's raw Ed25519 public key, which signs orders.
    pub server_public_key: String,
    /// The server clock, so the appliance can check its own.
    pub server_time: DateTime<Utc>,
}
