//! The model's stand-in: an OpenAI-compatible chat-completions server on
//! 127.0.0.1:0 that speaks the real wire protocol (`POST
//! /v1/chat/completions`, `chat.completion` objects with content or
//! `tool_calls`, `{"error": …}` bodies) and answers from a script, one
//! reply per request, keeping every request it received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One scripted reply.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// A status and a JSON body.
    Json(u16, Value),
    /// A status and a body that is not JSON.
    Text(u16, &'static str),
    /// The reply, after a pause.
    Slow(Duration, Box<Reply>),
}

/// One request as received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

#[derive(Debug, Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
}

/// A running peer; stops when dropped.
#[derive(Debug)]
pub(crate) struct Peer {
    /// The API base, `http://127.0.0.1:<port>/v1`.
    pub(crate) url: String,
    script: Arc<Script>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    pub(crate) async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Script {
            replies: Mutex::new(replies.into()),
            received: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, script, task }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.script.received.lock().unwrap().clone()
    }
}

async fn completions(
    State(script): State<Arc<Script>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    script
        .received
        .lock()
        .unwrap()
        .push(Received { headers, body });
    let reply = script.replies.lock().unwrap().pop_front();
    let mut reply =
        reply.unwrap_or_else(|| Reply::Json(500, error("the script has no more replies")));
    loop {
        match reply {
            Reply::Slow(pause, next) => {
                tokio::time::sleep(pause).await;
                reply = *next;
            }
            Reply::Json(status, body) => {
                return (
                    code(status),
                    [("content-type", "application/json")],
                    body.to_string(),
                )
                    .into_response();
            }
            Reply::Text(status, text) => return (code(status), text).into_response(),
        }
    }
}

fn code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap()
}

/// A `chat.completion` whose message content is `content`.
pub(crate) fn completion(content: &str) -> Reply {
    Reply::Json(
        200,
        json!({
            "id": "chatcmpl-peer-1",
            "object": "chat.completion",
            "created": 1_781_712_000,
            "model": "peer-model",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940},
        }),
    )
}

/// A `chat.completion` that calls `name` with `arguments` (a JSON string).
pub(crate) fn tool_call(name: &str, arguments: &str) -> Reply {
    Reply::Json(
        200,
        json!({
            "id": "chatcmpl-peer-2",
            "object": "chat.completion",
            "created": 1_781_712_000,
            "model": "peer-model",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }],
                },
                "finish_reason": "tool_calls",
            }],
        }),
    )
}

/// The OpenAI error body.
pub(crate) fn error(message: &str) -> Value {
    json!({"error": {"message": message, "type": "server_error", "code": null}})
}
