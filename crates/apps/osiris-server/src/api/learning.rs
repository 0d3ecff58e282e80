//! The learning loop's API: figures, promotion candidates with the rule
//! each would generate, operator promotion and demotion, and the learned
//! rules. Scoped to the partner (admins and operators see every partner);
//! see [`crate::learning`] for what a promotion applies to.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, UserId};
use osiris_store::{Promotion, PromotionState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, MANAGERS};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath};
use crate::learning::PatternView;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(candidates))
        .routes(routes!(promote))
        .routes(routes!(rules))
        .routes(routes!(demote))
}

/// The thresholds in force.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LearningSettings {
    /// Executed L2 runs a pattern needs.
    min_samples: u64,
    /// The 95% Wilson lower bound of the success rate it needs.
    min_lower_bound: f64,
    /// A promoted rule is demoted above this verified failure rate…
    demote_failure_rate: f64,
    /// …with at least this many runs…
    demote_min_samples: u64,
    /// …in a window of this many hours.
    demote_window_hours: i64,
    /// Candidates are promoted without an operator.
    auto_promote: bool,
    /// Shadow mode is not implemented: promotions take effect directly.
    shadow_mode: bool,
}

/// The rule set one partner's fleet receives.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FleetRuleSet {
    #[schema(value_type = String, format = Uuid)]
    partner_id: PartnerId,
    /// Its version (what appliances report back).
    rule_set_version: String,
    /// Learned rules in force.
    promoted_rules: usize,
}

/// Learning-loop figures.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatusView {
    /// Executed L2 runs recorded.
    samples: u64,
    /// Verified among them.
    successes: u64,
    /// Distinct patterns.
    patterns: usize,
    /// Patterns eligible and not yet promoted.
    candidates: usize,
    /// Promotions in force.
    promoted: usize,
    /// Promotions taken back.
    demoted: usize,
    /// The version of the built-in rule set (fleets without learned rules).
    builtin_rule_set_version: String,
    /// Fleets with learned rules, in force or demoted.
    fleets: Vec<FleetRuleSet>,
    /// The thresholds.
    settings: LearningSettings,
}

/// A pattern eligible for promotion, with the figures behind it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CandidateView {
    /// Use it to promote.
    id: String,
    #[schema(value_type = String, format = Uuid)]
    partner_id: PartnerId,
    check_id: String,
    platform: String,
    /// The check's failed criteria the pattern was seen with.
    facts: Vec<String>,
    runbook_id: String,
    #[schema(value_type = Object)]
    params: serde_json::Value,
    samples: u64,
    successes: u64,
    /// successes / samples.
    success_rate: f64,
    /// 95% Wilson lower bound of the success rate.
    lower_bound: f64,
    /// Sites the samples came from.
    sites: u64,
    last_at: DateTime<Utc>,
    /// The L1 rule a promotion would deliver (catalog rule-file schema),
    /// when the catalog accepts it.
    #[schema(value_type = Option<Object>)]
    rule: Option<serde_json::Value>,
    /// Why the catalog refuses the rule, when it does.
    rule_error: Option<String>,
}

/// A learned rule and its promotion.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PromotionView {
    /// Use it to demote.
    id: u64,
    #[schema(value_type = String, format = Uuid)]
    partner_id: PartnerId,
    rule_id: String,
    samples: u64,
    successes: u64,
    lower_bound: f64,
    /// Who approved; null when promoted automatically.
    #[schema(value_type = Option<String>, format = Uuid)]
    approved_by: Option<UserId>,
    promoted_at: DateTime<Utc>,
    /// `active` or `demoted`.
    state: String,
    demoted_at: Option<DateTime<Utc>>,
    /// Who demoted it; null when demoted automatically or in force.
    #[schema(value_type = Option<String>, format = Uuid)]
    demoted_by: Option<UserId>,
    demote_reason: Option<String>,
    #[schema(value_type = Object)]
    rule: serde_json::Value,
}

impl From<Promotion> for PromotionView {
    fn from(promotion: Promotion) -> Self {
        Self {
            id: promotion.id,
            partner_id: promotion.partner_id,
            rule_id: promotion.rule_id,
            samples: promotion.samples,
            successes: promotion.successes,
            lower_bound: osiris_learning::wilson_lower_bound(
                promotion.successes,
                promotion.samples,
            ),
            approved_by: promotion.approved_by,
            promoted_at: promotion.promoted_at,
            state: promotion.state.as_str().to_owned(),
            demoted_at: promotion.demoted_at,
            demoted_by: promotion.demoted_by,
            demote_reason: promotion.demote_reason,
            rule: promotion.rule,
        }
    }
}

/// Why a learned rule is taken back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DemoteRequest {
    /// 1 to 500 characters.
    reason: String,
}

