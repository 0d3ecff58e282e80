use std::path::Path;

use osiris_core::{ApplianceId, SiteId};
use osiris_queue::{Error, Queue};
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use crate::support::Fixture;

#[tokio::test]
async fn reopening_continues_the_chain_from_the_stored_head() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let mut last = None;
    for n in 0..3 {
        last = Some(queue.append(fixture.draft(n, 0)).await.unwrap());
    }
    queue.close().await.unwrap();

    let queue = fixture.open().await;
    assert_eq!(queue.head().await.unwrap(), Some(last.unwrap().head()));
    assert_eq!(queue.append(fixture.draft(3, 0)).await.unwrap().seq, 4);
    assert_eq!(queue.append(fixture.draft(4, 0)).await.unwrap().seq, 5);
    let pending = queue.pending(10, 10).await.unwrap();
    crate::support::verify_chain(
        &pending.bundles,
        &fixture.public_key(),
        fixture.site_id,
        fixture.appliance_id,
        Some(osiris_evidence::ChainHash::GENESIS),
    );
    assert_eq!(pending.bundles.len(), 5);
    queue.close().await.unwrap();
}

#[tokio::test]
async fn a_second_open_of_an_open_queue_is_refused() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    let refused = fixture.try_open().await.unwrap_err();
    assert!(matches!(refused, Error::InUse { .. }), "{refused:?}");
    assert!(refused.to_string().contains("queue.sqlite"), "{refused}");
    queue.close().await.unwrap();
    fixture.open().await.close().await.unwrap();
}

#[tokio::test]
async fn another_appliances_queue_is_refused_naming_the_file() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    queue.append(fixture.draft(1, 0)).await.unwrap();
    queue.close().await.unwrap();

    let other = ApplianceId::random();
    let refused = Queue::open(fixture.config(), fixture.key(), fixture.site_id, other)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::WrongAppliance { .. }),
        "{refused:?}"
    );
    let message = refused.to_string();
    assert!(
        message.contains(&fixture.path.display().to_string()),
        "{message}"
    );
    assert!(message.contains(&other.to_string()), "{message}");
    assert!(
        message.contains(&fixture.appliance_id.to_string()),
        "{message}"
    );

    let refused = Queue::open(
        fixture.config(),
        fixture.key(),
        SiteId::random(),
        fixture.appliance_id,
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, Error::WrongSite { .. }), "{refused:?}");
}

#[tokio::test]
async fn a_queue_signed_by_another_key_is_refused() {
    let fixture = Fixture::new();
    fixture.open().await.close().await.unwrap();
    let other = osiris_evidence::KeyPair::from_seed([9; 32]);
    let other_id = other.public_key().key_id().to_string();
    let refused = Queue::open(
        fixture.config(),
        other,
        fixture.site_id,
        fixture.appliance_id,
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, Error::WrongKey { .. }), "{refused:?}");
    assert!(refused.to_string().contains(&other_id), "{refused}");
    assert!(
        refused
            .to_string()
            .contains(&fixture.path.display().to_string())
    );
    // The refusal released the lock: the right key still opens it.
    fixture.open().await.close().await.unwrap();
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_naming_the_file() {
    let fixture = Fixture::new();
    std::fs::write(
        &fixture.path,
        b"this is a log file, not a queue\n".repeat(200),
    )
    .unwrap();
    let refused = fixture.try_open().await.unwrap_err();
    assert!(matches!(refused, Error::NotAQueue { .. }), "{refused:?}");
    assert!(
        refused
            .to_string()
            .starts_with(&format!("{}: not an osiris queue", fixture.path.display())),
        "{refused}"
    );
}

#[tokio::test]
async fn another_sqlite_database_is_refused_and_left_as_it_was() {
    let fixture = Fixture::new();
    let mut other = SqliteConnectOptions::new()
        .filename(&fixture.path)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE incidents (id INTEGER PRIMARY KEY, note TEXT)")
        .execute(&mut other)
        .await
        .unwrap();
    drop(other);

    let refused = fixture.try_open().await.unwrap_err();
    assert!(matches!(refused, Error::NotAQueue { .. }), "{refused:?}");
    assert!(refused.to_string().contains("\"incidents\""), "{refused}");
    // Still in its own journal mode, with no queue tables added.
    assert_eq!(journal_mode(&fixture.path).await, "delete");
    assert!(!wal_exists(&fixture.path));
}

#[tokio::test]
async fn an_empty_file_becomes_a_new_queue() {
    let fixture = Fixture::new();
    std::fs::write(&fixture.path, b"").unwrap();
    let queue = fixture.open().await;
    assert_eq!(queue.append(fixture.draft(1, 0)).await.unwrap().seq, 1);
    queue.close().await.unwrap();
    assert_eq!(journal_mode(&fixture.path).await, "wal");
}

#[tokio::test]
async fn a_queue_whose_rows_were_removed_behind_its_back_is_refused_as_damaged() {
    let fixture = Fixture::new();
    let queue = fixture.open().await;
    for n in 0..3 {
        queue.append(fixture.draft(n, 0)).await.unwrap();
    }
    queue.close().await.unwrap();
    let mut other = SqliteConnectOptions::new()
        .filename(&fixture.path)
        .connect()
        .await
        .unwrap();
    sqlx::query("DELETE FROM bundles WHERE seq = 2")
        .execute(&mut other)
        .await
        .unwrap();
    drop(other);
    let refused = fixture.try_open().await.unwrap_err();
    assert!(matches!(refused, Error::Corrupt { .. }), "{refused:?}");
    assert!(
        refused.to_string().contains("are not exactly seq 1 to 3"),
        "{refused}"
    );
}

async fn journal_mode(path: &Path) -> String {
    let mut connection = SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

fn wal_exists(path: &Path) -> bool {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    Path::new(&name).exists()
}
