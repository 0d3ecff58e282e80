//! The lock is S3's, not only ours: raw SDK calls that bypass the store
//! are refused, and an independent client (boto3) sees COMPLIANCE mode.

use chrono::{Duration, DurationRound};
use osiris_worm::{Error, LegalHold, ObjectKey, PutOutcome, WormStore};
use osiris_worm_s3::S3WormStore;

use crate::support;

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

/// The version id S3 gave the object's only version.
async fn version_of(bucket: &str, key: &ObjectKey) -> String {
    let head = support::raw_client(bucket)
        .head_object()
        .bucket(bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    head.version_id()
        .expect("object lock buckets are versioned")
        .to_owned()
}

#[tokio::test]
async fn a_locked_version_cannot_be_deleted_with_the_raw_sdk() {
    let store = support::fresh_store().await;
    let bucket = store.bucket().to_owned();
    let key = key("evidence/site/app/00000000000000000001.json");
    let until = support::now() + Duration::days(1);
    let _ = store
        .put_once(&key, b"sealed".to_vec(), until)
        .await
        .unwrap();
    let version = version_of(&bucket, &key).await;

    let raw = support::raw_client(&bucket);
    let refused = raw
        .delete_object()
        .bucket(&bucket)
        .key(key.as_str())
        .version_id(&version)
        .bypass_governance_retention(true)
        .send()
        .await;
    let error = refused.expect_err("S3 deleted a COMPLIANCE-locked version");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&error.into_service_error()),
        Some("AccessDenied")
    );
    assert_eq!(store.get(&key).await.unwrap(), b"sealed");
}

#[tokio::test]
async fn a_raw_overwrite_leaves_the_locked_version_intact() {
    let store = support::fresh_store().await;
    let bucket = store.bucket().to_owned();
    let key = key("evidence/site/app/00000000000000000002.json");
    let until = support::now() + Duration::days(1);
    let _ = store
        .put_once(&key, b"original".to_vec(), until)
        .await
        .unwrap();
    let version = version_of(&bucket, &key).await;

    // Through the store: refused, nothing written.
    assert!(matches!(
        store.put_once(&key, b"forged".to_vec(), until).await,
        Err(Error::Conflict { .. })
    ));
    // Through the store, a conditional PUT from a second writer that lost
    // the race is refused by S3 itself.
    let raw = support::raw_client(&bucket);
    let conditional = raw
        .put_object()
        .bucket(&bucket)
        .key(key.as_str())
        .if_none_match("*")
        .body(b"forged".to_vec().into())
        .send()
        .await;
    assert!(
        conditional.is_err(),
        "S3 accepted a second If-None-Match PUT"
    );

    // An unconditional raw PUT makes a new version on top; the locked one
    // still holds the original bytes and still cannot be deleted.
    let _ = raw
        .put_object()
        .bucket(&bucket)
        .key(key.as_str())
        .body(b"forged".to_vec().into())
        .send()
        .await
        .unwrap();
    let original = raw
        .get_object()
        .bucket(&bucket)
        .key(key.as_str())
        .version_id(&version)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .to_vec();
    assert_eq!(original, b"original");
    let refused = raw
        .delete_object()
        .bucket(&bucket)
        .key(key.as_str())
        .version_id(&version)
        .send()
        .await;
    assert!(refused.is_err(), "the locked version was deleted");
    // The store refuses to vouch for the unlocked version on top.
    assert!(matches!(store.get(&key).await, Err(Error::Corrupt { .. })));
}

