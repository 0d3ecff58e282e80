//! `/incidents`: incidents filtered by site, severity, tier and state,
//! given as query parameters by a plain GET form, under a chart of the
//! incidents opened per UTC day by tier over the last [`VOLUME_DAYS`]
//! days (of the chosen site, whatever their state, severity or tier).

use std::collections::HashMap;
use std::str::FromStr;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use osiris_core::SiteId;
use osiris_store::{IncidentFilter, IncidentOpening, IncidentStatus, Severity, Tier};
use serde::Deserialize;

use super::svg::{self, TierChart, TierDay};
use super::{Layout, Viewer, WebError, WebResult, format};
use crate::state::AppState;

/// Days the volume chart covers: today (UTC) and the days before.
const VOLUME_DAYS: i64 = 30;

/// The first instant the chart counts: midnight UTC starting the oldest
/// of its `days` days up to `now`'s.
fn volume_start(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    (now.date_naive() - Duration::days(days - 1))
        .and_time(NaiveTime::MIN)
        .and_utc()
}

/// Incidents opened on each of the `days` UTC days up to `now`'s, by tier;
/// openings outside those days are not counted.
fn volume(openings: &[IncidentOpening], now: DateTime<Utc>, days: i64) -> Vec<TierDay> {
    let first = volume_start(now, days).date_naive();
    let mut volume: Vec<TierDay> = (0..days)
        .map(|offset| TierDay {
            date: (first + Duration::days(offset))
                .format("%Y-%m-%d")
                .to_string(),
            l1: 0,
            l2: 0,
            l3: 0,
        })
        .collect();
    for opening in openings {
        let offset = (opening.opened_at.date_naive() - first).num_days();
        let Some(day) = usize::try_from(offset).ok().and_then(|i| volume.get_mut(i)) else {
            continue;
        };
        let count = match opening.tier {
            Tier::L1 => &mut day.l1,
            Tier::L2 => &mut day.l2,
            Tier::L3 => &mut day.l3,
        };
        *count += 1;
    }
    volume
}

/// The filter form's fields; an empty value means "any".
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Filters {
    #[serde(default)]
    site: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    state: String,
}

/// A `<select>` option.
pub(super) struct Choice {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

impl Choice {
    pub(super) const fn new(value: String, label: String, selected: bool) -> Self {
        Self {
            value,
            label,
            selected,
        }
    }
}

pub(super) struct IncidentRow {
    id: osiris_core::IncidentId,
    check_id: String,
    site_id: SiteId,
    site_name: String,
    severity: &'static str,
    tier: &'static str,
    state: &'static str,
    occurrences: u32,
    opened_at: String,
    last_seen_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/incidents.html")]
pub(super) struct IncidentsPage {
    layout: Layout,
    sites: Vec<Choice>,
    severities: Vec<Choice>,
    tiers: Vec<Choice>,
    states: Vec<Choice>,
    incidents: Vec<IncidentRow>,
    volume: TierChart,
}

/// Parses an optional filter value; an unknown one is a 400 page.
fn parse<T>(value: &str, parse: impl Fn(&str) -> Option<T>) -> WebResult<Option<T>> {
    if value.is_empty() {
        return Ok(None);
    }
    parse(value)
        .map(Some)
        .ok_or_else(|| WebError::bad_request("unknown filter value"))
}

fn choices(values: &[&'static str], current: &str) -> Vec<Choice> {
    values
        .iter()
        .map(|value| Choice {
            value: (*value).to_owned(),
            label: (*value).to_owned(),
            selected: *value == current,
        })
        .collect()
}

/// `GET /incidents?site=&severity=&tier=&state=`: open incidents unless
/// `state` says `resolved` or `all`.
pub(super) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<Filters>, QueryRejection>,
) -> WebResult<IncidentsPage> {
    let Query(filters) = query.map_err(|_| WebError::bad_request("unknown filter"))?;
    let scope = &viewer.caller.scope;
    let site = parse(&filters.site, |v| SiteId::from_str(v).ok())?;
    let severity = parse(&filters.severity, Severity::parse)?;
    let tier = parse(&filters.tier, Tier::parse)?;
    let status = match filters.state.as_str() {
        "" | "open" => Some(IncidentStatus::Open),
        "resolved" => Some(IncidentStatus::Resolved),
        "all" => None,
        _ => return Err(WebError::bad_request("unknown state")),
    };
    let sites = state.store.list_sites(scope).await?;
    if let Some(site) = site {
        // Another tenant's site is not a filter value: the same 404 as a
        // missing one.
        state.store.get_site(scope, site).await?;
    }
    let names: HashMap<SiteId, String> = sites.iter().map(|s| (s.id, s.name.clone())).collect();
    let now = state.clock.now();
    let openings = state
        .store
        .incident_openings(
            scope,
            site,
            volume_start(now, VOLUME_DAYS),
            // The midnight that ends today.
            volume_start(now, 0),
        )
        .await?;
    let chart = svg::incidents_by_tier(&volume(&openings, now, VOLUME_DAYS));
    let mut incidents: Vec<_> = state
        .store
        .list_incidents(scope, IncidentFilter { status, site })
        .await?
        .into_iter()
        .filter(|i| severity.is_none_or(|s| i.severity == s) && tier.is_none_or(|t| i.tier == t))
        .collect();
    incidents.sort_by(|a, b| {
        b.last_seen_at
            .cmp(&a.last_seen_at)
            .then_with(|| a.check_id.cmp(&b.check_id))
    });
    let rows = incidents
        .into_iter()
        .map(|i| IncidentRow {
            id: i.id,
            site_name: names.get(&i.site_id).cloned().unwrap_or_default(),
            check_id: i.check_id,
            site_id: i.site_id,
            severity: i.severity.as_str(),
            tier: i.tier.as_str(),
            state: i.status.as_str(),
            occurrences: i.occurrences,
            opened_at: format::time(i.opened_at),
            last_seen_at: format::time(i.last_seen_at),
        })
        .collect();
    let current_state = if filters.state.is_empty() {
        "open"
    } else {
        filters.state.as_str()
    };
    Ok(IncidentsPage {
        layout: Layout::for_viewer(&viewer, "incidents"),
        sites: sites
            .iter()
            .map(|s| Choice {
                value: s.id.to_string(),
                label: s.name.clone(),
                selected: site == Some(s.id),
            })
            .collect(),
        severities: choices(&["low", "medium", "high", "critical"], &filters.severity),
        tiers: choices(&["l1", "l2", "l3"], &filters.tier),
        states: choices(&["open", "resolved", "all"], current_state),
        incidents: rows,
        volume: chart,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn at(day: u32, hour: u32, tier: Tier) -> IncidentOpening {
        IncidentOpening {
            opened_at: Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap(),
            tier,
        }
    }

    #[test]
    fn openings_are_counted_by_utc_day_and_tier_within_the_period() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 9, 30, 0).unwrap();
        assert_eq!(
            volume_start(now, 3),
            Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
        );
        let openings = [
            at(27, 23, Tier::L1),
            at(28, 0, Tier::L1),
            at(28, 12, Tier::L3),
            at(30, 8, Tier::L2),
            at(30, 23, Tier::L2),
        ];
        let days = volume(&openings, now, 3);
        let counts: Vec<_> = days
            .iter()
            .map(|d| (d.date.as_str(), d.l1, d.l2, d.l3))
            .collect();
        assert_eq!(
            counts,
            vec![
                ("2026-11-28", 1, 0, 1),
                ("2026-11-29", 0, 0, 0),
                ("2026-11-30", 0, 2, 0),
            ]
        );
    }
}
