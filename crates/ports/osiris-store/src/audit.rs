//! The append-only audit log of administrative actions.

use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, UserId};

use crate::{BoxFuture, TenantScope};

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log, increasing.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (none for the server itself, e.g. first-start bootstrap).
    pub actor: Option<UserId>,
    /// The tenant the action concerned, if any; partners read their own.
    pub partner_id: Option<PartnerId>,
    /// What was done, e.g. `site.update`.
    pub action: String,
    /// What it was done to, e.g. the site id.
    pub target: String,
    /// Details as JSON (never secrets).
    pub detail: serde_json::Value,
}

/// An action to record.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    /// Who did it.
    pub actor: Option<UserId>,
    /// The tenant it concerned.
    pub partner_id: Option<PartnerId>,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// Details as JSON.
    pub detail: serde_json::Value,
}

/// The audit log. There is no update or delete, and the backends' schemas
/// refuse them too.
pub trait AuditStore {
    /// Appends an entry. Unscoped on purpose: an action that already
    /// happened must always be recordable, whoever performed it.
    fn append_audit<'a>(
        &'a self,
        entry: &'a NewAuditEntry,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, AuditEntry>;

    /// Up to `limit` visible entries after `after_seq`, ascending. The
    /// platform sees all; a partner sees entries about itself; others none.
    fn list_audit<'a>(
        &'a self,
        scope: &'a TenantScope,
        after_seq: u64,
        limit: u32,
    ) -> BoxFuture<'a, Vec<AuditEntry>>;
}
