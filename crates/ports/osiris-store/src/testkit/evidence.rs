//! The evidence index: uniqueness of (appliance, seq) and bundle id, chain
//! order regardless of arrival order, paging, time ranges, visibility.

use osiris_core::BundleId;

use crate::testkit::world::World;
use crate::testkit::{assert_conflict, assert_not_found, at};
use crate::{ChainHash, CheckpointEntry, EvidenceEntry, EvidenceKind, Store, constraint};

fn entry(world: &World, seq: u64, minute: i64) -> EvidenceEntry {
    let digit = char::from_digit(u32::try_from(seq % 16).unwrap(), 16).unwrap();
    EvidenceEntry {
        appliance_id: world.a.appliance.id,
        seq,
        site_id: world.a.site.id,
        bundle_id: BundleId::random(),
        chain_hash: ChainHash::parse(&digit.to_string().repeat(64)).unwrap(),
        created_at: at(minute),
        kind: EvidenceKind::ALL[usize::try_from(seq).unwrap() % EvidenceKind::ALL.len()],
        outcome: "pass".to_owned(),
        object_key: format!("{}/{seq:012}.json", world.a.appliance.id),
        received_at: at(minute + 1),
    }
}

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    assert_eq!(
        store
            .evidence_head(&a.appliance_scope, a.appliance.id)
            .await
            .unwrap(),
        None
    );

    // Arrival order 2, 1, 3, 4: the index orders by seq, not by arrival.
    let entries: Vec<EvidenceEntry> = (1..=4)
        .map(|seq| entry(world, seq, 50 + 10 * i64::try_from(seq).unwrap()))
        .collect();
    for index in [1, 0, 2, 3] {
        store
            .record_evidence(&a.appliance_scope, &entries[index])
            .await
            .unwrap();
    }
    let chain = store
        .list_evidence(&a.client_scope, a.appliance.id, 0, 100)
        .await
        .unwrap();
    assert_eq!(
        chain, entries,
        "the chain comes back whole, ascending, unchanged"
    );
    let page = store
        .list_evidence(&a.client_scope, a.appliance.id, 1, 2)
        .await
        .unwrap();
    assert_eq!(page, entries[1..3]);
    assert_eq!(
        store
            .evidence_head(&a.partner_scope, a.appliance.id)
            .await
            .unwrap(),
        Some(entries[3].clone())
    );

    let replayed = EvidenceEntry {
        bundle_id: BundleId::random(),
        ..entries[2].clone()
    };
    assert_conflict(
        store.record_evidence(&a.appliance_scope, &replayed).await,
        constraint::EVIDENCE_SEQ,
        "a second bundle at one (appliance, seq)",
    );
    let reused = EvidenceEntry {
        seq: 5,
        ..entries[2].clone()
    };
    assert_conflict(
        store.record_evidence(&a.appliance_scope, &reused).await,
        constraint::EVIDENCE_BUNDLE,
        "one bundle id at two seqs",
    );
    let wrong_site = EvidenceEntry {
        seq: 5,
        bundle_id: BundleId::random(),
        site_id: b.site.id,
        ..entries[2].clone()
    };
    assert_not_found(
        store.record_evidence(&world.platform, &wrong_site).await,
        "appliance",
        "a bundle claiming a site its appliance does not serve",
    );
    let foreign = EvidenceEntry {
        seq: 5,
        bundle_id: BundleId::random(),
        ..entries[2].clone()
    };
    assert_not_found(
        store.record_evidence(&b.appliance_scope, &foreign).await,
        "appliance",
        "an appliance indexing into another tenant's chain",
    );

    assert_eq!(
        store
            .get_evidence(&a.client_scope, entries[0].bundle_id)
            .await
            .unwrap(),
        entries[0]
    );
    for scope in [&b.partner_scope, &b.client_scope, &b.appliance_scope] {
        assert_not_found(
            store.get_evidence(scope, entries[0].bundle_id).await,
            "evidence",
            "another tenant reading a bundle",
        );
        assert_not_found(
            store.list_evidence(scope, a.appliance.id, 0, 100).await,
            "appliance",
            "another tenant listing a chain",
        );
        assert_not_found(
            store.evidence_head(scope, a.appliance.id).await,
            "appliance",
            "another tenant reading a chain head",
        );
        assert_not_found(
            store
                .list_site_evidence(scope, a.site.id, at(0), at(1000))
                .await,
            "site",
            "another tenant exporting a site",
        );
    }

    // [from, to): seq 2 (created at minute 70) and 3 (80), not 4 (90).
    let ranged = store
        .list_site_evidence(&a.client_scope, a.site.id, at(70), at(90))
        .await
        .unwrap();
    assert_eq!(ranged, entries[1..3]);
    assert_eq!(
        store
            .list_site_evidence(&world.platform, a.site.id, at(0), at(1000))
            .await
            .unwrap(),
        entries
    );

    checkpoints(store, world, &entries).await;
    batches(store, world, &entries).await;
}

