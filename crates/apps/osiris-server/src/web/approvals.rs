//! `/approvals`: the open L3 incidents of the viewer's scope that await a
//! person's decision, oldest first, each linking to its incident page where
//! the decision is taken.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use osiris_core::{IncidentId, SiteId};
use osiris_store::{IncidentFilter, IncidentStatus, Tier};

use super::{Layout, Viewer, WebResult, format};
use crate::state::AppState;

pub(super) struct ApprovalRow {
    id: IncidentId,
    check_id: String,
    check_title: String,
    site_id: SiteId,
    site_name: String,
    severity: &'static str,
    occurrences: u32,
    opened_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/approvals.html")]
pub(super) struct ApprovalsPage {
    layout: Layout,
    incidents: Vec<ApprovalRow>,
}

/// `GET /approvals`.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
) -> WebResult<ApprovalsPage> {
    let scope = &viewer.caller.scope;
    let names: HashMap<SiteId, String> = state
        .store
        .list_sites(scope)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut open: Vec<_> = state
        .store
        .list_incidents(
            scope,
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                site: None,
            },
        )
        .await?
        .into_iter()
        .filter(|i| i.tier == Tier::L3)
        .collect();
    open.sort_by(|a, b| {
        a.opened_at
            .cmp(&b.opened_at)
            .then_with(|| a.check_id.cmp(&b.check_id))
    });
    let mut rows = Vec::with_capacity(open.len());
    for incident in open {
        if state
            .store
            .incident_decision(scope, incident.id)
            .await?
            .is_some()
        {
            continue;
        }
        rows.push(ApprovalRow {
            id: incident.id,
            check_title: state
                .catalog
                .check(&incident.check_id)
                .map_or_else(String::new, |c| c.title.clone()),
            site_name: names.get(&incident.site_id).cloned().unwrap_or_default(),
            check_id: incident.check_id,
            site_id: incident.site_id,
            severity: incident.severity.as_str(),
            occurrences: incident.occurrences,
            opened_at: format::time(incident.opened_at),
        });
    }
    Ok(ApprovalsPage {
        layout: Layout::for_viewer(&viewer, "approvals"),
        incidents: rows,
    })
}
