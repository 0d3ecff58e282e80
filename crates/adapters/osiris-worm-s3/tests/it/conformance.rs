//! The port's conformance suite against a real S3 server.

use osiris_worm::testkit;

use crate::support;

#[tokio::test]
async fn s3_store_passes_the_conformance_suite() {
    let store = support::fresh_store().await;
    testkit::run_suite(&store, support::now()).await;
}
