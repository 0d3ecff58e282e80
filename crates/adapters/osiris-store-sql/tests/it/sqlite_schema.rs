use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use osiris_store_sql::SqliteStore;

use crate::schema_rules::{
    assert_audit_log_is_append_only, assert_sealed_shape_is_checked, migration_files,
};

async fn raw(path: &std::path::Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn opening_twice_applies_migrations_once_and_keeps_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osiris.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    store.close().await;
    let mut connection = raw(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(applied, migration_files("sqlite"));
    connection.close().await.unwrap();
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes_even_in_raw_sql() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osiris.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    assert_audit_log_is_append_only(
        raw(&path).await,
        "INSERT INTO audit_log (at, action, target, detail) \
         VALUES ('2025-01-01T00:00:00+00:00', 'x', 'y', '{}')",
        &[
            "UPDATE audit_log SET action = 'forged'",
            "DELETE FROM audit_log",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_schema_refuses_a_client_without_its_partner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osiris.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    let mut connection = SqliteConnectOptions::new()
        .filename(&path)
        .foreign_keys(true)
        .connect()
        .await
        .unwrap();
    let orphan = sqlx::query(
        "INSERT INTO clients (id, partner_id, name, created_at) VALUES (x'00', x'01', 'orphan', '2025-01-01T00:00:00+00:00')",
    )
    .execute(&mut connection)
    .await;
    assert!(orphan.is_err(), "a client without its partner was accepted");
    connection.close().await.unwrap();
}

#[tokio::test]
async fn the_schema_refuses_a_sealed_credential_of_the_wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osiris.db");
    SqliteStore::open(&path).await.unwrap().close().await;
    let insert = |nonce: &str, ciphertext: &str, version: i64| {
        format!(
            "INSERT INTO credentials (id, site_id, kind, username, key_version, nonce, ciphertext, created_at) \
             VALUES (x'00', x'01', 'ssh_key', 'root', {version}, {nonce}, {ciphertext}, '2025-01-01T00:00:00+00:00')"
        )
    };
    let nonce_24 = format!("x'{}'", "00".repeat(24));
    let tag_16 = format!("x'{}'", "00".repeat(16));
    let inserts = [
        (
            "nonce",
            insert(&format!("x'{}'", "00".repeat(23)), &tag_16, 1),
        ),
        (
            "ciphertext",
            insert(&nonce_24, &format!("x'{}'", "00".repeat(15)), 1),
        ),
        ("key_version", insert(&nonce_24, &tag_16, 0)),
    ];
    assert_sealed_shape_is_checked(raw(&path).await, &inserts).await;
}
