//! The storage port of Central Command: the domain rows (partners, clients,
//! sites, appliances, hosts, sealed target credentials, incidents, the
//! evidence index, orders, users, sessions, API tokens, the audit log, the
//! learning loop's samples and promotions), the
//! [`TenantScope`] every tenant read or write takes, one store trait per
//! aggregate gathered in [`Store`],
//! and the conformance story (`testkit::run_story`, feature `testkit`)
//! that every backend must pass.
//!
//! Invariants the backends uphold, proved by the story:
//! - a row outside the caller's scope is [`Error::NotFound`], exactly like a
//!   missing row, and listings never contain it; the scope is applied in the
//!   SQL `WHERE` clause, never by filtering afterwards;
//! - time is an argument: no method reads a clock;
//! - tokens, session ids and claim codes are stored only as [`TokenHash`]es;
//! - target credentials are stored only sealed (`SealedCredential`), and
//!   listings return their metadata only;
//! - order states only move from pending to one terminal state;
//! - the audit log is append-only.
//!
//! This crate must not depend on a database driver, an async runtime or any
//! Osiris crate other than `osiris-core`.
#![warn(missing_docs)]

#[macro_use]
mod macros;

mod appliances;
mod audit;
mod credentials;
mod dashboard;
mod decisions;
mod error;
mod evidence;
mod hosts;
mod incidents;
mod learning;
mod orders;
mod scope;
mod secrets;
mod sessions;
mod sites;
mod tenants;
mod users;

#[cfg(feature = "testkit")]
pub mod testkit;

use std::future::Future;
use std::pin::Pin;

pub use appliances::{Appliance, ApplianceIdentity, ApplianceStore, NewAppliance, PublicKey};
pub use audit::{AuditEntry, AuditStore, NewAuditEntry};
pub use credentials::{
    Credential, CredentialKind, CredentialStore, NewCredential, StoredCredential,
};
pub use dashboard::{
    CheckCounts, DailyChecks, DashboardStore, IncidentOpening, OverviewPeriod, SiteOverview,
};
pub use decisions::{DecisionKind, DecisionStore, IncidentDecision, NewDecision};
pub use error::{Error, Result, constraint};
pub use evidence::{ChainHash, CheckpointEntry, EvidenceEntry, EvidenceKind, EvidenceStore};
pub use hosts::{Host, HostStore, NewHost, Platform};
pub use incidents::{
    Incident, IncidentFilter, IncidentStatus, IncidentStore, NewIncident, Opened, Severity, Tier,
};
pub use learning::{
    LearningStore, LearningTier, NewLearningSample, NewPromotion, NewShadowComparison,
    PatternStats, Promotion, PromotionState, ShadowFigures,
};
pub use orders::{NewOrder, Order, OrderFilter, OrderOutcome, OrderState, OrderStore};
pub use scope::{ScopeFilter, TenantScope};
pub use secrets::{PasswordHash, TokenHash};
pub use sessions::{ApiToken, NewSession, NewToken, Session, SessionStore};
pub use sites::{HealingMode, MaintenanceWindow, NewSite, Site, SiteSettings, SiteStore};
pub use tenants::{Client, NewClient, NewPartner, Partner, TenantStore};
pub use users::{
    LockoutPolicy, LoginThrottle, Membership, NewUser, Role, User, UserStore, Username,
};

/// The future every store method returns: boxed so that `dyn Store` works
/// (the server holds one `Arc<dyn Store>` chosen from its configuration).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Everything Central Command persists. Implemented automatically for any
/// type that implements every aggregate's trait.
pub trait Store:
    TenantStore
    + SiteStore
    + ApplianceStore
    + HostStore
    + CredentialStore
    + IncidentStore
    + EvidenceStore
    + OrderStore
    + UserStore
    + SessionStore
    + AuditStore
    + DecisionStore
    + LearningStore
    + DashboardStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: TenantStore
        + SiteStore
        + ApplianceStore
        + HostStore
        + CredentialStore
        + IncidentStore
        + EvidenceStore
        + OrderStore
        + UserStore
        + SessionStore
        + AuditStore
        + DecisionStore
        + LearningStore
        + DashboardStore
        + Send
        + Sync
{
}
