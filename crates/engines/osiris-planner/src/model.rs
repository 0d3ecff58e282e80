//! The swap point for the model: [`LanguageModel`], what it answers
//! ([`ModelAnswer`]) and how it fails ([`ModelError`]).

use std::future::Future;
use std::pin::Pin;

use crate::prompt::Prompt;

/// The future a model returns: boxed, so the app holds `Arc<dyn LanguageModel>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A language model answering a [`Prompt`] with one JSON document
/// matching [`Prompt::response_schema`].
///
/// Implementations enforce their own time limit (the planner never reads a
/// clock) and report it as [`ModelError::Timeout`]. They return the text of
/// the answer unjudged: the planner validates it.
pub trait LanguageModel: Send + Sync + std::fmt::Debug {
    /// Asks the model once (implementations may retry and fall back
    /// between endpoints inside this call).
    fn complete<'a>(&'a self, prompt: &'a Prompt)
    -> BoxFuture<'a, Result<ModelAnswer, ModelError>>;
}

/// How the model delivered its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerForm {
    /// As the message content (a `json_schema` response format).
    Content,
    /// As the arguments of a tool call.
    ToolCall,
}

/// A model's answer, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAnswer {
    /// The model that answered, as the endpoint named it.
    pub model: String,
    /// The JSON text of the answer (message content or tool-call arguments).
    pub text: String,
    /// Where the text came from.
    pub form: AnswerForm,
}

/// Why the model gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No answer within the time limit (on every endpoint tried).
    #[error("the model did not answer within {seconds} s")]
    Timeout {
        /// The limit that passed.
        seconds: u64,
    },
    /// The endpoints could not be reached or answered with an error.
    #[error("the model is unavailable: {reason}")]
    Unavailable {
        /// What failed, per endpoint; never a key.
        reason: String,
    },
    /// An answer arrived but is not a chat completion the client can read.
    #[error("the model's answer is not a readable completion: {reason}")]
    Protocol {
        /// What was wrong with it.
        reason: String,
    },
}
