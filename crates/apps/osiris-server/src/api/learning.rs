//! The learning loop's API: figures and alerts, promotion candidates with
//! the rule each would generate, operator promotion and demotion, the
//! learned rules with their shadow-mode comparisons, and a site's opt-in
//! to automatic promotion. Scoped to the partner (admins and operators see
//! every partner); see [`crate::learning`] for what a promotion applies
//! to.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, SiteId, UserId};
use osiris_store::{Promotion, PromotionState, ShadowFigures, TenantScope};
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
        .routes(routes!(site_learning, set_site_learning))
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
    /// Candidates are promoted without an operator, for every site (a
    /// site may also opt in on its own: `/api/sites/{id}/learning`).
    auto_promote: bool,
    /// New promotions start in shadow mode.
    shadow_mode: bool,
    /// Agreements with L2 a new promotion needs before it acts (0: none).
    shadow_samples: u64,
}

/// The rule set one partner's fleet receives.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FleetRuleSet {
    #[schema(value_type = String, format = Uuid)]
    partner_id: PartnerId,
    /// Its version (what appliances report back) at sites that do not
    /// accept automatic promotion.
    rule_set_version: String,
    /// The version at sites that opted into automatic promotion, when it
    /// differs (automatic promotions reach only those).
    auto_promote_rule_set_version: Option<String>,
    /// Learned rules in force (acting or in shadow mode).
    promoted_rules: usize,
    /// Of them, in shadow mode.
    shadow_rules: usize,
}

/// Something a person should look at: a learned rule demoted
/// automatically (its incidents are back with L2), or a rule in shadow
/// mode that disagreed with L2 (it stays in shadow).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlertView {
    /// `demoted` or `shadow_disagreement`.
    kind: String,
    /// The promotion.
    promotion_id: u64,
    rule_id: String,
    #[schema(value_type = String, format = Uuid)]
    partner_id: PartnerId,
    /// When it happened.
    at: DateTime<Utc>,
    /// Why: the failure figures, or how the decisions differed.
    message: String,
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
    /// Promotions in force (acting or in shadow mode).
    promoted: usize,
    /// Of them, in shadow mode.
    in_shadow: usize,
    /// Promotions taken back.
    demoted: usize,
    /// Automatic demotions and shadow-mode disagreements, newest first.
    alerts: Vec<AlertView>,
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
    /// Agreements with L2 a promotion would need in shadow mode before it
    /// acts (0: it would act at the next check-in).
    shadow_samples: u64,
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
    /// `shadow` (delivered, recording what it would do), `active` (acting)
    /// or `demoted`.
    state: String,
    /// When it began to act; null while in shadow mode.
    live_at: Option<DateTime<Utc>>,
    /// Its comparisons with L2, when it was promoted in shadow mode.
    shadow: Option<ShadowView>,
    demoted_at: Option<DateTime<Utc>>,
    /// Who demoted it; null when demoted automatically or in force.
    #[schema(value_type = Option<String>, format = Uuid)]
    demoted_by: Option<UserId>,
    demote_reason: Option<String>,
    #[schema(value_type = Object)]
    rule: serde_json::Value,
}

/// A rule's shadow mode: what it needed and how its decisions compared
/// with L2's.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShadowView {
    /// Agreements it needs (needed) before acting.
    required: u64,
    /// Same runbook and parameters as L2, and L2's run verified.
    agreements: u64,
    /// Any other comparison; one holds the rule in shadow mode.
    disagreements: u64,
    /// Agreements still needed (0 once enough).
    remaining: u64,
    /// The latest disagreement's reason.
    last_disagreement: Option<String>,
    last_disagreement_at: Option<DateTime<Utc>>,
}

impl ShadowView {
    fn new(required: u64, figures: ShadowFigures) -> Self {
        let (last_disagreement, last_disagreement_at) = figures
            .last_disagreement
            .map_or((None, None), |(reason, at)| (Some(reason), Some(at)));
        Self {
            required,
            agreements: figures.agreements,
            disagreements: figures.disagreements,
            remaining: required.saturating_sub(figures.agreements),
            last_disagreement,
            last_disagreement_at,
        }
    }
}

/// A site's learning-loop settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SiteLearningView {
    /// Candidates of the site's fleet are promoted without an operator
    /// when this site's check-in brings an L2 sample, and automatic
    /// promotions reach this site's appliances.
    auto_promote: bool,
}

fn state_word(promotion: &Promotion) -> &'static str {
    if promotion.in_shadow() {
        "shadow"
    } else {
        promotion.state.as_str()
    }
}

/// The shadow figures of each promotion in `promotions` that had shadow
/// mode, by promotion id.
async fn shadow_figures(
    state: &AppState,
    scope: &TenantScope,
    promotions: &[Promotion],
) -> ApiResult<BTreeMap<u64, ShadowFigures>> {
    let mut figures = BTreeMap::new();
    for promotion in promotions.iter().filter(|p| p.shadow_samples > 0) {
        let found = state
            .store
            .shadow_figures(
                scope,
                promotion.partner_id,
                &promotion.rule_id,
                promotion.promoted_at,
            )
            .await?;
        figures.insert(promotion.id, found);
    }
    Ok(figures)
}

