//! [`ChatModel`]: endpoints in order, retries, and reading the answer.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use osiris_core::Secret;
use osiris_planner::{
    AnswerForm, BoxFuture, LanguageModel, ModelAnswer, ModelError, Prompt, RESPONSE_SCHEMA_NAME,
};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};

use crate::config::{AnswerMode, EndpointConfig, LlmConfig};
use crate::error::{Error, Result};
use crate::wire::{self, Completion, ErrorBody};

/// The largest answer read from an endpoint.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// At most this much of an endpoint's error text goes into a reason.
const REASON_LIMIT: usize = 300;

/// An OpenAI-compatible chat-completions client over one or more endpoints.
#[derive(Clone)]
pub struct ChatModel {
    endpoints: Arc<[Endpoint]>,
    http: reqwest::Client,
    retry_pause: Duration,
}

struct Endpoint {
    name: String,
    url: Url,
    model: String,
    api_key: Option<Secret<String>>,
    mode: AnswerMode,
    timeout: Duration,
    retries: u32,
}

/// Shows names, URLs and models; never a key.
impl fmt::Debug for ChatModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for endpoint in self.endpoints.iter() {
            list.entry(&format_args!(
                "{} {} {} (key: {})",
                endpoint.name,
                endpoint.url,
                endpoint.model,
                if endpoint.api_key.is_some() {
                    "set"
                } else {
                    "none"
                }
            ));
        }
        list.finish()
    }
}

/// One failed attempt.
enum Failure {
    /// Worth another attempt on the same endpoint.
    Retry(ModelError),
    /// Move on to the next endpoint.
    Next(ModelError),
}

impl ChatModel {
    /// A client for `config`'s endpoints.
    ///
    /// # Errors
    /// No endpoint, an unusable URL (not http(s), credentials in it, a key
    /// over plain http off loopback), a zero timeout, or a client that
    /// cannot be built.
    pub fn new(config: LlmConfig) -> Result<Self> {
        if config.endpoints.is_empty() {
            return Err(Error::NoEndpoint);
        }
        let endpoints = config
            .endpoints
            .into_iter()
            .map(Endpoint::new)
            .collect::<Result<Vec<_>>>()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(Error::Tls)?
            .with_root_certificates(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("osiris-llm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Client)?;
        Ok(Self {
            endpoints: endpoints.into(),
            http,
            retry_pause: config.retry_pause,
        })
    }

    async fn ask(&self, prompt: &Prompt) -> Result<ModelAnswer, ModelError> {
        let mut reasons = Vec::new();
        let mut all_timed_out = true;
        let mut longest = 0;
        for endpoint in self.endpoints.iter() {
            let mut pause = self.retry_pause;
            let mut attempt = 0;
            let error = loop {
                match self.attempt(endpoint, prompt).await {
                    Ok(answer) => return Ok(answer),
                    Err(Failure::Retry(error)) if attempt < endpoint.retries => {
                        tracing::warn!(endpoint = %endpoint.name, attempt, %error, "model request failed; retrying");
                        attempt += 1;
                        tokio::time::sleep(pause).await;
                        pause = pause.saturating_mul(2);
                    }
                    Err(Failure::Retry(error) | Failure::Next(error)) => break error,
                }
            };
            tracing::warn!(endpoint = %endpoint.name, %error, "model endpoint failed");
            if let ModelError::Timeout { seconds } = error {
                longest = longest.max(seconds);
            } else {
                all_timed_out = false;
            }
            reasons.push(format!("{}: {error}", endpoint.name));
        }
        Err(if all_timed_out {
            ModelError::Timeout { seconds: longest }
        } else {
            ModelError::Unavailable {
                reason: reasons.join("; "),
            }
        })
    }

    async fn attempt(&self, endpoint: &Endpoint, prompt: &Prompt) -> Result<ModelAnswer, Failure> {
        let timed_out = || {
            Failure::Retry(ModelError::Timeout {
                seconds: endpoint.timeout.as_secs().max(1),
            })
        };
        let body = wire::request(&endpoint.model, endpoint.mode, prompt);
        let mut request = self
            .http
            .post(endpoint.url.clone())
            .timeout(endpoint.timeout)
            .json(&body);
        if let Some(key) = &endpoint.api_key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    Failure::Next(ModelError::Unavailable {
                        reason: "the api key is not a valid header value".to_owned(),
                    })
                })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(|error| {
            if error.is_timeout() {
                timed_out()
            } else {
                Failure::Retry(ModelError::Unavailable {
                    reason: describe(&error),
                })
            }
        })?;
        let status = response.status();
        let bytes = read_limited(response).await.map_err(|error| match error {
            ReadError::Timeout => timed_out(),
            ReadError::Other(reason) => Failure::Retry(ModelError::Unavailable { reason }),
        })?;
        if !status.is_success() {
            let said = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|body| body.error.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            let error = ModelError::Unavailable {
                reason: format!("HTTP {status}: {}", short(said.trim())),
            };
            let retry = status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || status == StatusCode::REQUEST_TIMEOUT;
            return Err(if retry {
                Failure::Retry(error)
            } else {
                Failure::Next(error)
            });
        }
        read_answer(&bytes, endpoint).map_err(Failure::Next)
    }
}

