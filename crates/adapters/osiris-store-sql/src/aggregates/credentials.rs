//! Target credentials at a site, stored only sealed.

use chrono::{DateTime, Utc};
use osiris_core::{CredentialId, HostId, SEALED_NONCE_LEN, SealedCredential, SiteId};
use osiris_store::{
    BoxFuture, Credential, CredentialKind, CredentialStore, Error, NewCredential, StoredCredential,
    TenantScope,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_sites, require_site, site_visible};
use crate::db::{backend, count, int, parse};

/// The metadata columns: everything but the sealed secret.
macro_rules! credential_columns {
    () => {
        "id, site_id, host_id, kind, username, key_version, created_at, rotated_at"
    };
}

/// The metadata columns and the sealed secret.
macro_rules! stored_columns {
    () => {
        concat!(credential_columns!(), ", nonce, ciphertext")
    };
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    id: Uuid,
    site_id: Uuid,
    host_id: Option<Uuid>,
    kind: String,
    username: String,
    key_version: i64,
    created_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct StoredRow {
    #[sqlx(flatten)]
    credential: CredentialRow,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = Error;
    fn try_from(row: CredentialRow) -> Result<Self, Error> {
        Ok(Self {
            id: CredentialId::from_uuid(row.id),
            site_id: SiteId::from_uuid(row.site_id),
            host_id: row.host_id.map(HostId::from_uuid),
            kind: parse(
                CredentialKind::parse(&row.kind),
                "credentials",
                "kind",
                &row.kind,
            )?,
            username: row.username,
            key_version: count(row.key_version, "credentials", "key_version")?,
            created_at: row.created_at,
            rotated_at: row.rotated_at,
        })
    }
}

impl TryFrom<StoredRow> for StoredCredential {
    type Error = Error;
    fn try_from(row: StoredRow) -> Result<Self, Error> {
        let credential = Credential::try_from(row.credential)?;
        let nonce = <[u8; SEALED_NONCE_LEN]>::try_from(row.nonce).map_err(|nonce| {
            Error::corrupt(
                "credentials",
                "nonce",
                format!("{} bytes, not {SEALED_NONCE_LEN}", nonce.len()),
            )
        })?;
        Ok(Self {
            sealed: SealedCredential {
                key_version: credential.key_version,
                nonce,
                ciphertext: row.ciphertext,
            },
            credential,
        })
    }
}

impl Store {
    /// `NotFound` credential unless `id` exists and is visible.
    async fn require_credential(
        &self,
        scope: &TenantScope,
        id: CredentialId,
    ) -> osiris_store::Result<()> {
        let query = sqlx::query_scalar::<_, i64>(concat!(
            "SELECT CAST(1 AS BIGINT) FROM credentials WHERE id = $6 AND ",
            site_visible!("site_id")
        ));
        bind_sites(query, scope)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("checking a credential"))?
            .map(|_| ())
            .ok_or_else(|| Error::not_found("credential", id))
    }
}

impl CredentialStore for Store {
    fn create_credential<'a>(
        &'a self,
        scope: &'a TenantScope,
        credential: &'a NewCredential,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Credential> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, CredentialRow>(concat!(
                "INSERT INTO credentials
                 (id, site_id, host_id, kind, username, key_version, nonce, ciphertext, created_at)
                 SELECT $6, $7, $8, $9, $10, $11, $12, $13, $14 WHERE ",
                site_visible!("$7"),
                " AND ($8 IS NULL OR $8 IN (SELECT h.id FROM hosts h WHERE h.site_id = $7))
                 RETURNING ",
                credential_columns!()
            ));
            let sealed = &credential.sealed;
            let created = bind_sites(query, scope)
                .bind(credential.id.as_uuid())
                .bind(credential.site_id.as_uuid())
                .bind(credential.host_id.map(|host| *host.as_uuid()))
                .bind(credential.kind.as_str())
                .bind(credential.username.as_str())
                .bind(int(sealed.key_version))
                .bind(sealed.nonce.as_slice())
                .bind(sealed.ciphertext.as_slice())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("storing a credential"))?;
            match created {
                Some(row) => row.try_into(),
                // Nothing inserted: either the site is not the caller's or
                // the host is not at that site.
                None => {
                    require_site(&self.pool, scope, credential.site_id).await?;
                    let host = credential.host_id.map(|h| h.to_string()).unwrap_or_default();
                    Err(Error::not_found("host", host))
                }
            }
        })
    }

    fn list_credentials<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: SiteId,
    ) -> BoxFuture<'a, Vec<Credential>> {
        Box::pin(async move {
            require_site(&self.pool, scope, site).await?;
            sqlx::query_as::<_, CredentialRow>(concat!(
                "SELECT ",
                credential_columns!(),
                " FROM credentials WHERE site_id = $1 ORDER BY username, id"
            ))
            .bind(site.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(backend("listing credentials"))?
            .into_iter()
            .map(Credential::try_from)
            .collect()
        })
    }

    fn sealed_credential<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: CredentialId,
    ) -> BoxFuture<'a, StoredCredential> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, StoredRow>(concat!(
                "SELECT ",
                stored_columns!(),
                " FROM credentials WHERE id = $6 AND ",
                site_visible!("site_id")
            ));
            bind_sites(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a credential"))?
                .ok_or_else(|| Error::not_found("credential", id))?
                .try_into()
        })
    }

    fn stale_credentials<'a>(
        &'a self,
        scope: &'a TenantScope,
        current_version: u32,
        after: Option<CredentialId>,
        limit: u32,
    ) -> BoxFuture<'a, Vec<StoredCredential>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, StoredRow>(concat!(
                "SELECT ",
                stored_columns!(),
                " FROM credentials WHERE key_version <> $6 AND ($7 IS NULL OR id > $7) AND ",
                site_visible!("site_id"),
                " ORDER BY id LIMIT $8"
            ));
            bind_sites(query, scope)
                .bind(int(current_version))
                .bind(after.map(|id| *id.as_uuid()))
                .bind(int(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing credentials to re-seal"))?
                .into_iter()
                .map(StoredCredential::try_from)
                .collect()
        })
    }

    fn reseal_credential<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: CredentialId,
        previous_nonce: &'a [u8; SEALED_NONCE_LEN],
        sealed: &'a SealedCredential,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Credential> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, CredentialRow>(concat!(
                "UPDATE credentials SET key_version = $8, nonce = $9, ciphertext = $10,
                 rotated_at = $11 WHERE id = $6 AND nonce = $7 AND ",
                site_visible!("site_id"),
                " RETURNING ",
                credential_columns!()
            ));
            let updated = bind_sites(query, scope)
                .bind(id.as_uuid())
                .bind(previous_nonce.as_slice())
                .bind(int(sealed.key_version))
                .bind(sealed.nonce.as_slice())
                .bind(sealed.ciphertext.as_slice())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("re-sealing a credential"))?;
            match updated {
                Some(row) => row.try_into(),
                None => {
                    self.require_credential(scope, id).await?;
                    Err(Error::IllegalTransition {
                        entity: "credential",
                        id: id.to_string(),
                        from: "sealed anew since it was read".to_owned(),
                        to: "re-sealed".to_owned(),
                    })
                }
            }
        })
    }

    fn delete_credential<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: CredentialId,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let query = sqlx::query(concat!(
                "DELETE FROM credentials WHERE id = $6 AND ",
                site_visible!("site_id")
            ));
            let deleted = bind_sites(query, scope)
                .bind(id.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(backend("deleting a credential"))?;
            if deleted.rows_affected() == 0 {
                return Err(Error::not_found("credential", id));
            }
            Ok(())
        })
    }
}
