//! The WORM evidence store over S3 Object Lock in COMPLIANCE mode:
//! [`S3WormStore`] implements `osiris_worm::WormStore` with `aws-sdk-s3`.
//!
//! Every object is written with `If-None-Match: *`, Object Lock mode
//! COMPLIANCE and its retain-until date, and carries its SHA-256 as the user
//! metadata `x-amz-meta-sha256`. Retention and legal hold are read from
//! HeadObject (moto's GetObjectRetention is broken in server mode), and a
//! retention change is sent only when it is later than the date read, so
//! this adapter never even asks S3 to shorten a retention period. Deletion
//! removes the object's version, which S3 itself refuses while the version
//! is locked; our own check refuses first.
//!
//! A batch (`put_many`) sends up to [`DEFAULT_PUT_CONCURRENCY`] (or
//! [`S3WormStore::with_put_concurrency`]) conditional PUTs at once, without
//! a HeadObject before each: `If-None-Match: *` already refuses a taken
//! key, and only then is the stored object read and compared.
//!
//! The HTTP client is `aws-smithy-http-client` with rustls on ring (plain
//! HTTP for loopback test servers): no aws-lc, no sigv4a. The adapter must
//! not depend on any engine or app crate.

mod config;
mod convert;
mod store;

pub use config::{S3Config, client_config};
pub use store::{DEFAULT_PUT_CONCURRENCY, S3WormStore};

/// The result of setting up the S3 store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the S3 store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is unusable.
    #[error("s3 setting {setting} is invalid: {reason}")]
    InvalidConfig {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The bucket does not have Object Lock enabled, so nothing it stores
    /// would be write-once.
    #[error("s3 bucket {bucket} does not have object lock enabled")]
    ObjectLockDisabled {
        /// The bucket.
        bucket: String,
    },
    /// S3 could not be asked.
    #[error("s3 bucket {bucket} could not be checked")]
    Unreachable {
        /// The bucket.
        bucket: String,
        /// The SDK's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
