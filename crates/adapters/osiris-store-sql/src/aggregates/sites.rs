//! Sites and their settings.

use chrono::{DateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use osiris_core::{ClientId, PartnerId, SiteId};
use osiris_store::{
    BoxFuture, Error, HealingMode, MaintenanceWindow, NewSite, Site, SiteSettings, SiteStore,
    TenantScope,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_clients, bind_sites, client_visible, site_visible};
use crate::db::{backend, count, parse};

macro_rules! select_sites {
    () => {
        "SELECT s.id, s.client_id, c.partner_id, s.name, s.time_zone, s.window_start_minute,
                s.window_duration_minutes, s.healing_mode, s.created_at, s.updated_at
         FROM sites s JOIN clients c ON c.id = s.client_id WHERE "
    };
}

#[derive(sqlx::FromRow)]
struct SiteRow {
    id: Uuid,
    client_id: Uuid,
    partner_id: Uuid,
    name: String,
    time_zone: String,
    window_start_minute: i64,
    window_duration_minutes: i64,
    healing_mode: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<SiteRow> for Site {
    type Error = Error;
    fn try_from(row: SiteRow) -> Result<Self, Error> {
        let time_zone = row.time_zone.parse::<Tz>().map_err(|_| {
            Error::corrupt(
                "sites",
                "time_zone",
                format!("unknown zone {:?}", row.time_zone),
            )
        })?;
        let minute: u32 = count(row.window_start_minute, "sites", "window_start_minute")?;
        let starts_at = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0)
            .ok_or_else(|| Error::corrupt("sites", "window_start_minute", minute))?;
        Ok(Self {
            id: SiteId::from_uuid(row.id),
            client_id: ClientId::from_uuid(row.client_id),
            partner_id: PartnerId::from_uuid(row.partner_id),
            name: row.name,
            settings: SiteSettings {
                maintenance_window: MaintenanceWindow {
                    time_zone,
                    starts_at,
                    duration_minutes: count(
                        row.window_duration_minutes,
                        "sites",
                        "window_duration_minutes",
                    )?,
                },
                healing_mode: parse(
                    HealingMode::parse(&row.healing_mode),
                    "sites",
                    "healing_mode",
                    &row.healing_mode,
                )?,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn start_minute(settings: &SiteSettings) -> i64 {
    let start = settings.maintenance_window.starts_at;
    i64::from(start.hour() * 60 + start.minute())
}

impl SiteStore for Store {
    fn create_site<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: &'a NewSite,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Site> {
        Box::pin(async move {
            let window = &site.settings.maintenance_window;
            let query = sqlx::query_scalar::<_, Uuid>(concat!(
                "INSERT INTO sites (id, client_id, name, time_zone, window_start_minute,
                    window_duration_minutes, healing_mode, created_at, updated_at)
                 SELECT $4, c.id, $6, $7, $8, $9, $10, $11, $11 FROM clients c WHERE c.id = $5 AND ",
                client_visible!("c"),
                " RETURNING id"
            ));
            let inserted = bind_clients(query, scope)
                .bind(site.id.as_uuid())
                .bind(site.client_id.as_uuid())
                .bind(site.name.as_str())
                .bind(window.time_zone.name())
                .bind(start_minute(&site.settings))
                .bind(i64::from(window.duration_minutes))
                .bind(site.settings.healing_mode.as_str())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("creating a site"))?;
            if inserted.is_none() {
                return Err(Error::not_found("client", site.client_id));
            }
            self.get_site(scope, site.id).await
        })
    }

    fn get_site<'a>(&'a self, scope: &'a TenantScope, id: SiteId) -> BoxFuture<'a, Site> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, SiteRow>(concat!(
                select_sites!(),
                "s.id = $6 AND ",
                site_visible!("s.id")
            ));
            bind_sites(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a site"))?
                .ok_or_else(|| Error::not_found("site", id))?
                .try_into()
        })
    }

    fn list_sites<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Site>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, SiteRow>(concat!(
                select_sites!(),
                site_visible!("s.id"),
                " ORDER BY s.name, s.id"
            ));
            bind_sites(query, scope)
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing sites"))?
                .into_iter()
                .map(Site::try_from)
                .collect()
        })
    }

    fn update_site_settings<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: SiteId,
        settings: &'a SiteSettings,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Site> {
        Box::pin(async move {
            let window = &settings.maintenance_window;
            let query = sqlx::query(concat!(
                "UPDATE sites SET time_zone = $7, window_start_minute = $8,
                    window_duration_minutes = $9, healing_mode = $10, updated_at = $11
                 WHERE id = $6 AND ",
                site_visible!("id")
            ));
            let updated = bind_sites(query, scope)
                .bind(id.as_uuid())
                .bind(window.time_zone.name())
                .bind(start_minute(settings))
                .bind(i64::from(window.duration_minutes))
                .bind(settings.healing_mode.as_str())
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(backend("updating site settings"))?;
            if updated.rows_affected() == 0 {
                return Err(Error::not_found("site", id));
            }
            self.get_site(scope, id).await
        })
    }
}
