//! [`Planner`]: budget, model call and validation, one [`Decision`] each.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use osiris_catalog::{Catalog, Platform};
use osiris_core::RunbookId;
use osiris_healing::gates;
use osiris_limits::{Bucket, Decision as LimitDecision, LimitKey, Quota, RateLimiter};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::answer::{self, RawPlan, Unreadable};
use crate::context::IncidentContext;
use crate::error::{Error, Result};
use crate::model::{AnswerForm, LanguageModel, ModelAnswer, ModelError};
use crate::prompt::{ANSWER_TEXT_LIMIT, Prompt, cut};

/// The limiter bucket of model calls per site.
pub const BUDGET_BUCKET: &str = "l2-site";

/// A site's planner settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannerConfig {
    /// Plans the model is less sure of than this (0.0 to 1.0) are refused.
    pub min_confidence: f64,
    /// Model calls per site per hour (GCRA: a burst of this many, then one
    /// every hour / `calls_per_hour`).
    pub calls_per_hour: u32,
    /// Plan, validate and record, but hand back nothing to run.
    pub dry_run: bool,
}

/// The L2 planner of one appliance.
#[derive(Debug)]
pub struct Planner {
    catalog: Arc<Catalog>,
    model: Arc<dyn LanguageModel>,
    limiter: Arc<dyn RateLimiter>,
    min_confidence: f64,
    budget: Quota,
    dry_run: bool,
}

/// One decision: what to do and the record of why.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Decision {
    /// What the caller may do.
    pub outcome: Outcome,
    /// Evidence and learning-loop record of the decision.
    pub record: DecisionRecord,
}

/// What a decision allows.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Outcome {
    /// A validated plan, to go through the healing gates (mode, approval,
    /// maintenance window, rate) before it runs.
    Plan(Plan),
    /// Dry-run: a validated plan that must not run; it is recorded only.
    DryRun(Plan),
    /// No plan: escalate to a person with the reason.
    Refused(PlanRefusal),
}

/// A plan that passed every check.
///
/// **Invariant:** only [`Planner::decide`] builds one, after the whitelist,
/// parameter schema and confidence checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    runbook_id: RunbookId,
    params: Map<String, Value>,
    confidence: f64,
    reasoning: String,
}

impl Plan {
    /// The chosen runbook, in the catalog and suiting the target's platform.
    #[must_use]
    pub const fn runbook_id(&self) -> &RunbookId {
        &self.runbook_id
    }

    /// Its parameters, valid under the runbook's schema.
    #[must_use]
    pub const fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// How sure the model said it was.
    #[must_use]
    pub const fn confidence(&self) -> f64 {
        self.confidence
    }

    /// The model's reasoning, in its words.
    #[must_use]
    pub fn reasoning(&self) -> &str {
        &self.reasoning
    }
}

/// Why no plan came out; the incident is escalated with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRefusal {
    /// The kind of refusal.
    pub code: RefusalCode,
    /// Why, in words.
    pub reason: String,
}

/// The kinds of refusal, as named in evidence (`validation.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// The site's hourly model budget is spent; the model was not asked.
    BudgetExceeded,
    /// The model did not answer in time.
    Timeout,
    /// The model could not be reached or answered with an error.
    ModelUnavailable,
    /// The answer was empty.
    EmptyAnswer,
    /// The answer was not the JSON object asked for.
    MalformedAnswer,
    /// The model chose no runbook.
    NoRunbook,
    /// The runbook is not in the catalog.
    NotWhitelisted,
    /// The runbook is in the catalog but not for the target's platform.
    WrongPlatform,
    /// The parameters do not satisfy the runbook's schema.
    InvalidParams,
    /// The model's confidence is below the threshold.
    LowConfidence,
}

impl RefusalCode {
    /// The name used in evidence.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BudgetExceeded => "budget_exceeded",
            Self::Timeout => "timeout",
            Self::ModelUnavailable => "model_unavailable",
            Self::EmptyAnswer => "empty_answer",
            Self::MalformedAnswer => "malformed_answer",
            Self::NoRunbook => "no_runbook",
            Self::NotWhitelisted => "not_whitelisted",
            Self::WrongPlatform => "wrong_platform",
            Self::InvalidParams => "invalid_params",
            Self::LowConfidence => "low_confidence",
        }
    }
}

