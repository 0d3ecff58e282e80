use osiris_store_postgres::PgStore;

use crate::fresh::FreshDatabase;

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
