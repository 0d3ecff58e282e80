//! `/portal`: the practice's own view for its manager: compliance per
//! HIPAA safeguard (each citation with its checks), a monthly trend, open
//! items in plain language and export downloads. Read through the caller's
//! scope, so a client user sees only its own practice.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::{Datelike, NaiveDate};
use osiris_core::{Safeguard, SiteId};
use osiris_store::{EvidenceKind, IncidentFilter, IncidentStatus, Severity};

use super::site::{Cell, applies, latest_results};
use super::{Layout, Viewer, WebResult, format};
use crate::state::AppState;

/// Months the trend covers.
const TREND_MONTHS: u32 = 12;

pub(super) struct CheckLine {
    title: String,
    status: Cell,
}

pub(super) struct CitationBlock {
    cite: String,
    name: String,
    checks: Vec<CheckLine>,
}

pub(super) struct SafeguardBlock {
    title: &'static str,
    passing: usize,
    total: usize,
    citations: Vec<CitationBlock>,
}

pub(super) struct OpenItem {
    text: String,
    severity: &'static str,
    since: String,
}

pub(super) struct Bar {
    x: u32,
    y: u32,
    height: u32,
    label: String,
    short: String,
    value: String,
}

pub(super) struct SiteExport {
    id: SiteId,
    name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/portal.html")]
pub(super) struct PortalPage {
    layout: Layout,
    practice: String,
    safeguards: Vec<SafeguardBlock>,
    open_items: Vec<OpenItem>,
    bars: Vec<Bar>,
    trend_title: String,
    sites: Vec<SiteExport>,
}

fn safeguard_title(safeguard: Safeguard) -> &'static str {
    match safeguard {
        Safeguard::Administrative => "Administrative safeguards (164.308)",
        Safeguard::Physical => "Physical safeguards (164.310)",
        Safeguard::Technical => "Technical safeguards (164.312)",
        Safeguard::Organizational => "Organizational requirements (164.314)",
        Safeguard::Documentation => "Policies, procedures and documentation (164.316)",
    }
}

/// Worst of two outcomes: fail over unknown over pass.
fn worst(a: Cell, b: Cell) -> Cell {
    match (a, b) {
        (Cell::Fail, _) | (_, Cell::Fail) => Cell::Fail,
        (Cell::Unknown, _) | (_, Cell::Unknown) => Cell::Unknown,
        (Cell::NotApplicable, other) | (other, Cell::NotApplicable) => other,
        (Cell::Pass, Cell::Pass) => Cell::Pass,
    }
}

/// The first day of the month `back` months before `day`'s month.
fn month_start(day: NaiveDate, back: u32) -> Option<NaiveDate> {
    let months = i64::from(day.year()) * 12 + i64::from(day.month0()) - i64::from(back);
    let year = i32::try_from(months.div_euclid(12)).ok()?;
    let month = u32::try_from(months.rem_euclid(12)).ok()? + 1;
    NaiveDate::from_ymd_opt(year, month, 1)
}

/// Worse first.
const fn rank(severity: Severity) -> u8 {
    match severity {
        Severity::Low => 0,
        Severity::Medium => 1,
        Severity::High => 2,
        Severity::Critical => 3,
    }
}

