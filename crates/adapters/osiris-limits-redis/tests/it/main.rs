//! Integration tests against the real Redis named by
//! `OSIRIS_TEST_REDIS_URL` (`redis://127.0.0.1:6379` in CI). Without it
//! they fail; nothing is skipped. Each test writes under its own random key
//! prefix, and every key expires by itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod redis_limiter;

use osiris_core::{Secret, SiteId};
use osiris_limits_redis::RedisLimiter;

/// The test server's URL, or a failed test that says how to provide one.
fn redis_url() -> Secret<String> {
    match std::env::var("OSIRIS_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Secret::new(url),
        _ => panic!(
            "OSIRIS_TEST_REDIS_URL is not set: point it at a Redis 7 server, \
             e.g. OSIRIS_TEST_REDIS_URL=redis://127.0.0.1:6379"
        ),
    }
}

/// A prefix no other run uses.
fn fresh_prefix() -> String {
    format!("osiris-test:{}:", SiteId::random())
}

/// A limiter on its own connection, under `prefix`.
async fn limiter(prefix: &str) -> RedisLimiter {
    RedisLimiter::connect_with_prefix(&redis_url(), prefix)
        .await
        .unwrap_or_else(|error| panic!("OSIRIS_TEST_REDIS_URL: {error}"))
}
