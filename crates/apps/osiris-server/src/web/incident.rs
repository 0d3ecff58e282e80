//! `/incidents/{id}`: one incident's timeline, detected → L1/L2/L3 →
//! action → verify → evidence. The incident row gives when it opened and
//! ended; the evidence index gives the site's bundles over that span, and
//! the bundles themselves (opened from the WORM store, newest first, at
//! most [`MAX_BUNDLES`]) say which belong to the incident's check and
//! host. Each step links to the bundle that records it.

use std::str::FromStr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use osiris_core::{BundleId, IncidentId};
use osiris_store::{EvidenceKind, IncidentStatus};
use serde::Deserialize;
use serde_json::Value;

use super::{Layout, Viewer, WebError, WebResult, format};
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
    let scope = &viewer.caller.scope;
    let id = IncidentId::from_str(&id).map_err(|_| WebError::not_found())?;
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
    let check_title = state
        .catalog
        .checks()
        .get(&incident.check_id)
        .map_or_else(String::new, |c| c.title.clone());
    Ok(IncidentPage {
        layout: Layout::for_viewer(&viewer, "incidents"),
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
