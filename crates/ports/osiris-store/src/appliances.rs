//! Appliances: one per site location, each with its own Ed25519 key and
//! evidence chain. Enrolled with a one-time claim code, or by the MAC
//! address an operator armed it with (unclaimed, within a window).

use std::fmt;

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, MacAddress, PartnerId, SiteId};

use crate::{BoxFuture, TenantScope, TokenHash};

/// An appliance's raw 32-byte Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key from its raw bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublicKey(")?;
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

/// An appliance as the dashboard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appliance {
    /// Its id.
    pub id: ApplianceId,
    /// The site it serves.
    pub site_id: SiteId,
    /// Display name.
    pub name: String,
    /// The MAC address it may be claimed by, if the operator gave one.
    pub mac: Option<MacAddress>,
    /// When the MAC claim was armed; `None` once claimed (by either way)
    /// or when there is no MAC.
    pub mac_armed_at: Option<DateTime<Utc>>,
    /// Its signing key, once it has claimed its identity.
    pub public_key: Option<PublicKey>,
    /// When it last checked in.
    pub last_checkin_at: Option<DateTime<Utc>>,
    /// The agent version it reported at its last check-in.
    pub agent_version: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// An appliance to create, waiting to be claimed.
#[derive(Debug, Clone)]
pub struct NewAppliance {
    /// Its id, chosen by the caller.
    pub id: ApplianceId,
    /// The site it will serve; must be visible to the caller.
    pub site_id: SiteId,
    /// Display name.
    pub name: String,
    /// The hash of the one-time claim code handed to the installer.
    pub claim_code: TokenHash,
    /// A MAC address that may claim it instead of the code, armed from
    /// creation. Unique among unclaimed appliances (a `Conflict` on
    /// [`crate::constraint::APPLIANCE_UNCLAIMED_MAC`]).
    pub mac: Option<MacAddress>,
}

/// What the check-in path needs to authenticate an appliance before it has
/// a scope: the key to verify its signatures and where it belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplianceIdentity {
    /// The appliance.
    pub id: ApplianceId,
    /// Its site.
    pub site_id: SiteId,
    /// The partner serving that site.
    pub partner_id: PartnerId,
    /// Its signing key.
    pub public_key: PublicKey,
}

/// Appliances. Visibility follows the appliance's site.
pub trait ApplianceStore {
    /// Creates an unclaimed appliance at a visible site.
    fn create_appliance<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: &'a NewAppliance,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Appliance>;

    /// Enrolment: the appliance presents its claim code and public key. The
    /// code (and any MAC arming) is consumed (a second claim is `NotFound`). Unscoped because it
    /// is how an appliance obtains its identity.
    fn claim_appliance<'a>(
        &'a self,
        claim_code: &'a TokenHash,
        public_key: &'a PublicKey,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ApplianceIdentity>;

    /// Enrolment by MAC address: the unclaimed appliance armed with `mac`
    /// at or after `armed_since` takes `public_key`. Its claim code and
    /// MAC arming are consumed with it, so this succeeds once; an unknown
    /// MAC, a claimed appliance or an arming before `armed_since` is
    /// `NotFound` (entity `mac`). Unscoped like [`Self::claim_appliance`].
    fn claim_appliance_by_mac<'a>(
        &'a self,
        mac: MacAddress,
        public_key: &'a PublicKey,
        armed_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ApplianceIdentity>;

    /// The identity of a claimed appliance, for verifying its request.
    /// Unscoped because it runs before the caller is authenticated;
    /// unclaimed appliances are `NotFound`.
    fn appliance_identity(&self, id: ApplianceId) -> BoxFuture<'_, ApplianceIdentity>;

    /// Records a check-in: its time and the agent version reported.
    fn record_checkin<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: ApplianceId,
        agent_version: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Appliance>;

    /// One appliance.
    fn get_appliance<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: ApplianceId,
    ) -> BoxFuture<'a, Appliance>;

    /// Every visible appliance, by site then name.
    fn list_appliances<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Appliance>>;
}
