//! `/`: the fleet overview, one row per visible site.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use osiris_core::SiteId;
use osiris_store::{EvidenceEntry, EvidenceKind, IncidentFilter, IncidentStatus, Role};

use super::svg::{self, Sparkline};
use super::{Layout, Viewer, Visitor, WebResult, format};
use crate::state::AppState;

/// Days the trend covers.
const TREND_DAYS: i64 = 30;

pub(super) struct FleetRow {
    id: SiteId,
    name: String,
    score: Option<f64>,
    appliances: usize,
    last_checkin: Option<String>,
    open_incidents: usize,
    trend: Sparkline,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/fleet.html")]
pub(super) struct FleetPage {
    layout: Layout,
    sites: Vec<FleetRow>,
}

/// The daily pass rate of check results in the `days` days before `now`,
/// oldest first.
pub(super) fn daily_rates(
    entries: &[EvidenceEntry],
    now: DateTime<Utc>,
    days: i64,
) -> Vec<Option<f64>> {
    let start = now - Duration::days(days);
    let mut counts = vec![(0_usize, 0_usize); usize::try_from(days).unwrap_or(0)];
    for entry in entries.iter().filter(|e| e.kind == EvidenceKind::Check) {
        let day = (entry.created_at - start).num_days();
        if let Some((passed, total)) = usize::try_from(day).ok().and_then(|d| counts.get_mut(d)) {
            *total += 1;
            if entry.outcome == "pass" {
                *passed += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(|(passed, total)| format::percent(passed, total))
        .collect()
}

/// `GET /`: the fleet, or for a practice's own users the portal, for
/// auditors the evidence page.
pub(super) async fn landing(
    State(state): State<AppState>,
    Visitor(viewer): Visitor,
) -> WebResult<Response> {
    match viewer.caller.role() {
        Role::Client => Ok(Redirect::to("/portal").into_response()),
        Role::Auditor => Ok(Redirect::to("/audit").into_response()),
        _ => Ok(page(&state, viewer).await?.into_response()),
    }
}

async fn page(state: &AppState, viewer: Viewer) -> WebResult<FleetPage> {
    let scope = &viewer.caller.scope;
    let now = state.clock.now();
    let sites = state.store.list_sites(scope).await?;
    let appliances = state.store.list_appliances(scope).await?;
    let open = state
        .store
        .list_incidents(
            scope,
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                site: None,
            },
        )
        .await?;
    let mut rows = Vec::with_capacity(sites.len());
    for site in sites {
        let serving: Vec<_> = appliances.iter().filter(|a| a.site_id == site.id).collect();
        let evidence = state
            .store
            .list_site_evidence(scope, site.id, now - Duration::days(TREND_DAYS), now)
            .await?;
        // The score is the share of passing check results over the last
        // 24 hours, as in the JSON fleet view.
        let recent: Vec<_> = evidence
            .iter()
            .filter(|e| e.kind == EvidenceKind::Check && e.created_at >= now - Duration::hours(24))
            .collect();
        let passing = recent.iter().filter(|e| e.outcome == "pass").count();
        rows.push(FleetRow {
            id: site.id,
            name: site.name,
            score: format::percent(passing, recent.len()),
            appliances: serving.len(),
            last_checkin: serving
                .iter()
                .filter_map(|a| a.last_checkin_at)
                .max()
                .map(format::time),
            open_incidents: open.iter().filter(|i| i.site_id == site.id).count(),
            trend: svg::daily_pass_rate(&daily_rates(&evidence, now, TREND_DAYS)),
        });
    }
    Ok(FleetPage {
        layout: Layout::for_viewer(&viewer, "fleet"),
        sites: rows,
    })
}
