use osiris_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_passes_the_conformance_story() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("osiris.db"))
        .await
        .unwrap();
    osiris_store::testkit::run_story(&store).await;
    store.close().await;
}
