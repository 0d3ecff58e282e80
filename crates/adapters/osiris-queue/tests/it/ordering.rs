use chrono::Duration;
use osiris_core::Clock;
use osiris_evidence::parse::parse_bundle;
use osiris_evidence::{ChainHash, ChainHead};
use osiris_queue::{Error, ItemKind};
use serde_json::json;

use crate::support::{Fixture, verify_chain};

#[tokio::test]
async fn appends_take_consecutive_seqs_and_pending_returns_the_oldest_first() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    assert_eq!(queue.head().await.unwrap(), None);
    let mut appended = Vec::new();
    let mut items = Vec::new();
    for n in 0..5 {
        appended.push(queue.append(fixture.draft(n, 0)).await.unwrap());
        let kind = ItemKind::ALL[usize::try_from(n).unwrap() % 3];
        items.push((queue.push(kind, fixture.item(n, 0)).await.unwrap(), kind));
    }
    assert_eq!(
        appended.iter().map(|a| a.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert!(items.windows(2).all(|pair| pair[0].0 < pair[1].0));
    assert_eq!(
        queue.head().await.unwrap(),
        Some(ChainHead {
            seq: 5,
            hash: appended[4].hash
        })
    );

    let all = queue.pending(100, 100).await.unwrap();
    assert_eq!(all.bundles.len(), 5);
    verify_chain(
        &all.bundles,
        &fixture.public_key(),
        fixture.site_id,
        fixture.appliance_id,
        Some(ChainHash::GENESIS),
    );
    for (bundle, appended) in all.bundles.iter().zip(&appended) {
        // The stored text is the sealed canonical bytes: its hash is the
        // chain hash the append reported.
        assert_eq!(ChainHash::of(bundle.canonical.as_bytes()), appended.hash);
        assert_eq!(
            parse_bundle(bundle.canonical.as_bytes()).unwrap().bundle_id,
            appended.bundle_id
        );
        assert_eq!(bundle.canonical.len() as u64, appended.bytes);
    }
    assert_eq!(
        all.items.iter().map(|i| (i.id, i.kind)).collect::<Vec<_>>(),
        items
    );
    let body: serde_json::Value = serde_json::from_str(&all.items[0].body).unwrap();
    assert_eq!(body["n"], 0);

    let some = queue.pending(2, 1).await.unwrap();
    assert_eq!(
        some.bundles.iter().map(|b| b.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(some.items.len(), 1);
    assert_eq!(some.items[0].id, items[0].0);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn a_draft_that_is_not_evidence_is_refused_and_takes_no_seq() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let mut bad = crate::support::raw_draft(1, 0);
    bad.detail = json!(["not", "an", "object"]);
    let refused = queue
        .append(fixture.scrubber.scrub_draft(bad))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Seal(_)), "{refused:?}");
    assert_eq!(queue.head().await.unwrap(), None);
    assert_eq!(queue.append(fixture.draft(2, 0)).await.unwrap().seq, 1);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn a_bundle_id_already_waiting_is_refused() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let draft = crate::support::raw_draft(1, 0);
    let first = queue
        .append(fixture.scrubber.scrub_draft(draft.clone()))
        .await
        .unwrap();
    let again = queue
        .append(fixture.scrubber.scrub_draft(draft))
        .await
        .unwrap_err();
    assert!(
        matches!(again, Error::DuplicateBundle { bundle_id } if bundle_id == first.bundle_id),
        "{again:?}"
    );
    assert_eq!(queue.append(fixture.draft(2, 0)).await.unwrap().seq, 2);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn an_item_body_that_is_not_an_object_is_refused() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let refused = queue
        .push(
            ItemKind::Telemetry,
            fixture.scrubber.scrub_json(&json!([1, 2])),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            Error::NotAnObject {
                kind: ItemKind::Telemetry
            }
        ),
        "{refused:?}"
    );
    assert_eq!(refused.to_string(), "telemetry body must be a JSON object");
    assert!(queue.pending(10, 10).await.unwrap().items.is_empty());
    queue.close().await.unwrap();
}

#[tokio::test]
async fn stats_count_each_kind_its_bytes_and_the_oldest_wait() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let first = queue.append(fixture.draft(1, 0)).await.unwrap();
    fixture.clock.advance(Duration::minutes(5));
    queue
        .push(ItemKind::Incident, fixture.item(1, 0))
        .await
        .unwrap();
    queue
        .push(ItemKind::Telemetry, fixture.item(2, 10))
        .await
        .unwrap();
    queue
        .push(ItemKind::Telemetry, fixture.item(3, 20))
        .await
        .unwrap();
    fixture.clock.advance(Duration::minutes(10));

    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.bundles.count, 1);
    assert_eq!(stats.bundles.bytes, first.bytes);
    assert_eq!(stats.incidents.count, 1);
    assert_eq!(stats.telemetry.count, 2);
    assert_eq!(stats.order_results.count, 0);
    assert_eq!(stats.items(ItemKind::Telemetry), &stats.telemetry);
    let pending = queue.pending(10, 10).await.unwrap();
    let item_bytes: u64 = pending.items.iter().map(|i| i.body.len() as u64).sum();
    assert_eq!(stats.used_bytes, first.bytes + item_bytes);
    assert_eq!(
        stats.incidents.oldest_enqueued_at,
        Some(fixture.clock.now() - Duration::minutes(10))
    );
    assert_eq!(stats.oldest_waiting, Some(Duration::minutes(15)));
    assert_eq!(stats.head.map(|h| h.seq), Some(1));
    assert_eq!(stats.acknowledged_through, 0);
    assert_eq!(stats.dropped_telemetry, 0);
    assert_eq!(stats.writes, 4);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn a_closed_queue_answers_closed_on_every_clone() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let clone = queue.clone();
    queue.close().await.unwrap();
    assert!(matches!(
        clone.append(fixture.draft(1, 0)).await,
        Err(Error::Closed)
    ));
    clone.close().await.unwrap();
    // The lock went with the writer: the file opens again.
    fixture.open().await.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_draft_sent_twice_at_once_is_stored_once() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let draft = crate::support::raw_draft(1, 0);
    let (first, second) = tokio::join!(
        queue.append(fixture.scrubber.scrub_draft(draft.clone())),
        queue.append(fixture.scrubber.scrub_draft(draft)),
    );
    let (stored, refused) = match (first, second) {
        (Ok(stored), Err(refused)) | (Err(refused), Ok(stored)) => (stored, refused),
        other => panic!("exactly one append must succeed: {other:?}"),
    };
    assert_eq!(stored.seq, 1);
    assert!(
        matches!(refused, Error::DuplicateBundle { .. }),
        "{refused:?}"
    );
    assert_eq!(queue.append(fixture.draft(2, 0)).await.unwrap().seq, 2);
    queue.close().await.unwrap();
}
