//! `/learning`: the learning loop for the people who decide on it (the
//! API's managers): every pattern of the viewer's scope with its figures
//! as `GET /api/learning/status|candidates|rules` give them (samples,
//! successes, the 95% Wilson lower bound, candidate or why not, the rule
//! id, promoted or demoted), an Approve button on each candidate and a
//! Demote form on each learned rule in force.
//!
//! Both forms carry the session's CSRF token in the body and are sent on
//! to `POST /api/learning/candidates/{id}/promote` and `POST
//! /api/learning/rules/{id}/demote` as the same session, like the incident
//! page's decisions, so eligibility, the catalog's validation of the
//! generated rule, the audit entry and tenancy are the API's alone; a
//! refusal is the page again with 422 and the API's reason.
//!
//! Rows are sorted explicitly (fleet, check, rule id), never left in the
//! store's order.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse as _, Redirect, Response};
use osiris_core::PartnerId;
use osiris_store::PromotionState;
use serde_json::{Value, json};

use super::admin::{Feedback, SessionForm, field, forward, refused, unprocessable};
use super::{Layout, Viewer, WebError, WebResult, format};
use crate::auth::MANAGERS;
use crate::learning::PatternView;
use crate::state::AppState;

/// The loop's totals and thresholds.
pub(super) struct Summary {
    samples: u64,
    successes: u64,
    patterns: usize,
    candidates: usize,
    promoted: usize,
    demoted: usize,
    min_samples: u64,
    min_lower_bound: String,
    auto_promote: bool,
}

/// One pattern and its figures.
pub(super) struct PatternRow {
    /// The candidate's id, for its Approve form.
    id: String,
    fleet: String,
    check_id: String,
    platform: &'static str,
    facts: String,
    runbook_id: String,
    params: String,
    samples: u64,
    successes: u64,
    success_rate: String,
    lower_bound: String,
    sites: u64,
    last_at: String,
    rule_id: String,
    /// `promoted`, `candidate`, `demoted` (and not yet a candidate again)
    /// or `learning`.
    state: &'static str,
    /// Why it is not a candidate.
    why_not: Option<String>,
    /// Why the catalog refuses its rule (candidates only).
    rule_error: Option<String>,
}

impl PatternRow {
    fn candidate(&self) -> bool {
        self.state == "candidate"
    }
}

/// One learned rule, in force or demoted.
pub(super) struct RuleRow {
    id: u64,
    fleet: String,
    rule_id: String,
    samples: u64,
    successes: u64,
    lower_bound: String,
    approved_by: String,
    promoted_at: String,
    state: &'static str,
    demoted_at: Option<String>,
    demoted_by: Option<String>,
    reason: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/learning.html")]
pub(super) struct LearningPage {
    layout: Layout,
    feedback: Feedback,
    summary: Summary,
    patterns: Vec<PatternRow>,
    rules: Vec<RuleRow>,
}

/// `GET /learning`.
pub(super) async fn page(State(state): State<AppState>, viewer: Viewer) -> WebResult<LearningPage> {
    learning_page(&state, &viewer, Feedback::none()).await
}

/// `POST /learning/candidates/{id}/promote`: sent on to the API's promote.
pub(super) async fn promote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: SessionForm,
) -> WebResult<Response> {
    let SessionForm { viewer, fields } = form;
    // A pattern id is hex; anything else names no candidate.
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WebError::not_found());
    }
    let path = format!("/api/learning/candidates/{id}/promote");
    let answer = forward(
        &state,
        &headers,
        &viewer,
        Method::POST,
        &path,
        &json!({}),
        "id",
    )
    .await?;
    settled(&state, &viewer, &fields, answer).await
}

/// `POST /learning/rules/{id}/demote`: sent on to the API's demote.
pub(super) async fn demote(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: SessionForm,
) -> WebResult<Response> {
    let SessionForm { viewer, fields } = form;
    let id: u64 = id.parse().map_err(|_| WebError::not_found())?;
    let path = format!("/api/learning/rules/{id}/demote");
    let body = json!({"reason": field(&fields, "reason")});
    let answer = forward(
        &state,
        &headers,
        &viewer,
        Method::POST,
        &path,
        &body,
        "reason",
    )
    .await?;
    settled(&state, &viewer, &fields, answer).await
}

/// Back to the page after a decision, or the page again with the refusal.
async fn settled(
    state: &AppState,
    viewer: &Viewer,
    fields: &super::admin::Fields,
    answer: Result<Value, super::admin::FormError>,
) -> WebResult<Response> {
    match answer {
        Ok(_) => Ok(Redirect::to("/learning").into_response()),
        Err(error) => Ok(unprocessable(
            learning_page(state, viewer, refused(fields, error)).await?,
        )),
    }
}