impl LanguageModel for ChatModel {
    fn complete<'a>(
        &'a self,
        prompt: &'a Prompt,
    ) -> BoxFuture<'a, Result<ModelAnswer, ModelError>> {
        Box::pin(self.ask(prompt))
    }
}

impl Endpoint {
    fn new(config: EndpointConfig) -> Result<Self> {
        let bad = |reason: &str| Error::BadUrl {
            name: config.name.clone(),
            url: config.base_url.clone(),
            reason: reason.to_owned(),
        };
        let base =
            Url::parse(config.base_url.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad("must be http or https"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad("must not carry credentials; use api_key"));
        }
        let Some(host) = base.host_str().filter(|h| !h.is_empty()) else {
            return Err(bad("has no host"));
        };
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if config.api_key.is_some() && base.scheme() == "http" && !loopback {
            return Err(bad(
                "is plain http, which would send the api key in clear; use https",
            ));
        }
        if config.timeout.is_zero() {
            return Err(Error::BadSetting {
                name: config.name.clone(),
                reason: "timeout must be more than 0 s".to_owned(),
            });
        }
        let mut url = base;
        let path = format!("{}/chat/completions", url.path().trim_end_matches('/'));
        url.set_path(&path);
        Ok(Self {
            name: config.name,
            url,
            model: config.model,
            api_key: config.api_key,
            mode: config.mode,
            timeout: config.timeout,
            retries: config.retries,
        })
    }
}

fn read_answer(bytes: &[u8], endpoint: &Endpoint) -> Result<ModelAnswer, ModelError> {
    let protocol = |reason: String| ModelError::Protocol {
        reason: format!("{}: {reason}", endpoint.name),
    };
    let completion: Completion = serde_json::from_slice(bytes)
        .map_err(|e| protocol(format!("not a chat completion ({e})")))?;
    let model = completion.model.unwrap_or_else(|| endpoint.model.clone());
    let message = completion
        .choices
        .into_iter()
        .next()
        .map(|choice| choice.message)
        .ok_or_else(|| protocol("the completion has no choices".to_owned()))?;
    if let Some(call) = message.tool_calls.into_iter().flatten().next() {
        if call.function.name != RESPONSE_SCHEMA_NAME {
            return Err(protocol(format!(
                "the model called tool {:?}, not {RESPONSE_SCHEMA_NAME}",
                short(&call.function.name)
            )));
        }
        return Ok(ModelAnswer {
            model,
            text: call.function.arguments,
            form: AnswerForm::ToolCall,
        });
    }
    Ok(ModelAnswer {
        model,
        // A message without content is an empty answer, for the planner to refuse.
        text: message.content.unwrap_or_default(),
        form: AnswerForm::Content,
    })
}

enum ReadError {
    Timeout,
    Other(String),
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
                    return Err(ReadError::Other(format!(
                        "the answer is larger than {MAX_BODY_BYTES} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(error) if error.is_timeout() => return Err(ReadError::Timeout),
            Err(error) => return Err(ReadError::Other(describe(&error))),
        }
    }
}

/// The error and its causes on one line (the URL has no credentials).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn short(text: &str) -> &str {
    if text.len() <= REASON_LIMIT {
        return text;
    }
    let mut end = REASON_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
