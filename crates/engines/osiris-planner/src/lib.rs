//! The L2 planner: what no L1 rule handles is put to a language model that
//! may only choose a whitelisted runbook with schema-valid parameters.
//!
//! - [`IncidentContext`]: what the model may see. Every field that comes
//!   from a site (check output, host facts, recent history) is an
//!   [`osiris_scrub::Scrubbed`] value, and the rest is catalog data, so a
//!   prompt carrying unscrubbed text does not compile.
//! - [`Prompt`]: built only here ([`Prompt::build`]) from that context and
//!   the candidate runbooks of the target's platform with their parameter
//!   JSON Schemas; it asks for structured output ([`Prompt::response_schema`],
//!   usable as a `json_schema` response format or as a tool's parameters)
//!   and carries its own SHA-256.
//! - [`LanguageModel`]: the swap point (an OpenAI-compatible client lives in
//!   the `osiris-llm` adapter), object-safe with a boxed future.
//! - [`Planner::decide`]: the hourly call budget per site (through
//!   [`osiris_limits::RateLimiter`], time passed in), the call, then the
//!   answer held to the whitelist ([`osiris_healing::gates::whitelist`]), the
//!   runbook's parameter schema ([`osiris_healing::gates::params`]) and the
//!   confidence threshold. Anything else is a [`PlanRefusal`] with its
//!   reason, to be escalated; dry-run yields a plan that is not to run. Every
//!   decision comes with a [`DecisionRecord`] for evidence and the learning
//!   loop.
//!
//! **Invariant:** a [`Plan`] exists only for an answer that passed every
//! check. **Boundary:** no I/O but the model and limiter it is handed, no
//! clock: `now` is an argument. This crate must not depend on an HTTP
//! client, an async runtime or `std::fs`.

mod answer;
mod context;
mod error;
mod model;
mod planner;
mod prompt;

pub use context::IncidentContext;
pub use error::{Error, Result};
pub use model::{AnswerForm, BoxFuture, LanguageModel, ModelAnswer, ModelError};
pub use planner::{
    BUDGET_BUCKET, Decision, DecisionRecord, Outcome, Plan, PlanRefusal, Planner, PlannerConfig,
    RefusalCode, Validation,
};
pub use prompt::{ANSWER_TEXT_LIMIT, CHECK_OUTPUT_LIMIT, Prompt, RESPONSE_SCHEMA_NAME};
