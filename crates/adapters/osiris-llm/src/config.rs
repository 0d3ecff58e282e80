//! [`LlmConfig`]: the endpoints in the order they are tried.

use std::time::Duration;

use osiris_core::Secret;
use serde::Deserialize;

/// How the model is asked for structured output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerMode {
    /// `response_format: {"type": "json_schema", …}`; the answer is the
    /// message content.
    JsonSchema,
    /// One tool whose parameters are the schema, forced by `tool_choice`;
    /// the answer is the tool call's arguments.
    ToolCall,
}

/// One OpenAI-compatible endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// A name for logs and errors (`local`, `hosted`).
    pub name: String,
    /// The API base, such as `http://127.0.0.1:11434/v1`; requests go to
    /// `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model to ask for.
    pub model: String,
    /// A bearer key, for hosted APIs.
    #[serde(default)]
    pub api_key: Option<Secret<String>>,
    /// How structured output is asked for.
    pub mode: AnswerMode,
    /// The limit for one request, from sending to the last byte.
    #[serde(with = "seconds")]
    pub timeout: Duration,
    /// Further attempts after a timeout, connection failure, 408, 429 or 5xx.
    pub retries: u32,
}

/// The client's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Tried in order: local first, hosted as fallback.
    pub endpoints: Vec<EndpointConfig>,
    /// The pause before a retry (doubled each time).
    #[serde(with = "seconds")]
    pub retry_pause: Duration,
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let seconds = f64::deserialize(d)?;
        Duration::try_from_secs_f64(seconds).map_err(serde::de::Error::custom)
    }
}
