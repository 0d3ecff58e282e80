//! Two complete tenants, built through the store itself.

use chrono_tz::Tz;
use osiris_core::{ApplianceId, ClientId, PartnerId, Secret, SiteId, UserId};

use crate::testkit::at;
use crate::{
    Appliance, ApplianceIdentity, Client, HealingMode, MaintenanceWindow, Membership, NewAppliance,
    NewClient, NewPartner, NewSite, NewUser, Partner, PasswordHash, PublicKey, Site, SiteSettings,
    Store, TenantScope, TokenHash, User, Username,
};

/// One partner with one client, one site, one claimed appliance, a partner
/// user and a client user.
pub(super) struct Tenant {
    pub(super) partner: Partner,
    pub(super) client: Client,
    pub(super) site: Site,
    pub(super) appliance: Appliance,
    pub(super) identity: ApplianceIdentity,
    pub(super) partner_user: User,
    pub(super) client_user: User,
    pub(super) partner_scope: TenantScope,
    pub(super) client_scope: TenantScope,
    pub(super) appliance_scope: TenantScope,
}

pub(super) struct World {
    pub(super) platform: TenantScope,
    pub(super) a: Tenant,
    pub(super) b: Tenant,
}

pub(super) fn settings() -> SiteSettings {
    SiteSettings {
        maintenance_window: MaintenanceWindow {
            time_zone: Tz::Europe__Berlin,
            starts_at: chrono::NaiveTime::from_hms_opt(22, 0, 0).expect("valid time"),
            duration_minutes: 240,
        },
        healing_mode: HealingMode::Observe,
    }
}

pub(super) fn password(label: &str) -> PasswordHash {
    PasswordHash::new(format!(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${label}"
    ))
}

pub(super) fn username(name: &str) -> Username {
    Username::parse(name).expect("valid username")
}

pub(super) fn claim_code(label: &str) -> TokenHash {
    TokenHash::of(&Secret::new(format!("claim-{label}")))
}

impl World {
    pub(super) async fn build(store: &dyn Store) -> Self {
        let platform = TenantScope::platform();
        let a = Tenant::build(store, &platform, "alpha", 1).await;
        let b = Tenant::build(store, &platform, "bravo", 2).await;
        Self { platform, a, b }
    }
}

impl Tenant {
    async fn build(store: &dyn Store, platform: &TenantScope, name: &str, key: u8) -> Self {
        let partner = store
            .create_partner(
                platform,
                &NewPartner {
                    id: PartnerId::random(),
                    name: format!("{name} msp"),
                },
                at(0),
            )
            .await
            .expect("platform creates a partner");
        let partner_user = store
            .create_user(
                platform,
                &NewUser {
                    id: UserId::random(),
                    username: username(&format!("{name}-tech")),
                    membership: Membership::Partner(partner.id),
                    password_hash: password(name),
                },
                at(0),
            )
            .await
            .expect("platform creates a partner user");
        let partner_scope = TenantScope::for_user(&partner_user);
        let client = store
            .create_client(
                &partner_scope,
                &NewClient {
                    id: ClientId::random(),
                    partner_id: partner.id,
                    name: format!("{name} dental"),
                },
                at(1),
            )
            .await
            .expect("a partner creates its own client");
        let client_user = store
            .create_user(
                &partner_scope,
                &NewUser {
                    id: UserId::random(),
                    username: username(&format!("{name}-manager")),
                    membership: Membership::Client(client.id),
                    password_hash: password(name),
                },
                at(1),
            )
            .await
            .expect("a partner creates a user for its own client");
        let client_scope = TenantScope::for_user(&client_user);
        let site = store
            .create_site(
                &partner_scope,
                &NewSite {
                    id: SiteId::random(),
                    client_id: client.id,
                    name: "main office".to_owned(),
                    settings: settings(),
                },
                at(2),
            )
            .await
            .expect("a partner creates a site for its own client");
        let appliance = store
            .create_appliance(
                &partner_scope,
                &NewAppliance {
                    id: ApplianceId::random(),
                    site_id: site.id,
                    name: format!("{name}-appliance"),
                    claim_code: claim_code(name),
                    mac: None,
                },
                at(3),
            )
            .await
            .expect("a partner creates an appliance at its own site");
        let identity = store
            .claim_appliance(&claim_code(name), &PublicKey::from_bytes([key; 32]), at(4))
            .await
            .expect("the appliance claims its identity");
        let appliance_scope = TenantScope::for_appliance(&identity);
        Self {
            partner,
            client,
            site,
            appliance,
            identity,
            partner_user,
            client_user,
            partner_scope,
            client_scope,
            appliance_scope,
        }
    }
}