/// `GET /portal`.
pub(super) async fn page(State(state): State<AppState>, viewer: Viewer) -> WebResult<PortalPage> {
    let scope = &viewer.caller.scope;
    let now = state.clock.now();
    let clients = state.store.list_clients(scope).await?;
    let practice = match clients.as_slice() {
        [only] => only.name.clone(),
        _ => "All practices you can see".to_owned(),
    };
    let sites = state.store.list_sites(scope).await?;

    // The worst latest outcome of each check over every host it applies to.
    let mut status: HashMap<String, Cell> = HashMap::new();
    let first_month = month_start(now.date_naive(), TREND_MONTHS - 1);
    let mut monthly: BTreeMap<NaiveDate, (usize, usize)> = BTreeMap::new();
    for site in &sites {
        let hosts = state.store.list_hosts(scope, site.id).await?;
        let wanted = hosts
            .iter()
            .map(|h| {
                state
                    .catalog
                    .checks()
                    .values()
                    .filter(|c| applies(c.platform, h.platform))
                    .count()
            })
            .sum();
        let latest = latest_results(&state, scope, site.id, wanted).await?;
        for host in &hosts {
            for check in state.catalog.checks().values() {
                if !applies(check.platform, host.platform) {
                    continue;
                }
                let cell = latest
                    .get(&(host.hostname.clone(), check.id.clone()))
                    .copied()
                    .unwrap_or(Cell::Unknown);
                let entry = status
                    .entry(check.id.clone())
                    .or_insert(Cell::NotApplicable);
                *entry = worst(*entry, cell);
            }
        }
        if let Some(first) = first_month.and_then(|d| d.and_hms_opt(0, 0, 0)) {
            let evidence = state
                .store
                .list_site_evidence(scope, site.id, first.and_utc(), now)
                .await?;
            for entry in evidence.iter().filter(|e| e.kind == EvidenceKind::Check) {
                let Some(month) = month_start(entry.created_at.date_naive(), 0) else {
                    continue;
                };
                let (passed, total) = monthly.entry(month).or_insert((0, 0));
                *total += 1;
                if entry.outcome == "pass" {
                    *passed += 1;
                }
            }
        }
    }

    // Citation → checks, grouped by safeguard, only for checks that apply
    // to some host of the practice.
    let mut by_safeguard: BTreeMap<u8, (Safeguard, BTreeMap<String, CitationBlock>)> =
        BTreeMap::new();
    for check in state.catalog.checks().values() {
        let Some(cell) = status.get(&check.id).copied() else {
            continue;
        };
        for citation in &check.hipaa {
            let safeguard = citation.cite.safeguard();
            let order = match safeguard {
                Safeguard::Administrative => 0,
                Safeguard::Physical => 1,
                Safeguard::Technical => 2,
                Safeguard::Organizational => 3,
                Safeguard::Documentation => 4,
            };
            let (_, citations) = by_safeguard
                .entry(order)
                .or_insert_with(|| (safeguard, BTreeMap::new()));
            citations
                .entry(citation.cite.as_str().to_owned())
                .or_insert_with(|| CitationBlock {
                    cite: citation.cite.as_str().to_owned(),
                    name: citation.name.clone(),
                    checks: Vec::new(),
                })
                .checks
                .push(CheckLine {
                    title: check.title.clone(),
                    status: cell,
                });
        }
    }
    let safeguards = by_safeguard
        .into_values()
        .map(|(safeguard, citations)| {
            let citations: Vec<_> = citations.into_values().collect();
            let total = citations.len();
            let passing = citations
                .iter()
                .filter(|c| c.checks.iter().all(|l| l.status == Cell::Pass))
                .count();
            SafeguardBlock {
                title: safeguard_title(safeguard),
                passing,
                total,
                citations,
            }
        })
        .collect();

    let names: HashMap<SiteId, String> = sites.iter().map(|s| (s.id, s.name.clone())).collect();
    let mut open = state
        .store
        .list_incidents(
            scope,
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                site: None,
            },
        )
        .await?;
    open.sort_by(|a, b| {
        rank(b.severity)
            .cmp(&rank(a.severity))
            .then_with(|| a.opened_at.cmp(&b.opened_at))
            .then_with(|| a.check_id.cmp(&b.check_id))
    });
    let open_items = open
        .iter()
        .map(|incident| {
            let what = state
                .catalog
                .checks()
                .get(&incident.check_id)
                .map_or_else(|| incident.check_id.clone(), |c| c.title.clone());
            let site = names.get(&incident.site_id).map_or("", String::as_str);
            OpenItem {
                text: format!("{what} needs attention at {site}."),
                severity: incident.severity.as_str(),
                since: format::time(incident.opened_at),
            }
        })
        .collect();

    // One bar per month, oldest first, height by pass rate.
    let mut bars = Vec::new();
    for (slot, back) in (0..TREND_MONTHS).rev().enumerate() {
        let Some(month) = month_start(now.date_naive(), back) else {
            continue;
        };
        let (passed, total) = monthly.get(&month).copied().unwrap_or((0, 0));
        let rate = format::percent(passed, total);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a rate from 0 to 100 scaled to 80 pixels"
        )]
        let height = rate.map_or(0, |r| (r * 0.8).round() as u32);
        bars.push(Bar {
            x: u32::try_from(slot).unwrap_or(0) * 24 + 4,
            y: 90 - height,
            height,
            label: month.format("%b %Y").to_string(),
            short: month.format("%b").to_string(),
            value: rate.map_or_else(|| "no results".to_owned(), |r| format!("{r}%")),
        });
    }
    let trend_title = format!(
        "Monthly pass rate of check results over the last {TREND_MONTHS} months: {}",
        bars.iter()
            .map(|b| format!("{} {}", b.label, b.value))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(PortalPage {
        layout: Layout::for_viewer(&viewer, "portal"),
        practice,
        safeguards,
        open_items,
        bars,
        trend_title,
        sites: sites
            .into_iter()
            .map(|s| SiteExport {
                id: s.id,
                name: s.name,
            })
            .collect(),
    })
}
