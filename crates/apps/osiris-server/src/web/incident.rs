//! `/incidents/{id}`: one incident's timeline, detected → L1/L2/L3 →
//! action → verify → evidence. The incident row gives when it opened and
//! ended; the evidence index gives the site's bundles over that span, and
//! the bundles themselves (opened from the WORM store, newest first, at
//! most [`MAX_BUNDLES`]) say which belong to the incident's check and
//! host. Each step links to the bundle that records it.
//!
//! An open, undecided L3 incident shows a user who may decide (the API's
//! managers) an Approve form (a runbook whitelisted for the check's
//! platform, its parameters as JSON, an optional target) and a Reject form;
//! both are sent on to `POST /api/incidents/{id}/approve|reject` as the
//! same session, like the admin forms, so the API alone validates, audits
//! and issues the order. Once decided, the page shows the decision.

use std::str::FromStr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse as _, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use osiris_core::{BundleId, IncidentId};
use osiris_store::{EvidenceKind, IncidentStatus, Tier};
use serde::Deserialize;
use serde_json::Value;

use super::admin::{Feedback, FormError, SessionForm, field, forward, refused, unprocessable};
use super::incidents::Choice;
use super::{Layout, Viewer, WebError, WebResult, format};
use crate::auth::MANAGERS;
use crate::error::ApiError;
use crate::state::AppState;

/// The most bundles one timeline opens.
const MAX_BUNDLES: usize = 500;
/// Check results this long before the incident opened still belong to its
/// detection (the appliance reports after it decided).
const LEAD: i64 = 1;

/// The stage of the pipeline a step belongs to.
pub(super) struct Step {
    stage: &'static str,
    at: String,
    what: String,
    outcome: String,
    bundle: Option<BundleId>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/incident.html")]
pub(super) struct IncidentPage {
    layout: Layout,
    id: IncidentId,
    feedback: Feedback,
    /// The decision forms, when the incident awaits one from this viewer.
    decide: Option<DecideForms>,
    /// The decision taken.
    decision: Option<DecisionRow>,
    check_id: String,
    check_title: String,
    site_id: osiris_core::SiteId,
    site_name: String,
    host: String,
    severity: &'static str,
    tier: &'static str,
    state: &'static str,
    occurrences: u32,
    steps: Vec<Step>,
    truncated: bool,
}

impl IncidentPage {
    /// Whether the refusal concerns the parameters (`params` or one of
    /// them, `params.mount_point`).
    fn params_invalid(&self) -> bool {
        self.feedback
            .error
            .as_ref()
            .is_some_and(|e| e.field == "params" || e.field.starts_with("params."))
    }
}

/// The Approve and Reject forms' contents.
pub(super) struct DecideForms {
    runbooks: Vec<Choice>,
    params: String,
    target: String,
    reason: String,
}

/// A decision, as shown.
pub(super) struct DecisionRow {
    decision: &'static str,
    decided_by: String,
    decided_at: String,
    reason: Option<String>,
    order_id: Option<osiris_core::OrderId>,
}

/// The parameters a runbook's schema gives defaults for, as a JSON
/// object (`{}` when none).
fn default_params(schema: &Value) -> String {
    let defaults: serde_json::Map<String, Value> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, property)| Some((name.clone(), property.get("default")?.clone())))
        .collect();
    Value::Object(defaults).to_string()
}

