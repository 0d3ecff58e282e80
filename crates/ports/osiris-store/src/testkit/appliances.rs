//! Appliances (claim, identity, check-in) and hosts.

use osiris_core::{ApplianceId, HostId};

use crate::testkit::world::{World, claim_code};
use crate::testkit::{assert_conflict, assert_not_found, at};
use crate::{NewAppliance, NewHost, Platform, PublicKey, Store, constraint};

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);

    assert_eq!(a.identity.id, a.appliance.id);
    assert_eq!(a.identity.site_id, a.site.id);
    assert_eq!(a.identity.partner_id, a.partner.id);
    assert_eq!(a.appliance.public_key, None, "created unclaimed");
    assert_eq!(
        store.appliance_identity(a.appliance.id).await.unwrap(),
        a.identity
    );
    let claimed = store
        .get_appliance(&a.partner_scope, a.appliance.id)
        .await
        .unwrap();
    assert_eq!(claimed.public_key, Some(a.identity.public_key));

    assert_not_found(
        store
            .claim_appliance(
                &claim_code("alpha"),
                &PublicKey::from_bytes([9; 32]),
                at(10),
            )
            .await,
        "claim code",
        "a claim code used twice",
    );
    let spare = store
        .create_appliance(
            &a.partner_scope,
            &NewAppliance {
                id: ApplianceId::random(),
                site_id: a.site.id,
                name: "spare".to_owned(),
                claim_code: claim_code("spare"),
            },
            at(10),
        )
        .await
        .unwrap();
    assert_not_found(
        store.appliance_identity(spare.id).await,
        "appliance",
        "the identity of an unclaimed appliance",
    );
    assert_conflict(
        store
            .claim_appliance(&claim_code("spare"), &a.identity.public_key, at(10))
            .await,
        constraint::APPLIANCE_PUBLIC_KEY,
        "claiming with a key another appliance has",
    );
    assert_conflict(
        store
            .create_appliance(
                &a.partner_scope,
                &NewAppliance {
                    id: ApplianceId::random(),
                    site_id: a.site.id,
                    name: "twin".to_owned(),
                    claim_code: claim_code("spare"),
                },
                at(10),
            )
            .await,
        constraint::APPLIANCE_CLAIM_CODE,
        "two appliances with one claim code",
    );
    assert_not_found(
        store
            .create_appliance(
                &a.partner_scope,
                &NewAppliance {
                    id: ApplianceId::random(),
                    site_id: b.site.id,
                    name: "planted".to_owned(),
                    claim_code: claim_code("planted"),
                },
                at(10),
            )
            .await,
        "site",
        "a partner creating an appliance at another partner's site",
    );

    let checked_in = store
        .record_checkin(&a.appliance_scope, a.appliance.id, "0.3.1", at(11))
        .await
        .unwrap();
    assert_eq!(checked_in.last_checkin_at, Some(at(11)));
    assert_eq!(checked_in.agent_version.as_deref(), Some("0.3.1"));
    assert_not_found(
        store
            .record_checkin(&a.appliance_scope, b.appliance.id, "0.3.1", at(11))
            .await,
        "appliance",
        "an appliance checking in as another tenant's appliance",
    );
    assert_not_found(
        store.get_appliance(&b.client_scope, a.appliance.id).await,
        "appliance",
        "another client reading an appliance",
    );
    let listed = store.list_appliances(&a.client_scope).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["alpha-appliance", "spare"]);
    assert_eq!(
        store.list_appliances(&b.partner_scope).await.unwrap().len(),
        1
    );
    assert_eq!(
        store.list_appliances(&world.platform).await.unwrap().len(),
        3
    );

    hosts(store, world).await;
}

async fn hosts(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let new = NewHost {
        id: HostId::random(),
        site_id: a.site.id,
        hostname: "dc01".to_owned(),
        platform: Platform::Windows,
        address: "10.0.0.10".to_owned(),
    };
    let host = store
        .create_host(&a.partner_scope, &new, at(12))
        .await
        .unwrap();
    assert_eq!(host.hostname, "dc01");
    assert_eq!(host.platform, Platform::Windows);
    assert_eq!(
        store.get_host(&a.appliance_scope, host.id).await.unwrap(),
        host
    );
    assert_conflict(
        store
            .create_host(
                &a.partner_scope,
                &NewHost {
                    id: HostId::random(),
                    ..new.clone()
                },
                at(12),
            )
            .await,
        constraint::HOST_NAME,
        "two hosts with one name at a site",
    );
    let linux = NewHost {
        id: HostId::random(),
        hostname: "ehr01".to_owned(),
        platform: Platform::Linux,
        ..new.clone()
    };
    store
        .create_host(&a.partner_scope, &linux, at(12))
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_hosts(&a.client_scope, a.site.id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.hostname)
        .collect();
    assert_eq!(names, ["dc01", "ehr01"]);
    assert_not_found(
        store.get_host(&b.partner_scope, host.id).await,
        "host",
        "another partner reading a host",
    );
    assert_not_found(
        store.list_hosts(&b.partner_scope, a.site.id).await,
        "site",
        "another partner listing a site's hosts",
    );
    assert_not_found(
        store
            .create_host(
                &b.partner_scope,
                &NewHost {
                    id: HostId::random(),
                    ..new
                },
                at(12),
            )
            .await,
        "site",
        "another partner adding a host to a site",
    );
    assert!(
        store
            .list_hosts(&b.partner_scope, b.site.id)
            .await
            .unwrap()
            .is_empty()
    );
}