#[tokio::test]
async fn a_legal_hold_blocks_raw_deletion_after_retention_ends() {
    let store = support::fresh_store().await;
    let bucket = store.bucket().to_owned();
    let key = key("evidence/held.json");
    let now = support::now().duration_trunc(Duration::seconds(1)).unwrap();
    let until = now + Duration::seconds(1);
    let _ = store.put_once(&key, b"held".to_vec(), until).await.unwrap();
    store.set_legal_hold(&key, LegalHold::On).await.unwrap();
    let version = version_of(&bucket, &key).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let raw = support::raw_client(&bucket);
    let refused = raw
        .delete_object()
        .bucket(&bucket)
        .key(key.as_str())
        .version_id(&version)
        .send()
        .await;
    assert!(refused.is_err(), "a version under legal hold was deleted");
    assert!(matches!(
        store.delete(&key, until + Duration::seconds(2)).await,
        Err(Error::Retained {
            legal_hold: true,
            ..
        })
    ));

    store.set_legal_hold(&key, LegalHold::Off).await.unwrap();
    raw.delete_object()
        .bucket(&bucket)
        .key(key.as_str())
        .version_id(&version)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn boto3_sees_compliance_mode_and_the_retain_until_date() {
    let store = support::fresh_store().await;
    let key = key("evidence/boto.json");
    let until = (support::now() + Duration::days(3))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    assert_eq!(
        store.put_once(&key, b"boto".to_vec(), until).await.unwrap(),
        PutOutcome::Stored
    );

    let python = std::env::var("OSIRIS_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("OSIRIS_TEST_PYTHON is not set: point it at a python with boto3 installed")
    });
    let script = r#"
import sys, boto3
url, bucket, key = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                  aws_access_key_id="osiris-test", aws_secret_access_key="osiris-test-secret")
head = s3.head_object(Bucket=bucket, Key=key)
print(head["ObjectLockMode"])
print(head["ObjectLockRetainUntilDate"].strftime("%Y-%m-%dT%H:%M:%SZ"))
print(head["Metadata"]["sha256"])
"#;
    let output = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(support::server_url())
        .arg(store.bucket())
        .arg(key.as_str())
        .output()
        .await
        .unwrap_or_else(|error| panic!("running {python}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "boto3 check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "COMPLIANCE".to_owned(),
            until.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            osiris_worm::ContentHash::of(b"boto").to_string(),
        ]
    );
}

#[tokio::test]
async fn a_bucket_without_object_lock_is_refused() {
    let bucket = support::fresh_bucket(false).await;
    let refused = S3WormStore::connect(&support::config(&bucket)).await;
    assert!(
        matches!(
            refused,
            Err(osiris_worm_s3::Error::ObjectLockDisabled { .. })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn retention_is_guaranteed_only_by_a_locked_bucket_without_a_shorter_default() {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule,
    };
    use osiris_worm::{RetentionGuarantee, WormStore as _};

    let unlocked = support::fresh_bucket(false).await;
    let answer = S3WormStore::bucket_retention(&support::raw_client(&unlocked), &unlocked, 2190)
        .await
        .unwrap();
    let RetentionGuarantee::NotGuaranteed(why) = answer else {
        panic!("a bucket without Object Lock guarantees nothing");
    };
    assert!(
        why.contains("no Object Lock") && why.contains(&unlocked),
        "{why}"
    );

    let store = support::fresh_store().await;
    assert_eq!(
        store.retention_guarantee(2190).await.unwrap(),
        RetentionGuarantee::Guaranteed,
        "Object Lock without a default: Osiris sets each object's retention"
    );
    let bucket = store.bucket().to_owned();
    let set_default = |mode: ObjectLockRetentionMode, days: i32| {
        let bucket = bucket.clone();
        async move {
            support::raw_client(&bucket)
                .put_object_lock_configuration()
                .bucket(&bucket)
                .object_lock_configuration(
                    ObjectLockConfiguration::builder()
                        .object_lock_enabled(ObjectLockEnabled::Enabled)
                        .rule(
                            ObjectLockRule::builder()
                                .default_retention(
                                    DefaultRetention::builder().mode(mode).days(days).build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    set_default(ObjectLockRetentionMode::Compliance, 30).await;
    let RetentionGuarantee::NotGuaranteed(why) = store.retention_guarantee(2190).await.unwrap()
    else {
        panic!("a 30-day default is shorter than six years");
    };
    assert!(why.contains("30 days"), "{why}");
    set_default(ObjectLockRetentionMode::Compliance, 2190).await;
    assert_eq!(
        store.retention_guarantee(2190).await.unwrap(),
        RetentionGuarantee::Guaranteed
    );
    set_default(ObjectLockRetentionMode::Governance, 3000).await;
    assert!(matches!(
        store.retention_guarantee(2190).await.unwrap(),
        RetentionGuarantee::NotGuaranteed(_)
    ));
}
