//! `/audit`: what an auditor gets, and nothing else: the evidence exports
//! of the sites granted to them and how to verify one offline.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use osiris_core::SiteId;

use super::{Layout, Visitor, WebResult};
use crate::state::AppState;

pub(super) struct SiteExport {
    id: SiteId,
    name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/audit.html")]
pub(super) struct AuditPage {
    layout: Layout,
    sites: Vec<SiteExport>,
    key_id: String,
    public_key: String,
}

/// `GET /audit`, for every role: the sites it can see.
pub(super) async fn page(State(state): State<AppState>, visitor: Visitor) -> WebResult<AuditPage> {
    let viewer = visitor.0;
    let sites = state.store.list_sites(&viewer.caller.scope).await?;
    Ok(AuditPage {
        layout: Layout::for_viewer(&viewer, "audit"),
        sites: sites
            .into_iter()
            .map(|s| SiteExport {
                id: s.id,
                name: s.name,
            })
            .collect(),
        key_id: state.server_key.public_key().key_id().to_string(),
        public_key: state.server_key.public_key().to_base64(),
    })
}
