//! The write-once (WORM) evidence store port: [`WormStore`], the validated
//! [`ObjectKey`] it stores under, the [`LocalWormStore`] write-once
//! directory backend, and the conformance suite (`testkit::run_suite`,
//! feature `testkit`) every backend must pass.
//!
//! Invariants the backends uphold, proved by the suite:
//! - an object is written once: re-putting the same bytes under its key is
//!   [`PutOutcome::AlreadyStored`], other bytes are [`Error::Conflict`] and
//!   change nothing;
//! - a batch ([`WormStore::put_many`]) keeps these rules per object and
//!   reports one outcome per object: an `Ok` outcome is as durable as one
//!   from `put_once`, and one object's failure leaves the others' outcomes
//!   standing;
//! - deletion is refused ([`Error::Retained`]) before `retain_until` and
//!   while a legal hold is set;
//! - retention only grows: [`WormStore::extend_retention`] refuses an
//!   earlier date with [`Error::ShortenRefused`] before contacting the
//!   backend;
//! - time is an argument: no method reads a clock;
//! - listings are paged and ordered by key bytes, and never load a whole
//!   store into memory.
//!
//! This crate must not depend on any Osiris crate, a cloud SDK or a
//! database driver; the S3 Object Lock backend is the adapter
//! `osiris-worm-s3`.
#![warn(missing_docs)]

mod error;
mod hash;
mod key;
mod local;

#[cfg(feature = "testkit")]
pub mod testkit;

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

pub use error::{Error, Result};
pub use hash::{ContentHash, HashParseError};
pub use key::{KeyPrefix, ObjectKey};
pub use local::{IntactReport, LocalWormStore};

/// The future every store method returns: boxed so that `dyn WormStore`
/// works (the server picks its backend from configuration).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The most keys one [`WormStore::list`] call returns (S3's page size).
pub const MAX_LIST_LIMIT: usize = 1000;

/// What [`WormStore::put_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum PutOutcome {
    /// The object was written.
    Stored,
    /// The same bytes were already stored under the key; nothing changed
    /// (the retention of the stored object is kept as it was).
    AlreadyStored,
}

/// One object of a [`WormStore::put_many`] batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutItem {
    /// Where to store it.
    pub key: ObjectKey,
    /// Its exact bytes.
    pub bytes: Vec<u8>,
    /// The end of its retention period.
    pub retain_until: DateTime<Utc>,
}

/// One outcome per item of a [`WormStore::put_many`] batch, in the batch's
/// order.
pub type BatchOutcomes = Vec<Result<PutOutcome>>;

/// Whether an object is under legal hold, which blocks deletion whatever
/// its retention date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegalHold {
    /// Deletion is blocked until the hold is released.
    On,
    /// No hold; only the retention date applies.
    Off,
}

/// What is known about a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its length in bytes.
    pub len: u64,
    /// The SHA-256 of its bytes, recorded when it was written.
    pub sha256: ContentHash,
    /// The end of its retention period.
    pub retain_until: DateTime<Utc>,
    /// Its legal hold.
    pub legal_hold: LegalHold,
}

