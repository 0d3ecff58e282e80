//! Slack: an incoming-webhook POST whose body is a valid Block Kit message.

use std::time::Duration;

use osiris_core::Secret;
use osiris_notify::{Channel, Event, SlackChannel, SlackConfig};
use serde_json::Value;

use crate::receiver::Receiver;
use crate::{assert_scrubbed, ticket};

/// The Block Kit rules the message relies on (Slack's reference: block
/// types, text objects, length limits, buttons).
fn assert_block_kit(message: &Value) {
    assert!(
        message["text"].as_str().is_some_and(|t| !t.is_empty()),
        "fallback text"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    let text_object = |text: &Value, kinds: &[&str], limit: usize| {
        let kind = text["type"].as_str().unwrap();
        assert!(kinds.contains(&kind), "text type {kind}");
        let body = text["text"].as_str().unwrap();
        assert!(!body.is_empty() && body.chars().count() <= limit, "{body}");
    };
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => text_object(&block["text"], &["plain_text"], 150),
            "section" => {
                assert!(block.get("text").is_some() || block.get("fields").is_some());
                if let Some(text) = block.get("text") {
                    text_object(text, &["mrkdwn", "plain_text"], 3000);
                }
                if let Some(fields) = block.get("fields") {
                    let fields = fields.as_array().unwrap();
                    assert!(fields.len() <= 10);
                    for field in fields {
                        text_object(field, &["mrkdwn", "plain_text"], 2000);
                    }
                }
            }
            "context" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 10);
                for element in elements {
                    text_object(element, &["mrkdwn", "plain_text"], 3000);
                }
            }
            "actions" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 25);
                for button in elements {
                    assert_eq!(button["type"], "button");
                    text_object(&button["text"], &["plain_text"], 75);
                    let style = button["style"].as_str().unwrap();
                    assert!(["primary", "danger"].contains(&style));
                    assert!(button["url"].as_str().unwrap().starts_with("https://"));
                    assert!(button["action_id"].as_str().unwrap().len() <= 255);
                }
            }
            other => panic!("block type {other} is not used by Osiris"),
        }
    }
}

#[tokio::test]
async fn a_slack_ticket_is_a_block_kit_message_with_approve_and_reject_buttons() {
    let receiver = Receiver::start(200, "ok").await;
    let channel = SlackChannel::new(&SlackConfig {
        webhook_url: Secret::new(format!("{}/services/T000/B000/XXXXXXXX", receiver.base)),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let ticket = ticket();
    channel.send(&ticket, Event::Trigger).await.unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/services/T000/B000/XXXXXXXX");
    assert_eq!(received[0].headers["content-type"], "application/json");
    let message = received[0].json();
    assert_block_kit(&message);
    let text = message.to_string();
    assert_scrubbed(&text);
    assert!(text.contains("164.312"), "HIPAA citation: {text}");
    assert!(text.contains("What drifted"), "{text}");
    assert!(
        text.contains("RB-DEB-FIREWALL-001 needs approval"),
        "what was tried: {text}"
    );
    assert!(
        text.contains("&lt;b&gt;"),
        "mrkdwn control characters escaped: {text}"
    );
    assert!(
        text.contains(
            "https://cc.clinic.example/app/evidence/7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
        ),
        "{text}"
    );
    let actions = message["blocks"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(actions["type"], "actions");
    assert_eq!(
        actions["elements"][0]["url"],
        "https://cc.clinic.example/app/incidents/0b6f3d8e-2a4c-4e1f-8d7b-5c9a1e3f2b40/approve"
    );
    assert_eq!(
        actions["elements"][1]["url"],
        "https://cc.clinic.example/app/incidents/0b6f3d8e-2a4c-4e1f-8d7b-5c9a1e3f2b40/reject"
    );

    channel.send(&ticket, Event::Resolve).await.unwrap();
    let resolved = receiver.received()[1].json();
    assert_block_kit(&resolved);
    assert!(
        resolved["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Resolved")
    );
    assert!(
        resolved.to_string().find("\"actions\"").is_none(),
        "no buttons once resolved"
    );
}

#[tokio::test]
async fn a_slack_error_is_reported_without_the_webhook_url() {
    let receiver = Receiver::start(404, "no_service").await;
    let channel = SlackChannel::new(&SlackConfig {
        webhook_url: Secret::new(format!("{}/services/T000/B000/SECRETTOKEN", receiver.base)),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let error = channel.send(&ticket(), Event::Trigger).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("HTTP 404: no_service"), "{text}");
    assert!(!error.is_transient());
    assert!(!text.contains("SECRETTOKEN") && !format!("{error:?}").contains("SECRETTOKEN"));
    assert!(!format!("{channel:?}").contains("SECRETTOKEN"));
}

#[test]
fn a_slack_webhook_must_be_https_off_loopback() {
    let config = |url: &str| SlackConfig {
        webhook_url: Secret::new(url.to_owned()),
        timeout: Duration::from_secs(5),
    };
    let error =
        SlackChannel::new(&config("http://hooks.slack.example/services/SECRET")).unwrap_err();
    assert!(!error.to_string().contains("SECRET"), "{error}");
    assert!(SlackChannel::new(&config("https://hooks.slack.example/services/SECRET")).is_ok());
}
