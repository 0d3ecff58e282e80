//! The fleet overview: check results counted per UTC day and hour from
//! both indexing paths, other kinds and instants outside the period left
//! out, appliance and open-incident figures as the other aggregates list
//! them, visibility; the incident openings the tier chart counts; pruning
//! the hourly counts.

use chrono::{DateTime, TimeZone as _, Utc};
use osiris_core::{BundleId, IncidentId};

use crate::testkit::world::World;
use crate::{
    ChainHash, CheckCounts, DailyChecks, EvidenceEntry, EvidenceKind, IncidentFilter,
    IncidentOpening, IncidentStatus, NewIncident, OverviewPeriod, Severity, SiteOverview, Store,
    TenantScope, Tier,
};

fn march(day: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, hour, minute, second)
        .single()
        .expect("valid instant")
}

async fn overview(store: &dyn Store, scope: &TenantScope) -> Vec<SiteOverview> {
    let period = OverviewPeriod {
        days_from: march(1, 0, 0, 0),
        recent_from: march(3, 10, 0, 0),
        until: march(3, 12, 0, 0),
    };
    store.fleet_overview(scope, period).await.unwrap()
}

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let before = overview(store, &world.platform).await;
    for site in &before {
        assert!(
            site.daily.is_empty() && site.recent == CheckCounts::default(),
            "no check results in March 2025 before this step: {site:?}"
        );
    }

    let head = store
        .evidence_head(&a.appliance_scope, a.appliance.id)
        .await
        .unwrap()
        .map_or(0, |entry| entry.seq);
    let results = [
        (
            march(1, 0, 0, 0) - chrono::Duration::seconds(1),
            EvidenceKind::Check,
            "pass",
        ),
        (march(1, 0, 0, 0), EvidenceKind::Check, "pass"),
        (march(1, 13, 30, 0), EvidenceKind::Check, "fail"),
        (march(2, 8, 0, 0), EvidenceKind::Remediation, "pass"),
        (march(3, 9, 59, 59), EvidenceKind::Check, "pass"),
        (march(3, 10, 0, 0), EvidenceKind::Check, "pass"),
        (march(3, 11, 59, 59), EvidenceKind::Check, "unknown"),
        (march(3, 12, 0, 0), EvidenceKind::Check, "pass"),
        (march(4, 0, 0, 0), EvidenceKind::Check, "pass"),
    ];
    let entries: Vec<EvidenceEntry> = results
        .iter()
        .zip(head + 1..)
        .map(|((created_at, kind, outcome), seq)| EvidenceEntry {
            appliance_id: a.appliance.id,
            seq,
            site_id: a.site.id,
            bundle_id: BundleId::random(),
            chain_hash: ChainHash::parse(&"d".repeat(64)).unwrap(),
            created_at: *created_at,
            kind: *kind,
            outcome: (*outcome).to_owned(),
            object_key: format!("{}/{seq:012}.json", a.appliance.id),
            received_at: *created_at,
        })
        .collect();
    // Both indexing paths count.
    let (single, batch) = entries.split_at(3);
    for entry in single {
        store
            .record_evidence(&a.appliance_scope, entry)
            .await
            .unwrap();
    }
    store
        .record_evidence_batch(&a.appliance_scope, batch)
        .await
        .unwrap();

    let expected_daily = vec![
        DailyChecks {
            day: march(1, 0, 0, 0),
            counts: CheckCounts {
                results: 2,
                passed: 1,
            },
        },
        // The day of `until` starts before it: counted whole.
        DailyChecks {
            day: march(3, 0, 0, 0),
            counts: CheckCounts {
                results: 4,
                passed: 3,
            },
        },
    ];
    let expected_recent = CheckCounts {
        results: 2,
        passed: 1,
    };
    let all = overview(store, &world.platform).await;
    let site_a = all.iter().find(|s| s.site_id == a.site.id).unwrap();
    assert_eq!(site_a.daily, expected_daily, "daily counts of site a");
    assert_eq!(site_a.recent, expected_recent, "recent counts of site a");
    let site_b = all.iter().find(|s| s.site_id == b.site.id).unwrap();
    assert!(
        site_b.daily.is_empty(),
        "another site's results: {site_b:?}"
    );

    // Sites come by name, then id, each with what the other aggregates list.
    let sites = store.list_sites(&world.platform).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|s| (s.site_id, s.name.clone()))
            .collect::<Vec<_>>(),
        sites
            .iter()
            .map(|s| (s.id, s.name.clone()))
            .collect::<Vec<_>>(),
        "every site, in list_sites order"
    );
    let appliances = store.list_appliances(&world.platform).await.unwrap();
    let open = store
        .list_incidents(
            &world.platform,
            IncidentFilter {
                status: Some(IncidentStatus::Open),
                site: None,
            },
        )
        .await
        .unwrap();
    for site in &all {
        let serving: Vec<_> = appliances
            .iter()
            .filter(|x| x.site_id == site.site_id)
            .collect();
        assert_eq!(
            site.appliances,
            u64::try_from(serving.len()).unwrap(),
            "{}",
            site.name
        );
        assert_eq!(
            site.last_checkin_at,
            serving.iter().filter_map(|x| x.last_checkin_at).max(),
            "{}",
            site.name
        );
        assert_eq!(
            site.open_incidents,
            u64::try_from(open.iter().filter(|i| i.site_id == site.site_id).count()).unwrap(),
            "{}",
            site.name
        );
    }
    let open_b = site_b.open_incidents;
    store
        .report_incident(
            &b.appliance_scope,
            &NewIncident {
                id: IncidentId::random(),
                site_id: b.site.id,
                host_id: None,
                check_id: "win.fleet.overview".to_owned(),
                dedup_key: "fleet-overview".to_owned(),
                severity: Severity::Low,
                tier: Tier::L1,
            },
            march(3, 11, 0, 0),
        )
        .await
        .unwrap();
    let after = overview(store, &world.platform).await;
    let site_b = after.iter().find(|s| s.site_id == b.site.id).unwrap();
    assert_eq!(site_b.open_incidents, open_b + 1, "a new open incident");

    // The chart's openings: the period's bounds, the site filter, the scope.
    let opened = march(3, 11, 0, 0);
    let second = chrono::Duration::seconds(1);
    let expected = vec![IncidentOpening {
        opened_at: opened,
        tier: Tier::L1,
    }];
    for (scope, site) in [
        (&world.platform, Some(b.site.id)),
        (&b.partner_scope, Some(b.site.id)),
        (&b.partner_scope, None),
    ] {
        assert_eq!(
            store
                .incident_openings(scope, site, opened, opened + second)
                .await
                .unwrap(),
            expected,
            "{site:?}"
        );
    }
    for (scope, site, from, until) in [
        // Another tenant: the site is not visible, and its own are not it.
        (&a.partner_scope, Some(b.site.id), opened, opened + second),
        (&a.partner_scope, None, opened, opened + second),
        (&world.platform, Some(a.site.id), opened, opened + second),
        // `until` is excluded, `from` included.
        (&world.platform, Some(b.site.id), opened - second, opened),
        (
            &world.platform,
            Some(b.site.id),
            opened + second,
            opened + second * 60,
        ),
    ] {
        assert!(
            store
                .incident_openings(scope, site, from, until)
                .await
                .unwrap()
                .is_empty(),
            "{site:?} from {from} until {until}"
        );
    }

    // Each tenant sees its own site only, with the same figures.
    for (scope, own) in [
        (&a.partner_scope, site_a),
        (&a.client_scope, site_a),
        (&b.partner_scope, site_b),
    ] {
        let seen = overview(store, scope).await;
        assert_eq!(seen, vec![own.clone()], "one tenant's overview");
    }

    // Pruning the hourly counts: the recent figures lose the pruned hours,
    // the daily ones keep everything, and a second pass finds nothing.
    let pruned = store.prune_check_hours(march(3, 11, 0, 0)).await.unwrap();
    assert!(
        pruned >= 5,
        "March's first hours and 3 March 09:00 and 10:00 at least: {pruned}"
    );
    assert_eq!(
        store.prune_check_hours(march(3, 11, 0, 0)).await.unwrap(),
        0
    );
    let pruned_view = overview(store, &world.platform).await;
    let site_a = pruned_view.iter().find(|s| s.site_id == a.site.id).unwrap();
    assert_eq!(site_a.daily, expected_daily, "daily counts are not pruned");
    assert_eq!(
        site_a.recent,
        CheckCounts {
            results: 1,
            passed: 0
        },
        "only 11:00 is left of the recent hours"
    );
}
