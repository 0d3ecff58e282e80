//! Orders: nonce uniqueness, deliver-once, legal and illegal transitions,
//! expiry, visibility.

use chrono::Duration;
use osiris_core::{OrderId, RunbookId};

use crate::testkit::world::World;
use crate::testkit::{assert_conflict, assert_illegal, assert_not_found, at};
use crate::{NewOrder, OrderFilter, OrderOutcome, OrderState, Store, constraint};

fn order(world: &World, nonce: &str, minute: i64) -> NewOrder {
    NewOrder {
        id: OrderId::random(),
        appliance_id: world.a.appliance.id,
        runbook_id: "RB-WIN-FIREWALL-001".parse::<RunbookId>().unwrap(),
        params: serde_json::json!({"profile": "domain", "enabled": true}),
        target: None,
        nonce: nonce.to_owned(),
        issued_at: at(minute),
        expires_at: at(minute) + Duration::minutes(15),
        created_by: Some(world.a.partner_user.id),
    }
}

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);

    let first = order(world, "nonce-1", 100);
    let created = store.create_order(&a.partner_scope, &first).await.unwrap();
    assert_eq!(created.state, OrderState::Pending);
    assert_eq!(created.site_id, a.site.id);
    assert_eq!(created.params, first.params);
    assert_eq!(created.delivered_at, None);
    assert_eq!(created.target, None, "no target: every suitable host");
    assert_conflict(
        store
            .create_order(&a.partner_scope, &order(world, "nonce-1", 100))
            .await,
        constraint::ORDER_NONCE,
        "a reused nonce",
    );
    let mut foreign = order(world, "nonce-foreign", 100);
    foreign.appliance_id = b.appliance.id;
    assert_not_found(
        store.create_order(&a.partner_scope, &foreign).await,
        "appliance",
        "a partner ordering another partner's appliance",
    );

    // Delivered once: a second check-in (on any replica) gets nothing.
    let delivered = store
        .take_undelivered_orders(&a.appliance_scope, a.appliance.id, at(101))
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].id, first.id);
    assert_eq!(delivered[0].delivered_at, Some(at(101)));
    assert!(
        store
            .take_undelivered_orders(&a.appliance_scope, a.appliance.id, at(102))
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(
        store
            .take_undelivered_orders(&b.appliance_scope, a.appliance.id, at(102))
            .await,
        "appliance",
        "an appliance taking another appliance's orders",
    );

    assert_not_found(
        store
            .record_order_result(
                &b.appliance_scope,
                first.id,
                OrderOutcome::Failed,
                "",
                at(103),
            )
            .await,
        "order",
        "another tenant reporting an order's result",
    );
    let executed = store
        .record_order_result(
            &a.appliance_scope,
            first.id,
            OrderOutcome::Executed,
            "verified",
            at(103),
        )
        .await
        .unwrap();
    assert_eq!(executed.state, OrderState::Executed);
    assert_eq!(executed.completed_at, Some(at(103)));
    assert_eq!(executed.result_detail.as_deref(), Some("verified"));
    assert_illegal(
        store
            .record_order_result(
                &a.appliance_scope,
                first.id,
                OrderOutcome::Failed,
                "late",
                at(104),
            )
            .await,
        "failed",
        "a second result for an executed order",
    );

    for (index, outcome) in [
        OrderOutcome::Failed,
        OrderOutcome::RolledBack,
        OrderOutcome::Refused,
    ]
    .into_iter()
    .enumerate()
    {
        let next = order(world, &format!("nonce-outcome-{index}"), 110);
        store.create_order(&world.platform, &next).await.unwrap();
        let done = store
            .record_order_result(&a.appliance_scope, next.id, outcome, "detail", at(111))
            .await
            .unwrap();
        assert_eq!(done.state, outcome.state());
    }

    // A target (a host name at the site) is kept and read back as given.
    let targeted = NewOrder {
        target: Some("dc01".to_owned()),
        ..order(world, "nonce-targeted", 112)
    };
    let stored = store
        .create_order(&a.partner_scope, &targeted)
        .await
        .unwrap();
    assert_eq!(stored.target.as_deref(), Some("dc01"));
    assert_eq!(
        store
            .get_order(&a.client_scope, targeted.id)
            .await
            .unwrap()
            .target
            .as_deref(),
        Some("dc01")
    );
    let delivered = store
        .take_undelivered_orders(&a.appliance_scope, a.appliance.id, at(113))
        .await
        .unwrap();
    let delivered: Vec<_> = delivered
        .iter()
        .map(|o| (o.id, o.target.as_deref()))
        .collect();
    assert!(
        delivered.contains(&(targeted.id, Some("dc01"))),
        "{delivered:?}"
    );
    // Ended here, so the expiry steps below count only their own orders.
    store
        .record_order_result(
            &a.appliance_scope,
            targeted.id,
            OrderOutcome::Executed,
            "",
            at(114),
        )
        .await
        .unwrap();

    // Expiry: a pending order past expires_at becomes expired, is never
    // delivered, accepts no result; the sweep respects scope.
    let stale = order(world, "nonce-stale", 120);
    store.create_order(&a.partner_scope, &stale).await.unwrap();
    let mut stale_b = order(world, "nonce-stale-b", 120);
    stale_b.appliance_id = b.appliance.id;
    store
        .create_order(&b.partner_scope, &stale_b)
        .await
        .unwrap();
    assert_eq!(
        store
            .expire_orders(&a.partner_scope, at(134))
            .await
            .unwrap(),
        0,
        "not yet"
    );
    assert_eq!(
        store
            .expire_orders(&a.partner_scope, at(135))
            .await
            .unwrap(),
        1,
        "only its own"
    );
    assert!(
        store
            .take_undelivered_orders(&a.appliance_scope, a.appliance.id, at(136))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_order(&a.client_scope, stale.id)
            .await
            .unwrap()
            .state,
        OrderState::Expired
    );
    assert_eq!(
        store
            .get_order(&world.platform, stale_b.id)
            .await
            .unwrap()
            .state,
        OrderState::Pending
    );
    assert_illegal(
        store
            .record_order_result(
                &a.appliance_scope,
                stale.id,
                OrderOutcome::Executed,
                "",
                at(136),
            )
            .await,
        "executed",
        "a result for an expired order",
    );
    assert_eq!(
        store.expire_orders(&world.platform, at(136)).await.unwrap(),
        1
    );

    let undelivered_expired = order(world, "nonce-expired-undelivered", 140);
    store
        .create_order(&a.partner_scope, &undelivered_expired)
        .await
        .unwrap();
    assert!(
        store
            .take_undelivered_orders(&a.appliance_scope, a.appliance.id, at(155))
            .await
            .unwrap()
            .is_empty(),
        "an order at its expiry instant is not delivered"
    );

    assert_not_found(
        store.get_order(&b.partner_scope, first.id).await,
        "order",
        "another partner reading an order",
    );
    let listed = store
        .list_orders(&a.client_scope, OrderFilter::default())
        .await
        .unwrap();
    assert_eq!(
        listed.len(),
        7,
        "every order of the tenant, none of the other"
    );
    assert!(listed.iter().all(|o| o.site_id == a.site.id));
    assert!(
        listed.windows(2).all(|w| w[0].issued_at >= w[1].issued_at),
        "newest first"
    );
    let expired = store
        .list_orders(
            &world.platform,
            OrderFilter {
                state: Some(OrderState::Expired),
                site: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(expired.len(), 2);
    let at_b = store
        .list_orders(
            &a.partner_scope,
            OrderFilter {
                state: None,
                site: Some(b.site.id),
            },
        )
        .await
        .unwrap();
    assert!(
        at_b.is_empty(),
        "filtering on another tenant's site lists nothing"
    );
}
