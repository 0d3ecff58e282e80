//! Hosts: the servers an appliance checks at its site.

use chrono::{DateTime, Utc};
use osiris_core::{HostId, SiteId};

use crate::{BoxFuture, TenantScope};

text_enum!(
    /// How a host is reached.
    Platform {
        /// Windows Server, over WinRM.
        Windows = "windows",
        /// Some Linux over SSH, family unknown (hosts recorded before
        /// inventories named the family); suits Debian and RHEL runbooks.
        Linux = "linux",
        /// Debian or Ubuntu, over SSH.
        Debian = "debian",
        /// RHEL, Rocky or Alma, over SSH.
        Rhel = "rhel",
        /// The appliance itself.
        Appliance = "appliance",
    }
);

/// A checked host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its id.
    pub id: HostId,
    /// The site it is at.
    pub site_id: SiteId,
    /// Host name, unique within the site.
    pub hostname: String,
    /// Its platform.
    pub platform: Platform,
    /// Address the appliance reaches it at (name or IP).
    pub address: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// A host to add.
#[derive(Debug, Clone)]
pub struct NewHost {
    /// Its id, chosen by the caller.
    pub id: HostId,
    /// The site; must be visible to the caller.
    pub site_id: SiteId,
    /// Host name, unique within the site.
    pub hostname: String,
    /// Its platform.
    pub platform: Platform,
    /// Address the appliance reaches it at.
    pub address: String,
}

/// Hosts. Visibility follows the host's site.
pub trait HostStore {
    /// Adds a host to a visible site.
    fn create_host<'a>(
        &'a self,
        scope: &'a TenantScope,
        host: &'a NewHost,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Host>;

    /// One host.
    fn get_host<'a>(&'a self, scope: &'a TenantScope, id: HostId) -> BoxFuture<'a, Host>;

    /// An appliance's inventory: each host is added to its site, or, when
    /// the site already has a host of that name, that host's platform and
    /// address are updated (its id and creation time stay, so incidents,
    /// credentials and orders keep referring to it). All or nothing: a
    /// site that is not visible is `NotFound` site and changes nothing.
    /// Returns the stored hosts in the order given.
    fn upsert_hosts<'a>(
        &'a self,
        scope: &'a TenantScope,
        hosts: &'a [NewHost],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<Host>>;

    /// The hosts of one visible site, by host name (`NotFound` site if not
    /// visible, so an empty list always means "no hosts").
    fn list_hosts<'a>(&'a self, scope: &'a TenantScope, site: SiteId) -> BoxFuture<'a, Vec<Host>>;
}
