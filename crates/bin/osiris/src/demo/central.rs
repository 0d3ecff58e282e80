//! Central Command for the demo: the real server in this process on its
//! embedded defaults (SQLite, local WORM store, in-process limits,
//! self-signed TLS), and a small JSON client of its API that trusts only
//! the server's own CA, as the dashboard's browser and the appliance do.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use osiris_core::{Clock, Secret, SystemClock};
use osiris_evidence::{KeyPair, PublicKey};
use osiris_server::{Overrides, Running, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::at;
use tokio::sync::oneshot;

/// The account the first start creates.
pub(super) const ADMIN: &str = "admin";

/// Central Command running in this process.
#[derive(Debug)]
pub(super) struct Central {
    pub(super) config: ServerConfig,
    pub(super) running: Running,
    /// The admin's password for this run, shown once.
    pub(super) admin_password: Secret<String>,
    pub(super) server_key: PublicKey,
    stop: Option<oneshot::Sender<()>>,
}

/// The demo's learning thresholds: a pattern is a candidate after 3
/// verified runs (a 95% Wilson lower bound of 0.44 for 3 of 3), where the
/// production bar of 0.90 takes about 35 in a row. The demo says so in
/// its log.
const DEMO_MIN_SAMPLES: &str = "3";
const DEMO_MIN_LOWER_BOUND: &str = "0.4";

/// The settings of the demo's server: embedded defaults in `dir`, except
/// the appliance request quota, since the demo checks in after every step
/// rather than once a minute, and the learning thresholds, so a fix is
/// promoted within the tour.
fn config(dir: &Path, listen: SocketAddr) -> Result<ServerConfig> {
    let overrides = Overrides {
        listen: Some(listen),
        data_dir: Some(dir.to_path_buf()),
    };
    let env = [
        ("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "1000"),
        ("OSIRIS_LEARNING__MIN_SAMPLES", DEMO_MIN_SAMPLES),
        ("OSIRIS_LEARNING__MIN_LOWER_BOUND", DEMO_MIN_LOWER_BOUND),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    Ok(ServerConfig::load(None, env, &overrides)?)
}

impl Central {
    /// Starts the server on `dir`. A first start creates the admin with a
    /// random password; a later one gives the admin a new random password,
    /// so every run prints one that works and none is ever reused.
    pub(super) async fn start(dir: &Path, listen: SocketAddr) -> Result<Self> {
        let config = config(dir, listen)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let running = osiris_server::start(&config, Arc::new(SystemClock), async {
            let _ = stopped.await;
        })
        .await
        .with_context(|| format!("starting Central Command on {listen}"))?;
        let admin_password = match &running.first_admin_password {
            Some(password) => password.clone(),
            None => {
                let password = Secret::new(one_time_password()?);
                osiris_server::admin::reset_password(&config, ADMIN, &password, SystemClock.now())
                    .await
                    .context("giving the admin a new one-time password")?;
                password
            }
        };
        let server_key = KeyPair::load_or_create(&dir.join("server-signing.pem"))
            .context("reading the server's signing key")?
            .public_key();
        Ok(Self {
            config,
            running,
            admin_password,
            server_key,
            stop: Some(stop),
        })
    }

    /// `https://127.0.0.1:<port>`.
    pub(super) fn url(&self) -> String {
        self.running.url()
    }

    /// The self-signed CA appliances and browsers pin.
    pub(super) fn ca_file(&self) -> PathBuf {
        self.config.data_dir.join("tls/ca.pem")
    }

    /// Logs in as the admin.
    pub(super) async fn admin(&self) -> Result<Api> {
        let anonymous = Api {
            base: self.url(),
            token: None,
            http: http_client(&self.ca_file())?,
        };
        let (status, body) = anonymous
            .send(
                Method::POST,
                "/api/auth/login",
                Some(json!({"username": ADMIN, "password": self.admin_password.expose()})),
            )
            .await?;
        if status != StatusCode::OK {
            bail!("logging in as {ADMIN}: {status} {body}");
        }
        let token = at(&body, "/token")
            .as_str()
            .context("the login answer has no token")?
            .to_owned();
        Ok(Api {
            token: Some(token),
            ..anonymous
        })
    }

    /// Stops the server and waits until it no longer accepts connections.
    pub(super) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.running.task).await;
    }
}

/// 24 characters from a 32-letter alphabet without look-alikes: 120 bits.
pub(super) fn one_time_password() -> Result<String> {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789-";
    let mut bytes = [0_u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("the system's random source: {e}"))?;
    Ok(bytes
        .iter()
        .filter_map(|b| ALPHABET.get(usize::from(b % 32)).copied().map(char::from))
        .collect())
}

/// A client on rustls with the ring provider, trusting only `ca_file`.
fn http_client(ca_file: &Path) -> Result<reqwest::Client> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)
        .with_context(|| format!("reading {}", ca_file.display()))?
    {
        roots
            .add(cert.with_context(|| format!("reading {}", ca_file.display()))?)
            .context("the server's CA certificate")?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS versions")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .context("building the API client")
}

/// A JSON client of the API with a bearer token.
#[derive(Debug, Clone)]
pub(super) struct Api {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Api {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: reading the answer"))?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .with_context(|| format!("{method} {path}: the answer is not JSON ({status})"))?
        };
        Ok((status, value))
    }

    /// GET, expecting 200.
    pub(super) async fn get(&self, path: &str) -> Result<Value> {
        let (status, body) = self.send(Method::GET, path, None).await?;
        if status != StatusCode::OK {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    /// POST, expecting `expected`.
    pub(super) async fn post(
        &self,
        path: &str,
        body: Value,
        expected: StatusCode,
    ) -> Result<Value> {
        let (status, answer) = self.send(Method::POST, path, Some(body)).await?;
        if status != expected {
            bail!("POST {path}: {status} {answer}");
        }
        Ok(answer)
    }

    /// GET of raw bytes, expecting 200.
    pub(super) async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let response = self
            .request(Method::GET, path)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status();
        if status != StatusCode::OK {
            let text = response.text().await.unwrap_or_default();
            bail!("GET {path}: {status} {text}");
        }
        Ok(response
            .bytes()
            .await
            .with_context(|| format!("GET {path}: reading the body"))?
            .to_vec())
    }
}
