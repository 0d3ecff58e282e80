//! A simulated Windows Server that speaks real WinRM: HTTP with NTLM
//! authentication and message sealing, the shell resource, the same faults,
//! and a scripted PowerShell host ([`HostModel`]) with state that can drift.
//!
//! It is a stand-in for Windows, which cannot run here; its protocol side
//! is checked by independent clients (pywinrm) in this crate's tests.

mod derive;
mod model;
mod server;
mod shells;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use model::{HostModel, ScriptResult, WINDOWS_DC};

use crate::Error;
use shells::Shells;

/// How to run a simulated Windows host.
#[derive(Debug, Clone)]
pub struct WindowsLabConfig {
    /// The one account accepted, `DOMAIN\user`.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Added before every reply, to simulate a WAN.
    pub latency: Duration,
    /// The host's state and scripted answers.
    pub model: HostModel,
    /// Serve HTTPS (as on 5986) with this certificate instead of HTTP.
    pub tls: Option<LabTls>,
}

/// The certificate an HTTPS lab presents.
#[derive(Clone)]
pub struct LabTls {
    /// The server certificate first, then any intermediates (DER).
    pub certificate_chain: Vec<Vec<u8>>,
    /// The server key, PKCS#8 DER.
    pub private_key: Vec<u8>,
}

impl std::fmt::Debug for LabTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabTls")
            .field("certificates", &self.certificate_chain.len())
            .finish_non_exhaustive()
    }
}

impl LabTls {
    fn acceptor(&self) -> Result<TlsAcceptor, Error> {
        let chain = self
            .certificate_chain
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.private_key.clone()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|e| Error::Tls(e.to_string()))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

struct Shared {
    user: String,
    password: String,
    latency: Duration,
    model: Mutex<HostModel>,
    shells: Mutex<Shells>,
}

/// A running simulated host. Dropping it stops the listener.
#[derive(Debug)]
pub struct WindowsLab {
    address: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("user", &self.user)
            .field("latency", &self.latency)
            .finish_non_exhaustive()
    }
}

impl Drop for WindowsLab {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WindowsLab {
    /// Binds `listen` (use port 0 for any) and starts serving.
    ///
    /// # Errors
    /// [`Error::Bind`] when the address is unavailable, [`Error::Tls`] for
    /// a certificate or key rustls refuses.
    pub async fn start(listen: SocketAddr, config: WindowsLabConfig) -> Result<Self, Error> {
        let acceptor = config.tls.as_ref().map(LabTls::acceptor).transpose()?;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Bind {
                address: listen,
                source,
            })?;
        let address = listener.local_addr().map_err(|source| Error::Bind {
            address: listen,
            source,
        })?;
        let shared = Arc::new(Shared {
            user: config.user,
            password: config.password,
            latency: config.latency,
            model: Mutex::new(config.model),
            shells: Mutex::new(Shells::default()),
        });
        let tls = acceptor.is_some();
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared), acceptor));
        Ok(Self {
            address,
            tls,
            shared,
            task,
        })
    }

    /// The bound address.
    #[must_use]
    pub const fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://ADDRESS/wsman`, or `https://` when serving TLS.
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/wsman", self.address)
    }

    /// Injects drift (or repairs it) by setting a state key.
    ///
    /// # Errors
    /// [`Error::UnknownStateKey`] for a key the model lacks.
    pub fn set_state(&self, key: &str, value: Value) -> Result<(), Error> {
        self.shared
            .model
            .lock()
            .map_err(|_| Error::Poisoned)?
            .set(key, value)
    }

    /// Reads a state key.
    #[must_use]
    pub fn state(&self, key: &str) -> Option<Value> {
        self.shared
            .model
            .lock()
            .ok()
            .and_then(|m| m.get(key).cloned())
    }

    /// Drops every shell, as a WinRM service restart would; clients then
    /// get `w:InvalidSelectors`.
    pub fn expire_shells(&self) {
        if let Ok(mut shells) = self.shared.shells.lock() {
            shells.clear();
        }
    }

    /// How many shells are open (clients should reuse one and delete it).
    #[must_use]
    pub fn open_shells(&self) -> usize {
        self.shared.shells.lock().map_or(0, |shells| shells.len())
    }

    /// Serves until the task ends (it does not, short of a panic); for the CLI.
    ///
    /// # Errors
    /// [`Error::Stopped`] if the server task ended.
    pub async fn wait(mut self) -> Result<(), Error> {
        (&mut self.task).await.map_err(|_| Error::Stopped)?;
        Err(Error::Stopped)
    }
}

/// What `osiris lab windows --listen ADDR --user D\U --password-env VAR
/// [--latency-ms N]` runs: the built-in domain controller until stopped.
///
/// # Errors
/// Bind and model errors.
pub async fn run_windows_lab(
    listen: SocketAddr,
    user: &str,
    password: &str,
    latency_ms: u64,
) -> Result<(), Error> {
    let config = WindowsLabConfig {
        user: user.to_owned(),
        password: password.to_owned(),
        latency: Duration::from_millis(latency_ms),
        model: HostModel::windows_dc()?,
        tls: None,
    };
    let lab = WindowsLab::start(listen, config).await?;
    tracing::info!(address = %lab.address(), "simulated windows host listening");
    lab.wait().await
}