/// The parts of a bundle the timeline reads.
#[derive(Deserialize)]
struct Bundle {
    bundle_id: BundleId,
    created_at: DateTime<Utc>,
    host: String,
    outcome: String,
    #[serde(default)]
    detail: Value,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Whether a bundle's detail concerns `check`: its own `check_id`, or a
/// verification step that re-ran it.
fn concerns(detail: &Value, check: &str) -> bool {
    if text(detail, "check_id").as_deref() == Some(check) {
        return true;
    }
    detail
        .get("verification")
        .and_then(Value::as_array)
        .is_some_and(|runs| {
            runs.iter()
                .any(|run| text(run, "check_id").as_deref() == Some(check))
        })
}

/// The steps one bundle records.
fn steps_of(kind: EvidenceKind, bundle: &Bundle, check: &str, out: &mut Vec<Step>) {
    let at = format::time(bundle.created_at);
    let detail = &bundle.detail;
    let tier = text(detail, "tier").map(|t| t.to_uppercase());
    let runbook = text(detail, "runbook_id");
    match kind {
        EvidenceKind::Check => out.push(Step {
            stage: if bundle.outcome == "pass" {
                "verify"
            } else {
                "detected"
            },
            at,
            what: format!("check {check} ran on {}", bundle.host),
            outcome: bundle.outcome.clone(),
            bundle: Some(bundle.bundle_id),
        }),
        EvidenceKind::Escalation => out.push(Step {
            stage: "L3",
            at,
            what: format!(
                "escalated to a person{}",
                tier.map(|t| format!(" after {t}")).unwrap_or_default()
            ),
            outcome: bundle.outcome.clone(),
            bundle: Some(bundle.bundle_id),
        }),
        _ => {
            let stage = match tier.as_deref() {
                Some("L2") => "L2",
                Some("L3") => "L3",
                Some(_) => "L1",
                None => "action",
            };
            out.push(Step {
                stage,
                at: at.clone(),
                what: match (&runbook, text(detail, "rule_id")) {
                    (Some(runbook), Some(rule)) => format!("rule {rule} chose runbook {runbook}"),
                    (Some(runbook), None) => format!("runbook {runbook} chosen"),
                    (None, _) => format!("{} decision", kind.as_str()),
                },
                outcome: bundle.outcome.clone(),
                bundle: Some(bundle.bundle_id),
            });
            if let Some(ending) = text(detail, "ending") {
                out.push(Step {
                    stage: "action",
                    at: at.clone(),
                    what: format!(
                        "runbook {} ran on {}",
                        runbook.as_deref().unwrap_or("?"),
                        bundle.host
                    ),
                    outcome: ending,
                    bundle: Some(bundle.bundle_id),
                });
            }
            for run in detail
                .get("verification")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(Step {
                    stage: "verify",
                    at: at.clone(),
                    what: format!(
                        "re-ran check {}",
                        text(run, "check_id").unwrap_or_else(|| check.to_owned())
                    ),
                    outcome: text(run, "outcome").unwrap_or_default(),
                    bundle: Some(bundle.bundle_id),
                });
            }
        }
    }
}

/// `GET /incidents/{id}`: another tenant's incident is the same 404 as a
/// missing one.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> WebResult<IncidentPage> {
    let id = IncidentId::from_str(&id).map_err(|_| WebError::not_found())?;
    incident_page(&state, &viewer, id, Feedback::none()).await
}

/// `POST /incidents/{id}/approve`: sent on to the API's approve.
pub(super) async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: SessionForm,
) -> WebResult<Response> {
    let SessionForm { viewer, fields } = form;
    let id = IncidentId::from_str(&id).map_err(|_| WebError::not_found())?;
    let params = match serde_json::from_str::<Value>(field(&fields, "params")) {
        Ok(params @ Value::Object(_)) => params,
        _ => {
            let error = FormError {
                field: "params".to_owned(),
                message: "must be a JSON object such as {}".to_owned(),
            };
            return Ok(unprocessable(
                incident_page(&state, &viewer, id, refused(&fields, error)).await?,
            ));
        }
    };
    let target = field(&fields, "target");
    let body = serde_json::json!({
        "runbook_id": field(&fields, "runbook_id"),
        "params": params,
        "target": (!target.is_empty()).then_some(target),
    });
    let path = format!("/api/incidents/{id}/approve");
    decided(
        &state,
        &headers,
        viewer,
        id,
        &fields,
        &path,
        &body,
        "runbook_id",
    )
    .await
}

/// `POST /incidents/{id}/reject`: sent on to the API's reject.
pub(super) async fn reject(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: SessionForm,
) -> WebResult<Response> {
    let SessionForm { viewer, fields } = form;
    let id = IncidentId::from_str(&id).map_err(|_| WebError::not_found())?;
    let body = serde_json::json!({"reason": fields.get("reason").cloned().unwrap_or_default()});
    let path = format!("/api/incidents/{id}/reject");
    decided(
        &state, &headers, viewer, id, &fields, &path, &body, "reason",
    )
    .await
}

/// Forwards a decision; on success back to the incident, on a refusal the
/// page again with the API's field named.
#[allow(clippy::too_many_arguments, reason = "the two forms' shared tail")]
async fn decided(
    state: &AppState,
    headers: &HeaderMap,
    viewer: Viewer,
    id: IncidentId,
    fields: &super::admin::Fields,
    path: &str,
    body: &Value,
    fallback: &str,
) -> WebResult<Response> {
    match forward(state, headers, &viewer, Method::POST, path, body, fallback).await? {
        Ok(_) => Ok(Redirect::to(&format!("/incidents/{id}")).into_response()),
        Err(error) => Ok(unprocessable(
            incident_page(state, &viewer, id, refused(fields, error)).await?,
        )),
    }
}