/// A batch is indexed whole or not at all.
async fn batches(store: &dyn Store, world: &World, entries: &[EvidenceEntry]) {
    let a = &world.a;
    let fresh = |seq: u64| entry(world, seq, 2000 + i64::try_from(seq).unwrap());
    let replayed = EvidenceEntry {
        bundle_id: BundleId::random(),
        ..entries[2].clone()
    };
    assert_conflict(
        store
            .record_evidence_batch(&a.appliance_scope, &[fresh(5), replayed, fresh(6)])
            .await,
        constraint::EVIDENCE_SEQ,
        "a batch with a second bundle at one (appliance, seq)",
    );
    assert_not_found(
        store
            .record_evidence_batch(&world.b.appliance_scope, &[fresh(5)])
            .await,
        "appliance",
        "another tenant indexing a batch into a chain",
    );
    assert_eq!(
        store
            .evidence_head(&a.client_scope, a.appliance.id)
            .await
            .unwrap(),
        Some(entries[3].clone()),
        "a refused batch leaves nothing behind"
    );
    let batch = [fresh(5), fresh(6), fresh(7)];
    store
        .record_evidence_batch(&a.appliance_scope, &batch)
        .await
        .unwrap();
    store
        .record_evidence_batch(&a.appliance_scope, &[])
        .await
        .unwrap();
    assert_eq!(
        store
            .list_evidence(&a.client_scope, a.appliance.id, 4, 100)
            .await
            .unwrap(),
        batch,
        "a batch is indexed whole"
    );
}

/// Checkpoints: stored exactly, unique per (appliance, seq), listed by seq
/// range, the latest, spans of a time range, visibility.
async fn checkpoints(store: &dyn Store, world: &World, entries: &[EvidenceEntry]) {
    let (a, b) = (&world.a, &world.b);
    assert_eq!(
        store
            .evidence_span(&a.client_scope, a.appliance.id, at(70), at(90))
            .await
            .unwrap(),
        Some((2, 3))
    );
    assert_eq!(
        store
            .evidence_span(&a.client_scope, a.appliance.id, at(500), at(600))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .latest_checkpoint(&a.client_scope, a.appliance.id)
            .await
            .unwrap(),
        None
    );
    let checkpoint = |seq: u64| CheckpointEntry {
        appliance_id: a.appliance.id,
        seq,
        head_hash: entries[usize::try_from(seq - 1).unwrap()]
            .chain_hash
            .clone(),
        signed_at: at(200 + i64::try_from(seq).unwrap()),
        signature: format!("sig-{seq}"),
    };
    for seq in [4, 2] {
        store
            .record_checkpoint(&world.platform, &checkpoint(seq))
            .await
            .unwrap();
    }
    assert_conflict(
        store
            .record_checkpoint(&world.platform, &checkpoint(4))
            .await,
        constraint::CHECKPOINT_SEQ,
        "a second checkpoint at one (appliance, seq)",
    );
    assert_eq!(
        store
            .list_checkpoints(&a.client_scope, a.appliance.id, 1, 4)
            .await
            .unwrap(),
        vec![checkpoint(2), checkpoint(4)]
    );
    assert_eq!(
        store
            .list_checkpoints(&a.partner_scope, a.appliance.id, 3, 4)
            .await
            .unwrap(),
        vec![checkpoint(4)]
    );
    assert_eq!(
        store
            .latest_checkpoint(&a.client_scope, a.appliance.id)
            .await
            .unwrap(),
        Some(checkpoint(4))
    );
    for scope in [&b.partner_scope, &b.client_scope, &b.appliance_scope] {
        assert_not_found(
            store.record_checkpoint(scope, &checkpoint(3)).await,
            "appliance",
            "another tenant checkpointing a chain",
        );
        assert_not_found(
            store.list_checkpoints(scope, a.appliance.id, 1, 4).await,
            "appliance",
            "another tenant listing checkpoints",
        );
        assert_not_found(
            store.latest_checkpoint(scope, a.appliance.id).await,
            "appliance",
            "another tenant reading the latest checkpoint",
        );
        assert_not_found(
            store
                .evidence_span(scope, a.appliance.id, at(0), at(1000))
                .await,
            "appliance",
            "another tenant reading a chain's span",
        );
    }
}
