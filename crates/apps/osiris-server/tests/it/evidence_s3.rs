//! Central Command on an S3 Object Lock bucket (`evidence.backend = "s3"`),
//! against the S3 server named by `OSIRIS_TEST_S3_URL` (moto in CI): the
//! check-in's bundles land in the bucket locked in COMPLIANCE mode, exports
//! read them back, `/health` reports the bucket's retention guarantee, and
//! an unusable bucket stops the start with the setting named.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockMode,
    ObjectLockRetentionMode, ObjectLockRule,
};
use osiris_core::{Clock as _, Secret};
use reqwest::StatusCode;
use serde_json::json;

use crate::fleet::TestAppliance;
use crate::support::{TestServer, config_for, tenant};

fn s3_url() -> String {
    std::env::var("OSIRIS_TEST_S3_URL").unwrap_or_else(|_| {
        panic!(
            "OSIRIS_TEST_S3_URL is not set: start `moto_server -H 127.0.0.1 -p 5055` \
             and export OSIRIS_TEST_S3_URL=http://127.0.0.1:5055"
        )
    })
}

fn client() -> Client {
    let config = osiris_worm_s3::S3Config {
        endpoint_url: Some(s3_url()),
        region: "us-east-1".to_owned(),
        bucket: String::new(),
        access_key_id: "osiris-test".to_owned(),
        secret_access_key: Secret::new("osiris-test-secret".to_owned()),
        force_path_style: true,
    };
    Client::from_conf(osiris_worm_s3::client_config(&config).build())
}

async fn bucket(object_lock: bool) -> String {
    let bucket = format!("osiris-server-{}", uuid::Uuid::new_v4());
    client()
        .create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(object_lock)
        .send()
        .await
        .unwrap();
    bucket
}

/// The settings of an S3 evidence store on `bucket`, credentials as the
/// environment gives them.
fn settings(url: &str, bucket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OSIRIS_EVIDENCE__BACKEND", "s3".to_owned()),
        ("OSIRIS_EVIDENCE__S3__ENDPOINT", url.to_owned()),
        ("OSIRIS_EVIDENCE__S3__BUCKET", bucket.to_owned()),
        ("OSIRIS_EVIDENCE__S3__PATH_STYLE", "true".to_owned()),
        (
            "OSIRIS_EVIDENCE__S3__ACCESS_KEY_ID",
            "osiris-test".to_owned(),
        ),
        (
            "OSIRIS_EVIDENCE__S3__SECRET_ACCESS_KEY",
            "osiris-test-secret".to_owned(),
        ),
        ("OSIRIS_EVIDENCE__S3__PUT_CONCURRENCY", "8".to_owned()),
    ]
}

async fn start_on(bucket: &str, extra: &[(&'static str, &str)]) -> TestServer {
    let settings = settings(&s3_url(), bucket);
    let env: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .chain(extra.iter().copied())
        .collect();
    TestServer::start_with(&env).await
}

#[tokio::test]
async fn check_ins_are_stored_in_the_s3_bucket_under_compliance_lock() {
    let bucket = bucket(true).await;
    let server = start_on(&bucket, &[("OSIRIS_EVIDENCE__RETENTION_DAYS", "2555")]).await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let now = server.clock.now();
    let bundles: Vec<_> = (0..5).map(|_| appliance.seal(now)).collect();
    let refs: Vec<_> = bundles.iter().collect();
    let response = appliance.checkin(&server, &refs).await;
    assert_eq!(response["acknowledged_through_seq"], 5, "{response}");
    // A repeated upload is acknowledged again, nothing rewritten.
    let again = appliance.checkin(&server, &refs).await;
    assert_eq!(again["acknowledged_through_seq"], 5, "{again}");

    let stored = appliance.stored(&server).await;
    assert_eq!(stored.index.len(), 5);
    for (bundle, (key, bytes)) in bundles.iter().zip(&stored.objects) {
        assert_eq!(bytes.as_slice(), bundle.bytes(), "{key}");
        let head = client()
            .head_object()
            .bucket(&bucket)
            .key(key.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Compliance));
        let until = head.object_lock_retain_until_date().unwrap().secs();
        let expected = (now + chrono::Duration::days(2555)).timestamp();
        assert!(
            (expected..=expected + 1).contains(&until),
            "{key}: retained until {until}, expected {expected}"
        );
    }

    let (status, health) = server.anonymous().get("/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(
        health["evidence_retention"],
        json!({"days": 2555, "guaranteed": true, "warning": null})
    );
}

#[tokio::test]
async fn health_warns_when_the_bucket_default_retention_is_governance() {
    let bucket = bucket(true).await;
    let rule = ObjectLockRule::builder()
        .default_retention(
            DefaultRetention::builder()
                .mode(ObjectLockRetentionMode::Governance)
                .days(1)
                .build(),
        )
        .build();
    client()
        .put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(rule)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let server = start_on(&bucket, &[]).await;
    let (status, health) = server.anonymous().get("/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(
        health["evidence_retention"]["guaranteed"], false,
        "{health}"
    );
    let warning = health["evidence_retention"]["warning"].as_str().unwrap();
    assert!(warning.contains("COMPLIANCE"), "{warning}");
    assert!(
        health["warnings"].as_array().is_some_and(|w| !w.is_empty()),
        "{health}"
    );
}

#[tokio::test]
async fn a_bucket_without_object_lock_or_an_absent_server_stops_the_start() {
    let unlocked = bucket(false).await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (s3_url(), unlocked, "evidence.s3.bucket"),
        // Nothing listens on port 9 of loopback.
        (
            "http://127.0.0.1:9".to_owned(),
            "anything".to_owned(),
            "evidence.s3.endpoint",
        ),
    ];
    for (url, bucket, setting) in cases {
        let settings = settings(&url, &bucket);
        let env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = config_for(dir.path(), &env);
        let clock = osiris_testkit::TestClock::manual_at(osiris_testkit::default_start());
        let error = osiris_server::start(&config, std::sync::Arc::new(clock), async {})
            .await
            .map(|running| running.addr)
            .unwrap_err();
        let message = format!("{error}");
        assert!(message.starts_with(setting), "{setting}: {message}");
    }
}
