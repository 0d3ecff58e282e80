//! Partners and clients: creation rights, uniqueness, visibility.

use osiris_core::{ClientId, PartnerId};

use crate::testkit::world::World;
use crate::testkit::{assert_conflict, assert_not_found, at};
use crate::{Error, NewClient, NewPartner, Store, constraint};

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);

    let duplicate = NewPartner {
        id: PartnerId::random(),
        name: a.partner.name.clone(),
    };
    assert_conflict(
        store
            .create_partner(&world.platform, &duplicate, at(5))
            .await,
        constraint::PARTNER_NAME,
        "a second partner with the same name",
    );
    let by_partner = NewPartner {
        id: PartnerId::random(),
        name: "rogue msp".to_owned(),
    };
    match store
        .create_partner(&a.partner_scope, &by_partner, at(5))
        .await
    {
        Err(Error::OutOfScope { .. }) => {}
        other => panic!("a partner creating a partner: expected OutOfScope, got {other:?}"),
    }

    let partners = store.list_partners(&world.platform).await.unwrap();
    let names: Vec<&str> = partners.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["alpha msp", "bravo msp"],
        "platform lists every partner by name"
    );
    assert_eq!(
        store.list_partners(&a.partner_scope).await.unwrap(),
        std::slice::from_ref(&a.partner)
    );
    assert_eq!(
        store
            .get_partner(&a.partner_scope, a.partner.id)
            .await
            .unwrap(),
        a.partner
    );
    assert_not_found(
        store.get_partner(&a.partner_scope, b.partner.id).await,
        "partner",
        "a partner reading another partner",
    );
    assert!(
        store
            .list_partners(&a.client_scope)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_partners(&a.appliance_scope)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store.list_clients(&a.partner_scope).await.unwrap(),
        std::slice::from_ref(&a.client)
    );
    assert_eq!(
        store.list_clients(&b.client_scope).await.unwrap(),
        std::slice::from_ref(&b.client)
    );
    assert_eq!(store.list_clients(&world.platform).await.unwrap().len(), 2);
    assert_eq!(
        store
            .get_client(&a.client_scope, a.client.id)
            .await
            .unwrap(),
        a.client
    );
    assert_not_found(
        store.get_client(&a.partner_scope, b.client.id).await,
        "client",
        "a partner reading another partner's client",
    );
    assert_not_found(
        store.get_client(&a.client_scope, b.client.id).await,
        "client",
        "a client reading another client",
    );

    let into_other = NewClient {
        id: ClientId::random(),
        partner_id: b.partner.id,
        name: "poached practice".to_owned(),
    };
    assert_not_found(
        store
            .create_client(&a.partner_scope, &into_other, at(5))
            .await,
        "partner",
        "a partner creating a client under another partner",
    );
    assert_not_found(
        store
            .create_client(&a.client_scope, &into_other, at(5))
            .await,
        "partner",
        "a client creating a client",
    );
    let same_name = NewClient {
        id: ClientId::random(),
        partner_id: a.partner.id,
        name: a.client.name.clone(),
    };
    assert_conflict(
        store
            .create_client(&a.partner_scope, &same_name, at(5))
            .await,
        constraint::CLIENT_NAME,
        "a second client with the same name under one partner",
    );
    let same_name_elsewhere = NewClient {
        partner_id: b.partner.id,
        ..same_name
    };
    let created = store
        .create_client(&b.partner_scope, &same_name_elsewhere, at(5))
        .await
        .expect("client names are unique only within a partner");
    assert_eq!(created.partner_id, b.partner.id);
    assert_eq!(created.created_at, at(5));
}
