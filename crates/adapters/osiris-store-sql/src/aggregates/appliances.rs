//! Appliances: creation, one-time claim, identity, check-ins.

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, MacAddress, PartnerId, SiteId};
use osiris_store::{
    Appliance, ApplianceIdentity, ApplianceStore, BoxFuture, Error, NewAppliance, PublicKey,
    TenantScope, TokenHash,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_sites, site_visible};
use crate::db::backend;

macro_rules! appliance_columns {
    () => {
        "id, site_id, name, mac, mac_armed_at, public_key, last_checkin_at, agent_version,
         created_at"
    };
}

#[derive(sqlx::FromRow)]
struct ApplianceRow {
    id: Uuid,
    site_id: Uuid,
    name: String,
    mac: Option<String>,
    mac_armed_at: Option<DateTime<Utc>>,
    public_key: Option<Vec<u8>>,
    last_checkin_at: Option<DateTime<Utc>>,
    agent_version: Option<String>,
    created_at: DateTime<Utc>,
}

fn public_key(bytes: Vec<u8>) -> Result<PublicKey, Error> {
    <[u8; 32]>::try_from(bytes)
        .map(PublicKey::from_bytes)
        .map_err(|bytes| {
            Error::corrupt(
                "appliances",
                "public_key",
                format!("{} bytes, not 32", bytes.len()),
            )
        })
}

impl TryFrom<ApplianceRow> for Appliance {
    type Error = Error;
    fn try_from(row: ApplianceRow) -> Result<Self, Error> {
        Ok(Self {
            id: ApplianceId::from_uuid(row.id),
            site_id: SiteId::from_uuid(row.site_id),
            name: row.name,
            mac: row
                .mac
                .map(|mac| mac.parse::<MacAddress>())
                .transpose()
                .map_err(|error| Error::corrupt("appliances", "mac", error))?,
            mac_armed_at: row.mac_armed_at,
            public_key: row.public_key.map(public_key).transpose()?,
            last_checkin_at: row.last_checkin_at,
            agent_version: row.agent_version,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct IdentityRow {
    id: Uuid,
    site_id: Uuid,
    partner_id: Uuid,
    public_key: Vec<u8>,
}

impl TryFrom<IdentityRow> for ApplianceIdentity {
    type Error = Error;
    fn try_from(row: IdentityRow) -> Result<Self, Error> {
        Ok(Self {
            id: ApplianceId::from_uuid(row.id),
            site_id: SiteId::from_uuid(row.site_id),
            partner_id: PartnerId::from_uuid(row.partner_id),
            public_key: public_key(row.public_key)?,
        })
    }
}

impl ApplianceStore for Store {
    fn create_appliance<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: &'a NewAppliance,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Appliance> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, ApplianceRow>(concat!(
                "INSERT INTO appliances (id, site_id, name, claim_code_hash, created_at, mac,
                    mac_armed_at)
                 SELECT $6, $7, $8, $9, $10, $11, $12 WHERE ",
                site_visible!("$7"),
                " RETURNING ",
                appliance_columns!()
            ));
            bind_sites(query, scope)
                .bind(appliance.id.as_uuid())
                .bind(appliance.site_id.as_uuid())
                .bind(appliance.name.as_str())
                .bind(appliance.claim_code.as_bytes().as_slice())
                .bind(now)
                .bind(appliance.mac.map(|mac| mac.to_string()))
                .bind(appliance.mac.map(|_| now))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("creating an appliance"))?
                .ok_or_else(|| Error::not_found("site", appliance.site_id))?
                .try_into()
        })
    }

    fn claim_appliance<'a>(
        &'a self,
        claim_code: &'a TokenHash,
        public_key: &'a PublicKey,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, ApplianceIdentity> {
        Box::pin(async move {
            // One statement: the code (and any MAC arming) is consumed
            // exactly when the key is set.
            let claimed = sqlx::query_scalar::<_, Uuid>(
                "UPDATE appliances SET public_key = $1, claim_code_hash = NULL, mac_armed_at = NULL
                 WHERE claim_code_hash = $2 AND public_key IS NULL RETURNING id",
            )
            .bind(public_key.as_bytes().as_slice())
            .bind(claim_code.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("claiming an appliance"))?
            .ok_or_else(|| Error::not_found("claim code", format!("{claim_code:?}")))?;
            self.appliance_identity(ApplianceId::from_uuid(claimed))
                .await
        })
    }

    fn claim_appliance_by_mac<'a>(
        &'a self,
        mac: MacAddress,
        public_key: &'a PublicKey,
        armed_since: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> BoxFuture<'a, ApplianceIdentity> {
        Box::pin(async move {
            // One statement, like the code: the arming and the code are
            // consumed exactly when the key is set, so a MAC claims once.
            let claimed = sqlx::query_scalar::<_, Uuid>(
                "UPDATE appliances SET public_key = $1, claim_code_hash = NULL, mac_armed_at = NULL
                 WHERE mac = $2 AND public_key IS NULL AND mac_armed_at >= $3 RETURNING id",
            )
            .bind(public_key.as_bytes().as_slice())
            .bind(mac.to_string())
            .bind(armed_since)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("claiming an appliance by MAC address"))?
            .ok_or_else(|| Error::not_found("mac", mac))?;
            self.appliance_identity(ApplianceId::from_uuid(claimed))
                .await
        })
    }

    fn appliance_identity(&self, id: ApplianceId) -> BoxFuture<'_, ApplianceIdentity> {
        Box::pin(async move {
            sqlx::query_as::<_, IdentityRow>(
                "SELECT a.id, a.site_id, c.partner_id, a.public_key FROM appliances a
                 JOIN sites s ON s.id = a.site_id JOIN clients c ON c.id = s.client_id
                 WHERE a.id = $1 AND a.public_key IS NOT NULL",
            )
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading an appliance identity"))?
            .ok_or_else(|| Error::not_found("appliance", id))?
            .try_into()
        })
    }

    fn record_checkin<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: ApplianceId,
        agent_version: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Appliance> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, ApplianceRow>(concat!(
                "UPDATE appliances SET last_checkin_at = $7, agent_version = $8 WHERE id = $6 AND ",
                site_visible!("site_id"),
                " RETURNING ",
                appliance_columns!()
            ));
            bind_sites(query, scope)
                .bind(id.as_uuid())
                .bind(now)
                .bind(agent_version)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("recording a check-in"))?
                .ok_or_else(|| Error::not_found("appliance", id))?
                .try_into()
        })
    }

    fn get_appliance<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: ApplianceId,
    ) -> BoxFuture<'a, Appliance> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, ApplianceRow>(concat!(
                "SELECT ",
                appliance_columns!(),
                " FROM appliances WHERE id = $6 AND ",
                site_visible!("site_id")
            ));
            bind_sites(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading an appliance"))?
                .ok_or_else(|| Error::not_found("appliance", id))?
                .try_into()
        })
    }

    fn list_appliances<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Appliance>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, ApplianceRow>(concat!(
                "SELECT ",
                appliance_columns!(),
                " FROM appliances WHERE ",
                site_visible!("site_id"),
                " ORDER BY site_id, name, id"
            ));
            bind_sites(query, scope)
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing appliances"))?
                .into_iter()
                .map(Appliance::try_from)
                .collect()
        })
    }
}