/// The record of one decision, serialised into an evidence bundle's
/// `detail` (`tier: "L2"`) and kept for the learning loop, which joins it
/// with the plan's verified outcome by `prompt_sha256`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRecord {
    /// Always `L2`.
    pub tier: &'static str,
    /// When the decision was made (passed in).
    pub decided_at: DateTime<Utc>,
    /// The failed check.
    pub check_id: String,
    /// The target's platform.
    pub platform: Platform,
    /// [`Prompt::sha256`].
    pub prompt_sha256: String,
    /// The model that answered, when one did.
    pub model: Option<String>,
    /// How it answered.
    pub answer_form: Option<AnswerForm>,
    /// The answer text as received (at most [`ANSWER_TEXT_LIMIT`] bytes).
    pub answer: Option<String>,
    /// Accepted, or refused with code and reason.
    pub validation: Validation,
    /// `planned`, `dry_run` or `escalated`.
    pub outcome: &'static str,
    /// The runbook the model chose, valid or not.
    pub runbook_id: Option<String>,
    /// The parameters it chose.
    pub params: Option<Map<String, Value>>,
    /// The confidence it gave.
    pub confidence: Option<f64>,
    /// The threshold in force.
    pub min_confidence: f64,
    /// Whether the planner was in dry-run.
    pub dry_run: bool,
}

/// The validation result in a [`DecisionRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validation {
    /// Whether the answer passed every check.
    pub accepted: bool,
    /// The refusal's kind, when refused.
    pub code: Option<RefusalCode>,
    /// The refusal's reason, when refused.
    pub reason: Option<String>,
}

