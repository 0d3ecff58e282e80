//! Arbitrary interleavings of append, push, acknowledge and reopen against a
//! simple in-memory model: a map of bundles (sealed by the model's own
//! `Sealer` with the same key, so the bytes must match exactly), a map of
//! items, the byte bound with its drop policy, and the head.

use std::collections::BTreeMap;

use osiris_evidence::{ChainHead, KeyPair, Sealer};
use osiris_queue::{Acknowledged, Error, ItemId, ItemKind, Queue};
use proptest::prelude::*;

use crate::support::Fixture;

#[derive(Debug, Clone)]
enum Op {
    Append {
        padding: usize,
    },
    AppendInvalid,
    Push {
        kind: ItemKind,
        padding: usize,
    },
    Acknowledge {
        through: u64,
        mask: u64,
        unknown: bool,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..600).prop_map(|padding| Op::Append { padding }),
        1 => Just(Op::AppendInvalid),
        4 => (prop::sample::select(ItemKind::ALL.to_vec()), 0usize..900)
            .prop_map(|(kind, padding)| Op::Push { kind, padding }),
        2 => (any::<u64>(), any::<u64>(), any::<bool>())
            .prop_map(|(through, mask, unknown)| Op::Acknowledge { through, mask, unknown }),
        1 => Just(Op::Reopen),
    ]
}

struct Model {
    key: KeyPair,
    fixture_site: osiris_core::SiteId,
    fixture_appliance: osiris_core::ApplianceId,
    head: Option<ChainHead>,
    acknowledged_through: u64,
    bundles: BTreeMap<u64, String>,
    items: BTreeMap<ItemId, (ItemKind, String)>,
    dropped: u64,
    max_bytes: u64,
    last_item: Option<ItemId>,
}

impl Model {
    fn used(&self) -> u64 {
        self.bundles.values().map(|b| b.len() as u64).sum::<u64>()
            + self.items.values().map(|i| i.1.len() as u64).sum::<u64>()
    }

    fn telemetry(&self) -> u64 {
        self.items
            .values()
            .filter(|i| i.0 == ItemKind::Telemetry)
            .map(|i| i.1.len() as u64)
            .sum()
    }

    /// The drop policy: true when `size` fits, after dropping the oldest
    /// telemetry if needed; false (dropping nothing) when it cannot.
    fn make_room(&mut self, size: u64) -> bool {
        if self.used() + size <= self.max_bytes {
            return true;
        }
        if self.used() - self.telemetry() + size > self.max_bytes {
            return false;
        }
        while self.used() + size > self.max_bytes {
            let oldest = *self
                .items
                .iter()
                .find(|(_, item)| item.0 == ItemKind::Telemetry)
                .unwrap()
                .0;
            self.items.remove(&oldest);
            self.dropped += 1;
        }
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_queue_behaves_like_the_model(
        max_bytes in 1_500u64..8_000,
        ops in prop::collection::vec(op(), 1..30),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(max_bytes, ops));
    }
}

