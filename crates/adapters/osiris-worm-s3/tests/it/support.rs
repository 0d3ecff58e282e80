//! The test server, fresh buckets and a raw SDK client for checks made
//! outside the store.

use aws_sdk_s3::Client;
use chrono::{DateTime, Utc};
use osiris_core::Secret;
use osiris_worm_s3::{S3Config, S3WormStore, client_config};

/// The server's address, or a failure naming the variable.
pub(crate) fn server_url() -> String {
    std::env::var("OSIRIS_TEST_S3_URL").unwrap_or_else(|_| {
        panic!(
            "OSIRIS_TEST_S3_URL is not set: start `moto_server -H 127.0.0.1 -p 5055` \
             and export OSIRIS_TEST_S3_URL=http://127.0.0.1:5055"
        )
    })
}

/// A configuration for `bucket` on the test server (moto accepts any key).
pub(crate) fn config(bucket: &str) -> S3Config {
    S3Config {
        endpoint_url: Some(server_url()),
        region: "us-east-1".to_owned(),
        bucket: bucket.to_owned(),
        access_key_id: "osiris-test".to_owned(),
        secret_access_key: Secret::new("osiris-test-secret".to_owned()),
        force_path_style: true,
    }
}

/// A client outside the store, for raw S3 calls.
pub(crate) fn raw_client(bucket: &str) -> Client {
    Client::from_conf(client_config(&config(bucket)).build())
}

/// Creates a bucket with a unique name, with or without Object Lock.
pub(crate) async fn fresh_bucket(object_lock: bool) -> String {
    let bucket = format!("osiris-worm-{}", uuid::Uuid::new_v4());
    raw_client(&bucket)
        .create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(object_lock)
        .send()
        .await
        .unwrap_or_else(|error| {
            panic!(
                "creating bucket {bucket} on {}: {}",
                server_url(),
                aws_sdk_s3::error::DisplayErrorContext(&error)
            )
        });
    bucket
}

/// A store on a fresh Object Lock bucket.
pub(crate) async fn fresh_store() -> S3WormStore {
    let bucket = fresh_bucket(true).await;
    S3WormStore::connect(&config(&bucket)).await.unwrap()
}

/// The present, which the server also uses to enforce retention.
pub(crate) fn now() -> DateTime<Utc> {
    #[expect(
        clippy::disallowed_methods,
        reason = "S3 enforces retention by its own clock, so the tests must use the real one"
    )]
    Utc::now()
}
