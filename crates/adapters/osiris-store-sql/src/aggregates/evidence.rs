//! The evidence index.

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, BundleId, SiteId};
use osiris_store::{
    BoxFuture, ChainHash, CheckpointEntry, Error, EvidenceEntry, EvidenceKind, EvidenceStore,
    TenantScope,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_sites, require_appliance, require_site, site_visible};
use crate::db::{backend, count, int, parse};

macro_rules! evidence_columns {
    () => {
        "appliance_id, seq, site_id, bundle_id, chain_hash, created_at, kind, outcome,
         object_key, received_at"
    };
}

#[derive(sqlx::FromRow)]
struct EvidenceRow {
    appliance_id: Uuid,
    seq: i64,
    site_id: Uuid,
    bundle_id: Uuid,
    chain_hash: String,
    created_at: DateTime<Utc>,
    kind: String,
    outcome: String,
    object_key: String,
    received_at: DateTime<Utc>,
}

impl TryFrom<EvidenceRow> for EvidenceEntry {
    type Error = Error;
    fn try_from(row: EvidenceRow) -> Result<Self, Error> {
        Ok(Self {
            appliance_id: ApplianceId::from_uuid(row.appliance_id),
            seq: count(row.seq, "evidence", "seq")?,
            site_id: SiteId::from_uuid(row.site_id),
            bundle_id: BundleId::from_uuid(row.bundle_id),
            chain_hash: ChainHash::parse(&row.chain_hash).ok_or_else(|| {
                Error::corrupt("evidence", "chain_hash", "not 64 lowercase hex digits")
            })?,
            created_at: row.created_at,
            kind: parse(
                EvidenceKind::parse(&row.kind),
                "evidence",
                "kind",
                &row.kind,
            )?,
            outcome: row.outcome,
            object_key: row.object_key,
            received_at: row.received_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    appliance_id: Uuid,
    seq: i64,
    head_hash: String,
    signed_at: DateTime<Utc>,
    signature: String,
}

impl TryFrom<CheckpointRow> for CheckpointEntry {
    type Error = Error;
    fn try_from(row: CheckpointRow) -> Result<Self, Error> {
        Ok(Self {
            appliance_id: ApplianceId::from_uuid(row.appliance_id),
            seq: count(row.seq, "checkpoints", "seq")?,
            head_hash: ChainHash::parse(&row.head_hash).ok_or_else(|| {
                Error::corrupt("checkpoints", "head_hash", "not 64 lowercase hex digits")
            })?,
            signed_at: row.signed_at,
            signature: row.signature,
        })
    }
}

async fn insert_evidence(
    connection: &mut <super::Db as sqlx::Database>::Connection,
    scope: &TenantScope,
    entry: &EvidenceEntry,
) -> Result<(), Error> {
    let query = sqlx::query(concat!(
        "INSERT INTO evidence (appliance_id, seq, site_id, bundle_id, chain_hash, created_at,
            kind, outcome, object_key, received_at)
         SELECT a.id, $7, a.site_id, $9, $10, $11, $12, $13, $14, $15 FROM appliances a
         WHERE a.id = $6 AND a.site_id = $8 AND ",
        site_visible!("a.site_id")
    ));
    let inserted = bind_sites(query, scope)
        .bind(entry.appliance_id.as_uuid())
        .bind(int(entry.seq))
        .bind(entry.site_id.as_uuid())
        .bind(entry.bundle_id.as_uuid())
        .bind(entry.chain_hash.as_str())
        .bind(entry.created_at)
        .bind(entry.kind.as_str())
        .bind(entry.outcome.as_str())
        .bind(entry.object_key.as_str())
        .bind(entry.received_at)
        .execute(&mut *connection)
        .await
        .map_err(backend("indexing evidence"))?;
    if inserted.rows_affected() == 0 {
        return Err(Error::not_found("appliance", entry.appliance_id));
    }
    Ok(())
}

fn entries(rows: Vec<EvidenceRow>) -> Result<Vec<EvidenceEntry>, Error> {
    rows.into_iter().map(EvidenceEntry::try_from).collect()
}

impl EvidenceStore for Store {
    fn record_evidence<'a>(
        &'a self,
        scope: &'a TenantScope,
        entry: &'a EvidenceEntry,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self
                .pool
                .acquire()
                .await
                .map_err(backend("indexing evidence"))?;
            insert_evidence(&mut connection, scope, entry).await
        })
    }

    fn record_evidence_batch<'a>(
        &'a self,
        scope: &'a TenantScope,
        entries: &'a [EvidenceEntry],
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // One commit (one WAL sync) for a check-in's bundles instead of
            // one per bundle; a refused entry rolls them all back.
            let mut transaction = self
                .pool
                .begin()
                .await
                .map_err(backend("starting to index evidence"))?;
            for entry in entries {
                insert_evidence(&mut transaction, scope, entry).await?;
            }
            transaction
                .commit()
                .await
                .map_err(backend("committing evidence"))
        })
    }

    fn evidence_head<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
    ) -> BoxFuture<'a, Option<EvidenceEntry>> {
        Box::pin(async move {
            require_appliance(&self.pool, scope, appliance).await?;
            sqlx::query_as::<_, EvidenceRow>(concat!(
                "SELECT ",
                evidence_columns!(),
                " FROM evidence WHERE appliance_id = $1 ORDER BY seq DESC LIMIT 1"
            ))
            .bind(appliance.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading a chain head"))?
            .map(EvidenceEntry::try_from)
            .transpose()
        })
    }

    fn list_evidence<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        after_seq: u64,
        limit: u32,
    ) -> BoxFuture<'a, Vec<EvidenceEntry>> {
        Box::pin(async move {
            require_appliance(&self.pool, scope, appliance).await?;
            let rows = sqlx::query_as::<_, EvidenceRow>(concat!(
                "SELECT ",
                evidence_columns!(),
                " FROM evidence WHERE appliance_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ))
            .bind(appliance.as_uuid())
            .bind(int(after_seq))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend("listing evidence"))?;
            entries(rows)
        })
    }

    fn list_site_evidence<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: SiteId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<EvidenceEntry>> {
        Box::pin(async move {
            require_site(&self.pool, scope, site).await?;
            let rows = sqlx::query_as::<_, EvidenceRow>(concat!(
                "SELECT ",
                evidence_columns!(),
                " FROM evidence WHERE site_id = $1 AND created_at >= $2 AND created_at < $3
                 ORDER BY appliance_id, seq"
            ))
            .bind(site.as_uuid())
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(backend("listing a site's evidence"))?;
            entries(rows)
        })
    }

    fn get_evidence<'a>(
        &'a self,
        scope: &'a TenantScope,
        bundle: BundleId,
    ) -> BoxFuture<'a, EvidenceEntry> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, EvidenceRow>(concat!(
                "SELECT ",
                evidence_columns!(),
                " FROM evidence WHERE bundle_id = $6 AND ",
                site_visible!("site_id")
            ));
            bind_sites(query, scope)
                .bind(bundle.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading evidence"))?
                .ok_or_else(|| Error::not_found("evidence", bundle))?
                .try_into()
        })
    }

    fn evidence_span<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Option<(u64, u64)>> {
        Box::pin(async move {
            require_appliance(&self.pool, scope, appliance).await?;
            let span: (Option<i64>, Option<i64>) = sqlx::query_as(
                "SELECT MIN(seq), MAX(seq) FROM evidence
                 WHERE appliance_id = $1 AND created_at >= $2 AND created_at < $3",
            )
            .bind(appliance.as_uuid())
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await
            .map_err(backend("reading a chain's span"))?;
            match span {
                (Some(first), Some(last)) => Ok(Some((
                    count(first, "evidence", "seq")?,
                    count(last, "evidence", "seq")?,
                ))),
                _ => Ok(None),
            }
        })
    }

    fn record_checkpoint<'a>(
        &'a self,
        scope: &'a TenantScope,
        checkpoint: &'a CheckpointEntry,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            require_appliance(&self.pool, scope, checkpoint.appliance_id).await?;
            sqlx::query(
                "INSERT INTO checkpoints (appliance_id, seq, head_hash, signed_at, signature)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(checkpoint.appliance_id.as_uuid())
            .bind(int(checkpoint.seq))
            .bind(checkpoint.head_hash.as_str())
            .bind(checkpoint.signed_at)
            .bind(checkpoint.signature.as_str())
            .execute(&self.pool)
            .await
            .map_err(backend("storing a checkpoint"))?;
            Ok(())
        })
    }

    fn list_checkpoints<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        from_seq: u64,
        to_seq: u64,
    ) -> BoxFuture<'a, Vec<CheckpointEntry>> {
        Box::pin(async move {
            require_appliance(&self.pool, scope, appliance).await?;
            let rows = sqlx::query_as::<_, CheckpointRow>(
                "SELECT appliance_id, seq, head_hash, signed_at, signature FROM checkpoints
                 WHERE appliance_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
            )
            .bind(appliance.as_uuid())
            .bind(int(from_seq))
            .bind(int(to_seq))
            .fetch_all(&self.pool)
            .await
            .map_err(backend("listing checkpoints"))?;
            rows.into_iter().map(CheckpointEntry::try_from).collect()
        })
    }

    fn latest_checkpoint<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
    ) -> BoxFuture<'a, Option<CheckpointEntry>> {
        Box::pin(async move {
            require_appliance(&self.pool, scope, appliance).await?;
            sqlx::query_as::<_, CheckpointRow>(
                "SELECT appliance_id, seq, head_hash, signed_at, signature FROM checkpoints
                 WHERE appliance_id = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(appliance.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading the latest checkpoint"))?
            .map(CheckpointEntry::try_from)
            .transpose()
        })
    }
}
