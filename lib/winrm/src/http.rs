//! One pinned HTTP/1.1 connection: NTLM authenticates the TCP connection,
//! not the request, so every message of a session must use the same socket.
//! A pooled client (reqwest) could silently switch sockets; hyper's
//! connection-level API cannot.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::tls::TlsOptions;

/// Largest reply body read (a 150 KiB envelope, base64 and framing included,
/// stays far below this).
const MAX_BODY: usize = 16 * 1024 * 1024;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A reply as the session needs it.
#[derive(Debug)]
pub(crate) struct HttpReply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) www_authenticate: Vec<String>,
    pub(crate) body: Bytes,
}

#[derive(Debug)]
pub(crate) struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    path: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Connection {
    pub(crate) async fn open(
        endpoint: &Endpoint,
        tls: &TlsOptions,
        timeout: Duration,
    ) -> Result<Self> {
        let authority = endpoint.authority();
        let connect = async {
            let tcp = TcpStream::connect((endpoint.host(), endpoint.port()))
                .await
                .map_err(|source| Error::Connect {
                    endpoint: authority.clone(),
                    source,
                })?;
            let _ = tcp.set_nodelay(true);
            let io: Box<dyn Io> = if endpoint.is_tls() {
                let connector = TlsConnector::from(tls.client_config()?);
                let name = ServerName::try_from(endpoint.host().to_owned())
                    .map_err(|e| Error::Tls(format!("server name {:?}: {e}", endpoint.host())))?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| Error::Tls(e.to_string()))?;
                tls.check_pin(
                    stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(<[_]>::first),
                )?;
                Box::new(stream)
            } else {
                Box::new(tcp)
            };
            let (sender, connection) = http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| Error::Http(e.to_string()))?;
            let task = tokio::spawn(async move {
                // The connection ends when the session drops its sender or
                // the server closes; either way the next send reports it.
                let _ = connection.await;
            });
            Ok(Self {
                sender,
                host: authority.clone(),
                path: endpoint.path().to_owned(),
                task,
            })
        };
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| Error::Timeout {
                seconds: timeout.as_secs(),
            })?
    }

    pub(crate) async fn post(
        &mut self,
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<HttpReply> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.path.as_str())
            .header(HOST, self.host.as_str())
            .header(CONTENT_LENGTH, body.len())
            .header("User-Agent", "osiris-winrm");
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::Http(e.to_string()))?;
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| Error::Http(format!("connection closed: {e}")))?;
            let response = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| Error::Http(e.to_string()))?;
            let status = response.status().as_u16();
            let headers = response.headers();
            let content_type = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let www_authenticate = headers
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| Error::Http(format!("reading body: {e}")))?
                .to_bytes();
            Ok(HttpReply {
                status,
                content_type,
                www_authenticate,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Error::Timeout {
                seconds: timeout.as_secs(),
            })?
    }
}
