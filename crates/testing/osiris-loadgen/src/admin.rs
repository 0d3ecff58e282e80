//! The admin side: log in and create the fleet's tenants, sites and
//! appliances through the API, as an operator would.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A logged-in admin client.
pub(crate) struct Admin {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    /// Logs in at `base` as `username`.
    pub(crate) async fn login(
        base: &str,
        ca_file: Option<&Path>,
        username: &str,
        password: &str,
    ) -> Result<Self> {
        let http = client(ca_file)?;
        let response = http
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .with_context(|| format!("logging in at {base}"))?;
        let (status, body) = (response.status(), response.json::<Value>().await?);
        if status != StatusCode::OK {
            bail!("logging in as {username}: {status} {body}");
        }
        let token = body
            .get("token")
            .and_then(Value::as_str)
            .context("the login answer has no token")?
            .to_owned();
        Ok(Self {
            base: base.to_owned(),
            token,
            http,
        })
    }

    /// POSTs `body` to `path`, expecting 201; returns the answer.
    pub(crate) async fn create(&self, path: &str, body: Value) -> Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let (status, answer) = (response.status(), response.json::<Value>().await?);
        if status != StatusCode::CREATED {
            bail!("POST {path}: {status} {answer}");
        }
        Ok(answer)
    }

    /// POSTs and returns the created object's `id`.
    pub(crate) async fn create_id(&self, path: &str, body: Value) -> Result<String> {
        let answer = self.create(path, body).await?;
        answer
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("POST {path}: no id in {answer}"))
    }
}

/// A reqwest client on rustls with the ring provider (the workspace builds
/// reqwest without a provider of its own), trusting only `ca_file`.
fn client(ca_file: Option<&Path>) -> Result<reqwest::Client> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_file {
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("--ca-file {}", path.display()))?
        {
            roots
                .add(cert.with_context(|| format!("--ca-file {}", path.display()))?)
                .with_context(|| format!("--ca-file {}", path.display()))?;
        }
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
        .build()
        .context("building the HTTP client")
}
