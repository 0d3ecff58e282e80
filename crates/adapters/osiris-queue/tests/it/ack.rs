use osiris_queue::{Acknowledged, Error, ItemId, ItemKind};

use crate::support::{Fixture, verify_chain};

#[tokio::test]
async fn acknowledge_deletes_bundles_through_the_seq_and_the_listed_items() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    for n in 0..5 {
        queue.append(fixture.draft(n, 0)).await.unwrap();
    }
    let a = queue
        .push(ItemKind::Incident, fixture.item(1, 0))
        .await
        .unwrap();
    let b = queue
        .push(ItemKind::OrderResult, fixture.item(2, 0))
        .await
        .unwrap();
    let c = queue
        .push(ItemKind::Telemetry, fixture.item(3, 0))
        .await
        .unwrap();
    let before = queue.stats().await.unwrap().used_bytes;

    let acked = queue.acknowledge(3, &[a, c]).await.unwrap();
    assert_eq!(
        acked,
        Acknowledged {
            bundles_deleted: 3,
            items_deleted: 2,
            acknowledged_through: 3
        }
    );
    let pending = queue.pending(100, 100).await.unwrap();
    assert_eq!(
        pending.bundles.iter().map(|b| b.seq).collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(pending.items.iter().map(|i| i.id).collect::<Vec<_>>(), [b]);
    let stats = queue.stats().await.unwrap();
    assert!(stats.used_bytes < before);
    assert_eq!(stats.acknowledged_through, 3);
    assert_eq!(stats.head.unwrap().seq, 5);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn a_repeated_or_older_acknowledgement_changes_nothing() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    for n in 0..4 {
        queue.append(fixture.draft(n, 0)).await.unwrap();
    }
    let item = queue
        .push(ItemKind::Incident, fixture.item(1, 0))
        .await
        .unwrap();
    queue.acknowledge(3, &[item]).await.unwrap();
    for (through, items) in [(3, vec![item]), (1, vec![]), (0, vec![item])] {
        assert_eq!(
            queue.acknowledge(through, &items).await.unwrap(),
            Acknowledged {
                bundles_deleted: 0,
                items_deleted: 0,
                acknowledged_through: 3
            }
        );
    }
    let pending = queue.pending(100, 100).await.unwrap();
    assert_eq!(
        pending.bundles.iter().map(|b| b.seq).collect::<Vec<_>>(),
        [4]
    );
    queue.close().await.unwrap();
}

#[tokio::test]
async fn acknowledging_beyond_the_head_is_refused_and_changes_nothing() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let refused = queue.acknowledge(1, &[]).await.unwrap_err();
    assert!(
        matches!(
            refused,
            Error::AckBeyondHead {
                through_seq: 1,
                head_seq: 0
            }
        ),
        "{refused:?}"
    );
    queue.append(fixture.draft(1, 0)).await.unwrap();
    let item = queue
        .push(ItemKind::Incident, fixture.item(1, 0))
        .await
        .unwrap();
    let refused = queue.acknowledge(2, &[item]).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "cannot acknowledge through seq 2: the chain head is seq 1"
    );
    // Nothing of the refused answer was applied, not even its items.
    let pending = queue.pending(10, 10).await.unwrap();
    assert_eq!(pending.bundles.len(), 1);
    assert_eq!(pending.items.len(), 1);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn ids_no_longer_waiting_are_skipped() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let item = queue
        .push(ItemKind::Incident, fixture.item(1, 0))
        .await
        .unwrap();
    let acked = queue
        .acknowledge(0, &[ItemId::from_u64(999_999), item, item])
        .await
        .unwrap();
    assert_eq!(acked.items_deleted, 1);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn seqs_and_item_ids_are_never_reused_after_everything_is_acknowledged() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let mut last = None;
    for n in 0..3 {
        last = Some(queue.append(fixture.draft(n, 0)).await.unwrap());
    }
    let item = queue
        .push(ItemKind::Incident, fixture.item(1, 0))
        .await
        .unwrap();
    queue.acknowledge(3, &[item]).await.unwrap();
    let stats = queue.stats().await.unwrap();
    assert_eq!((stats.bundles.count, stats.used_bytes), (0, 0));
    assert_eq!(stats.head, Some(last.unwrap().head()));
    queue.close().await.unwrap();

    // Even across a reopen, the head row stays and ids keep growing.
    let queue = fixture.open().await;
    assert_eq!(queue.head().await.unwrap(), Some(last.unwrap().head()));
    let next = queue.append(fixture.draft(4, 0)).await.unwrap();
    assert_eq!(next.seq, 4);
    let next_item = queue
        .push(ItemKind::Incident, fixture.item(2, 0))
        .await
        .unwrap();
    assert!(next_item > item);
    let pending = queue.pending(10, 10).await.unwrap();
    verify_chain(
        &pending.bundles,
        &fixture.public_key(),
        fixture.site_id,
        fixture.appliance_id,
        Some(last.unwrap().hash),
    );
    queue.close().await.unwrap();
}
