//! HTTP side: NTLM handshake per connection, sealed SOAP in and out.

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
use tokio::net::TcpListener;
use tokio::sync::Mutex as AsyncMutex;
use winrm::auth::{AcceptStep, NtlmAcceptor};
use winrm::envelope::{Reply, ReplyBody, Request as WsRequest};
use winrm::{Fault, FaultKind, framing};

use crate::windows::Shared;

const MAX_BODY: usize = 16 * 1024 * 1024;

/// Per-connection state: NTLM binds to the TCP connection.
#[derive(Debug, Default)]
struct Connection {
    acceptor: Option<NtlmAcceptor>,
}

pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let connection = Arc::new(AsyncMutex::new(Connection::default()));
            let service = hyper::service::service_fn(move |request| {
                let shared = Arc::clone(&shared);
                let connection = Arc::clone(&connection);
                async move { Ok::<_, Infallible>(handle(request, &shared, &connection).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
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

fn unauthorized() -> Response<Full<Bytes>> {
    response(
        StatusCode::UNAUTHORIZED,
        &[(WWW_AUTHENTICATE.as_str(), "Negotiate".to_owned())],
        Vec::new(),
    )
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
    if let Some(header) = authorization {
        let Some((scheme, token)) = header
            .split_once(' ')
            .filter(|(s, _)| s.eq_ignore_ascii_case("Negotiate") || s.eq_ignore_ascii_case("NTLM"))
        else {
            return unauthorized();
        };
        let Ok(token) = BASE64.decode(token.trim()) else {
            return unauthorized();
        };
        if connection
            .acceptor
            .as_ref()
            .is_none_or(NtlmAcceptor::is_authenticated)
        {
            match NtlmAcceptor::new(&shared.user, &shared.password) {
                Ok(acceptor) => connection.acceptor = Some(acceptor),
                Err(_) => return response(StatusCode::INTERNAL_SERVER_ERROR, &[], Vec::new()),
            }
        }
        let Some(acceptor) = connection.acceptor.as_mut() else {
            return unauthorized();
        };
        match acceptor.accept(&token) {
            Ok(AcceptStep::Challenge(challenge)) => {
                let value = format!("{scheme} {}", BASE64.encode(challenge));
                return response(
                    StatusCode::UNAUTHORIZED,
                    &[(WWW_AUTHENTICATE.as_str(), value)],
                    Vec::new(),
                );
            }
            Ok(AcceptStep::Authenticated) if body.is_empty() => {
                return response(StatusCode::OK, &[], Vec::new());
            }
            Ok(AcceptStep::Authenticated) => {}
            Err(_) => {
                connection.acceptor = None;
                return unauthorized();
            }
        }
    }
    let Some(acceptor) = connection
        .acceptor
        .as_mut()
        .filter(|a| a.is_authenticated())
    else {
        return unauthorized();
    };
    if !content_type.contains(framing::PROTOCOL) {
        // AllowUnencrypted=false: Windows refuses clear-text SOAP on HTTP.
        return unauthorized();
    }
    let plaintext = match framing::decode(&body).and_then(|part| {
        let plaintext = acceptor.unseal(&part.signature, &part.sealed)?;
        if plaintext.len() == part.plaintext_len {
            Ok(plaintext)
        } else {
            Err(winrm::Error::Tampered("length mismatch".into()))
        }
    }) {
        Ok(plaintext) => plaintext,
        Err(error) => {
            tracing::warn!(%error, "refused a sealed request");
            return response(StatusCode::BAD_REQUEST, &[], Vec::new());
        }
    };
    let (reply, action, hold) = match WsRequest::parse(&plaintext) {
        Ok(ws) => {
            let action = ws.body.action();
            let outcome = match (shared.model.lock(), shared.shells.lock()) {
                (Ok(mut model), Ok(mut shells)) => shells.handle(
                    &mut model,
                    ws.header.shell_id.as_deref(),
                    ws.body,
                    ws.header.operation_timeout,
                ),
                _ => return response(StatusCode::INTERNAL_SERVER_ERROR, &[], Vec::new()),
            };
            let reply = Reply {
                message_id: format!("uuid:{}", uuid::Uuid::new_v4().to_string().to_uppercase()),
                relates_to: Some(ws.header.message_id),
                body: outcome.reply,
            };
            (reply, action, outcome.hold)
        }
        Err(error) => {
            let fault = Fault::new(
                FaultKind::Other,
                2_150_858_817,
                &format!("The WS-Management service cannot process the request: {error}"),
            );
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
    };
    tokio::time::sleep(shared.latency + hold).await;
    let status = if matches!(reply.body, ReplyBody::Fault(_)) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let endpoint = "http://localhost:5985/wsman";
    let sealed = reply.to_xml(action, endpoint).and_then(|xml| {
        let (signature, sealed) = acceptor.seal(&xml)?;
        Ok(framing::encode(&signature, &sealed, xml.len()))
    });
    match sealed {
        Ok(body) => response(
            status,
            &[(CONTENT_TYPE.as_str(), framing::CONTENT_TYPE.to_owned())],
            body,
        ),
        Err(_) => response(StatusCode::INTERNAL_SERVER_ERROR, &[], Vec::new()),
    }
}