impl PromotionView {
    fn new(promotion: Promotion, figures: Option<ShadowFigures>) -> Self {
        let state = state_word(&promotion).to_owned();
        let shadow = (promotion.shadow_samples > 0)
            .then(|| ShadowView::new(promotion.shadow_samples, figures.unwrap_or_default()));
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
            state,
            live_at: promotion.live_at,
            shadow,
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
    let automatic_everywhere = state.policy.learning.auto_promote;
    let mut fleets = Vec::with_capacity(by_partner.len());
    for (partner_id, promotions) in by_partner {
        let set = crate::learning::fleet_rule_set(
            &state,
            &crate::learning::reaching(promotions.clone(), automatic_everywhere),
        )?;
        let opted_in = crate::learning::fleet_rule_set(
            &state,
            &crate::learning::reaching(promotions.clone(), true),
        )?;
        fleets.push(FleetRuleSet {
            partner_id,
            rule_set_version: set.version.clone(),
            auto_promote_rule_set_version: (opted_in.version != set.version)
                .then(|| opted_in.version.clone()),
            promoted_rules: promotions
                .iter()
                .filter(|p| p.state == PromotionState::Active)
                .count(),
            shadow_rules: promotions.iter().filter(|p| p.in_shadow()).count(),
        });
    }
    let figures = shadow_figures(&state, &caller.scope, &promotions).await?;
    let mut alerts: Vec<AlertView> = promotions
        .iter()
        .filter_map(|p| match (p.state, p.demoted_at, p.demoted_by) {
            (PromotionState::Demoted, Some(at), None) => Some(AlertView {
                kind: "demoted".to_owned(),
                promotion_id: p.id,
                rule_id: p.rule_id.clone(),
                partner_id: p.partner_id,
                at,
                message: p.demote_reason.clone().unwrap_or_default(),
            }),
            _ if p.in_shadow() => figures
                .get(&p.id)
                .and_then(|f| f.last_disagreement.clone())
                .map(|(message, at)| AlertView {
                    kind: "shadow_disagreement".to_owned(),
                    promotion_id: p.id,
                    rule_id: p.rule_id.clone(),
                    partner_id: p.partner_id,
                    at,
                    message,
                }),
            _ => None,
        })
        .collect();
    alerts.sort_by_key(|alert| std::cmp::Reverse((alert.at, alert.promotion_id)));
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
        in_shadow: promotions.iter().filter(|p| p.in_shadow()).count(),
        demoted: promotions
            .iter()
            .filter(|p| p.state == PromotionState::Demoted)
            .count(),
        alerts,
        builtin_rule_set_version: state.rule_set.version.clone(),
        fleets,
        settings: LearningSettings {
            min_samples: thresholds.min_samples,
            min_lower_bound: thresholds.min_lower_bound,
            demote_failure_rate: demotion.max_failure_rate,
            demote_min_samples: demotion.min_samples,
            demote_window_hours: demotion.window.num_hours(),
            auto_promote: state.policy.learning.auto_promote,
            shadow_mode: state.policy.learning.shadow.enabled(),
            shadow_samples: state.policy.learning.shadow.samples(),
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
        shadow_samples: state.policy.learning.shadow.samples(),
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
/// delivered to the partner's appliances at their next check-in (in
/// shadow mode first when `learning.shadow_samples` is set).
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
    Ok((
        StatusCode::CREATED,
        AppJson(PromotionView::new(promotion, None)),
    ))
}

/// Learned rules, in force (acting or in shadow mode, with their
/// comparisons with L2) or demoted.
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
    let mut figures = shadow_figures(&state, &caller.scope, &promotions).await?;
    Ok(AppJson(
        promotions
            .into_iter()
            .map(|p| {
                let found = figures.remove(&p.id);
                PromotionView::new(p, found)
            })
            .collect(),
    ))
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
    Ok(AppJson(PromotionView::new(demoted, None)))
}

/// A site's learning-loop settings: whether it opted into automatic
/// promotion.
#[utoipa::path(
    get, path = "/api/sites/{site_id}/learning", tag = "learning",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site")),
    responses(
        (status = 200, description = "The settings", body = SiteLearningView),
        (status = 404, description = "No such site visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn site_learning(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
) -> ApiResult<AppJson<SiteLearningView>> {
    caller.require(MANAGERS)?;
    let auto_promote = state
        .store
        .site_auto_promote(&caller.scope, site_id)
        .await?;
    Ok(AppJson(SiteLearningView { auto_promote }))
}

/// Opts a site into (or out of) automatic promotion: its fleet's
/// candidates are then promoted without an operator when its check-in
/// brings an L2 sample, and automatic promotions reach its appliances.
#[utoipa::path(
    put, path = "/api/sites/{site_id}/learning", tag = "learning",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site")),
    request_body = SiteLearningView,
    responses(
        (status = 200, description = "Updated", body = SiteLearningView),
        (status = 400, description = "Invalid body (the field is named)", body = crate::error::ErrorBody),
        (status = 404, description = "No such site visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn set_site_learning(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
    AppJson(request): AppJson<SiteLearningView>,
) -> ApiResult<AppJson<SiteLearningView>> {
    caller.require(MANAGERS)?;
    let now = state.clock.now();
    state
        .store
        .set_site_auto_promote(&caller.scope, site_id, request.auto_promote, now)
        .await?;
    let site = state.store.get_site(&caller.scope, site_id).await?;
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: Some(caller.user.id),
            partner_id: Some(site.partner_id),
            action: "learning.site_auto_promote",
            target: site_id.to_string(),
            detail: serde_json::json!({"auto_promote": request.auto_promote}),
        },
        now,
    )
    .await?;
    Ok(AppJson(request))
}
