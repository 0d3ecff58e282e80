//! The healing engine's ports over the appliance's own parts: evidence
//! into the durable queue, order nonces into the state database, sessions
//! to the configured targets.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use osiris_evidence::BundleDraft;
use osiris_healing::{BoxError, BoxFuture, Connector, NonceLog, Recorder};
use osiris_queue::Queue;
use osiris_scrub::Scrubbed;
use osiris_transport::Transport;

use crate::config::TargetConfig;
use crate::state::State;
use crate::targets::{self, EnvLookup, TargetError};

/// Evidence goes into the durable queue, which seals and stores it.
#[derive(Debug, Clone)]
pub struct QueueRecorder(pub Queue);

impl Recorder for QueueRecorder {
    fn record(&self, draft: Scrubbed<BundleDraft>) -> BoxFuture<'_, Result<u64, BoxError>> {
        Box::pin(async move {
            let appended = self.0.append(draft).await?;
            Ok(appended.seq)
        })
    }
}

/// Accepted order nonces, in the state database so a replay is refused
/// after a restart too.
#[derive(Debug, Clone)]
pub struct StateNonces(pub State);

impl NonceLog for StateNonces {
    fn contains<'a>(&'a self, nonce: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async move { Ok(self.0.nonce_seen(nonce).await?) })
    }

    fn insert<'a>(
        &'a self,
        nonce: &'a str,
        expires_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async move { Ok(self.0.remember_nonce(nonce, expires_at).await?) })
    }
}

/// Opens sessions to the configured targets by inventory name.
pub struct TargetConnector {
    targets: Vec<TargetConfig>,
    data_dir: PathBuf,
    env: Arc<EnvLookup>,
}

impl std::fmt::Debug for TargetConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetConnector")
            .field(
                "targets",
                &self.targets.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl TargetConnector {
    /// A connector over `targets`, reading secrets through `env`.
    #[must_use]
    pub fn new(targets: Vec<TargetConfig>, data_dir: PathBuf, env: Arc<EnvLookup>) -> Self {
        Self {
            targets,
            data_dir,
            env,
        }
    }

    /// The configured target named `name`.
    #[must_use]
    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.targets
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// Every configured target.
    #[must_use]
    pub fn targets(&self) -> &[TargetConfig] {
        &self.targets
    }

    /// Opens a session to `target`.
    ///
    /// # Errors
    /// [`TargetError`] naming the target.
    pub async fn connect(&self, target: &TargetConfig) -> Result<Box<dyn Transport>, TargetError> {
        targets::connect(target, &self.data_dir, &*self.env).await
    }
}

impl Connector for TargetConnector {
    fn open<'a>(
        &'a self,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Transport>, osiris_transport::Error>> {
        Box::pin(async move {
            let Some(config) = self.target(target) else {
                return Err(osiris_transport::Error::Unreachable {
                    target: target.to_owned(),
                    reason: "not in this appliance's inventory".to_owned(),
                });
            };
            self.connect(config).await.map_err(|error| match error {
                TargetError::Transport(error) => error,
                other => osiris_transport::Error::Unreachable {
                    target: target.to_owned(),
                    reason: other.to_string(),
                },
            })
        })
    }
}
