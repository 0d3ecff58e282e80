//! The append-only audit log.

use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, UserId};
use osiris_store::{AuditEntry, AuditStore, BoxFuture, Error, NewAuditEntry, TenantScope};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_partners, partner_visible};
use crate::db::{backend, count, int};

#[derive(sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    at: DateTime<Utc>,
    actor: Option<Uuid>,
    partner_id: Option<Uuid>,
    action: String,
    target: String,
    detail: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = Error;
    fn try_from(row: AuditRow) -> Result<Self, Error> {
        Ok(Self {
            seq: count(row.seq, "audit_log", "seq")?,
            at: row.at,
            actor: row.actor.map(UserId::from_uuid),
            partner_id: row.partner_id.map(PartnerId::from_uuid),
            action: row.action,
            target: row.target,
            detail: serde_json::from_str(&row.detail)
                .map_err(|error| Error::corrupt("audit_log", "detail", error))?,
        })
    }
}

impl AuditStore for Store {
    fn append_audit<'a>(
        &'a self,
        entry: &'a NewAuditEntry,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, AuditEntry> {
        Box::pin(async move {
            sqlx::query_as::<_, AuditRow>(
                "INSERT INTO audit_log (at, actor, partner_id, action, target, detail)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 RETURNING seq, at, actor, partner_id, action, target, detail",
            )
            .bind(now)
            .bind(entry.actor.as_ref().map(|id| *id.as_uuid()))
            .bind(entry.partner_id.as_ref().map(|id| *id.as_uuid()))
            .bind(entry.action.as_str())
            .bind(entry.target.as_str())
            .bind(entry.detail.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(backend("appending to the audit log"))?
            .try_into()
        })
    }

    fn list_audit<'a>(
        &'a self,
        scope: &'a TenantScope,
        after_seq: u64,
        limit: u32,
    ) -> BoxFuture<'a, Vec<AuditEntry>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, AuditRow>(concat!(
                "SELECT seq, at, actor, partner_id, action, target, detail FROM audit_log
                 WHERE seq > $3 AND ",
                partner_visible!("partner_id"),
                " ORDER BY seq LIMIT $4"
            ));
            bind_partners(query, scope)
                .bind(int(after_seq))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing the audit log"))?
                .into_iter()
                .map(AuditEntry::try_from)
                .collect()
        })
    }
}
