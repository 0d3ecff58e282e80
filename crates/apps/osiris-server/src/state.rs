//! What every handler shares: the store, the evidence (WORM) store, the
//! clock, the catalog, the server's signing key and the policies from the configuration. Nothing
//! here holds per-request or per-user state, so replicas can share one
//! database and one Redis and answer any request.

use std::fmt;
use std::sync::Arc;

use chrono::Duration;
use metrics_exporter_prometheus::PrometheusHandle;
use osiris_catalog::Catalog;
use osiris_core::Clock;
use osiris_evidence::KeyPair;
use osiris_store::{LockoutPolicy, Store};
use osiris_worm::WormStore;

use crate::config::ServerConfig;
use crate::rule_set::RuleSet;

/// The policies handlers apply, taken from [`ServerConfig`].
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// When failed logins lock an account.
    pub lockout: LockoutPolicy,
    /// Idle time after which a session ends.
    pub session_idle: Duration,
    /// How long an order stays valid.
    pub order_ttl: Duration,
    /// Seconds between appliance check-ins.
    pub checkin_interval_secs: u32,
    /// How long accepted evidence is retained in the WORM store.
    pub evidence_retention: Duration,
    /// The same in days, as configured.
    pub evidence_retention_days: u32,
    /// The learning loop's thresholds.
    pub learning: crate::learning::LearningPolicy,
}

impl Policy {
    /// The policies a configuration sets.
    #[must_use]
    pub fn from_config(config: &ServerConfig) -> Self {
        Self {
            lockout: LockoutPolicy {
                max_failures: config.auth.lockout_failures,
                lock_for: Duration::minutes(i64::from(config.auth.lockout_minutes)),
            },
            session_idle: Duration::minutes(i64::from(config.auth.session_idle_minutes)),
            order_ttl: Duration::minutes(i64::from(config.orders.ttl_minutes)),
            checkin_interval_secs: config.orders.checkin_interval_secs,
            evidence_retention: Duration::days(i64::from(config.evidence.retention_days)),
            evidence_retention_days: config.evidence.retention_days,
            learning: crate::learning::LearningPolicy::from_config(&config.learning),
        }
    }
}

/// The handlers' shared state; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// The parts of [`AppState`].
pub struct Shared {
    /// Every persistent row.
    pub store: Arc<dyn Store>,
    /// The only source of time.
    pub clock: Arc<dyn Clock>,
    /// Checks, runbooks and built-in rules.
    pub catalog: Arc<Catalog>,
    /// Signs orders and checkpoints.
    pub server_key: Arc<KeyPair>,
    /// The write-once store holding every accepted bundle's exact bytes.
    pub evidence: Arc<dyn WormStore>,
    /// The built-in L1 rules as check-ins deliver them, with their version.
    pub rule_set: Arc<RuleSet>,
    /// Policies from the configuration.
    pub policy: Policy,
    /// Seals and opens target credentials.
    pub vault: Arc<osiris_vault::KeyRing>,
    /// Counts requests against quotas.
    pub limiter: Arc<dyn osiris_limits::RateLimiter>,
    /// The quotas.
    pub quotas: crate::limits::Quotas,
    /// Renders `/metrics`.
    pub metrics: Option<PrometheusHandle>,
}

impl AppState {
    /// Wraps the parts.
    #[must_use]
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("clock", &self.clock)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
