//! The chat-completions wire format: the request body and the parts of the
//! answer the client reads.

use osiris_planner::{Prompt, RESPONSE_SCHEMA_NAME};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::AnswerMode;

/// The most tokens a plan may take: a plan is one small JSON object, and a
/// model that runs on past this is not answering the question.
pub(crate) const MAX_TOKENS: u32 = 1024;

/// The request body for `prompt`.
pub(crate) fn request(model: &str, mode: AnswerMode, prompt: &Prompt) -> Value {
    let mut body = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": prompt.system()},
            {"role": "user", "content": prompt.user()},
        ],
        "temperature": 0,
        "max_tokens": MAX_TOKENS,
        "stream": false,
    });
    let extra = match mode {
        AnswerMode::JsonSchema => json!({
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": RESPONSE_SCHEMA_NAME,
                    "schema": prompt.response_schema(),
                },
            },
        }),
        AnswerMode::ToolCall => json!({
            "tools": [{
                "type": "function",
                "function": {
                    "name": RESPONSE_SCHEMA_NAME,
                    "description": "Record the remediation plan: one candidate runbook with its parameters, or none.",
                    "parameters": prompt.response_schema(),
                },
            }],
            "tool_choice": {"type": "function", "function": {"name": RESPONSE_SCHEMA_NAME}},
        }),
    };
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

/// A chat completion, as far as it is read.
#[derive(Debug, Deserialize)]
pub(crate) struct Completion {
    #[serde(default)]
    pub(crate) model: Option<String>,
    pub(crate) choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    pub(crate) message: Message,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Message {
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolCall {
    pub(crate) function: Function,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Function {
    pub(crate) name: String,
    pub(crate) arguments: String,
}

/// The `{"error": {"message": …}}` body of a failed request.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub(crate) message: String,
}
