//! `/`: the fleet overview, one row per visible site, read with one
//! grouped store call ([`osiris_store::DashboardStore::fleet_overview`]):
//! the number of statements does not grow with the number of sites.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use osiris_core::SiteId;
use osiris_store::{DailyChecks, OverviewPeriod, Role};

use super::svg::{self, Sparkline};
use super::{Layout, Viewer, Visitor, WebResult, format};
use crate::api::dashboard::TREND_DAYS;
use crate::state::AppState;

pub(super) struct FleetRow {
    id: SiteId,
    name: String,
    score: Option<f64>,
    appliances: u64,
    last_checkin: Option<String>,
    open_incidents: u64,
    trend: Sparkline,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/fleet.html")]
pub(super) struct FleetPage {
    layout: Layout,
    sites: Vec<FleetRow>,
}

/// The daily pass rate of the `days` UTC days from `first_day`, oldest
/// first; `None` for a day without check results.
pub(super) fn daily_rates(
    daily: &[DailyChecks],
    first_day: DateTime<Utc>,
    days: i64,
) -> Vec<Option<f64>> {
    (0..days)
        .map(|offset| {
            let day = first_day + Duration::days(offset);
            daily.iter().find(|d| d.day == day).and_then(|d| {
                format::percent(
                    usize::try_from(d.counts.passed).unwrap_or(usize::MAX),
                    usize::try_from(d.counts.results).unwrap_or(usize::MAX),
                )
            })
        })
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
    let period = OverviewPeriod::ending_at(state.clock.now(), TREND_DAYS);
    let sites = state
        .store
        .fleet_overview(&viewer.caller.scope, period)
        .await?;
    let rows = sites
        .into_iter()
        .map(|site| FleetRow {
            id: site.site_id,
            // The score is the share of passing check results over the last
            // 24 hours, as in the JSON fleet view.
            score: format::percent(
                usize::try_from(site.recent.passed).unwrap_or(usize::MAX),
                usize::try_from(site.recent.results).unwrap_or(usize::MAX),
            ),
            appliances: site.appliances,
            last_checkin: site.last_checkin_at.map(format::time),
            open_incidents: site.open_incidents,
            trend: svg::daily_pass_rate(&daily_rates(&site.daily, period.days_from, TREND_DAYS)),
            name: site.name,
        })
        .collect();
    Ok(FleetPage {
        layout: Layout::for_viewer(&viewer, "fleet"),
        sites: rows,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use osiris_store::CheckCounts;

    use super::*;

    #[test]
    fn days_without_results_are_gaps_in_the_trend() {
        let first = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let daily = [
            DailyChecks {
                day: first,
                counts: CheckCounts {
                    results: 4,
                    passed: 3,
                },
            },
            DailyChecks {
                day: first + Duration::days(2),
                counts: CheckCounts {
                    results: 1,
                    passed: 0,
                },
            },
        ];
        assert_eq!(
            daily_rates(&daily, first, 4),
            vec![Some(75.0), None, Some(0.0), None]
        );
    }
}
