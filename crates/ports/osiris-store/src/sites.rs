//! Sites (one practice location each) and their settings.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use osiris_core::{ClientId, PartnerId, SiteId};

use crate::{BoxFuture, TenantScope};

text_enum!(
    /// What the appliance may do about drift at this site.
    HealingMode {
        /// Detect and report only.
        Observe = "observe",
        /// Plan the remediation and record it, without running it.
        DryRun = "dry_run",
        /// Remediate inside the guardrails.
        Heal = "heal",
    }
);

/// When disruptive runbooks may run: a daily window in the site's own time
/// zone (so it follows daylight saving time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// The site's IANA time zone.
    pub time_zone: Tz,
    /// Local start time, minute resolution (seconds are dropped on store).
    pub starts_at: NaiveTime,
    /// Length in minutes.
    pub duration_minutes: u16,
}

/// A site's settings, as edited through `PUT /api/sites/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteSettings {
    /// When disruptive work may run.
    pub maintenance_window: MaintenanceWindow,
    /// What the appliance may do.
    pub healing_mode: HealingMode,
}

/// A practice location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Its id.
    pub id: SiteId,
    /// The practice it belongs to.
    pub client_id: ClientId,
    /// The partner serving that practice.
    pub partner_id: PartnerId,
    /// Display name, unique within the client.
    pub name: String,
    /// Its settings.
    pub settings: SiteSettings,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its settings last changed.
    pub updated_at: DateTime<Utc>,
}

/// A site to create.
#[derive(Debug, Clone)]
pub struct NewSite {
    /// Its id, chosen by the caller.
    pub id: SiteId,
    /// The practice; must be visible to the caller.
    pub client_id: ClientId,
    /// Display name, unique within the client.
    pub name: String,
    /// Initial settings.
    pub settings: SiteSettings,
}

/// Sites. Visible to the platform, the partner serving the site's client,
/// that client, auditors granted the site, and the site's own appliances.
pub trait SiteStore {
    /// Creates a site under a visible client (else `NotFound` client).
    fn create_site<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: &'a NewSite,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Site>;

    /// One site.
    fn get_site<'a>(&'a self, scope: &'a TenantScope, id: SiteId) -> BoxFuture<'a, Site>;

    /// Every visible site, by name then id.
    fn list_sites<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Site>>;

    /// Replaces a visible site's settings.
    fn update_site_settings<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: SiteId,
        settings: &'a SiteSettings,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Site>;
}
