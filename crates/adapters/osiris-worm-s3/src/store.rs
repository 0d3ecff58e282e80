//! `WormStore` over one Object Lock bucket.

use std::collections::HashSet;
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus,
    ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode,
};
use chrono::{DateTime, Utc};
use osiris_worm::{
    BatchOutcomes, BoxFuture, ContentHash, Error as WormError, KeyPrefix, LegalHold,
    MAX_LIST_LIMIT, ObjectInfo, ObjectKey, PutItem, PutOutcome, Result as WormResult,
    RetentionGuarantee, WormStore, check_deletable, check_existing, check_extension,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::convert::{backend, error_code, from_sdk, retention_to_sdk};
use crate::{Error, Result, S3Config, client_config};

/// The user-metadata name (`x-amz-meta-sha256`) holding an object's hash.
const SHA256_METADATA: &str = "sha256";

/// How many PUTs of one batch are in flight by default: enough to hide
/// the round trip of each (S3 serves many connections at once), few
/// enough not to trip request-rate limits of one prefix (3,500 PUTs/s on
/// AWS) or exhaust a small S3-compatible server.
pub const DEFAULT_PUT_CONCURRENCY: usize = 32;

/// A [`WormStore`] in one S3 bucket with Object Lock enabled.
#[derive(Debug, Clone)]
pub struct S3WormStore {
    client: Client,
    bucket: String,
    put_concurrency: usize,
}

/// What HeadObject tells about the current version of an object.
#[derive(Debug)]
struct Head {
    info: ObjectInfo,
    version_id: Option<String>,
}

impl S3WormStore {
    /// Connects to the configured bucket and checks that Object Lock is
    /// enabled on it.
    ///
    /// # Errors
    /// [`Error::ObjectLockDisabled`]; [`Error::Unreachable`];
    /// [`Error::InvalidConfig`] for an empty bucket name.
    pub async fn connect(config: &S3Config) -> Result<Self> {
        let client = Client::from_conf(client_config(config).build());
        Self::with_client(client, config.bucket.clone()).await
    }

    /// Uses an already configured client (built from [`client_config`],
    /// perhaps with interceptors), checking the bucket like
    /// [`S3WormStore::connect`].
    ///
    /// # Errors
    /// As [`S3WormStore::connect`].
    pub async fn with_client(client: Client, bucket: String) -> Result<Self> {
        if bucket.is_empty() {
            return Err(Error::InvalidConfig {
                setting: "bucket",
                reason: "bucket name is empty".to_owned(),
            });
        }
        let lock = client
            .get_object_lock_configuration()
            .bucket(&bucket)
            .send()
            .await;
        let enabled = match lock {
            Ok(output) => output
                .object_lock_configuration()
                .and_then(|config| config.object_lock_enabled())
                .is_some_and(|state| *state == ObjectLockEnabled::Enabled),
            Err(error) if error_code(&error) == Some("ObjectLockConfigurationNotFoundError") => {
                false
            }
            Err(error) => {
                return Err(Error::Unreachable {
                    bucket,
                    source: Box::new(error),
                });
            }
        };
        if !enabled {
            return Err(Error::ObjectLockDisabled { bucket });
        }
        Ok(Self {
            client,
            bucket,
            put_concurrency: DEFAULT_PUT_CONCURRENCY,
        })
    }

    /// Sets how many PUTs of a [`WormStore::put_many`] batch are in flight
    /// at once (at least 1; default [`DEFAULT_PUT_CONCURRENCY`]).
    #[must_use]
    pub fn with_put_concurrency(mut self, concurrency: usize) -> Self {
        self.put_concurrency = concurrency.max(1);
        self
    }

    /// Whether `bucket` keeps objects for `retention_days` on its own: it
    /// must have Object Lock, and a default retention, if it has one, must
    /// be in COMPLIANCE mode and no shorter (Osiris sets each object's
    /// retention itself; a shorter or GOVERNANCE default is a sign the bucket
    /// was set up for something else).
    ///
    /// # Errors
    /// [`Error::Unreachable`].
    pub async fn bucket_retention(
        client: &Client,
        bucket: &str,
        retention_days: u32,
    ) -> Result<RetentionGuarantee> {
        let lock = client
            .get_object_lock_configuration()
            .bucket(bucket)
            .send()
            .await;
        let config = match lock {
            Ok(output) => output.object_lock_configuration().cloned(),
            Err(error) if error_code(&error) == Some("ObjectLockConfigurationNotFoundError") => {
                None
            }
            Err(error) => {
                return Err(Error::Unreachable {
                    bucket: bucket.to_owned(),
                    source: Box::new(error),
                });
            }
        };
        let enabled = config
            .as_ref()
            .and_then(|config| config.object_lock_enabled())
            .is_some_and(|state| *state == ObjectLockEnabled::Enabled);
        if !enabled {
            return Ok(RetentionGuarantee::NotGuaranteed(format!(
                "bucket {bucket} has no Object Lock: evidence can be deleted before {retention_days} days"
            )));
        }
        let default = config
            .as_ref()
            .and_then(|config| config.rule())
            .and_then(|rule| rule.default_retention());
        if let Some(default) = default {
            if default.mode() != Some(&ObjectLockRetentionMode::Compliance) {
                return Ok(RetentionGuarantee::NotGuaranteed(format!(
                    "bucket {bucket}'s default retention is not in COMPLIANCE mode"
                )));
            }
            let days = default
                .days()
                .map(i64::from)
                .or_else(|| default.years().map(|years| i64::from(years) * 365));
            if let Some(days) = days.filter(|days| *days < i64::from(retention_days)) {
                return Ok(RetentionGuarantee::NotGuaranteed(format!(
                    "bucket {bucket}'s default retention of {days} days is shorter than evidence.retention_days ({retention_days})"
                )));
            }
        }
        Ok(RetentionGuarantee::Guaranteed)
    }

    /// The bucket this store writes to.
    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn head_version(&self, key: &ObjectKey) -> WormResult<Option<Head>> {
        let reply = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        let output = match reply {
            Ok(output) => output,
            Err(error)
                if matches!(error.as_service_error(), Some(HeadObjectError::NotFound(_))) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(backend("reading metadata of", key, error)),
        };
        // An object without these was not written by this store: refuse to
        // vouch for it rather than report a retention it does not have.
        if output.object_lock_mode() != Some(&ObjectLockMode::Compliance) {
            return Err(WormError::corrupt(
                key,
                "object is not locked in COMPLIANCE mode",
            ));
        }
        let retain_until = output
            .object_lock_retain_until_date()
            .ok_or_else(|| WormError::corrupt(key, "object has no retain-until date"))?;
        let sha256 = output
            .metadata()
            .and_then(|metadata| metadata.get(SHA256_METADATA))
            .and_then(|text| text.parse::<ContentHash>().ok())
            .ok_or_else(|| WormError::corrupt(key, "object has no valid sha256 metadata"))?;
        let len = output
            .content_length()
            .and_then(|len| u64::try_from(len).ok())
            .ok_or_else(|| WormError::corrupt(key, "object has no content length"))?;
        let legal_hold =
            if output.object_lock_legal_hold_status() == Some(&ObjectLockLegalHoldStatus::On) {
                LegalHold::On
            } else {
                LegalHold::Off
            };
        Ok(Some(Head {
            info: ObjectInfo {
                len,
                sha256,
                retain_until: from_sdk(key, retain_until)?,
                legal_hold,
            },
            version_id: output.version_id().map(str::to_owned),
        }))
    }

    async fn require(&self, key: &ObjectKey) -> WormResult<Head> {
        self.head_version(key)
            .await?
            .ok_or_else(|| WormError::NotFound {
                key: key.to_string(),
            })
    }

    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        retain_until: DateTime<Utc>,
    ) -> WormResult<PutOutcome> {
        if let Some(head) = self.head_version(key).await? {
            return check_existing(key, &head.info, &bytes);
        }
        self.put_new(key, bytes, retain_until).await
    }

    /// The conditional PUT alone: `If-None-Match: *` makes S3 refuse it
    /// when the key is taken, and only then is the stored object read and
    /// compared. Without the HeadObject first, a new object costs one
    /// request.
    async fn put_new(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        retain_until: DateTime<Utc>,
    ) -> WormResult<PutOutcome> {
        let sha256 = ContentHash::of(&bytes);
        let reply = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            // Written once: S3 refuses the PUT if any writer got there first.
            .if_none_match("*")
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(retention_to_sdk(retain_until))
            .metadata(SHA256_METADATA, sha256.to_string())
            // Object Lock PUTs must carry an integrity header; SHA-256 also
            // makes S3 check the bytes against the hash we record.
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(bytes.clone()))
            .send()
            .await;
        match reply {
            Ok(_) => Ok(PutOutcome::Stored),
            Err(error) if error_code(&error) == Some("PreconditionFailed") => {
                let head = self.require(key).await?;
                check_existing(key, &head.info, &bytes)
            }
            Err(error) => Err(backend("writing", key, error)),
        }
    }

    /// Up to `put_concurrency` conditional PUTs in flight, each object with
    /// its own COMPLIANCE retention exactly as `put_once` writes it; a
    /// key's repetitions within the batch are judged after its first
    /// occurrence is settled.
    async fn put_batch(&self, items: Vec<PutItem>) -> WormResult<BatchOutcomes> {
        let mut outcomes: Vec<Option<WormResult<PutOutcome>>> =
            std::iter::repeat_with(|| None).take(items.len()).collect();
        let mut seen = HashSet::new();
        let mut firsts = Vec::with_capacity(items.len());
        let mut repeated = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            if seen.insert(item.key.clone()) {
                firsts.push((index, item));
            } else {
                repeated.push((index, item));
            }
        }
        let permits = Arc::new(Semaphore::new(self.put_concurrency));
        let mut tasks = JoinSet::new();
        for (index, item) in firsts {
            // Waiting for a permit before spawning bounds the tasks (and
            // the bytes they hold) as well as the requests.
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .map_err(|error| WormError::backend("pacing a batch of PUTs", error))?;
            let store = self.clone();
            tasks.spawn(async move {
                let outcome = store
                    .put_new(&item.key, item.bytes, item.retain_until)
                    .await;
                drop(permit);
                (index, outcome)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            // A task that died leaves its slot empty: reported below.
            if let Ok((index, outcome)) = joined
                && let Some(slot) = outcomes.get_mut(index)
            {
                *slot = Some(outcome);
            }
        }
        for (index, item) in repeated {
            let outcome = self.put(&item.key, item.bytes, item.retain_until).await;
            if let Some(slot) = outcomes.get_mut(index) {
                *slot = Some(outcome);
            }
        }
        Ok(outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome.unwrap_or_else(|| {
                    Err(WormError::backend(
                        format!("storing item {index} of a batch"),
                        "its PUT task stopped without an outcome",
                    ))
                })
            })
            .collect())
    }

    async fn read(&self, key: &ObjectKey) -> WormResult<Vec<u8>> {
        let head = self.require(key).await?;
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str());
        // Read exactly the version whose metadata was checked.
        if let Some(version) = &head.version_id {
            request = request.version_id(version);
        }
        let output = request
            .send()
            .await
            .map_err(|error| backend("reading", key, error))?;
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|error| WormError::backend(format!("reading the body of {key}"), error))?
            .to_vec();
        if ContentHash::of(&bytes) != head.info.sha256 {
            return Err(WormError::corrupt(
                key,
                "bytes do not match the recorded sha256",
            ));
        }
        Ok(bytes)
    }

    async fn keys(
        &self,
        prefix: &KeyPrefix,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> WormResult<Vec<ObjectKey>> {
        let limit = limit.min(MAX_LIST_LIMIT);
        let mut keys = Vec::with_capacity(limit);
        let mut continuation: Option<String> = None;
        while keys.len() < limit {
            let wanted = i32::try_from(limit - keys.len()).unwrap_or(i32::MAX);
            let mut request = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix.as_str())
                .max_keys(wanted);
            request = match (&continuation, after) {
                (Some(token), _) => request.continuation_token(token),
                (None, Some(after)) => request.start_after(after.as_str()),
                (None, None) => request,
            };
            let output = request.send().await.map_err(|error| {
                WormError::backend(
                    format!(
                        "listing {prefix}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&error)
                    ),
                    error,
                )
            })?;
            // Objects under names this store would never write are not ours.
            keys.extend(
                output
                    .contents()
                    .iter()
                    .filter_map(|object| object.key())
                    .filter_map(|key| ObjectKey::parse(key).ok())
                    .take(limit - keys.len()),
            );
            match output.next_continuation_token() {
                Some(token) if output.is_truncated() == Some(true) => {
                    continuation = Some(token.to_owned());
                }
                _ => break,
            }
        }
        Ok(keys)
    }

    async fn remove(&self, key: &ObjectKey, now: DateTime<Utc>) -> WormResult<()> {
        let head = self.require(key).await?;
        check_deletable(key, &head.info, now)?;
        // Deleting the version removes it for good; a delete without a
        // version id would only hide it behind a delete marker.
        let mut request = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str());
        if let Some(version) = &head.version_id {
            request = request.version_id(version);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // S3's clock may be behind the caller's `now`.
            Err(error) if error_code(&error) == Some("AccessDenied") => Err(WormError::Retained {
                key: key.to_string(),
                retain_until: head.info.retain_until,
                legal_hold: head.info.legal_hold == LegalHold::On,
            }),
            Err(error) => Err(backend("deleting", key, error)),
        }
    }

    async fn legal_hold(&self, key: &ObjectKey, hold: LegalHold) -> WormResult<()> {
        let head = self.require(key).await?;
        let status = match hold {
            LegalHold::On => ObjectLockLegalHoldStatus::On,
            LegalHold::Off => ObjectLockLegalHoldStatus::Off,
        };
        self.client
            .put_object_legal_hold()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_version_id(head.version_id)
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send()
            .await
            .map_err(|error| backend("setting the legal hold of", key, error))?;
        Ok(())
    }

    async fn extend(&self, key: &ObjectKey, until: DateTime<Utc>) -> WormResult<()> {
        let head = self.require(key).await?;
        // Decided on the date just read, before any request is built: an
        // earlier date is refused here and never reaches S3 (moto, unlike
        // AWS, would accept it).
        if !check_extension(key, &head.info, until)? {
            return Ok(());
        }
        let retention = ObjectLockRetention::builder()
            .mode(ObjectLockRetentionMode::Compliance)
            .retain_until_date(retention_to_sdk(until))
            .build();
        self.client
            .put_object_retention()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_version_id(head.version_id)
            .retention(retention)
            .send()
            .await
            .map_err(|error| backend("extending the retention of", key, error))?;
        Ok(())
    }
}