/// Learning-loop figures: samples, patterns, candidates, promotions, and
/// the rule-set versions they make.
#[utoipa::path(
    get, path = "/api/learning/status", tag = "learning",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The figures", body = StatusView))
)]
async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<AppJson<StatusView>> {
    caller.require(MANAGERS)?;
    let patterns = crate::learning::patterns(&state, &caller.scope).await?;
    let promotions = state.store.list_promotions(&caller.scope).await?;
    let thresholds = state.policy.learning.thresholds;
    let demotion = state.policy.learning.demotion;
    let mut by_partner: BTreeMap<PartnerId, Vec<Promotion>> = BTreeMap::new();
    for promotion in &promotions {
        by_partner
            .entry(promotion.partner_id)
            .or_default()
            .push(promotion.clone());
    }
    let mut fleets = Vec::with_capacity(by_partner.len());
    for (partner_id, promotions) in by_partner {
        let set = crate::learning::fleet_rule_set(&state, &promotions)?;
        fleets.push(FleetRuleSet {
            partner_id,
            rule_set_version: set.version.clone(),
            promoted_rules: promotions
                .iter()
                .filter(|p| p.state == PromotionState::Active)
                .count(),
        });
    }
    Ok(AppJson(StatusView {
        samples: patterns.iter().map(|p| p.figures.samples).sum(),
        successes: patterns.iter().map(|p| p.figures.successes).sum(),
        patterns: patterns.len(),
        candidates: patterns
            .iter()
            .filter(|p| p.promoted.is_none() && thresholds.eligible(&p.figures))
            .count(),
        promoted: promotions
            .iter()
            .filter(|p| p.state == PromotionState::Active)
            .count(),
        demoted: promotions
            .iter()
            .filter(|p| p.state == PromotionState::Demoted)
            .count(),
        builtin_rule_set_version: state.rule_set.version.clone(),
        fleets,
        settings: LearningSettings {
            min_samples: thresholds.min_samples,
            min_lower_bound: thresholds.min_lower_bound,
            demote_failure_rate: demotion.max_failure_rate,
            demote_min_samples: demotion.min_samples,
            demote_window_hours: demotion.window.num_hours(),
            auto_promote: state.policy.learning.auto_promote,
            shadow_mode: false,
        },
    }))
}

fn candidate_view(state: &AppState, view: PatternView) -> CandidateView {
    let (rule, rule_error) = match crate::learning::generated_rule(state, &view) {
        Ok(rule) => (Some(rule), None),
        Err(error) => (None, Some(error)),
    };
    CandidateView {
        id: view.id,
        partner_id: view.partner_id,
        check_id: view.pattern.check_id().to_owned(),
        platform: view.pattern.platform().as_str().to_owned(),
        facts: view.pattern.facts().to_vec(),
        runbook_id: view.pattern.runbook_id().to_string(),
        params: serde_json::Value::Object(view.pattern.params().clone()),
        samples: view.figures.samples,
        successes: view.figures.successes,
        success_rate: view.figures.success_rate(),
        lower_bound: view.figures.lower_bound(),
        sites: view.sites,
        last_at: view.last_at,
        rule,
        rule_error,
    }
}

/// Patterns eligible for promotion (enough samples, a high enough Wilson
/// lower bound) and not yet promoted, each with the rule it would generate.
#[utoipa::path(
    get, path = "/api/learning/candidates", tag = "learning",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The candidates", body = Vec<CandidateView>))
)]
async fn candidates(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<CandidateView>>> {
    caller.require(MANAGERS)?;
    let thresholds = state.policy.learning.thresholds;
    let views = crate::learning::patterns(&state, &caller.scope).await?;
    Ok(AppJson(
        views
            .into_iter()
            .filter(|p| p.promoted.is_none() && thresholds.eligible(&p.figures))
            .map(|view| candidate_view(&state, view))
            .collect(),
    ))
}

/// Approves a candidate: its rule is validated against the catalog and
/// delivered to the partner's appliances at their next check-in.
#[utoipa::path(
    post, path = "/api/learning/candidates/{id}/promote", tag = "learning",
    security(("bearer" = []), ("session" = [])),
    params(("id" = String, Path, description = "The candidate")),
    responses(
        (status = 201, description = "Promoted", body = PromotionView),
        (status = 404, description = "No such pattern visible to the caller", body = crate::error::ErrorBody),
        (status = 409, description = "Already promoted", body = crate::error::ErrorBody),
        (status = 422, description = "Not eligible, or the generated rule fails catalog validation (the reason is named)", body = crate::error::ErrorBody)
    )
)]
async fn promote(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> ApiResult<(StatusCode, AppJson<PromotionView>)> {
    caller.require(MANAGERS)?;
    let view = crate::learning::patterns(&state, &caller.scope)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::not_found("candidate"))?;
    let now = state.clock.now();
    let promotion =
        crate::learning::promote(&state, &caller.scope, &view, Some(caller.user.id), now).await?;
    Ok((StatusCode::CREATED, AppJson(promotion.into())))
}

/// Learned rules, in force or demoted.
#[utoipa::path(
    get, path = "/api/learning/rules", tag = "learning",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The promotions", body = Vec<PromotionView>))
)]
async fn rules(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AppJson<Vec<PromotionView>>> {
    caller.require(MANAGERS)?;
    let promotions = state.store.list_promotions(&caller.scope).await?;
    Ok(AppJson(promotions.into_iter().map(Into::into).collect()))
}

/// Takes a learned rule back: the next rule set lacks it, so its incidents
/// return to L2.
#[utoipa::path(
    post, path = "/api/learning/rules/{id}/demote", tag = "learning",
    security(("bearer" = []), ("session" = [])),
    params(("id" = u64, Path, description = "The promotion")),
    request_body = DemoteRequest,
    responses(
        (status = 200, description = "Demoted", body = PromotionView),
        (status = 404, description = "No such promotion visible to the caller", body = crate::error::ErrorBody),
        (status = 409, description = "Already demoted", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid reason", body = crate::error::ErrorBody)
    )
)]
async fn demote(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<u64>,
    AppJson(request): AppJson<DemoteRequest>,
) -> ApiResult<AppJson<PromotionView>> {
    caller.require(MANAGERS)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "reason",
            "must be 1 to 500 printable characters",
        ));
    }
    let now = state.clock.now();
    let demoted =
        crate::learning::demote(&state, &caller.scope, id, Some(caller.user.id), reason, now)
            .await?;
    Ok(AppJson(demoted.into()))
}
