//! `/sites/{id}`: one site's settings, appliances and the hosts × checks
//! grid. The grid shows, for each host and each catalog check of its
//! platform, the outcome of the latest check bundle in the last 30 days.
//! The evidence index does not name host and check, so the newest check
//! bundles are opened from the evidence store (newest first, at most
//! [`MAX_BUNDLES`]) until every cell is known.

use std::collections::HashMap;
use std::str::FromStr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use chrono::Duration;
use osiris_catalog::Platform as CheckPlatform;
use osiris_core::SiteId;
use osiris_store::{
    EvidenceKind, HealingMode, IncidentFilter, IncidentStatus, Platform, TenantScope,
};
use serde::Deserialize;

use super::{Layout, Viewer, WebError, WebResult, format};
use crate::error::ApiError;
use crate::state::AppState;

/// The most check bundles one page view opens.
const MAX_BUNDLES: usize = 500;
/// How far back the grid looks.
const GRID_DAYS: i64 = 30;

/// One cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cell {
    Pass,
    Fail,
    Unknown,
    NotApplicable,
}

pub(super) struct CheckColumn {
    id: String,
    title: String,
}

pub(super) struct HostRow {
    name: String,
    platform: &'static str,
    cells: Vec<Cell>,
}

pub(super) struct ApplianceRow {
    name: String,
    last_checkin: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/site.html")]
pub(super) struct SitePage {
    layout: Layout,
    id: SiteId,
    name: String,
    healing_mode: &'static str,
    maintenance_window: String,
    appliances: Vec<ApplianceRow>,
    open_incidents: usize,
    checks: Vec<CheckColumn>,
    hosts: Vec<HostRow>,
}

/// The fields of a check bundle the grid reads.
#[derive(Deserialize)]
struct CheckBundle {
    host: String,
    outcome: String,
    #[serde(default)]
    detail: CheckDetail,
}

#[derive(Deserialize, Default)]
struct CheckDetail {
    check_id: Option<String>,
}

/// Whether a catalog check of `check` platform runs on a host of `host`
/// platform.
pub(super) fn applies(check: CheckPlatform, host: Platform) -> bool {
    matches!(
        (check, host),
        (CheckPlatform::Windows, Platform::Windows)
            | (CheckPlatform::Debian, Platform::Debian | Platform::Linux)
            | (CheckPlatform::Rhel, Platform::Rhel | Platform::Linux)
            | (CheckPlatform::Appliance, Platform::Appliance)
    )
}

fn healing_mode(mode: HealingMode) -> &'static str {
    match mode {
        HealingMode::Observe => "observe (detect and report only)",
        HealingMode::DryRun => "dry run (plan and record, change nothing)",
        HealingMode::Heal => "heal (remediate inside the guardrails)",
    }
}

/// The outcome of the latest check bundle of the last 30 days for each
/// (host name, check id) of a visible site, reading newest first until
/// `wanted` cells are known or [`MAX_BUNDLES`] bundles were opened.
pub(super) async fn latest_results(
    state: &AppState,
    scope: &TenantScope,
    site: SiteId,
    wanted: usize,
) -> WebResult<HashMap<(String, String), Cell>> {
    let now = state.clock.now();
    let mut latest: HashMap<(String, String), Cell> = HashMap::new();
    let mut evidence = state
        .store
        .list_site_evidence(scope, site, now - Duration::days(GRID_DAYS), now)
        .await?;
    evidence.retain(|e| e.kind == EvidenceKind::Check);
    evidence.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.seq)));
    for entry in evidence.iter().take(MAX_BUNDLES) {
        if latest.len() >= wanted {
            break;
        }
        let key =
            osiris_worm::ObjectKey::parse(&entry.object_key).map_err(|e| ApiError::internal(&e))?;
        let bytes = state
            .evidence
            .get(&key)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let Ok(bundle) = serde_json::from_slice::<CheckBundle>(&bytes) else {
            continue;
        };
        let Some(check_id) = bundle.detail.check_id else {
            continue;
        };
        let cell = match bundle.outcome.as_str() {
            "pass" => Cell::Pass,
            "fail" => Cell::Fail,
            _ => Cell::Unknown,
        };
        latest.entry((bundle.host, check_id)).or_insert(cell);
    }
    Ok(latest)
}

/// `GET /sites/{id}`: another tenant's site is the same 404 as a missing one.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> WebResult<SitePage> {
    let scope = &viewer.caller.scope;
    let id = SiteId::from_str(&id).map_err(|_| WebError::not_found())?;
    let site = state.store.get_site(scope, id).await?;
    let hosts = state.store.list_hosts(scope, id).await?;
    let appliances = state
        .store
        .list_appliances(scope)
        .await?
        .into_iter()
        .filter(|a| a.site_id == id)
        .map(|a| ApplianceRow {
            name: a.name,
            last_checkin: a.last_checkin_at.map(format::time),
        })
        .collect();
    let open_incidents = state
        .store
        .list_incidents(
            scope,
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                site: Some(id),
            },
        )
        .await?
        .len();

    let checks: Vec<_> = state
        .catalog
        .checks()
        .values()
        .filter(|check| hosts.iter().any(|h| applies(check.platform, h.platform)))
        .collect();
    let wanted = hosts
        .iter()
        .map(|h| {
            checks
                .iter()
                .filter(|c| applies(c.platform, h.platform))
                .count()
        })
        .sum::<usize>();
    let latest = latest_results(&state, scope, id, wanted).await?;

    let rows = hosts
        .iter()
        .map(|host| HostRow {
            name: host.hostname.clone(),
            platform: host.platform.as_str(),
            cells: checks
                .iter()
                .map(|check| {
                    if applies(check.platform, host.platform) {
                        latest
                            .get(&(host.hostname.clone(), check.id.clone()))
                            .copied()
                            .unwrap_or(Cell::Unknown)
                    } else {
                        Cell::NotApplicable
                    }
                })
                .collect(),
        })
        .collect();
    let window = site.settings.maintenance_window;
    let maintenance_window = format!(
        "daily from {} for {} minutes ({})",
        window.starts_at.format("%H:%M"),
        window.duration_minutes,
        window.time_zone.name()
    );
    Ok(SitePage {
        layout: Layout::for_viewer(&viewer, "fleet"),
        id,
        name: site.name,
        healing_mode: healing_mode(site.settings.healing_mode),
        maintenance_window,
        appliances,
        open_incidents,
        checks: checks
            .iter()
            .map(|c| CheckColumn {
                id: c.id.clone(),
                title: c.title.clone(),
            })
            .collect(),
        hosts: rows,
    })
}
