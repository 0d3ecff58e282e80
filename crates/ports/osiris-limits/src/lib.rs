//! The rate-limiting port of Central Command: the [`RateLimiter`] trait, the
//! exact GCRA arithmetic every backend shares ([`gcra`]), the in-process
//! limiter ([`InProcessLimiter`], the embedded default) and the conformance
//! suite (`testkit::run_suite`, feature `testkit`) that every backend must
//! pass.
//!
//! A decision is made for a [`LimitKey`] (a [`Bucket`] such as
//! `appliance-sensitive` or `login`, plus a subject such as a site id or a
//! username) under a [`Quota`] (`max` requests per `per`), at a time the
//! caller passes in. The answer is a [`Decision`]: allowed with how many
//! requests remain, or limited with how long to wait.
//!
//! Invariants every backend upholds, proved by the suite:
//! - time is an argument: nothing here reads a clock, so a manual clock
//!   drives every test and every backend answers identically for the same
//!   sequence of `(key, quota, now)`;
//! - the arithmetic is integer microseconds ([`gcra`]): no float rounding
//!   can differ between backends;
//! - time going backwards never grants extra requests;
//! - concurrent callers never exceed the quota in total.
//!
//! This crate must not depend on a Redis client, an async runtime (except
//! for the test suite) or any Osiris crate other than `osiris-core`.
#![warn(missing_docs)]

mod error;
pub mod gcra;
mod key;
mod memory;
mod quota;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

pub use error::{Error, Result};
pub use gcra::Decision;
pub use key::{Bucket, LimitKey};
pub use memory::InProcessLimiter;
pub use quota::Quota;

/// The future every limiter method returns: boxed so that `dyn RateLimiter`
/// works (the server holds one `Arc<dyn RateLimiter>` chosen from its
/// configuration).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A keyed GCRA rate limiter.
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Decides one request for `key` under `quota` at `now`. An allowed
    /// request is counted; a limited one is not, so a client that keeps
    /// retrying too early does not push its own retry time further out.
    ///
    /// The same key may be checked under different quotas (a setting
    /// changed): the stored state is one instant per key, read under the
    /// quota of the current call.
    fn check<'a>(
        &'a self,
        key: &'a LimitKey,
        quota: Quota,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Decision>;
}