impl WormStore for S3WormStore {
    fn put_once<'a>(
        &'a self,
        key: &'a ObjectKey,
        bytes: Vec<u8>,
        retain_until: DateTime<Utc>,
    ) -> BoxFuture<'a, PutOutcome> {
        Box::pin(self.put(key, bytes, retain_until))
    }

    fn put_many(&self, items: Vec<PutItem>) -> BoxFuture<'_, BatchOutcomes> {
        Box::pin(self.put_batch(items))
    }

    fn get<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Vec<u8>> {
        Box::pin(self.read(key))
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Option<ObjectInfo>> {
        Box::pin(async move { Ok(self.head_version(key).await?.map(|head| head.info)) })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a KeyPrefix,
        after: Option<&'a ObjectKey>,
        limit: usize,
    ) -> BoxFuture<'a, Vec<ObjectKey>> {
        Box::pin(self.keys(prefix, after, limit))
    }

    fn delete<'a>(&'a self, key: &'a ObjectKey, now: DateTime<Utc>) -> BoxFuture<'a, ()> {
        Box::pin(self.remove(key, now))
    }

    fn set_legal_hold<'a>(&'a self, key: &'a ObjectKey, hold: LegalHold) -> BoxFuture<'a, ()> {
        Box::pin(self.legal_hold(key, hold))
    }

    fn extend_retention<'a>(
        &'a self,
        key: &'a ObjectKey,
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.extend(key, until))
    }

    fn retention_guarantee(&self, retention_days: u32) -> BoxFuture<'_, RetentionGuarantee> {
        Box::pin(async move {
            Self::bucket_retention(&self.client, &self.bucket, retention_days)
                .await
                .map_err(|error| {
                    WormError::backend("reading the bucket's Object Lock configuration", error)
                })
        })
    }
}
