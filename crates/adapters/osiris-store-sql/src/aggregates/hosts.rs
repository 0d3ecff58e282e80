//! Hosts at a site.

use chrono::{DateTime, Utc};
use osiris_core::{HostId, SiteId};
use osiris_store::{BoxFuture, Error, Host, HostStore, NewHost, Platform, TenantScope};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_sites, require_site, site_visible};
use crate::db::{backend, parse};

#[derive(sqlx::FromRow)]
struct HostRow {
    id: Uuid,
    site_id: Uuid,
    hostname: String,
    platform: String,
    address: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<HostRow> for Host {
    type Error = Error;
    fn try_from(row: HostRow) -> Result<Self, Error> {
        Ok(Self {
            id: HostId::from_uuid(row.id),
            site_id: SiteId::from_uuid(row.site_id),
            platform: parse(
                Platform::parse(&row.platform),
                "hosts",
                "platform",
                &row.platform,
            )?,
            hostname: row.hostname,
            address: row.address,
            created_at: row.created_at,
        })
    }
}

impl HostStore for Store {
    fn create_host<'a>(
        &'a self,
        scope: &'a TenantScope,
        host: &'a NewHost,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Host> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, HostRow>(concat!(
                "INSERT INTO hosts (id, site_id, hostname, platform, address, created_at)
                 SELECT $6, $7, $8, $9, $10, $11 WHERE ",
                site_visible!("$7"),
                " RETURNING id, site_id, hostname, platform, address, created_at"
            ));
            bind_sites(query, scope)
                .bind(host.id.as_uuid())
                .bind(host.site_id.as_uuid())
                .bind(host.hostname.as_str())
                .bind(host.platform.as_str())
                .bind(host.address.as_str())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("creating a host"))?
                .ok_or_else(|| Error::not_found("site", host.site_id))?
                .try_into()
        })
    }

    fn upsert_hosts<'a>(
        &'a self,
        scope: &'a TenantScope,
        hosts: &'a [NewHost],
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<Host>> {
        Box::pin(async move {
            // One transaction: an inventory is taken whole or not at all.
            let mut transaction = self
                .pool
                .begin()
                .await
                .map_err(backend("starting an inventory update"))?;
            let mut stored = Vec::with_capacity(hosts.len());
            for host in hosts {
                // The id and creation time of a known host stay: incidents,
                // credentials and orders refer to it.
                let query = sqlx::query_as::<_, HostRow>(concat!(
                    "INSERT INTO hosts (id, site_id, hostname, platform, address, created_at)
                     SELECT $6, $7, $8, $9, $10, $11 WHERE ",
                    site_visible!("$7"),
                    " ON CONFLICT (site_id, hostname)
                     DO UPDATE SET platform = excluded.platform, address = excluded.address
                     RETURNING id, site_id, hostname, platform, address, created_at"
                ));
                let row = bind_sites(query, scope)
                    .bind(host.id.as_uuid())
                    .bind(host.site_id.as_uuid())
                    .bind(host.hostname.as_str())
                    .bind(host.platform.as_str())
                    .bind(host.address.as_str())
                    .bind(now)
                    .fetch_optional(&mut *transaction)
                    .await
                    .map_err(backend("updating the inventory"))?
                    .ok_or_else(|| Error::not_found("site", host.site_id))?;
                stored.push(Host::try_from(row)?);
            }
            transaction
                .commit()
                .await
                .map_err(backend("committing an inventory update"))?;
            Ok(stored)
        })
    }

    fn get_host<'a>(&'a self, scope: &'a TenantScope, id: HostId) -> BoxFuture<'a, Host> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, HostRow>(concat!(
                "SELECT id, site_id, hostname, platform, address, created_at FROM hosts
                 WHERE id = $6 AND ",
                site_visible!("site_id")
            ));
            bind_sites(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a host"))?
                .ok_or_else(|| Error::not_found("host", id))?
                .try_into()
        })
    }

    fn list_hosts<'a>(&'a self, scope: &'a TenantScope, site: SiteId) -> BoxFuture<'a, Vec<Host>> {
        Box::pin(async move {
            require_site(&self.pool, scope, site).await?;
            let query = sqlx::query_as::<_, HostRow>(
                "SELECT id, site_id, hostname, platform, address, created_at FROM hosts
                 WHERE site_id = $1 ORDER BY hostname, id",
            );
            query
                .bind(site.as_uuid())
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing hosts"))?
                .into_iter()
                .map(Host::try_from)
                .collect()
        })
    }
}
