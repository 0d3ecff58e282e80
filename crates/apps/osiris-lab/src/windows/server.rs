//! HTTP side: on HTTP, an NTLM handshake per connection and sealed SOAP in
//! and out; on HTTPS, NTLM or Basic and plain SOAP inside TLS.

use std::convert::Infallible;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Mutex as AsyncMutex;
use tokio_rustls::TlsAcceptor;
use winrm::auth::{AcceptStep, NtlmAcceptor};
use winrm::envelope::{Reply, ReplyBody, Request as WsRequest};
use winrm::{Fault, FaultKind, framing};

use crate::windows::Shared;

const MAX_BODY: usize = 16 * 1024 * 1024;
const SOAP_CONTENT_TYPE: &str = "application/soap+xml;charset=UTF-8";

/// Per-connection state: NTLM binds to the TCP connection.
#[derive(Debug, Default)]
struct Connection {
    acceptor: Option<NtlmAcceptor>,
    /// HTTPS: SOAP travels in clear inside TLS and Basic is offered.
    tls: bool,
}

pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>, tls: Option<TlsAcceptor>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                // A failed handshake (untrusted by the client) just ends the connection.
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve_connection(stream, shared, true).await;
                    }
                }
                None => serve_connection(stream, shared, false).await,
            }
        });
    }
}

