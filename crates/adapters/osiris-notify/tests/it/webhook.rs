//! The generic webhook: the ticket's JSON, signed so a receiver can check
//! it with nothing but the shared key (here Python's own hmac).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use osiris_core::{ManualClock, Secret};
use osiris_notify::{
    Channel, Event, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookChannel, WebhookConfig,
};

use crate::receiver::Receiver;
use crate::{assert_scrubbed, python, ticket};

const KEY: &str = "whsec-0123456789abcdef-shared";

/// What Python's hmac says the signature of `body` at `timestamp` is.
fn python_signature(key: &str, timestamp: &str, body: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("body");
    std::fs::write(&path, body).unwrap();
    let output = Command::new(python())
        .args([
            "-c",
            "import hmac, hashlib, sys\n\
             body = open(sys.argv[3], 'rb').read()\n\
             mac = hmac.new(sys.argv[1].encode(), sys.argv[2].encode() + b'.' + body, hashlib.sha256)\n\
             print('sha256=' + mac.hexdigest())",
            key,
            timestamp,
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn the_webhook_body_is_the_ticket_and_its_signature_verifies_independently() {
    let receiver = Receiver::start(204, "").await;
    let clock = Arc::new(ManualClock::new("2026-06-17T16:05:00Z".parse().unwrap()));
    let channel = WebhookChannel::new(
        WebhookConfig {
            url: format!("{}/hooks/osiris", receiver.base),
            key: Secret::new(KEY.to_owned()),
            timeout: Duration::from_secs(5),
        },
        clock,
    )
    .unwrap();
    channel.send(&ticket(), Event::Trigger).await.unwrap();
    let request = &receiver.received()[0];
    let timestamp = request.headers[TIMESTAMP_HEADER].to_str().unwrap();
    let signature = request.headers[SIGNATURE_HEADER].to_str().unwrap();
    assert_eq!(timestamp, "1781712300");
    assert_eq!(signature, python_signature(KEY, timestamp, &request.body));
    assert_ne!(
        signature,
        python_signature("another-key-0123456789", timestamp, &request.body)
    );
    let mut tampered = request.body.to_vec();
    tampered[10] ^= 1;
    assert_ne!(signature, python_signature(KEY, timestamp, &tampered));

    let body = request.json();
    assert_eq!(body["schema"], "osiris.ticket.v1");
    assert_eq!(body["event"], "trigger");
    assert_eq!(
        body["dedup_key"],
        "osiris-incident-0b6f3d8e-2a4c-4e1f-8d7b-5c9a1e3f2b40"
    );
    assert_eq!(body["check"]["id"], "deb.firewall.ufw");
    assert!(
        body["hipaa"][0]["cite"]
            .as_str()
            .unwrap()
            .starts_with("164.")
    );
    assert_eq!(body["tried"].as_array().unwrap().len(), 2);
    assert_eq!(body["evidence"].as_array().unwrap().len(), 2);
    assert!(body["approve_url"].as_str().unwrap().ends_with("/approve"));
    assert!(body["reject_url"].as_str().unwrap().ends_with("/reject"));
    assert_scrubbed(&body.to_string());
    assert!(!format!("{channel:?}").contains(KEY));
}

#[test]
fn a_short_webhook_key_is_refused() {
    let built = WebhookChannel::new(
        WebhookConfig {
            url: "https://hooks.clinic.example/osiris".to_owned(),
            key: Secret::new("short".to_owned()),
            timeout: Duration::from_secs(5),
        },
        Arc::new(ManualClock::new("2026-06-17T16:05:00Z".parse().unwrap())),
    );
    assert!(
        built
            .unwrap_err()
            .to_string()
            .contains("shorter than 16 bytes")
    );
}
