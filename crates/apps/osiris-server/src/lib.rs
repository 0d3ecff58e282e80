//! Central Command (`osiris server`): the MSP's multi-tenant API.
//!
//! - [`config`]: the one typed [`ServerConfig`], validated at start.
//! - [`auth`]: argon2id passwords, sessions and API tokens, CSRF, and the
//!   [`auth::Caller`] extractor that alone builds a tenant scope.
//! - [`api`]: the routes and their generated OpenAPI document.
//! - [`error`] and [`extract`]: one JSON error shape; extractors whose
//!   rejections use it, so bad input is a 4xx naming the field.
//! - [`bootstrap`]: the first admin with a one-time random password.
//! - [`intake`]: verifying an appliance's bundles against its chain and
//!   storing them, exact bytes in the WORM store, then the index.
//! - [`checkpoints`]: the server's signed checkpoints of each chain, on a
//!   schedule and on demand.
//! - [`export`]: a site's evidence as `osiris.export.v1`, streamed from
//!   the index and the WORM store.
//! - [`orders`] and [`rule_set`]: what a check-in sends down, signed or
//!   versioned.
//! - [`learning`]: the learning loop: samples from accepted L2 evidence,
//!   promotion candidates, learned rules in each fleet's rule set, demotion.
//! - `schedule`: the jobs on a timer (checkpoints, learning evaluation,
//!   pruning the hourly fleet rollups).
//! - [`web`]: the dashboard's server-rendered pages, behind the session
//!   cookie and a strict Content-Security-Policy.
//!
//! The server keeps no state between requests: sessions, lockouts and
//! orders live in the store, so replicas can share one PostgreSQL. This
//! crate must not be depended on by engines or adapters.

pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod checkpoints;
pub mod config;
pub mod error;
pub mod export;
pub mod extract;
pub mod intake;
pub mod learning;
pub mod limits;
pub mod orders;
pub mod rule_set;
mod schedule;
mod serve;
pub mod state;
pub mod web;

pub use config::{ConfigError, Overrides, ServerConfig};
pub use serve::{Running, open_evidence_store, open_store, start, vault_keys};
pub use state::{AppState, Policy, Shared};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed or refused.
    #[error("database")]
    Store(#[from] osiris_store::Error),
    /// The server's signing key could not be loaded or created.
    #[error("server signing key")]
    Key(#[from] osiris_evidence::Error),
    /// The built-in rule set cannot be put in canonical form.
    #[error("built-in rule set")]
    RuleSet(#[source] osiris_evidence::Error),
    /// The evidence store could not be opened.
    #[error("evidence store")]
    Worm(#[from] osiris_worm::Error),
    /// The configured S3 evidence bucket is unusable.
    #[error("{setting}: the S3 evidence store could not be opened")]
    S3 {
        /// The setting to look at.
        setting: &'static str,
        /// The cause.
        #[source]
        source: osiris_worm_s3::Error,
    },
    /// The catalog is invalid.
    #[error("catalog")]
    Catalog(#[from] osiris_catalog::Error),
    /// The rate limiter's backend could not be reached.
    #[error("rate limiter: {0}")]
    Limits(String),
    /// The vault's keys could not be loaded or created.
    #[error("{setting}")]
    Vault {
        /// The setting that names them.
        setting: &'static str,
        /// The cause.
        #[source]
        source: osiris_vault::Error,
    },
    /// The TLS material could not be loaded or created.
    #[error("tls")]
    Tls(#[from] osiris_tls::Error),
    /// The first admin could not be created.
    #[error("creating the first admin: {0}")]
    Bootstrap(String),
    /// A file or directory could not be used.
    #[error("{what} {}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Lowercase hex of `bytes` (hashes in wire formats).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}
