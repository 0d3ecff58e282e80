//! What the app supplies: where evidence goes ([`Recorder`]), which order
//! nonces were seen ([`NonceLog`]) and how to open a new session to a target
//! ([`Connector`]). All three are object-safe with boxed futures, so the app
//! holds them as `Arc<dyn …>` over its queue, state database and transports.

use chrono::{DateTime, Utc};
use osiris_evidence::BundleDraft;
use osiris_scrub::Scrubbed;
use osiris_transport::Transport;

pub use osiris_transport::BoxFuture;

/// An error from the app's side of a port, kept as the cause of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where evidence goes: the durable queue seals each scrubbed draft into the
/// appliance's chain and stores it in one transaction.
pub trait Recorder: Send + Sync + std::fmt::Debug {
    /// Stores one bundle and returns its seq once it is durable.
    fn record(&self, draft: Scrubbed<BundleDraft>) -> BoxFuture<'_, Result<u64, BoxError>>;
}

/// The order nonces this appliance accepted, kept (by the app, in its state
/// database) until their order's expiry has passed, across restarts.
pub trait NonceLog: Send + Sync + std::fmt::Debug {
    /// Whether `nonce` was accepted before.
    fn contains<'a>(&'a self, nonce: &'a str) -> BoxFuture<'a, Result<bool, BoxError>>;

    /// Remembers `nonce` until `expires_at`, atomically: returns false when
    /// it was already there, so two copies of one order racing each other
    /// cannot both be accepted.
    fn insert<'a>(
        &'a self,
        nonce: &'a str,
        expires_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, BoxError>>;
}

/// Opens sessions to inventory targets. A runbook is verified over a new
/// session, so a change that locks the appliance out (a firewall) fails
/// its verification instead of passing over the connection that made it.
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// A new session to the inventory target named `target`.
    fn open<'a>(
        &'a self,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Transport>, osiris_transport::Error>>;
}
