use osiris_store_sql::{PgStore, SqliteStore};

use crate::fresh::FreshDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_conformance_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("osiris.db"))
        .await
        .unwrap();
    osiris_store::testkit::run_story(&store).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_story() {
    let database = FreshDatabase::create().await;
    let store = PgStore::connect_with(database.options.clone())
        .await
        .unwrap();
    osiris_store::testkit::run_story(&store).await;
    store.close().await;
    database.drop_database().await;
}
