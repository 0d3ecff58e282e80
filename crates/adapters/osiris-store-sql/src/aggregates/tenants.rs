//! Partners and clients.

use chrono::{DateTime, Utc};
use osiris_core::{ClientId, PartnerId};
use osiris_store::{
    BoxFuture, Client, Error, NewClient, NewPartner, Partner, TenantScope, TenantStore,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_clients, bind_partners, client_visible, partner_visible};
use crate::db::backend;

#[derive(sqlx::FromRow)]
struct PartnerRow {
    id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
}

impl From<PartnerRow> for Partner {
    fn from(row: PartnerRow) -> Self {
        Self {
            id: PartnerId::from_uuid(row.id),
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: Uuid,
    partner_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        Self {
            id: ClientId::from_uuid(row.id),
            partner_id: PartnerId::from_uuid(row.partner_id),
            name: row.name,
            created_at: row.created_at,
        }
    }
}

impl TenantStore for Store {
    fn create_partner<'a>(
        &'a self,
        scope: &'a TenantScope,
        partner: &'a NewPartner,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Partner> {
        Box::pin(async move {
            if !scope.is_platform() {
                return Err(Error::OutOfScope {
                    action: "creating a partner",
                });
            }
            let row = sqlx::query_as::<_, PartnerRow>(
                "INSERT INTO partners (id, name, created_at) VALUES ($1, $2, $3)
                 RETURNING id, name, created_at",
            )
            .bind(partner.id.as_uuid())
            .bind(partner.name.as_str())
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(backend("creating a partner"))?;
            Ok(row.into())
        })
    }

    fn get_partner<'a>(&'a self, scope: &'a TenantScope, id: PartnerId) -> BoxFuture<'a, Partner> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, PartnerRow>(concat!(
                "SELECT p.id, p.name, p.created_at FROM partners p WHERE p.id = $3 AND ",
                partner_visible!("p.id")
            ));
            bind_partners(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a partner"))?
                .map(Partner::from)
                .ok_or_else(|| Error::not_found("partner", id))
        })
    }

    fn list_partners<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Partner>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, PartnerRow>(concat!(
                "SELECT p.id, p.name, p.created_at FROM partners p WHERE ",
                partner_visible!("p.id"),
                " ORDER BY p.name, p.id"
            ));
            let rows = bind_partners(query, scope)
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing partners"))?;
            Ok(rows.into_iter().map(Partner::from).collect())
        })
    }

    fn create_client<'a>(
        &'a self,
        scope: &'a TenantScope,
        client: &'a NewClient,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Client> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, ClientRow>(concat!(
                "INSERT INTO clients (id, partner_id, name, created_at)
                 SELECT $3, p.id, $5, $6 FROM partners p WHERE p.id = $4 AND ",
                partner_visible!("p.id"),
                " RETURNING id, partner_id, name, created_at"
            ));
            bind_partners(query, scope)
                .bind(client.id.as_uuid())
                .bind(client.partner_id.as_uuid())
                .bind(client.name.as_str())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("creating a client"))?
                .map(Client::from)
                .ok_or_else(|| Error::not_found("partner", client.partner_id))
        })
    }

    fn get_client<'a>(&'a self, scope: &'a TenantScope, id: ClientId) -> BoxFuture<'a, Client> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT c.id, c.partner_id, c.name, c.created_at FROM clients c WHERE c.id = $4 AND ",
                client_visible!("c")
            ));
            bind_clients(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a client"))?
                .map(Client::from)
                .ok_or_else(|| Error::not_found("client", id))
        })
    }

    fn list_clients<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Client>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, ClientRow>(concat!(
                "SELECT c.id, c.partner_id, c.name, c.created_at FROM clients c WHERE ",
                client_visible!("c"),
                " ORDER BY c.name, c.id"
            ));
            let rows = bind_clients(query, scope)
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing clients"))?;
            Ok(rows.into_iter().map(Client::from).collect())
        })
    }
}
