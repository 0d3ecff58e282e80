use std::collections::BTreeSet;

use osiris_evidence::ChainHash;

use crate::support::{Fixture, verify_chain};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_take_each_seq_once_in_one_verified_chain() {
    const APPENDERS: u64 = 64;
    const EACH: u64 = 25;
    let fixture = std::sync::Arc::new(Fixture::new());
    let queue = fixture.open().await;
    let mut tasks = tokio::task::JoinSet::new();
    for appender in 0..APPENDERS {
        let queue = queue.clone();
        let fixture = std::sync::Arc::clone(&fixture);
        tasks.spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..EACH {
                let appended = queue
                    .append(fixture.draft(appender * EACH + n, 0))
                    .await
                    .unwrap();
                seqs.push(appended.seq);
            }
            seqs
        });
    }
    let mut seqs = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let mine = done.unwrap();
        // One caller's appends are sealed in the order it made them.
        assert!(mine.windows(2).all(|pair| pair[0] < pair[1]));
        seqs.extend(mine);
    }
    let total = APPENDERS * EACH;
    assert_eq!(seqs.len() as u64, total);
    assert_eq!(
        seqs.iter().copied().collect::<BTreeSet<_>>(),
        (1..=total).collect::<BTreeSet<_>>(),
        "every seq exactly once"
    );

    let pending = queue.pending(usize::MAX, 0).await.unwrap();
    assert_eq!(pending.bundles.len() as u64, total);
    let last = verify_chain(
        &pending.bundles,
        &fixture.public_key(),
        fixture.site_id,
        fixture.appliance_id,
        Some(ChainHash::GENESIS),
    );
    assert_eq!(queue.head().await.unwrap().map(|h| h.hash), last);

    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.writes, total);
    assert!(
        stats.commits < total / 4,
        "{} commits for {total} appends: writes were not grouped",
        stats.commits
    );
    queue.close().await.unwrap();
}
