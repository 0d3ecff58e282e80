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

/// The inventory migration rebuilds `hosts` (SQLite cannot change a
/// CHECK): hosts recorded before it, and the incidents and credentials
/// that refer to them, come through unchanged, and foreign keys still hold.
#[tokio::test]
async fn the_hosts_rebuild_keeps_hosts_and_the_rows_that_refer_to_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osiris.db");
    let earlier = dir.path().join("earlier");
    std::fs::create_dir(&earlier).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for name in [
        "20250601000000_initial_schema.sql",
        "20261125000000_credentials.sql",
    ] {
        std::fs::copy(all.join(name), earlier.join(name)).unwrap();
    }
    let mut connection = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .foreign_keys(true)
        .connect()
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(earlier.as_path())
        .await
        .unwrap()
        .run(&mut connection)
        .await
        .unwrap();
    let at = "'2025-01-01T00:00:00+00:00'";
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO partners (id, name, created_at) VALUES (x'01', 'p', {at});
         INSERT INTO clients (id, partner_id, name, created_at) VALUES (x'02', x'01', 'c', {at});
         INSERT INTO sites (id, client_id, name, time_zone, window_start_minute,
             window_duration_minutes, healing_mode, created_at, updated_at)
             VALUES (x'03', x'02', 's', 'UTC', 0, 60, 'heal', {at}, {at});
         INSERT INTO hosts (id, site_id, hostname, platform, address, created_at)
             VALUES (x'04', x'03', 'ehr01', 'linux', '10.0.0.20', {at});
         INSERT INTO incidents (id, site_id, host_id, check_id, dedup_key, severity, tier,
             status, occurrences, opened_at, last_seen_at)
             VALUES (x'05', x'03', x'04', 'c', 'k', 'low', 'l1', 'open', 1, {at}, {at});
         INSERT INTO credentials (id, site_id, host_id, kind, username, key_version, nonce,
             ciphertext, created_at)
             VALUES (x'06', x'03', x'04', 'ssh_key', 'root', 1, x'{}', x'{}', {at});",
        "00".repeat(24),
        "00".repeat(16)
    )))
    .execute(&mut connection)
    .await
    .unwrap();
    connection.close().await.unwrap();

    SqliteStore::open(&path).await.unwrap().close().await;

    let mut connection = SqliteConnectOptions::new()
        .filename(&path)
        .foreign_keys(true)
        .connect()
        .await
        .unwrap();
    let host: (String, String) =
        sqlx::query_as("SELECT hostname, platform FROM hosts WHERE id = x'04'")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert_eq!(host, ("ehr01".to_owned(), "linux".to_owned()));
    let referring: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM incidents WHERE host_id = x'04')
              + (SELECT count(*) FROM credentials WHERE host_id = x'04')",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();
    assert_eq!(referring, 2);
    let broken: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO hosts (id, site_id, hostname, platform, address, created_at)
             VALUES (x'07', x'03', 'web01', 'debian', '10.0.0.30', {at})"
    )))
    .execute(&mut connection)
    .await
    .unwrap();
    let orphan = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO incidents (id, site_id, host_id, check_id, dedup_key, severity, tier,
             status, occurrences, opened_at, last_seen_at)
             VALUES (x'08', x'03', x'99', 'c', 'k2', 'low', 'l1', 'open', 1, {at}, {at})"
    )))
    .execute(&mut connection)
    .await;
    assert!(orphan.is_err(), "an incident naming no host was accepted");
    let unknown = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO hosts (id, site_id, hostname, platform, address, created_at)
             VALUES (x'09', x'03', 'x', 'solaris', 'x', {at})"
    )))
    .execute(&mut connection)
    .await;
    assert!(unknown.is_err(), "an unknown platform was accepted");
    connection.close().await.unwrap();
}
