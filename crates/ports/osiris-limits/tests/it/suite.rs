use std::sync::Arc;

use osiris_limits::InProcessLimiter;
use osiris_limits::testkit::run_suite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_limiter_passes_the_conformance_suite() {
    run_suite(Arc::new(InProcessLimiter::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_leaves_nothing_once_every_key_has_recovered() {
    let limiter = Arc::new(InProcessLimiter::new());
    run_suite(Arc::clone(&limiter) as Arc<dyn osiris_limits::RateLimiter>).await;
    assert!(!limiter.is_empty());
    limiter.retain_recent(osiris_limits::testkit::at(86_400));
    assert!(limiter.is_empty());
}
