//! Whose rows a caller may see. Built only from an authenticated principal
//! (a stored [`User`] or an appliance's identity), so a handler cannot make
//! one up from request input.

use osiris_core::{ClientId, PartnerId, SiteId, UserId};

use crate::{ApplianceIdentity, Membership, User};

/// The tenant boundary of one caller. Every store method that reads or
/// writes tenant data takes one, and backends turn it into SQL predicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantScope(Inner);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inner {
    Platform,
    Partner(PartnerId),
    Client(ClientId),
    Auditor(UserId),
    Site(SiteId),
}

/// The scope as plain bind values, for backends. Exactly one of the fields
/// is set (or `platform` is true); an unset field matches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopeFilter {
    /// Admin and operator: every tenant.
    pub platform: bool,
    /// A partner: its clients' sites.
    pub partner: Option<PartnerId>,
    /// A client: its own sites.
    pub client: Option<ClientId>,
    /// An auditor: the sites granted to this user.
    pub auditor: Option<UserId>,
    /// An appliance: its own site.
    pub site: Option<SiteId>,
}

impl TenantScope {
    /// The scope of an authenticated user, from its membership.
    #[must_use]
    pub fn for_user(user: &User) -> Self {
        Self(match user.membership {
            Membership::Admin | Membership::Operator => Inner::Platform,
            Membership::Partner(partner) => Inner::Partner(partner),
            Membership::Client(client) => Inner::Client(client),
            Membership::Auditor => Inner::Auditor(user.id),
        })
    }

    /// The scope of an appliance whose request signature was verified: its
    /// own site and nothing else.
    #[must_use]
    pub fn for_appliance(identity: &ApplianceIdentity) -> Self {
        Self(Inner::Site(identity.site_id))
    }

    /// The platform scope for the server's own work (expiring orders,
    /// creating the first admin). Handlers use [`TenantScope::for_user`].
    #[must_use]
    pub fn platform() -> Self {
        Self(Inner::Platform)
    }

    /// Whether this scope covers every tenant.
    #[must_use]
    pub fn is_platform(&self) -> bool {
        matches!(self.0, Inner::Platform)
    }

    /// The scope as bind values for a SQL predicate.
    #[must_use]
    pub fn filter(&self) -> ScopeFilter {
        let mut filter = ScopeFilter {
            platform: false,
            partner: None,
            client: None,
            auditor: None,
            site: None,
        };
        match self.0 {
            Inner::Platform => filter.platform = true,
            Inner::Partner(partner) => filter.partner = Some(partner),
            Inner::Client(client) => filter.client = Some(client),
            Inner::Auditor(user) => filter.auditor = Some(user),
            Inner::Site(site) => filter.site = Some(site),
        }
        filter
    }
}
