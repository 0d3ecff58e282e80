//! A group commit that fails stores nothing of the group and rewinds the
//! sealer: the next bundle takes the first seq that was not committed.

use std::collections::BTreeSet;

use osiris_evidence::ChainHash;
use osiris_queue::Error;
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::support::{Fixture, verify_chain};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_group_is_stored_not_at_all_and_the_chain_continues_without_a_gap() {
    let fixture = std::sync::Arc::new(Fixture::new());
    let queue = fixture.open().await;
    queue.append(fixture.draft(0, 0)).await.unwrap();
    queue.append(fixture.draft(1, 0)).await.unwrap();

    // Storing seq 3 fails (as a full disk would) until the trigger goes.
    let mut saboteur = SqliteConnectOptions::new()
        .filename(&fixture.path)
        .connect()
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER fail_seq_3 BEFORE INSERT ON bundles WHEN NEW.seq = 3
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    )
    .execute(&mut saboteur)
    .await
    .unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..16 {
        let queue = queue.clone();
        let fixture = std::sync::Arc::clone(&fixture);
        tasks.spawn(async move { queue.append(fixture.draft(10 + n, 0)).await });
    }
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        let error = done.unwrap().unwrap_err();
        assert!(
            matches!(&error, Error::Storage { context, .. } if *context == "storing sealed bundles"),
            "{error:?}"
        );
        assert!(
            std::error::Error::source(&error)
                .unwrap()
                .to_string()
                .contains("injected failure")
        );
        failed += 1;
    }
    assert_eq!(failed, 16);
    assert_eq!(queue.head().await.unwrap().unwrap().seq, 2);

    sqlx::query("DROP TRIGGER fail_seq_3")
        .execute(&mut saboteur)
        .await
        .unwrap();
    drop(saboteur);
    let mut seqs = BTreeSet::new();
    for n in 0..3 {
        seqs.insert(queue.append(fixture.draft(100 + n, 0)).await.unwrap().seq);
    }
    assert_eq!(seqs, BTreeSet::from([3, 4, 5]));
    let pending = queue.pending(100, 0).await.unwrap();
    assert_eq!(pending.bundles.len(), 5);
    verify_chain(
        &pending.bundles,
        &fixture.public_key(),
        fixture.site_id,
        fixture.appliance_id,
        Some(ChainHash::GENESIS),
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.used_bytes, stats.bundles.bytes);
    queue.close().await.unwrap();
    // And the file agrees on reopen.
    let queue = fixture.open().await;
    assert_eq!(queue.head().await.unwrap().unwrap().seq, 5);
    queue.close().await.unwrap();
}
