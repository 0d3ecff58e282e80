//! PagerDuty Events API v2: trigger, acknowledge and resolve, one dedup key.

use std::time::Duration;

use osiris_core::Secret;
use osiris_notify::{Channel, Event, PagerDutyChannel, PagerDutyConfig};

use crate::receiver::Receiver;
use crate::{assert_scrubbed, ticket};

const ACCEPTED: &str = r#"{"status":"success","message":"Event processed","dedup_key":"osiris-incident-0b6f3d8e-2a4c-4e1f-8d7b-5c9a1e3f2b40"}"#;

fn channel(receiver: &Receiver) -> PagerDutyChannel {
    PagerDutyChannel::new(PagerDutyConfig {
        events_url: format!("{}/v2/enqueue", receiver.base),
        routing_key: Secret::new("R0UT1NGKEY0000000000000000000000".to_owned()),
        source: "osiris-appliance-clinic-1".to_owned(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

#[tokio::test]
async fn trigger_acknowledge_and_resolve_share_one_dedup_key() {
    let receiver = Receiver::start(202, ACCEPTED).await;
    let channel = channel(&receiver);
    let ticket = ticket();
    for event in [Event::Trigger, Event::Acknowledge, Event::Resolve] {
        channel.send(&ticket, event).await.unwrap();
    }
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let events: Vec<serde_json::Value> = received.iter().map(|r| r.json()).collect();
    for (event, action) in events.iter().zip(["trigger", "acknowledge", "resolve"]) {
        assert_eq!(event["routing_key"], "R0UT1NGKEY0000000000000000000000");
        assert_eq!(event["event_action"], action);
        assert_eq!(
            event["dedup_key"],
            "osiris-incident-0b6f3d8e-2a4c-4e1f-8d7b-5c9a1e3f2b40"
        );
        assert!(event["dedup_key"].as_str().unwrap().len() <= 255);
    }
    assert_eq!(received[0].path, "/v2/enqueue");

    let trigger = &events[0];
    let payload = &trigger["payload"];
    let summary = payload["summary"].as_str().unwrap();
    assert!(!summary.is_empty() && summary.len() <= 1024);
    assert!(
        summary.contains("Host Firewall") || summary.contains("ufw"),
        "{summary}"
    );
    assert_eq!(payload["source"], "osiris-appliance-clinic-1");
    assert!(
        ["critical", "error", "warning", "info"].contains(&payload["severity"].as_str().unwrap())
    );
    assert_eq!(payload["timestamp"], "2026-06-17T16:00:00Z");
    assert_eq!(payload["component"], "deb.firewall.ufw");
    assert!(
        payload["custom_details"]["hipaa"][0]
            .as_str()
            .unwrap()
            .starts_with("164.")
    );
    assert_eq!(
        payload["custom_details"]["what_was_tried"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let links = trigger["links"].as_array().unwrap();
    assert!(
        links
            .iter()
            .all(|l| l["href"].as_str().unwrap().starts_with("https://") && l["text"].is_string())
    );
    assert!(
        links
            .iter()
            .any(|l| l["href"].as_str().unwrap().ends_with("/approve"))
    );
    assert_scrubbed(&trigger.to_string());
    // Acknowledge and resolve carry only what the API reads for them.
    for event in &events[1..] {
        let mut keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["dedup_key", "event_action", "routing_key"]);
    }
}

#[tokio::test]
async fn a_refused_event_is_permanent_and_a_throttled_one_transient() {
    let receiver = Receiver::start(
        400,
        r#"{"status":"invalid event","errors":["'routing_key' is invalid"]}"#,
    )
    .await;
    let error = channel(&receiver)
        .send(&ticket(), Event::Trigger)
        .await
        .unwrap_err();
    assert!(!error.is_transient(), "{error}");
    assert!(error.to_string().contains("HTTP 400"), "{error}");
    assert!(!error.to_string().contains("R0UT1NGKEY"), "{error}");

    let receiver = Receiver::start(429, "{}").await;
    let error = channel(&receiver)
        .send(&ticket(), Event::Trigger)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(!format!("{:?}", channel(&receiver)).contains("R0UT1NGKEY"));
}
