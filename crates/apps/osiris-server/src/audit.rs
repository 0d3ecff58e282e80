//! Recording administrative actions in the append-only audit log.

use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, UserId};
use osiris_store::{NewAuditEntry, Store};

/// One action to record.
#[derive(Debug)]
pub struct Action<'a> {
    /// Who did it; none for the server itself.
    pub actor: Option<UserId>,
    /// The tenant it concerned.
    pub partner_id: Option<PartnerId>,
    /// What was done, e.g. `site.update`.
    pub action: &'a str,
    /// What it was done to.
    pub target: String,
    /// Details (never secrets).
    pub detail: serde_json::Value,
}

/// Appends `action` at `now`: the one way handlers, the first start and
/// `osiris admin` record what they did.
///
/// # Errors
/// The store's failure.
pub async fn record(
    store: &dyn Store,
    action: Action<'_>,
    now: DateTime<Utc>,
) -> osiris_store::Result<()> {
    store
        .append_audit(
            &NewAuditEntry {
                actor: action.actor,
                partner_id: action.partner_id,
                action: action.action.to_owned(),
                target: action.target,
                detail: action.detail,
            },
            now,
        )
        .await?;
    Ok(())
}
