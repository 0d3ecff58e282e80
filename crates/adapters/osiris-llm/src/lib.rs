//! An OpenAI-compatible chat-completions client implementing
//! [`osiris_planner::LanguageModel`]: any endpoint that speaks
//! `POST {base}/chat/completions` (Ollama, the llama.cpp server, vLLM, a
//! hosted API).
//!
//! [`ChatModel`] tries its endpoints in order, the local one first and a
//! hosted one as fallback, each with its own time limit and retries: a
//! timeout, a connection failure, 408, 429 or a 5xx is retried after a
//! pause, any other answer moves on to the next endpoint. It asks for
//! structured output either as a `json_schema` response format or as a
//! forced tool call ([`AnswerMode`]) and returns the message content or the
//! tool call's arguments unjudged: the planner validates them.
//!
//! TLS is rustls on the ring provider with the public roots (no aws-lc, no
//! OpenSSL). API keys are [`osiris_core::Secret`]s: sent as a sensitive
//! header, never in `Debug`, a log or an error; a keyed endpoint must use
//! https unless it is on loopback.
//!
//! This crate must not depend on another adapter or an app.

mod client;
mod config;
mod error;
mod wire;

pub use client::ChatModel;
pub use config::{AnswerMode, EndpointConfig, LlmConfig};
pub use error::{Error, Result};