async fn run(max_bytes: u64, ops: Vec<Op>) {
    let mut fixture = Fixture::new();
    fixture.max_bytes = max_bytes;
    let mut model = Model {
        key: fixture.key(),
        fixture_site: fixture.site_id,
        fixture_appliance: fixture.appliance_id,
        head: None,
        acknowledged_through: 0,
        bundles: BTreeMap::new(),
        items: BTreeMap::new(),
        dropped: 0,
        max_bytes,
        last_item: None,
    };
    let mut queue = fixture.open().await;
    for (step, op) in ops.into_iter().enumerate() {
        let context = format!("step {step}: {op:?}");
        match op {
            Op::Append { padding } => {
                let draft = fixture.draft(step as u64, padding);
                let expected = Sealer::new(
                    &model.key,
                    model.fixture_site,
                    model.fixture_appliance,
                    model.head,
                )
                .seal(draft.as_inner())
                .unwrap();
                let canonical = String::from_utf8(expected.bytes().to_vec()).unwrap();
                let fits = model.make_room(canonical.len() as u64);
                match queue.append(draft).await {
                    Ok(appended) => {
                        assert!(fits, "{context}: the model expected Full");
                        assert_eq!(appended.seq, expected.seq(), "{context}");
                        assert_eq!(appended.hash, expected.hash(), "{context}");
                        model.head = Some(appended.head());
                        model.bundles.insert(appended.seq, canonical);
                    }
                    Err(Error::Full { .. }) => assert!(!fits, "{context}: unexpected Full"),
                    Err(other) => panic!("{context}: {other}"),
                }
            }
            Op::AppendInvalid => {
                let mut draft = crate::support::raw_draft(step as u64, 0);
                draft.outcome = "Not A Word".into();
                let refused = queue
                    .append(fixture.scrubber.scrub_draft(draft))
                    .await
                    .unwrap_err();
                assert!(matches!(refused, Error::Seal(_)), "{context}: {refused:?}");
            }
            Op::Push { kind, padding } => {
                let body = fixture.item(step as u64, padding);
                let text = body.as_inner().to_string();
                let fits = model.make_room(text.len() as u64);
                match queue.push(kind, body).await {
                    Ok(id) => {
                        assert!(fits, "{context}: the model expected Full");
                        assert!(model.last_item < Some(id), "{context}: ids must grow");
                        model.last_item = Some(id);
                        model.items.insert(id, (kind, text));
                    }
                    Err(Error::Full { .. }) => assert!(!fits, "{context}: unexpected Full"),
                    Err(other) => panic!("{context}: {other}"),
                }
            }
            Op::Acknowledge {
                through,
                mask,
                unknown,
            } => {
                let head = model.head.map_or(0, |h| h.seq);
                let through = through % (head + 2);
                let mut ids: Vec<ItemId> = model
                    .items
                    .keys()
                    .enumerate()
                    .filter(|(index, _)| mask >> (index % 64) & 1 == 1)
                    .map(|(_, id)| *id)
                    .collect();
                if unknown {
                    ids.push(ItemId::from_u64(1_000_000));
                }
                let answer = queue.acknowledge(through, &ids).await;
                if through > head {
                    assert!(
                        matches!(answer, Err(Error::AckBeyondHead { .. })),
                        "{context}: {answer:?}"
                    );
                } else {
                    let before = model.bundles.len() as u64;
                    if through > model.acknowledged_through {
                        model.acknowledged_through = through;
                        model.bundles.retain(|seq, _| *seq > through);
                    }
                    let items_deleted = ids
                        .iter()
                        .filter(|id| model.items.remove(id).is_some())
                        .count() as u64;
                    assert_eq!(
                        answer.unwrap(),
                        Acknowledged {
                            bundles_deleted: before - model.bundles.len() as u64,
                            items_deleted,
                            acknowledged_through: model.acknowledged_through,
                        },
                        "{context}"
                    );
                }
            }
            Op::Reopen => {
                queue.close().await.unwrap();
                queue = fixture.open().await;
            }
        }
        compare(&queue, &model, &context).await;
    }
    queue.close().await.unwrap();
}

async fn compare(queue: &Queue, model: &Model, context: &str) {
    let pending = queue.pending(usize::MAX, usize::MAX).await.unwrap();
    let bundles: BTreeMap<u64, String> = pending
        .bundles
        .into_iter()
        .map(|b| (b.seq, b.canonical))
        .collect();
    assert_eq!(bundles, model.bundles, "{context}: bundles");
    let items: BTreeMap<ItemId, (ItemKind, String)> = pending
        .items
        .into_iter()
        .map(|i| (i.id, (i.kind, i.body)))
        .collect();
    assert_eq!(items, model.items, "{context}: items");
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.used_bytes, model.used(), "{context}: used bytes");
    assert!(
        stats.used_bytes <= model.max_bytes,
        "{context}: over the bound"
    );
    assert_eq!(stats.head, model.head, "{context}: head");
    assert_eq!(
        stats.acknowledged_through, model.acknowledged_through,
        "{context}: acknowledged"
    );
    assert_eq!(stats.dropped_telemetry, model.dropped, "{context}: dropped");
}
