//! A shortening of retention never leaves the process: moto (unlike AWS)
//! would accept it, so the refusal must be ours. A recording interceptor
//! sees every request the client transmits.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use chrono::{Duration, DurationRound};
use osiris_worm::{Error, ObjectKey, WormStore};
use osiris_worm_s3::{S3WormStore, client_config};

use crate::support;

/// Records `METHOD uri` of every transmitted request.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {}", request.method(), request.uri()));
        Ok(())
    }
}

impl Recorder {
    fn retention_requests(&self) -> Vec<String> {
        let requests = self.0.lock().unwrap();
        requests
            .iter()
            .filter(|line| line.contains("retention"))
            .cloned()
            .collect()
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[tokio::test]
async fn a_shortening_request_is_never_sent() {
    let bucket = support::fresh_bucket(true).await;
    let recorder = Recorder::default();
    let client = aws_sdk_s3::Client::from_conf(
        client_config(&support::config(&bucket))
            .interceptor(recorder.clone())
            .build(),
    );
    let store = S3WormStore::with_client(client, bucket).await.unwrap();
    let key = ObjectKey::parse("evidence/retained.json").unwrap();
    // Whole seconds, as S3 keeps them, so the same date reads back equal.
    let until = (support::now() + Duration::days(10))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    let _ = store.put_once(&key, b"kept".to_vec(), until).await.unwrap();

    let before = recorder.count();
    let refused = store
        .extend_retention(&key, until - Duration::days(5))
        .await;
    assert!(
        matches!(refused, Err(Error::ShortenRefused { .. })),
        "{refused:?}"
    );
    assert_eq!(recorder.count(), before + 1, "only the HeadObject was sent");
    assert!(recorder.retention_requests().is_empty());

    // The same date sends nothing either; a later one sends exactly one.
    store.extend_retention(&key, until).await.unwrap();
    assert!(recorder.retention_requests().is_empty());
    store
        .extend_retention(&key, until + Duration::days(1))
        .await
        .unwrap();
    let sent = recorder.retention_requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("PUT "), "{sent:?}");
}
