//! The L2 tier on the appliance: what no L1 rule handles is put to the
//! planner (an OpenAI-compatible model, local first), whose validated plan
//! runs through the same gates as an L1 fix; a refused or dry-run decision
//! is recorded and the incident goes to a person.

use std::sync::Arc;
use std::time::Duration;

use osiris_catalog::Catalog;
use osiris_core::{Clock, Secret, SiteId};
use osiris_evidence::Kind;
use osiris_healing::{Connector, Failed, HealReport, Healer};
use osiris_limits::RateLimiter;
use osiris_llm::{AnswerMode, ChatModel, EndpointConfig, LlmConfig};
use osiris_planner::{IncidentContext, LanguageModel, Outcome, Planner, PlannerConfig};
use osiris_queue::Queue;
use osiris_scrub::Scrubber;
use osiris_transport::Transport;
use serde_json::json;

use crate::AgentError;
use crate::config::{PlannerSettings, TargetConfig};
use crate::targets::EnvLookup;

/// What the L2 tier came to for one incident.
#[derive(Debug)]
pub enum L2Outcome {
    /// A plan ran through the gates; the report says how it ended.
    Ran(HealReport),
    /// Dry-run: the plan was recorded, nothing ran.
    Recorded,
    /// No plan: a person takes it, for this reason.
    Escalate(String),
}

/// The planner with what it needs on this appliance.
#[derive(Debug)]
pub struct L2 {
    planner: Planner,
    site_id: SiteId,
    scrubber: Arc<Scrubber>,
    queue: Queue,
    clock: Arc<dyn Clock>,
}

/// The model client for the configured endpoints.
///
/// # Errors
/// An endpoint the client refuses, or an API key variable that is not set.
pub fn model(
    settings: &PlannerSettings,
    env: &EnvLookup,
) -> Result<Arc<dyn LanguageModel>, AgentError> {
    let mut endpoints = Vec::with_capacity(settings.endpoints.len());
    for endpoint in &settings.endpoints {
        let api_key = match &endpoint.api_key_env {
            Some(var) => Some(Secret::new(env(var).filter(|k| !k.is_empty()).ok_or_else(
                || {
                    AgentError::Planner(format!(
                        "planner endpoint {}: environment variable {var} is not set",
                        endpoint.name
                    ))
                },
            )?)),
            None => None,
        };
        endpoints.push(EndpointConfig {
            name: endpoint.name.clone(),
            base_url: endpoint.base_url.clone(),
            model: endpoint.model.clone(),
            api_key,
            mode: if endpoint.mode == "tool_call" {
                AnswerMode::ToolCall
            } else {
                AnswerMode::JsonSchema
            },
            timeout: seconds(endpoint.timeout_secs, 30.0),
            retries: endpoint.retries,
        });
    }
    let config = LlmConfig {
        endpoints,
        retry_pause: seconds(settings.retry_pause_secs, 1.0),
    };
    let model = ChatModel::new(config).map_err(|e| AgentError::Planner(e.to_string()))?;
    Ok(Arc::new(model))
}

/// A validated number of seconds (`fallback` for what config validation
/// already refused).
fn seconds(value: f64, fallback: f64) -> Duration {
    Duration::try_from_secs_f64(value)
        .or_else(|_| Duration::try_from_secs_f64(fallback))
        .unwrap_or(Duration::ZERO)
}

impl L2 {
    /// The L2 tier over `model`.
    ///
    /// # Errors
    /// A confidence threshold or budget the planner refuses.
    pub fn new(
        settings: &PlannerSettings,
        model: Arc<dyn LanguageModel>,
        catalog: Arc<Catalog>,
        limiter: Arc<dyn RateLimiter>,
        parts: (SiteId, Arc<Scrubber>, Queue, Arc<dyn Clock>),
    ) -> Result<Self, AgentError> {
        let (site_id, scrubber, queue, clock) = parts;
        let planner = Planner::new(
            catalog,
            model,
            limiter,
            PlannerConfig {
                min_confidence: settings.min_confidence,
                calls_per_hour: settings.calls_per_hour,
                dry_run: settings.dry_run,
            },
        )
        .map_err(|e| AgentError::Planner(e.to_string()))?;
        Ok(Self {
            planner,
            site_id,
            scrubber,
            queue,
            clock,
        })
    }

    /// Puts a failed check no rule handles to the planner, then runs its
    /// plan through the healer's gates. Only scrubbed text reaches the
    /// prompt: the check's output, the host's facts and the incident's
    /// history each pass through the site's scrubber first.
    ///
    /// # Errors
    /// When evidence cannot be recorded.
    pub async fn handle(
        &self,
        healer: &Healer,
        session: &mut dyn Transport,
        connector: &dyn Connector,
        target: &TargetConfig,
        failed: Failed<'_>,
        history: &[osiris_healing::Episode],
    ) -> Result<L2Outcome, AgentError> {
        let run = failed.run();
        let Some(check) = healer.catalog().check(run.check_id()) else {
            return Ok(L2Outcome::Escalate(format!(
                "{} is not in the catalog",
                run.check_id()
            )));
        };
        let output = String::from_utf8_lossy(run.step().stdout()).into_owned();
        let check_output = self.scrubber.scrub_text(&output);
        let host_facts = self.scrubber.scrub_json(&json!({
            "hostname": target.name,
            "platform": target.platform.as_str(),
            "connection": format!("{:?}", target.connection).to_lowercase(),
        }));
        let history = self.scrubber.scrub_json(&json!(
            history
                .iter()
                .map(|e| json!({"opened_at": e.opened_at, "resolved_at": e.resolved_at}))
                .collect::<Vec<_>>()
        ));
        let context = IncidentContext {
            site_id: self.site_id,
            platform: target.platform,
            check,
            check_output: &check_output,
            host_facts: &host_facts,
            history: &history,
        };
        let decision = self.planner.decide(&context, self.clock.now()).await;
        let record = decision.record.to_detail();
        match decision.outcome {
            Outcome::Plan(plan) => {
                let report = healer
                    .heal_planned(
                        session,
                        connector,
                        failed,
                        plan.runbook_id(),
                        plan.params(),
                        record,
                    )
                    .await?;
                Ok(L2Outcome::Ran(report))
            }
            Outcome::DryRun(_) => {
                crate::evidence::record(
                    &self.queue,
                    &self.scrubber,
                    &*self.clock,
                    (Kind::Remediation, &target.name, "dry_run"),
                    record,
                )
                .await?;
                Ok(L2Outcome::Recorded)
            }
            Outcome::Refused(refusal) => {
                crate::evidence::record(
                    &self.queue,
                    &self.scrubber,
                    &*self.clock,
                    (Kind::Escalation, &target.name, "escalated"),
                    record,
                )
                .await?;
                Ok(L2Outcome::Escalate(format!(
                    "the L2 planner gave no plan ({}): {}",
                    refusal.code.as_str(),
                    refusal.reason
                )))
            }
        }
    }
}
