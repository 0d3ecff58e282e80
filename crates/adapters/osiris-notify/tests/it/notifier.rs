//! The notifier: every channel at once; a dead one never blocks the others.

use std::sync::Arc;
use std::time::Duration;

use osiris_core::Secret;
use osiris_notify::{
    Channel, Error, Event, Notifier, PagerDutyChannel, PagerDutyConfig, SlackChannel, SlackConfig,
};

use crate::receiver::Receiver;
use crate::ticket;

fn slack(url: String) -> Arc<dyn Channel> {
    Arc::new(
        SlackChannel::new(&SlackConfig {
            webhook_url: Secret::new(url),
            timeout: Duration::from_secs(30),
        })
        .unwrap(),
    )
}

#[tokio::test]
async fn a_dead_channel_never_blocks_the_others() {
    // Accepts connections and never answers.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url = format!("http://{}/services/T/B/X", hanging.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            open.push(socket);
        }
    });
    // Nothing listens here.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/v2/enqueue", listener.local_addr().unwrap())
    };
    let live = Receiver::start(200, "ok").await;
    let notifier = Notifier::new(
        vec![
            slack(hanging_url),
            Arc::new(
                PagerDutyChannel::new(PagerDutyConfig {
                    events_url: closed,
                    routing_key: Secret::new("key".to_owned()),
                    source: "osiris".to_owned(),
                    timeout: Duration::from_secs(30),
                })
                .unwrap(),
            ),
            slack(format!("{}/services/T/B/LIVE", live.base)),
        ],
        Duration::from_millis(700),
    );
    let started = tokio::time::Instant::now();
    let deliveries = notifier.notify(&ticket(), Event::Trigger).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(deliveries.len(), 3);
    assert!(
        matches!(deliveries[0].result, Err(Error::Timeout { .. })),
        "{:?}",
        deliveries[0]
    );
    assert!(
        matches!(deliveries[1].result, Err(Error::Unreachable { .. })),
        "{:?}",
        deliveries[1]
    );
    assert!(deliveries[0].result.as_ref().unwrap_err().is_transient());
    assert!(deliveries[1].result.as_ref().unwrap_err().is_transient());
    assert!(deliveries[2].result.is_ok(), "{:?}", deliveries[2]);
    assert_eq!(deliveries[2].channel, "slack");
    assert_eq!(live.received().len(), 1);
}
