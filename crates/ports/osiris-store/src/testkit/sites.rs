//! Sites: settings round trip, uniqueness, visibility for every kind of scope.

use chrono::NaiveTime;
use chrono_tz::Tz;
use osiris_core::{SiteId, UserId};

use crate::testkit::world::{World, password, settings, username};
use crate::testkit::{assert_conflict, assert_not_found, at};
use crate::{
    HealingMode, MaintenanceWindow, Membership, NewSite, NewUser, SiteSettings, Store, TenantScope,
    constraint,
};

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);

    assert_eq!(a.site.partner_id, a.partner.id);
    assert_eq!(a.site.client_id, a.client.id);
    assert_eq!(a.site.settings, settings());
    for scope in [
        &world.platform,
        &a.partner_scope,
        &a.client_scope,
        &a.appliance_scope,
    ] {
        assert_eq!(store.get_site(scope, a.site.id).await.unwrap(), a.site);
    }
    for scope in [&b.partner_scope, &b.client_scope, &b.appliance_scope] {
        assert_not_found(
            store.get_site(scope, a.site.id).await,
            "site",
            "another tenant reading a site",
        );
    }
    assert_eq!(
        store.list_sites(&a.partner_scope).await.unwrap(),
        std::slice::from_ref(&a.site)
    );
    assert_eq!(
        store.list_sites(&b.client_scope).await.unwrap(),
        std::slice::from_ref(&b.site)
    );
    assert_eq!(
        store.list_sites(&b.appliance_scope).await.unwrap(),
        std::slice::from_ref(&b.site)
    );
    assert_eq!(store.list_sites(&world.platform).await.unwrap().len(), 2);

    let changed = SiteSettings {
        maintenance_window: MaintenanceWindow {
            time_zone: Tz::America__New_York,
            starts_at: NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
            duration_minutes: 90,
        },
        healing_mode: HealingMode::Heal,
    };
    assert_not_found(
        store
            .update_site_settings(&b.partner_scope, a.site.id, &changed, at(6))
            .await,
        "site",
        "another partner changing a site's settings",
    );
    assert_eq!(
        store.get_site(&world.platform, a.site.id).await.unwrap(),
        a.site
    );
    let updated = store
        .update_site_settings(&a.partner_scope, a.site.id, &changed, at(6))
        .await
        .unwrap();
    assert_eq!(updated.settings, changed);
    assert_eq!(updated.updated_at, at(6));
    assert_eq!(updated.created_at, a.site.created_at);
    for mode in HealingMode::ALL {
        let next = SiteSettings {
            healing_mode: *mode,
            ..changed
        };
        let site = store
            .update_site_settings(&world.platform, a.site.id, &next, at(7))
            .await
            .unwrap();
        assert_eq!(site.settings.healing_mode, *mode);
    }

    let mut poached = NewSite {
        id: SiteId::random(),
        client_id: b.client.id,
        name: "branch".to_owned(),
        settings: settings(),
    };
    assert_not_found(
        store.create_site(&a.partner_scope, &poached, at(8)).await,
        "client",
        "a partner creating a site for another partner's client",
    );
    poached.client_id = a.client.id;
    poached.name = a.site.name.clone();
    assert_conflict(
        store.create_site(&a.partner_scope, &poached, at(8)).await,
        constraint::SITE_NAME,
        "a second site with the same name under one client",
    );

    // An auditor sees nothing until granted a site, then only that site.
    let auditor = store
        .create_user(
            &world.platform,
            &NewUser {
                id: UserId::random(),
                username: username("auditor@example.org"),
                membership: Membership::Auditor,
                password_hash: password("auditor"),
            },
            at(8),
        )
        .await
        .unwrap();
    let auditor_scope = TenantScope::for_user(&auditor);
    assert!(store.list_sites(&auditor_scope).await.unwrap().is_empty());
    assert_not_found(
        store
            .grant_auditor_site(&a.partner_scope, auditor.id, b.site.id)
            .await,
        "site",
        "a partner granting another partner's site",
    );
    store
        .grant_auditor_site(&world.platform, auditor.id, a.site.id)
        .await
        .unwrap();
    let visible = store.list_sites(&auditor_scope).await.unwrap();
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0].id, a.site.id);
    assert_not_found(
        store.get_site(&auditor_scope, b.site.id).await,
        "site",
        "an auditor reading a site not granted",
    );
}