impl DecisionRecord {
    /// The record as a JSON object for a bundle's `detail`.
    #[must_use]
    pub fn to_detail(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Planner {
    /// A planner over `catalog` (the whitelist), `model` and `limiter` (the
    /// hourly budget).
    ///
    /// # Errors
    /// A threshold outside `0..=1` or an unusable budget.
    pub fn new(
        catalog: Arc<Catalog>,
        model: Arc<dyn LanguageModel>,
        limiter: Arc<dyn RateLimiter>,
        config: PlannerConfig,
    ) -> Result<Self> {
        if !(0.0..=1.0).contains(&config.min_confidence) {
            return Err(Error::Confidence {
                value: config.min_confidence,
            });
        }
        let budget = Quota::new(config.calls_per_hour, Duration::hours(1)).map_err(|source| {
            Error::Budget {
                value: config.calls_per_hour,
                source,
            }
        })?;
        Ok(Self {
            catalog,
            model,
            limiter,
            min_confidence: config.min_confidence,
            budget,
            dry_run: config.dry_run,
        })
    }

    /// Decides one incident at `now`: the budget, the model, then the
    /// answer's checks. Never fails: every problem is a refusal.
    pub async fn decide(&self, context: &IncidentContext<'_>, now: DateTime<Utc>) -> Decision {
        let prompt = Prompt::build(&self.catalog, context);
        let mut record = DecisionRecord {
            tier: "L2",
            decided_at: now,
            check_id: context.check.id.clone(),
            platform: context.platform,
            prompt_sha256: prompt.sha256().to_owned(),
            model: None,
            answer_form: None,
            answer: None,
            validation: Validation {
                accepted: false,
                code: None,
                reason: None,
            },
            outcome: "escalated",
            runbook_id: None,
            params: None,
            confidence: None,
            min_confidence: self.min_confidence,
            dry_run: self.dry_run,
        };
        let outcome = match self.consult(context, &prompt, now, &mut record).await {
            Ok(plan) => {
                record.validation.accepted = true;
                if self.dry_run {
                    record.outcome = "dry_run";
                    Outcome::DryRun(plan)
                } else {
                    record.outcome = "planned";
                    Outcome::Plan(plan)
                }
            }
            Err(refusal) => {
                record.validation.code = Some(refusal.code);
                record.validation.reason = Some(refusal.reason.clone());
                Outcome::Refused(refusal)
            }
        };
        tracing::info!(
            site_id = %context.site_id,
            check_id = %context.check.id,
            prompt_sha256 = %record.prompt_sha256,
            outcome = record.outcome,
            code = record.validation.code.map(RefusalCode::as_str),
            "L2 decision"
        );
        Decision { outcome, record }
    }

    async fn consult(
        &self,
        context: &IncidentContext<'_>,
        prompt: &Prompt,
        now: DateTime<Utc>,
        record: &mut DecisionRecord,
    ) -> Result<Plan, PlanRefusal> {
        self.spend_budget(context, now).await?;
        let answer = self.model.complete(prompt).await.map_err(|error| {
            let code = match error {
                ModelError::Timeout { .. } => RefusalCode::Timeout,
                ModelError::Unavailable { .. } | ModelError::Protocol { .. } => {
                    RefusalCode::ModelUnavailable
                }
            };
            refuse(code, error.to_string())
        })?;
        let ModelAnswer { model, text, form } = answer;
        record.model = Some(model);
        record.answer_form = Some(form);
        record.answer = Some(cut(&text, ANSWER_TEXT_LIMIT).to_owned());
        let raw = answer::read(&text).map_err(|error| match error {
            Unreadable::Empty => refuse(RefusalCode::EmptyAnswer, "the model's answer is empty"),
            Unreadable::Malformed(reason) => refuse(RefusalCode::MalformedAnswer, reason),
        })?;
        record.runbook_id.clone_from(&raw.runbook_id);
        record.params = Some(raw.params.clone());
        record.confidence = Some(raw.confidence);
        self.judge(context.platform, raw)
    }

    async fn spend_budget(
        &self,
        context: &IncidentContext<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), PlanRefusal> {
        let failed = |reason: String| {
            refuse(
                RefusalCode::BudgetExceeded,
                format!("the model budget cannot be checked, so it is treated as spent: {reason}"),
            )
        };
        let bucket = Bucket::new(BUDGET_BUCKET).map_err(|e| failed(e.to_string()))?;
        let key = LimitKey::site(bucket, context.site_id);
        match self.limiter.check(&key, self.budget, now).await {
            Ok(LimitDecision::Allowed { .. }) => Ok(()),
            Ok(LimitDecision::Limited { retry_after }) => Err(refuse(
                RefusalCode::BudgetExceeded,
                format!(
                    "the site's budget of {} model calls per hour is spent; the next call is possible in {} s",
                    self.budget.max(),
                    retry_after.num_seconds().max(1)
                ),
            )),
            Err(error) => Err(failed(error.to_string())),
        }
    }

    fn judge(&self, platform: Platform, raw: RawPlan) -> Result<Plan, PlanRefusal> {
        let Some(runbook_id) = raw.runbook_id else {
            let why = if raw.reasoning.is_empty() {
                String::new()
            } else {
                format!(": {}", raw.reasoning)
            };
            return Err(refuse(
                RefusalCode::NoRunbook,
                format!("the model chose no runbook{why}"),
            ));
        };
        let runbook =
            gates::whitelist(&self.catalog, &runbook_id, platform).map_err(|refusal| {
                let known = runbook_id
                    .parse::<RunbookId>()
                    .ok()
                    .is_some_and(|id| self.catalog.runbook(&id).is_some());
                let code = if known {
                    RefusalCode::WrongPlatform
                } else {
                    RefusalCode::NotWhitelisted
                };
                refuse(code, refusal.reason)
            })?;
        gates::params(runbook, &raw.params)
            .map_err(|refusal| refuse(RefusalCode::InvalidParams, refusal.reason))?;
        if raw.confidence < self.min_confidence {
            return Err(refuse(
                RefusalCode::LowConfidence,
                format!(
                    "the model's confidence {:.2} in {} is below the threshold {:.2}",
                    raw.confidence, runbook.id, self.min_confidence
                ),
            ));
        }
        Ok(Plan {
            runbook_id: runbook.id.clone(),
            params: raw.params,
            confidence: raw.confidence,
            reasoning: raw.reasoning,
        })
    }
}

fn refuse(code: RefusalCode, reason: impl Into<String>) -> PlanRefusal {
    PlanRefusal {
        code,
        reason: reason.into(),
    }
}