async fn incident_page(
    state: &AppState,
    viewer: &Viewer,
    id: IncidentId,
    feedback: Feedback,
) -> WebResult<IncidentPage> {
    let scope = &viewer.caller.scope;
    let incident = state.store.get_incident(scope, id).await?;
    let site = state.store.get_site(scope, incident.site_id).await?;
    let host = match incident.host_id {
        Some(host) => Some(state.store.get_host(scope, host).await?.hostname),
        None => None,
    };
    let now = state.clock.now();
    let until = incident.resolved_at.unwrap_or(now);
    let mut evidence = state
        .store
        .list_site_evidence(
            scope,
            incident.site_id,
            incident.opened_at - Duration::hours(LEAD),
            until + Duration::milliseconds(1),
        )
        .await?;
    evidence.sort_by_key(|e| (e.created_at, e.appliance_id, e.seq));
    let truncated = evidence.len() > MAX_BUNDLES;
    let skip = evidence.len().saturating_sub(MAX_BUNDLES);

    let mut steps = vec![Step {
        stage: "detected",
        at: format::time(incident.opened_at),
        what: format!(
            "incident opened (severity {}, tier {})",
            incident.severity.as_str(),
            incident.tier.as_str().to_uppercase()
        ),
        outcome: "open".to_owned(),
        bundle: None,
    }];
    for entry in evidence.iter().skip(skip) {
        let key =
            osiris_worm::ObjectKey::parse(&entry.object_key).map_err(|e| ApiError::internal(&e))?;
        let bytes = state
            .evidence
            .get(&key)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let Ok(bundle) = serde_json::from_slice::<Bundle>(&bytes) else {
            continue;
        };
        if !concerns(&bundle.detail, &incident.check_id)
            || host.as_ref().is_some_and(|h| *h != bundle.host)
        {
            continue;
        }
        steps_of(entry.kind, &bundle, &incident.check_id, &mut steps);
    }
    if incident.status == IncidentStatus::Resolved {
        steps.push(Step {
            stage: "resolved",
            at: incident.resolved_at.map(format::time).unwrap_or_default(),
            what: incident
                .resolution
                .clone()
                .unwrap_or_else(|| "resolved".to_owned()),
            outcome: "resolved".to_owned(),
            bundle: None,
        });
    }
    let check = state.catalog.check(&incident.check_id);
    let check_title = check.map_or_else(String::new, |c| c.title.clone());
    let decision = state.store.incident_decision(scope, id).await?;
    let decide = (incident.status == IncidentStatus::Open
        && incident.tier == Tier::L3
        && decision.is_none()
        && MANAGERS.contains(&viewer.caller.role()))
    .then(|| {
        let posted = feedback.value("runbook_id");
        let chosen = if posted.is_empty() {
            check.map(|c| c.runbook.to_string()).unwrap_or_default()
        } else {
            posted.to_owned()
        };
        let runbooks: Vec<Choice> = state
            .catalog
            .runbooks()
            .values()
            .filter(|r| check.is_none_or(|c| r.platforms.contains(&c.platform)))
            .map(|r| {
                let id = r.id.to_string();
                let selected = id == chosen;
                Choice::new(id.clone(), format!("{id}: {}", r.title), selected)
            })
            .collect();
        let params = if feedback.error.is_some() {
            feedback.value("params").to_owned()
        } else {
            check
                .and_then(|c| state.catalog.runbook(&c.runbook))
                .map_or_else(|| "{}".to_owned(), |r| default_params(&r.parameters))
        };
        DecideForms {
            runbooks,
            params,
            target: feedback.value("target").to_owned(),
            reason: feedback.value("reason").to_owned(),
        }
    });
    let decision = match decision {
        Some(d) => Some(DecisionRow {
            decision: d.decision.as_str(),
            decided_by: state.store.get_user(scope, d.decided_by).await.map_or_else(
                |_| d.decided_by.to_string(),
                |u| u.username.as_str().to_owned(),
            ),
            decided_at: format::time(d.decided_at),
            reason: d.reason,
            order_id: d.order_id,
        }),
        None => None,
    };
    Ok(IncidentPage {
        layout: Layout::for_viewer(viewer, "incidents"),
        id,
        feedback,
        decide,
        decision,
        check_id: incident.check_id,
        check_title,
        site_id: site.id,
        site_name: site.name,
        host: host.unwrap_or_else(|| "the site".to_owned()),
        severity: incident.severity.as_str(),
        tier: incident.tier.as_str(),
        state: incident.status.as_str(),
        occurrences: incident.occurrences,
        steps,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_bundle_concerns_its_check_or_a_verification_of_it() {
        assert!(concerns(&json!({"check_id": "a"}), "a"));
        assert!(!concerns(&json!({"check_id": "b"}), "a"));
        assert!(concerns(
            &json!({"verification": [{"check_id": "a", "outcome": "pass"}]}),
            "a"
        ));
        assert!(!concerns(&json!({}), "a"));
    }
}
