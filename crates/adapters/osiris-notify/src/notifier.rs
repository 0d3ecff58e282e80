//! [`Channel`] and [`Notifier`]: every channel at once, each on its own.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ticket::{Event, Ticket};

/// The future a channel returns: boxed, so channels live as `Arc<dyn Channel>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One way to reach a person.
pub trait Channel: Send + Sync + std::fmt::Debug {
    /// The channel's name in deliveries and logs (`slack`, `pagerduty`, …).
    fn name(&self) -> &str;

    /// Sends `event` for `ticket` once.
    fn send<'a>(&'a self, ticket: &'a Ticket, event: Event) -> BoxFuture<'a, Result<()>>;
}

/// One channel's result.
#[derive(Debug)]
pub struct Delivery {
    /// The channel's name.
    pub channel: String,
    /// Delivered, or why not.
    pub result: Result<()>,
}

/// Sends tickets to every configured channel.
#[derive(Debug, Clone)]
pub struct Notifier {
    channels: Vec<Arc<dyn Channel>>,
    timeout: Duration,
}

impl Notifier {
    /// A notifier over `channels`, each send limited to `timeout` on top of
    /// the channel's own limits.
    #[must_use]
    pub const fn new(channels: Vec<Arc<dyn Channel>>, timeout: Duration) -> Self {
        Self { channels, timeout }
    }

    /// Sends `event` for `ticket` on every channel concurrently. A channel
    /// that hangs or fails affects only its own [`Delivery`]; the results
    /// come back in the channels' order.
    pub async fn notify(&self, ticket: &Ticket, event: Event) -> Vec<Delivery> {
        let timeout = self.timeout;
        let mut pending: Vec<Option<BoxFuture<'_, Delivery>>> = self
            .channels
            .iter()
            .map(|channel| {
                let send: BoxFuture<'_, Delivery> = Box::pin(async move {
                    let result = match tokio::time::timeout(timeout, channel.send(ticket, event)).await {
                        Ok(result) => result,
                        Err(_) => Err(Error::Timeout {
                            channel: channel.name().to_owned(),
                            seconds: timeout.as_secs().max(1),
                        }),
                    };
                    match &result {
                        Ok(()) => tracing::info!(channel = channel.name(), event = event.as_str(), "escalation delivered"),
                        Err(error) => tracing::warn!(channel = channel.name(), event = event.as_str(), %error, "escalation not delivered"),
                    }
                    Delivery {
                        channel: channel.name().to_owned(),
                        result,
                    }
                });
                Some(send)
            })
            .collect();
        let mut done: Vec<Option<Delivery>> = pending.iter().map(|_| None).collect();
        poll_fn(|cx| {
            let mut all = true;
            for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
                if let Some(future) = slot {
                    match future.as_mut().poll(cx) {
                        Poll::Ready(delivery) => {
                            *out = Some(delivery);
                            *slot = None;
                        }
                        Poll::Pending => all = false,
                    }
                }
            }
            if all { Poll::Ready(()) } else { Poll::Pending }
        })
        .await;
        done.into_iter().flatten().collect()
    }
}
