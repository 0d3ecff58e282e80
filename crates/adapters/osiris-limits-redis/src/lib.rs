//! The rate limiter over Redis 7: [`RedisLimiter`] implements
//! [`osiris_limits::RateLimiter`] with one Lua script per decision, so
//! every Central Command replica behind a load balancer draws on one quota
//! per key.
//!
//! The script (`gcra.lua`) is the state step of [`osiris_limits::gcra`],
//! run atomically by Redis and sent as `EVALSHA` (loaded on first use). It
//! takes `now` from the caller, never Redis `TIME`, so the conformance
//! suite drives it with a manual clock and it answers exactly like the
//! in-process limiter. Every key it writes expires once its capacity is
//! full again, so Redis holds only keys that are currently limiting.
//!
//! This crate must not depend on any Osiris crate other than `osiris-core`
//! and `osiris-limits`.
#![warn(missing_docs)]

mod error;

use std::fmt;

use chrono::{DateTime, Utc};
use osiris_core::Secret;
use osiris_limits::{BoxFuture, Decision, LimitKey, Quota, RateLimiter, gcra};
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use error::{Error, Result};

/// A [`RateLimiter`] whose state lives in Redis.
///
/// Cloning is cheap and clones share one connection.
#[derive(Clone)]
pub struct RedisLimiter {
    manager: ConnectionManager,
    prefix: String,
    script: Script,
}

impl fmt::Debug for RedisLimiter {
    // The connection's own `Debug` shows the URL, which may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// The prefix of every key the limiter writes, unless told otherwise.
    pub const DEFAULT_PREFIX: &'static str = "osiris:limits:";

    /// Connects to the Redis at `url` (`redis://[user:password@]host:port/db`)
    /// and writes keys under [`RedisLimiter::DEFAULT_PREFIX`]. The
    /// connection reconnects by itself after a failure.
    ///
    /// # Errors
    /// [`Error::Url`] when the URL does not parse, [`Error::Connect`] when
    /// the server cannot be reached.
    pub async fn connect(url: &Secret<String>) -> Result<Self> {
        Self::connect_with_prefix(url, Self::DEFAULT_PREFIX).await
    }

    /// Like [`RedisLimiter::connect`], with keys under `prefix` (to share
    /// one Redis between deployments or test runs).
    ///
    /// # Errors
    /// As [`RedisLimiter::connect`].
    pub async fn connect_with_prefix(url: &Secret<String>, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url.expose().as_str()).map_err(Error::Url)?;
        let manager = ConnectionManager::new_with_config(client, ConnectionManagerConfig::new())
            .await
            .map_err(Error::Connect)?;
        Ok(Self::with_manager(manager, prefix))
    }

    /// A limiter over an existing connection, with keys under `prefix`.
    #[must_use]
    pub fn with_manager(manager: ConnectionManager, prefix: &str) -> Self {
        Self {
            manager,
            prefix: prefix.to_owned(),
            script: Script::new(include_str!("gcra.lua")),
        }
    }

    /// The Redis key that holds `key`'s state: `<prefix><bucket>:<subject>`.
    /// Bucket names never contain `:`, so two keys never share one.
    #[must_use]
    pub fn storage_key(&self, key: &LimitKey) -> String {
        format!("{}{}:{}", self.prefix, key.bucket(), key.subject())
    }

    async fn decide(&self, key: &LimitKey, quota: Quota, now: DateTime<Utc>) -> Result<Decision> {
        let now_us = gcra::micros(now).map_err(Error::Limits)?;
        let mut connection = self.manager.clone();
        let (allowed, value): (i64, i64) = self
            .script
            .key(self.storage_key(key))
            .arg(now_us)
            .arg(quota.emission_interval_us())
            .arg(quota.tolerance_us())
            .invoke_async(&mut connection)
            .await
            .map_err(Error::Script)?;
        Ok(match allowed {
            1 => gcra::allowed(value, &quota),
            _ => gcra::limited(value),
        })
    }
}

impl RateLimiter for RedisLimiter {
    fn check<'a>(
        &'a self,
        key: &'a LimitKey,
        quota: Quota,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Decision> {
        Box::pin(async move { self.decide(key, quota, now).await.map_err(Error::into_port) })
    }
}
