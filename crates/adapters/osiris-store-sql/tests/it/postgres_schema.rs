use sqlx::Connection;

use osiris_store_sql::PgStore;

use crate::fresh::FreshDatabase;
use crate::schema_rules::{
    assert_audit_log_is_append_only, assert_sealed_shape_is_checked, migration_files,
};

#[tokio::test]
async fn connecting_twice_applies_migrations_once() {
    let database = FreshDatabase::create().await;
    database.migrate().await;
    database.migrate().await;
    let mut connection = database.connection().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(applied, migration_files("postgres"));
    connection.close().await.unwrap();
    database.drop_database().await;
}

#[tokio::test]
async fn the_audit_log_refuses_updates_deletes_and_truncation_even_in_raw_sql() {
    let database = FreshDatabase::create().await;
    database.migrate().await;
    assert_audit_log_is_append_only(
        database.connection().await,
        "INSERT INTO audit_log (at, action, target, detail) VALUES (now(), 'x', 'y', '{}')",
        &[
            "UPDATE audit_log SET action = 'forged'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ],
    )
    .await;
    database.drop_database().await;
}

#[tokio::test]
async fn the_schema_refuses_a_sealed_credential_of_the_wrong_shape() {
    let database = FreshDatabase::create().await;
    database.migrate().await;
    // CHECK constraints run before the foreign-key triggers, so the
    // missing site does not mask them.
    let insert = |nonce: &str, ciphertext: &str, version: i64| {
        format!(
            "INSERT INTO credentials (id, site_id, kind, username, key_version, nonce, ciphertext, created_at) \
             VALUES (gen_random_uuid(), gen_random_uuid(), 'ssh_key', 'root', {version}, {nonce}, {ciphertext}, now())"
        )
    };
    let bytes = |n: usize| format!("'\\x{}'::bytea", "00".repeat(n));
    let inserts = [
        ("nonce", insert(&bytes(23), &bytes(16), 1)),
        ("ciphertext", insert(&bytes(24), &bytes(15), 1)),
        ("key_version", insert(&bytes(24), &bytes(16), 4_294_967_296)),
    ];
    assert_sealed_shape_is_checked(database.connection().await, &inserts).await;
    database.drop_database().await;
}

#[tokio::test]
async fn a_malformed_url_is_a_backend_error_not_a_panic() {
    let url = osiris_core::Secret::new("not a url".to_owned());
    let error = PgStore::connect(&url).await.unwrap_err();
    assert!(
        error.to_string().contains("parsing the postgresql url"),
        "{error}"
    );
}
