//! Building the server from its configuration and running it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use osiris_catalog::Catalog;
use osiris_core::{Clock, Secret};
use osiris_evidence::KeyPair;
use osiris_store::Store;
use osiris_store_sql::{PgStore, SqliteStore};
use osiris_tls::TlsMaterial;
use osiris_worm::{LocalWormStore, WormStore};
use tokio::net::TcpListener;

use crate::config::{EvidenceBackend, ServerConfig, TlsMode};
use crate::limits::{self, Quotas};
use crate::state::{AppState, Policy, Shared};
use crate::{Error, api, bootstrap};

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// Where it listens (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The first admin's one-time password, on first start only.
    pub first_admin_password: Option<Secret<String>>,
    /// The state its handlers share.
    pub state: AppState,
    /// `https` or `http`.
    pub scheme: &'static str,
    /// SHA-256 of the self-signed CA certificate appliances pin, in hex.
    pub ca_fingerprint: Option<String>,
    /// Resolves when the server has stopped.
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The URL clients use, e.g. `https://127.0.0.1:8443`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }
}

/// Opens the configured database, applying migrations.
///
/// # Errors
/// [`Error::Store`] or [`Error::Io`] for the data directory.
pub async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, Error> {
    let url = config.database_url();
    if let Some(path) = url.expose().strip_prefix("sqlite://") {
        let path = Path::new(path);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                what: "creating the database directory",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        Ok(Arc::new(SqliteStore::open(path).await?))
    } else {
        Ok(Arc::new(PgStore::connect(&url).await?))
    }
}

/// The process-wide Prometheus recorder (metrics macros are global, so
/// every server in one process shares it).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .clone()
}

/// The configured WORM evidence store: the write-once directory
/// `<data_dir>/evidence`, or the S3 Object Lock bucket of `evidence.s3`,
/// which must answer and have Object Lock enabled.
///
/// # Errors
/// [`Error::Worm`] for the directory; [`Error::S3`] naming the setting to
/// look at (the bucket when it lacks Object Lock, the endpoint when it does
/// not answer).
pub async fn open_evidence_store(config: &ServerConfig) -> Result<Arc<dyn WormStore>, Error> {
    match config.evidence.backend {
        EvidenceBackend::Local => Ok(Arc::new(LocalWormStore::open(
            config.data_dir.join("evidence"),
        )?)),
        EvidenceBackend::S3 => {
            let s3 = &config.evidence.s3;
            let secret = |value: &Option<Secret<String>>| {
                value
                    .as_ref()
                    .map(|secret| secret.expose().clone())
                    .unwrap_or_default()
            };
            let settings = osiris_worm_s3::S3Config {
                endpoint_url: s3.endpoint.clone(),
                region: s3.region.clone(),
                bucket: s3.bucket.clone(),
                access_key_id: secret(&s3.access_key_id),
                secret_access_key: Secret::new(secret(&s3.secret_access_key)),
                force_path_style: s3.path_style,
            };
            let store = osiris_worm_s3::S3WormStore::connect(&settings)
                .await
                .map_err(|source| Error::S3 {
                    setting: match &source {
                        osiris_worm_s3::Error::Unreachable { .. } => "evidence.s3.endpoint",
                        _ => "evidence.s3.bucket",
                    },
                    source,
                })?;
            let concurrency = usize::try_from(s3.put_concurrency).unwrap_or(usize::MAX);
            tracing::info!(bucket = %s3.bucket, "evidence store: S3 Object Lock");
            Ok(Arc::new(store.with_put_concurrency(concurrency)))
        }
    }
}

/// Opens everything the configuration names, creates the first admin if
/// needed, binds the listener and serves until `shutdown` resolves.
///
/// # Errors
/// Anything that stops the server from starting, naming what failed.
pub async fn start(
    config: &ServerConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running, Error> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| Error::Io {
        what: "creating the data directory",
        path: config.data_dir.clone(),
        source,
    })?;
    let store = open_store(config).await?;
    let server_key = KeyPair::load_or_create(&config.data_dir.join("server-signing.pem"))?;
    let catalog = match &config.catalog_dir {
        Some(dir) => Catalog::load_dir(dir)?,
        None => Catalog::embedded()?,
    };
    let evidence = open_evidence_store(config).await?;
    let rule_set = crate::rule_set::build(&catalog).map_err(Error::RuleSet)?;
    let first_admin_password = bootstrap::first_admin(store.as_ref(), clock.now()).await?;
    let quotas = Quotas::from_config(&config.limits)?;
    let limiter = limits::limiter(&config.limits).await?;
    let tls = tls_material(config, clock.now())?;
    let vault = vault_keys(config)?;
    let state = AppState::new(Shared {
        store,
        clock,
        catalog: Arc::new(catalog),
        server_key: Arc::new(server_key),
        evidence,
        rule_set: Arc::new(rule_set),
        policy: Policy::from_config(config),
        vault: Arc::new(vault),
        limiter,
        quotas,
        metrics: metrics_handle(),
    });
    let router = api::router(state.clone(), config.body_limit_bytes);
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: config.listen,
        source,
    })?;
    let (scheme, ca_fingerprint, task) = match tls {
        Some(material) => {
            let server_config = material.server_config()?;
            let fingerprint = material.ca_fingerprint().map(|f| f.to_string());
            let task = tokio::spawn(osiris_tls::serve_tls(
                listener,
                server_config,
                router,
                shutdown,
            ));
            ("https", fingerprint, task)
        }
        None => {
            let task = tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!(error = %error, "server stopped with an error");
                }
            });
            ("http", None, task)
        }
    };
    let jobs = crate::schedule::Jobs::start(
        &state,
        std::time::Duration::from_secs(
            u64::from(config.evidence.checkpoint_interval_minutes).saturating_mul(60),
        ),
        std::time::Duration::from_secs(
            u64::from(config.learning.evaluate_interval_minutes).saturating_mul(60),
        ),
    );
    let task = tokio::spawn(async move {
        let _ = task.await;
        jobs.stop();
    });
    tracing::info!(%addr, scheme, "central command listening");
    Ok(Running {
        addr,
        first_admin_password,
        state,
        scheme,
        ca_fingerprint,
        task,
    })
}

/// The vault's key ring: from `vault.keys`, else the key file (created on
/// first start).
///
/// # Errors
/// [`Error::Vault`] naming the setting.
pub fn vault_keys(config: &ServerConfig) -> Result<osiris_vault::KeyRing, Error> {
    use osiris_vault::keyring;
    if let Some(keys) = &config.vault.keys {
        return keyring::parse_key_variable("vault.keys", keys.expose()).map_err(|source| {
            Error::Vault {
                setting: "vault.keys",
                source,
            }
        });
    }
    let path = config.vault_key_file();
    let ring = if path.exists() {
        keyring::load_key_file(&path)
    } else {
        keyring::create_key_file(&path)
    };
    ring.map_err(|source| Error::Vault {
        setting: "vault.key_file",
        source,
    })
}

/// The certificate material the configuration asks for, if any.
fn tls_material(
    config: &ServerConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<TlsMaterial>, Error> {
    Ok(match config.tls.mode {
        TlsMode::SelfSigned => Some(TlsMaterial::load_or_create(
            &config.data_dir.join("tls"),
            &config.tls.names,
            now,
        )?),
        TlsMode::Operator => match (&config.tls.cert_file, &config.tls.key_file) {
            (Some(cert), Some(key)) => Some(TlsMaterial::from_operator_files(cert, key)?),
            _ => None,
        },
        TlsMode::Off => None,
    })
}