/// `0.566`.
fn bound(value: f64) -> String {
    format!("{value:.3}")
}

async fn learning_page(
    state: &AppState,
    viewer: &Viewer,
    feedback: Feedback,
) -> WebResult<LearningPage> {
    viewer.caller.require(MANAGERS)?;
    let scope = &viewer.caller.scope;
    let fleets: BTreeMap<PartnerId, String> = state
        .store
        .list_partners(scope)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let fleet = |id: PartnerId| fleets.get(&id).cloned().unwrap_or_else(|| id.to_string());
    let views = crate::learning::patterns(state, scope).await?;
    let promotions = state.store.list_promotions(scope).await?;
    let thresholds = state.policy.learning.thresholds;

    let mut patterns: Vec<PatternRow> = views
        .iter()
        .map(|view: &PatternView| {
            let key = view.pattern.key();
            let demoted = promotions.iter().any(|p| {
                p.partner_id == view.partner_id
                    && p.pattern_key == key
                    && p.state == PromotionState::Demoted
            });
            let why_not = thresholds.why_not(&view.figures);
            let state_name = match (view.promoted, &why_not) {
                (Some(_), _) => "promoted",
                (None, None) => "candidate",
                (None, Some(_)) if demoted => "demoted",
                (None, Some(_)) => "learning",
            };
            let rule_error = (state_name == "candidate")
                .then(|| crate::learning::generated_rule(state, view).err())
                .flatten();
            PatternRow {
                id: view.id.clone(),
                fleet: fleet(view.partner_id),
                check_id: view.pattern.check_id().to_owned(),
                platform: view.pattern.platform().as_str(),
                facts: view.pattern.facts().join(", "),
                runbook_id: view.pattern.runbook_id().to_string(),
                params: Value::Object(view.pattern.params().clone()).to_string(),
                samples: view.figures.samples,
                successes: view.figures.successes,
                success_rate: format!("{:.1}%", view.figures.success_rate() * 100.0),
                lower_bound: bound(view.figures.lower_bound()),
                sites: view.sites,
                last_at: format::time(view.last_at),
                rule_id: view.pattern.rule_id(),
                state: state_name,
                why_not: (state_name != "promoted").then_some(why_not).flatten(),
                rule_error,
            }
        })
        .collect();
    patterns.sort_by(|a, b| {
        (&a.fleet, &a.check_id, &a.rule_id, &a.id).cmp(&(&b.fleet, &b.check_id, &b.rule_id, &b.id))
    });

    let mut rules = Vec::with_capacity(promotions.len());
    for promotion in &promotions {
        let name = |user: Option<osiris_core::UserId>| async move {
            match user {
                None => "automatic".to_owned(),
                Some(id) => state
                    .store
                    .get_user(scope, id)
                    .await
                    .map_or_else(|_| id.to_string(), |u| u.username.as_str().to_owned()),
            }
        };
        let demoted = promotion.state == PromotionState::Demoted;
        rules.push(RuleRow {
            id: promotion.id,
            fleet: fleet(promotion.partner_id),
            rule_id: promotion.rule_id.clone(),
            samples: promotion.samples,
            successes: promotion.successes,
            lower_bound: bound(osiris_learning::wilson_lower_bound(
                promotion.successes,
                promotion.samples,
            )),
            approved_by: name(promotion.approved_by).await,
            promoted_at: format::time(promotion.promoted_at),
            state: promotion.state.as_str(),
            demoted_at: promotion.demoted_at.map(format::time),
            demoted_by: if demoted {
                Some(name(promotion.demoted_by).await)
            } else {
                None
            },
            reason: promotion.demote_reason.clone(),
        });
    }
    rules.sort_by(|a, b| (&a.fleet, &a.rule_id, a.id).cmp(&(&b.fleet, &b.rule_id, b.id)));

    let summary = Summary {
        samples: views.iter().map(|v| v.figures.samples).sum(),
        successes: views.iter().map(|v| v.figures.successes).sum(),
        patterns: views.len(),
        candidates: patterns.iter().filter(|p| p.candidate()).count(),
        promoted: rules.iter().filter(|r| r.state == "active").count(),
        demoted: rules.iter().filter(|r| r.state == "demoted").count(),
        min_samples: thresholds.min_samples,
        min_lower_bound: bound(thresholds.min_lower_bound),
        auto_promote: state.policy.learning.auto_promote,
    };
    Ok(LearningPage {
        layout: Layout::for_viewer(viewer, "learning"),
        feedback,
        summary,
        patterns,
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_show_three_decimals() {
        assert_eq!(bound(0.565_54), "0.566");
        assert_eq!(bound(0.9), "0.900");
    }
}
