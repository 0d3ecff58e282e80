use sqlx::Connection;

use osiris_store_postgres::PgStore;

use crate::fresh::FreshDatabase;

#[tokio::test]
async fn connecting_twice_applies_migrations_once() {
    let database = FreshDatabase::create().await;
    PgStore::connect_with(database.options.clone())
        .await
        .unwrap()
        .close()
        .await;
    PgStore::connect_with(database.options.clone())
        .await
        .unwrap()
        .close()
        .await;
    let mut connection = database.connection().await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    assert_eq!(applied, i64::try_from(files).unwrap());
    connection.close().await.unwrap();
    database.drop_database().await;
}

#[tokio::test]
async fn the_audit_log_refuses_updates_deletes_and_truncation_even_in_raw_sql() {
    let database = FreshDatabase::create().await;
    PgStore::connect_with(database.options.clone())
        .await
        .unwrap()
        .close()
        .await;
    let mut connection = database.connection().await;
    sqlx::query(
        "INSERT INTO audit_log (at, action, target, detail) VALUES (now(), 'x', 'y', '{}')",
    )
    .execute(&mut connection)
    .await
    .unwrap();
    for statement in [
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let error = sqlx::query(statement)
            .execute(&mut connection)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    connection.close().await.unwrap();
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
