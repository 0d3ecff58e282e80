//! `/orders?state=…`: orders by state (pending, executed, failed, rolled
//! back, refused, expired), one tab per state with its count.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use osiris_core::SiteId;
use osiris_store::{OrderFilter, OrderState};
use serde::Deserialize;

use super::{Layout, Viewer, WebError, WebResult, format};
use crate::state::AppState;

const STATES: [(OrderState, &str); 6] = [
    (OrderState::Pending, "Pending"),
    (OrderState::Executed, "Executed"),
    (OrderState::Failed, "Failed"),
    (OrderState::RolledBack, "Rolled back"),
    (OrderState::Refused, "Refused"),
    (OrderState::Expired, "Expired"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Filters {
    #[serde(default)]
    state: String,
}

pub(super) struct Tab {
    state: &'static str,
    label: &'static str,
    count: usize,
    current: bool,
}

pub(super) struct OrderRow {
    runbook: String,
    site_id: SiteId,
    site_name: String,
    target: String,
    issued_at: String,
    expires_at: String,
    completed_at: Option<String>,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/orders.html")]
pub(super) struct OrdersPage {
    layout: Layout,
    tabs: Vec<Tab>,
    state_label: String,
    orders: Vec<OrderRow>,
}

/// `GET /orders`: pending orders unless `state` names another.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<Filters>, QueryRejection>,
) -> WebResult<OrdersPage> {
    let Query(filters) = query.map_err(|_| WebError::bad_request("unknown filter"))?;
    let wanted = if filters.state.is_empty() {
        OrderState::Pending
    } else {
        OrderState::parse(&filters.state).ok_or_else(|| WebError::bad_request("unknown state"))?
    };
    let scope = &viewer.caller.scope;
    let names: HashMap<SiteId, String> = state
        .store
        .list_sites(scope)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let all = state
        .store
        .list_orders(scope, OrderFilter::default())
        .await?;
    let tabs = STATES
        .iter()
        .map(|(order_state, label)| Tab {
            state: order_state.as_str(),
            label,
            count: all.iter().filter(|o| o.state == *order_state).count(),
            current: *order_state == wanted,
        })
        .collect();
    let state_label = STATES
        .iter()
        .find(|(s, _)| *s == wanted)
        .map_or_else(String::new, |(_, label)| label.to_lowercase());
    let orders = all
        .into_iter()
        .filter(|o| o.state == wanted)
        .map(|o| OrderRow {
            runbook: o.runbook_id.to_string(),
            site_name: names.get(&o.site_id).cloned().unwrap_or_default(),
            site_id: o.site_id,
            target: o.target.unwrap_or_else(|| "every suitable host".to_owned()),
            issued_at: format::time(o.issued_at),
            expires_at: format::time(o.expires_at),
            completed_at: o.completed_at.map(format::time),
            detail: o.result_detail.unwrap_or_default(),
        })
        .collect();
    Ok(OrdersPage {
        layout: Layout::for_viewer(&viewer, "orders"),
        tabs,
        state_label,
        orders,
    })
}
