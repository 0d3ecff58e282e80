//! The HTTPS accept loop: TLS handshakes with a deadline, HTTP/1.1 by
//! hyper, requests handed to an axum router with the peer's TLS facts in
//! their extensions, and a graceful shutdown that lets requests in flight
//! finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::Service;

use crate::fingerprint::Fingerprint;

/// What handlers learn about the TLS connection a request came on, from
/// the request's extensions (`axum::Extension<PeerTls>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerTls {
    /// The client's address.
    pub remote_addr: SocketAddr,
    /// The name the client asked for (SNI), if it sent one.
    pub server_name: Option<String>,
    /// The fingerprint of the client certificate the handshake verified,
    /// when the configuration asked for one and the client sent one.
    pub client_certificate: Option<Fingerprint>,
}

/// Limits of the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// A client that has not finished the TLS handshake by then is
    /// dropped, so a silent or slow client cannot hold a task.
    pub handshake_timeout: Duration,
    /// A client that has not sent a request's headers by then (after the
    /// handshake, or between keep-alive requests) is dropped.
    pub header_read_timeout: Duration,
    /// After an accept error (out of file descriptors), wait this long
    /// before accepting again rather than spinning.
    pub accept_error_backoff: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            accept_error_backoff: Duration::from_millis(100),
        }
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, with
/// [`ServeOptions::default`]. See [`serve_tls_with`].
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    serve_tls_with(listener, config, router, shutdown, ServeOptions::default()).await;
}

/// Serves `router` over TLS on `listener` until `shutdown` completes: then
/// it stops accepting, asks open connections to close after their current
/// request, and returns once they have. Each request carries a
/// [`PeerTls`] extension. Failed handshakes (plain HTTP on the TLS port,
/// an untrusted client certificate, a timeout) close that connection only.
pub async fn serve_tls_with(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
    options: ServeOptions,
) {
    let acceptor = TlsAcceptor::from(config);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, remote_addr)) => {
                let connection = Connection {
                    acceptor: acceptor.clone(),
                    router: router.clone(),
                    remote_addr,
                    options,
                };
                tokio::spawn(connection.serve(tcp, graceful.watcher()));
            }
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(options.accept_error_backoff).await;
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

struct Connection {
    acceptor: TlsAcceptor,
    router: Router,
    remote_addr: SocketAddr,
    options: ServeOptions,
}

impl Connection {
    async fn serve(self, tcp: TcpStream, watcher: Watcher) {
        let remote_addr = self.remote_addr;
        let tls =
            match tokio::time::timeout(self.options.handshake_timeout, self.acceptor.accept(tcp))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%remote_addr, %error, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote_addr, "tls handshake timed out");
                    return;
                }
            };
        let (_, session) = tls.get_ref();
        let peer = PeerTls {
            remote_addr,
            server_name: session.server_name().map(str::to_owned),
            client_certificate: session
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| Fingerprint::of(leaf)),
        };
        let router = self.router;
        let service = service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(peer.clone());
            router.clone().call(request)
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.options.header_read_timeout)
            .serve_connection(TokioIo::new(tls), service);
        if let Err(error) = watcher.watch(connection).await {
            tracing::debug!(%remote_addr, %error, "connection ended with an error");
        }
    }
}
