//! Appliances (claim, identity, check-in) and hosts.

use osiris_core::{ApplianceId, HostId, MacAddress};

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
                mac: None,
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
                    mac: None,
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
                    mac: Some(mac("02:00:00:00:00:99")),
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

    mac_provisioning(store, world).await;
    hosts(store, world).await;
}

fn mac(text: &str) -> MacAddress {
    text.parse().unwrap()
}

/// An appliance armed with a MAC address is claimed by it once, only while
/// unclaimed and only if armed at or after the given instant.
async fn mac_provisioning(store: &dyn Store, world: &World) {
    let a = &world.a;
    let armed_mac = mac("02:00:00:00:00:01");
    let new = |name: &str, mac: MacAddress| NewAppliance {
        id: ApplianceId::random(),
        site_id: a.site.id,
        name: name.to_owned(),
        claim_code: claim_code(name),
        mac: Some(mac),
    };
    let armed = store
        .create_appliance(&a.partner_scope, &new("armed", armed_mac), at(20))
        .await
        .unwrap();
    assert_eq!(armed.mac, Some(armed_mac));
    assert_eq!(armed.mac_armed_at, Some(at(20)));
    assert_conflict(
        store
            .create_appliance(&a.partner_scope, &new("armed-twin", armed_mac), at(20))
            .await,
        constraint::APPLIANCE_UNCLAIMED_MAC,
        "two unclaimed appliances armed with one MAC",
    );
    let key = PublicKey::from_bytes([21; 32]);
    assert_not_found(
        store
            .claim_appliance_by_mac(mac("02:00:00:00:00:02"), &key, at(0), at(21))
            .await,
        "mac",
        "a claim by a MAC nobody armed",
    );
    assert_not_found(
        store
            .claim_appliance_by_mac(armed_mac, &key, at(21), at(21))
            .await,
        "mac",
        "a claim by a MAC armed before the window",
    );
    let identity = store
        .claim_appliance_by_mac(armed_mac, &key, at(20), at(21))
        .await
        .unwrap();
    assert_eq!(identity.id, armed.id);
    assert_eq!(identity.site_id, a.site.id);
    assert_eq!(identity.public_key, key);
    assert_not_found(
        store
            .claim_appliance_by_mac(armed_mac, &PublicKey::from_bytes([22; 32]), at(0), at(21))
            .await,
        "mac",
        "a MAC claiming twice",
    );
    assert_not_found(
        store
            .claim_appliance(
                &claim_code("armed"),
                &PublicKey::from_bytes([22; 32]),
                at(21),
            )
            .await,
        "claim code",
        "the claim code of an appliance claimed by MAC",
    );
    let claimed = store
        .get_appliance(&a.partner_scope, armed.id)
        .await
        .unwrap();
    assert_eq!(claimed.mac, Some(armed_mac), "the MAC stays on record");
    assert_eq!(claimed.mac_armed_at, None, "but no longer claims");

    // A claimed appliance no longer holds its MAC: a replacement unit can
    // be armed with it. Claiming by code disarms the MAC.
    let replacement = store
        .create_appliance(&a.partner_scope, &new("replacement", armed_mac), at(22))
        .await
        .unwrap();
    store
        .claim_appliance(
            &claim_code("replacement"),
            &PublicKey::from_bytes([23; 32]),
            at(22),
        )
        .await
        .unwrap();
    assert_not_found(
        store
            .claim_appliance_by_mac(armed_mac, &PublicKey::from_bytes([24; 32]), at(0), at(23))
            .await,
        "mac",
        "a MAC claim after a claim by code",
    );
    assert_eq!(
        store
            .get_appliance(&a.partner_scope, replacement.id)
            .await
            .unwrap()
            .mac_armed_at,
        None
    );
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

    inventory(store, world, &host).await;
}

/// An appliance's inventory adds new hosts and updates known ones in
/// place, all or nothing, within its own site.
async fn inventory(store: &dyn Store, world: &World, dc01: &crate::Host) {
    let (a, b) = (&world.a, &world.b);
    let entry = |hostname: &str, platform: Platform, address: &str| NewHost {
        id: HostId::random(),
        site_id: a.site.id,
        hostname: hostname.to_owned(),
        platform,
        address: address.to_owned(),
    };
    let stored = store
        .upsert_hosts(
            &a.appliance_scope,
            &[
                entry("web01", Platform::Debian, "10.0.0.30"),
                entry("dc01", Platform::Windows, "10.0.0.11"),
                entry("db01", Platform::Rhel, "db01.example.internal"),
            ],
            at(13),
        )
        .await
        .unwrap();
    let names: Vec<&str> = stored.iter().map(|h| h.hostname.as_str()).collect();
    assert_eq!(names, ["web01", "dc01", "db01"], "in the order given");
    let [web01, moved, db01] = stored.as_slice() else {
        panic!("three hosts stored");
    };
    assert_eq!(web01.platform, Platform::Debian);
    assert_eq!(web01.created_at, at(13));
    assert_eq!(db01.platform, Platform::Rhel);
    assert_eq!(moved.id, dc01.id, "a known host keeps its id");
    assert_eq!(moved.created_at, dc01.created_at);
    assert_eq!(moved.address, "10.0.0.11", "and takes the new address");
    assert_eq!(
        store.get_host(&a.client_scope, dc01.id).await.unwrap(),
        *moved
    );
    // Again, unchanged: nothing new.
    store
        .upsert_hosts(
            &a.appliance_scope,
            &[entry("web01", Platform::Debian, "10.0.0.30")],
            at(14),
        )
        .await
        .unwrap();
    let names: Vec<String> = store
        .list_hosts(&a.appliance_scope, a.site.id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.hostname)
        .collect();
    assert_eq!(names, ["db01", "dc01", "ehr01", "web01"]);

    // Another tenant's site, even after valid entries: nothing is stored.
    assert_not_found(
        store
            .upsert_hosts(
                &b.appliance_scope,
                &[
                    NewHost {
                        site_id: b.site.id,
                        ..entry("b-web01", Platform::Debian, "10.1.0.30")
                    },
                    entry("planted", Platform::Windows, "10.0.0.66"),
                ],
                at(14),
            )
            .await,
        "site",
        "an appliance adding hosts to another tenant's site",
    );
    assert!(
        store
            .list_hosts(&b.partner_scope, b.site.id)
            .await
            .unwrap()
            .is_empty(),
        "all or nothing"
    );
    assert_eq!(
        store
            .list_hosts(&a.partner_scope, a.site.id)
            .await
            .unwrap()
            .len(),
        4
    );
}