/// A write-once object store for sealed evidence.
pub trait WormStore: Send + Sync {
    /// Stores `bytes` under `key`, retained until `retain_until`.
    ///
    /// # Errors
    /// [`Error::Conflict`] if other bytes are stored under `key`.
    fn put_once<'a>(
        &'a self,
        key: &'a ObjectKey,
        bytes: Vec<u8>,
        retain_until: DateTime<Utc>,
    ) -> BoxFuture<'a, PutOutcome>;

    /// Stores every item as [`WormStore::put_once`] would, and returns one
    /// outcome per item in the order given. An item's `Ok` outcome means
    /// its object is durable exactly as after `put_once`; an item's error
    /// ([`Error::Conflict`] for other bytes under its key, or a backend
    /// failure) says nothing about the other items. A key given twice is
    /// judged in order: the second is `AlreadyStored` for the same bytes,
    /// `Conflict` for others.
    ///
    /// The default stores one item after the other; backends override it to
    /// share the cost of durability across the batch.
    ///
    /// # Errors
    /// When the batch as a whole could not be attempted (then no item may
    /// be taken as stored).
    fn put_many(&self, items: Vec<PutItem>) -> BoxFuture<'_, BatchOutcomes> {
        Box::pin(async move {
            let mut outcomes = Vec::with_capacity(items.len());
            for item in items {
                outcomes.push(
                    self.put_once(&item.key, item.bytes, item.retain_until)
                        .await,
                );
            }
            Ok(outcomes)
        })
    }

    /// Reads the object's bytes, checked against its recorded SHA-256.
    ///
    /// # Errors
    /// [`Error::NotFound`], or [`Error::Corrupt`] if the bytes do not match.
    fn get<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Vec<u8>>;

    /// Describes the object, or `None` if nothing is stored under `key`.
    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Option<ObjectInfo>>;

    /// Up to `limit` keys (at most [`MAX_LIST_LIMIT`]) starting with
    /// `prefix` and greater than `after`, in ascending byte order. Fewer
    /// than `limit` keys means the listing is complete; pass the last key
    /// as `after` for the next page.
    fn list<'a>(
        &'a self,
        prefix: &'a KeyPrefix,
        after: Option<&'a ObjectKey>,
        limit: usize,
    ) -> BoxFuture<'a, Vec<ObjectKey>>;

    /// Deletes the object for good, if its retention has ended at `now`
    /// and no legal hold is set.
    ///
    /// # Errors
    /// [`Error::Retained`] otherwise; [`Error::NotFound`].
    fn delete<'a>(&'a self, key: &'a ObjectKey, now: DateTime<Utc>) -> BoxFuture<'a, ()>;

    /// Sets or releases the object's legal hold.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    fn set_legal_hold<'a>(&'a self, key: &'a ObjectKey, hold: LegalHold) -> BoxFuture<'a, ()>;

    /// Moves the object's retention date to `until`, which must not be
    /// earlier than the current one (the same date is a no-op).
    ///
    /// # Errors
    /// [`Error::ShortenRefused`] for an earlier date, decided before any
    /// change is sent; [`Error::NotFound`].
    fn extend_retention<'a>(
        &'a self,
        key: &'a ObjectKey,
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, ()>;

    /// Whether the store itself can keep every object for `retention_days`
    /// whoever asks it to delete early: the local store always can (the
    /// server enforces it); an S3 bucket only with Object Lock and no
    /// shorter default retention.
    ///
    /// # Errors
    /// When the store cannot be asked.
    fn retention_guarantee(&self, retention_days: u32) -> BoxFuture<'_, RetentionGuarantee>;
}

/// What [`WormStore::retention_guarantee`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetentionGuarantee {
    /// The configured retention holds.
    Guaranteed,
    /// It does not, and why (for `/health` and the dashboard).
    NotGuaranteed(String),
}

/// The decision every backend shares before deleting: refused while
/// retained at `now` or held.
///
/// # Errors
/// [`Error::Retained`].
pub fn check_deletable(key: &ObjectKey, info: &ObjectInfo, now: DateTime<Utc>) -> Result<()> {
    if now < info.retain_until || info.legal_hold == LegalHold::On {
        return Err(Error::Retained {
            key: key.to_string(),
            retain_until: info.retain_until,
            legal_hold: info.legal_hold == LegalHold::On,
        });
    }
    Ok(())
}

/// The decision every backend shares before changing retention: `Ok(true)`
/// if `until` is later than the current date and must be sent, `Ok(false)`
/// if it is the same date.
///
/// # Errors
/// [`Error::ShortenRefused`] if `until` is earlier.
pub fn check_extension(key: &ObjectKey, info: &ObjectInfo, until: DateTime<Utc>) -> Result<bool> {
    if until < info.retain_until {
        return Err(Error::ShortenRefused {
            key: key.to_string(),
            current: info.retain_until,
            requested: until,
        });
    }
    Ok(until > info.retain_until)
}

/// The decision every backend shares when a key is already taken:
/// `AlreadyStored` for the same bytes.
///
/// # Errors
/// [`Error::Conflict`] for other bytes.
pub fn check_existing(key: &ObjectKey, info: &ObjectInfo, bytes: &[u8]) -> Result<PutOutcome> {
    if info.sha256 == ContentHash::of(bytes) && info.len == bytes.len() as u64 {
        Ok(PutOutcome::AlreadyStored)
    } else {
        Err(Error::Conflict {
            key: key.to_string(),
            existing: info.sha256,
        })
    }
}