async fn serve_connection<S>(stream: S, shared: Arc<Shared>, tls: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = Arc::new(AsyncMutex::new(Connection {
        acceptor: None,
        tls,
    }));
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        let connection = Arc::clone(&connection);
        async move { Ok::<_, Infallible>(handle(request, &shared, &connection).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn response(
    status: StatusCode,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn unauthorized(tls: bool) -> Response<Full<Bytes>> {
    let mut challenges = vec![(WWW_AUTHENTICATE.as_str(), "Negotiate".to_owned())];
    if tls {
        challenges.push((
            WWW_AUTHENTICATE.as_str(),
            "Basic realm=\"WSMAN\"".to_owned(),
        ));
    }
    response(StatusCode::UNAUTHORIZED, &challenges, Vec::new())
}

/// How a request was authenticated.
enum Authenticated {
    /// The connection's NTLM context (seals on HTTP).
    Ntlm,
    /// Basic credentials on this request (HTTPS only).
    Basic,
}

/// Runs the NTLM handshake legs and checks Basic credentials. `Err` is the
/// response to send instead of processing the request.
fn authenticate(
    authorization: Option<&str>,
    body_is_empty: bool,
    shared: &Shared,
    connection: &mut Connection,
) -> Result<Authenticated, Box<Response<Full<Bytes>>>> {
    let tls = connection.tls;
    if let Some(header) = authorization {
        let (scheme, token) = header
            .split_once(' ')
            .ok_or_else(|| Box::new(unauthorized(tls)))?;
        let token = BASE64
            .decode(token.trim())
            .map_err(|_| Box::new(unauthorized(tls)))?;
        if scheme.eq_ignore_ascii_case("Basic") {
            let expected = format!("{}:{}", shared.user, shared.password);
            return if tls && token == expected.as_bytes() {
                Ok(Authenticated::Basic)
            } else {
                Err(Box::new(unauthorized(tls)))
            };
        }
        if !scheme.eq_ignore_ascii_case("Negotiate") && !scheme.eq_ignore_ascii_case("NTLM") {
            return Err(Box::new(unauthorized(tls)));
        }
        if connection
            .acceptor
            .as_ref()
            .is_none_or(NtlmAcceptor::is_authenticated)
        {
            let acceptor = NtlmAcceptor::new(&shared.user, &shared.password)
                .map_err(|_| response(StatusCode::INTERNAL_SERVER_ERROR, &[], Vec::new()))?;
            connection.acceptor = Some(acceptor);
        }
        let acceptor = connection
            .acceptor
            .as_mut()
            .ok_or_else(|| Box::new(unauthorized(tls)))?;
        match acceptor.accept(&token) {
            Ok(AcceptStep::Challenge(challenge)) => {
                let value = format!("{scheme} {}", BASE64.encode(challenge));
                return Err(Box::new(response(
                    StatusCode::UNAUTHORIZED,
                    &[(WWW_AUTHENTICATE.as_str(), value)],
                    Vec::new(),
                )));
            }
            Ok(AcceptStep::Authenticated) if body_is_empty => {
                return Err(Box::new(response(StatusCode::OK, &[], Vec::new())));
            }
            Ok(AcceptStep::Authenticated) => {}
            Err(_) => {
                connection.acceptor = None;
                return Err(Box::new(unauthorized(tls)));
            }
        }
    }
    if connection
        .acceptor
        .as_ref()
        .is_some_and(NtlmAcceptor::is_authenticated)
    {
        Ok(Authenticated::Ntlm)
    } else {
        Err(Box::new(unauthorized(tls)))
    }
}

async fn handle(
    request: Request<Incoming>,
    shared: &Shared,
    connection: &AsyncMutex<Connection>,
) -> Response<Full<Bytes>> {
    let authorization = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Ok(body) = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
    else {
        return response(
            StatusCode::BAD_REQUEST,
            &[],
            b"body too large or truncated".to_vec(),
        );
    };
    let mut connection = connection.lock().await;
    let tls = connection.tls;
    let authenticated = match authenticate(
        authorization.as_deref(),
        body.is_empty(),
        shared,
        &mut connection,
    ) {
        Ok(authenticated) => authenticated,
        Err(response) => return *response,
    };
    let sealing = match (&authenticated, tls) {
        (Authenticated::Ntlm, false) => connection.acceptor.as_mut(),
        _ => None,
    };
    let plaintext = match sealing {
        Some(acceptor) => {
            if !content_type.contains(framing::PROTOCOL) {
                // AllowUnencrypted=false: Windows refuses clear-text SOAP on HTTP.
                return unauthorized(tls);
            }
            let unsealed = framing::decode(&body).and_then(|part| {
                let plaintext = acceptor.unseal(&part.signature, &part.sealed)?;
                if plaintext.len() == part.plaintext_len {
                    Ok(plaintext)
                } else {
                    Err(winrm::Error::Tampered("length mismatch".into()))
                }
            });
            match unsealed {
                Ok(plaintext) => plaintext,
                Err(error) => {
                    tracing::warn!(%error, "refused a sealed request");
                    return response(StatusCode::BAD_REQUEST, &[], Vec::new());
                }
            }
        }
        None => body.to_vec(),
    };
    let (reply, action, hold) = process(&plaintext, shared);
    tokio::time::sleep(shared.latency + hold).await;
    let status = if matches!(reply.body, ReplyBody::Fault(_)) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let endpoint = if tls {
        "https://localhost:5986/wsman"
    } else {
        "http://localhost:5985/wsman"
    };
    let encoded = reply.to_xml(action, endpoint).and_then(|xml| {
        match connection.acceptor.as_mut().filter(|_| !tls) {
            Some(acceptor) => {
                let (signature, sealed) = acceptor.seal(&xml)?;
                Ok((
                    framing::CONTENT_TYPE,
                    framing::encode(&signature, &sealed, xml.len()),
                ))
            }
            None => Ok((SOAP_CONTENT_TYPE, xml)),
        }
    });
    match encoded {
        Ok((content_type, body)) => response(
            status,
            &[(CONTENT_TYPE.as_str(), content_type.to_owned())],
            body,
        ),
        Err(_) => response(StatusCode::INTERNAL_SERVER_ERROR, &[], Vec::new()),
    }
}

/// Parses one WS-Management request and runs it against the host.
fn process(
    plaintext: &[u8],
    shared: &Shared,
) -> (Reply, winrm::envelope::Action, std::time::Duration) {
    match WsRequest::parse(plaintext) {
        Ok(ws) => {
            let action = ws.body.action();
            let outcome = match (shared.model.lock(), shared.shells.lock()) {
                (Ok(mut model), Ok(mut shells)) => shells.handle(
                    &mut model,
                    ws.header.shell_id.as_deref(),
                    ws.body,
                    ws.header.operation_timeout,
                ),
                _ => {
                    return fault_reply("the simulated host's state is unavailable");
                }
            };
            let reply = Reply {
                message_id: format!("uuid:{}", uuid::Uuid::new_v4().to_string().to_uppercase()),
                relates_to: Some(ws.header.message_id),
                body: outcome.reply,
            };
            (reply, action, outcome.hold)
        }
        Err(error) => fault_reply(&format!(
            "The WS-Management service cannot process the request: {error}"
        )),
    }
}

fn fault_reply(message: &str) -> (Reply, winrm::envelope::Action, std::time::Duration) {
    let fault = Fault::new(FaultKind::Other, 2_150_858_817, message);
    (
        Reply {
            message_id: format!("uuid:{}", uuid::Uuid::new_v4()),
            relates_to: None,
            body: ReplyBody::Fault(fault),
        },
        winrm::envelope::Action::Receive,
        std::time::Duration::ZERO,
    )
}
