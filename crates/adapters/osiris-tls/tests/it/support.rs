//! Shared helpers: a time, a served router, HTTPS clients.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use chrono::{DateTime, TimeZone, Utc};
use osiris_tls::{PeerTls, ServeOptions, serve_tls_with};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

pub(crate) fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// A running server: its address, the trigger of its shutdown, its task.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) stop: Option<oneshot::Sender<()>>,
    pub(crate) task: JoinHandle<()>,
}

impl Server {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// Triggers the graceful shutdown and waits for the loop to return.
    pub(crate) async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server did not shut down")
            .unwrap();
    }
}

/// `/` answers "hello"; `/peer` the client certificate fingerprint (or
/// "none"); `/slow` answers after 500 ms.
pub(crate) fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/peer",
            get(|Extension(peer): Extension<PeerTls>| async move {
                peer.client_certificate
                    .map_or_else(|| "none".to_owned(), |f| f.to_string())
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "slow"
            }),
        )
}

pub(crate) async fn serve(config: Arc<rustls::ServerConfig>, options: ServeOptions) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_tls_with(
        listener,
        config,
        router(),
        async move {
            let _ = stopped.await;
        },
        options,
    ));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

pub(crate) fn roots_from(ca_pem: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

pub(crate) fn public_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

fn builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
}

/// A reqwest client trusting `roots` only, with no client certificate,
/// that finds `localhost` at `addr`.
pub(crate) fn client(roots: RootCertStore, addr: SocketAddr) -> reqwest::Client {
    let config = builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest_client(config, addr)
}

pub(crate) fn reqwest_client(config: ClientConfig, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .no_proxy()
        .resolve("localhost", addr)
        .build()
        .unwrap()
}

/// A client config trusting `roots` that presents `chain` and `key`.
pub(crate) fn client_config_with_cert(
    roots: RootCertStore,
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> ClientConfig {
    builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap()
}
