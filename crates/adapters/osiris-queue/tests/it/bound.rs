use osiris_queue::{Error, ItemKind};

use crate::support::Fixture;

/// The payload size of `fixture.item(n, padding)`.
fn item_size(fixture: &Fixture, padding: usize) -> u64 {
    fixture.item(0, padding).as_inner().to_string().len() as u64
}

#[tokio::test]
async fn over_the_bound_the_oldest_telemetry_is_dropped_first() {
    let mut fixture = Fixture::new();
    let size = item_size(&fixture, 100);
    // Room for exactly four items of this size.
    fixture.max_bytes = 4 * size;
    let queue = fixture.open().await;
    let incident = queue
        .push(ItemKind::Incident, fixture.item(0, 100))
        .await
        .unwrap();
    let mut telemetry = Vec::new();
    for n in 1..=3 {
        telemetry.push(
            queue
                .push(ItemKind::Telemetry, fixture.item(n, 100))
                .await
                .unwrap(),
        );
    }
    let order = queue
        .push(ItemKind::OrderResult, fixture.item(4, 100))
        .await
        .unwrap();
    let newest = queue
        .push(ItemKind::Telemetry, fixture.item(5, 100))
        .await
        .unwrap();

    let pending = queue.pending(10, 10).await.unwrap();
    assert_eq!(
        pending.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [incident, telemetry[2], order, newest],
        "the two oldest telemetry items go, in age order"
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.dropped_telemetry, 2);
    assert_eq!(stats.used_bytes, 4 * size);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn evidence_incidents_and_order_results_are_never_dropped_and_full_writes_nothing() {
    let mut fixture = Fixture::new();
    let size = item_size(&fixture, 100);
    let sealed = {
        let probe = Fixture::new();
        let queue = probe.open().await;
        let bytes = queue.append(probe.draft(0, 0)).await.unwrap().bytes;
        queue.close().await.unwrap();
        bytes
    };
    fixture.max_bytes = sealed + 2 * size + size / 2;
    let queue = fixture.open().await;
    let first = queue.append(fixture.draft(0, 0)).await.unwrap();
    let telemetry = queue
        .push(ItemKind::Telemetry, fixture.item(1, 100))
        .await
        .unwrap();
    let incident = queue
        .push(ItemKind::Incident, fixture.item(2, 100))
        .await
        .unwrap();

    // The next incident does not fit even without the telemetry: refused,
    // and the telemetry is not dropped for nothing.
    let big = fixture.item(3, 2 * usize::try_from(size).unwrap());
    let refused = queue.push(ItemKind::Incident, big).await.unwrap_err();
    assert!(matches!(refused, Error::Full { .. }), "{refused:?}");
    assert!(refused.to_string().starts_with("queue is full: "));
    assert_eq!(queue.stats().await.unwrap().dropped_telemetry, 0);

    // An order result of the same size fits once the telemetry goes.
    let order = queue
        .push(ItemKind::OrderResult, fixture.item(4, 100))
        .await
        .unwrap();
    let pending = queue.pending(10, 10).await.unwrap();
    assert_eq!(
        pending.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [incident, order]
    );
    assert!(!pending.items.iter().any(|i| i.id == telemetry));

    // Only undroppable entries remain: evidence and telemetry are refused.
    let refused = queue.append(fixture.draft(5, 0)).await.unwrap_err();
    assert!(matches!(refused, Error::Full { .. }), "{refused:?}");
    let refused = queue
        .push(ItemKind::Telemetry, fixture.item(6, 100))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Full { .. }), "{refused:?}");
    assert_eq!(queue.head().await.unwrap(), Some(first.head()));

    // Once acknowledged, the refused write fits, with the next seq: a
    // refusal leaves no gap.
    queue.acknowledge(1, &[incident]).await.unwrap();
    let second = queue.append(fixture.draft(7, 0)).await.unwrap();
    assert_eq!(second.seq, 2);
    let pending = queue.pending(10, 10).await.unwrap();
    crate::support::verify_chain(
        &pending.bundles,
        &fixture.public_key(),
        fixture.site_id,
        fixture.appliance_id,
        Some(first.hash),
    );
    queue.close().await.unwrap();
}
