//! Partners (MSPs) and their clients (practices): the top of the tenant tree.

use chrono::{DateTime, Utc};
use osiris_core::{ClientId, PartnerId};

use crate::{BoxFuture, TenantScope};

/// A managed service provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// Its id.
    pub id: PartnerId,
    /// Display name, unique.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A partner to create.
#[derive(Debug, Clone)]
pub struct NewPartner {
    /// Its id, chosen by the caller.
    pub id: PartnerId,
    /// Display name, unique.
    pub name: String,
}

/// A practice served by a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its id.
    pub id: ClientId,
    /// The partner that serves it.
    pub partner_id: PartnerId,
    /// Display name, unique within the partner.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A client to create.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Its id, chosen by the caller.
    pub id: ClientId,
    /// The partner that serves it; must be inside the caller's scope.
    pub partner_id: PartnerId,
    /// Display name, unique within the partner.
    pub name: String,
}

/// Partners and clients. A partner scope sees its own partner row and its
/// clients; a client scope sees its own client row; auditors and
/// appliances see neither.
pub trait TenantStore {
    /// Creates a partner. Platform scope only ([`crate::Error::OutOfScope`]).
    fn create_partner<'a>(
        &'a self,
        scope: &'a TenantScope,
        partner: &'a NewPartner,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Partner>;

    /// One partner.
    fn get_partner<'a>(&'a self, scope: &'a TenantScope, id: PartnerId) -> BoxFuture<'a, Partner>;

    /// Every visible partner, by name.
    fn list_partners<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Partner>>;

    /// Creates a client under a visible partner (else `NotFound` partner).
    fn create_client<'a>(
        &'a self,
        scope: &'a TenantScope,
        client: &'a NewClient,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Client>;

    /// One client.
    fn get_client<'a>(&'a self, scope: &'a TenantScope, id: ClientId) -> BoxFuture<'a, Client>;

    /// Every visible client, by name.
    fn list_clients<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Client>>;
}
