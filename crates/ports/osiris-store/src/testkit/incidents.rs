//! Incidents: deduplication while open, resolution, filters, visibility.

use osiris_core::IncidentId;

use crate::testkit::world::World;
use crate::testkit::{assert_illegal, assert_not_found, at};
use crate::{IncidentFilter, IncidentStatus, NewIncident, Severity, Store, Tier};

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let report = NewIncident {
        id: IncidentId::random(),
        site_id: a.site.id,
        host_id: None,
        check_id: "win-firewall-enabled".to_owned(),
        dedup_key: "win-firewall-enabled:dc01".to_owned(),
        severity: Severity::High,
        tier: Tier::L1,
    };
    let first = store
        .report_incident(&a.appliance_scope, &report, at(20))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.incident.id, report.id);
    assert_eq!(first.incident.status, IncidentStatus::Open);
    assert_eq!(first.incident.occurrences, 1);
    assert_eq!(first.incident.severity, Severity::High);
    assert_eq!(first.incident.tier, Tier::L1);

    let again = NewIncident {
        id: IncidentId::random(),
        ..report.clone()
    };
    let folded = store
        .report_incident(&a.appliance_scope, &again, at(25))
        .await
        .unwrap();
    assert!(
        !folded.created,
        "a second report of an open incident is folded into it"
    );
    assert_eq!(folded.incident.id, report.id);
    assert_eq!(folded.incident.occurrences, 2);
    assert_eq!(folded.incident.opened_at, at(20));
    assert_eq!(folded.incident.last_seen_at, at(25));
    assert_not_found(
        store.get_incident(&world.platform, again.id).await,
        "incident",
        "the id of a folded report",
    );

    assert_not_found(
        store
            .report_incident(
                &a.appliance_scope,
                &NewIncident {
                    id: IncidentId::random(),
                    site_id: b.site.id,
                    ..report.clone()
                },
                at(26),
            )
            .await,
        "site",
        "an appliance reporting an incident at another tenant's site",
    );
    let other = store
        .report_incident(
            &b.appliance_scope,
            &NewIncident {
                id: IncidentId::random(),
                site_id: b.site.id,
                severity: Severity::Critical,
                tier: Tier::L3,
                ..report.clone()
            },
            at(26),
        )
        .await
        .unwrap();
    assert!(
        other.created,
        "the same dedup key at another site is another incident"
    );

    assert_not_found(
        store.get_incident(&b.partner_scope, report.id).await,
        "incident",
        "another partner reading an incident",
    );
    assert_not_found(
        store
            .resolve_incident(&b.partner_scope, report.id, "closed", at(27))
            .await,
        "incident",
        "another partner resolving an incident",
    );
    let resolved = store
        .resolve_incident(
            &a.partner_scope,
            report.id,
            "healed by RB-WIN-FIREWALL-001",
            at(30),
        )
        .await
        .unwrap();
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert_eq!(resolved.resolved_at, Some(at(30)));
    assert_eq!(
        resolved.resolution.as_deref(),
        Some("healed by RB-WIN-FIREWALL-001")
    );
    assert_illegal(
        store
            .resolve_incident(&a.partner_scope, report.id, "again", at(31))
            .await,
        "resolved",
        "resolving a resolved incident",
    );

    let reopened = store
        .report_incident(
            &a.appliance_scope,
            &NewIncident {
                id: IncidentId::random(),
                severity: Severity::Medium,
                ..report.clone()
            },
            at(40),
        )
        .await
        .unwrap();
    assert!(
        reopened.created,
        "after resolution the same key opens a new incident"
    );

    let all_a = store
        .list_incidents(&a.client_scope, IncidentFilter::default())
        .await
        .unwrap();
    let ids: Vec<IncidentId> = all_a.iter().map(|i| i.id).collect();
    assert_eq!(
        ids,
        [reopened.incident.id, report.id],
        "newest first, never another tenant's"
    );
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
    assert_eq!(open.len(), 2);
    assert!(open.iter().all(|i| i.status == IncidentStatus::Open));
    let at_b = store
        .list_incidents(
            &world.platform,
            IncidentFilter {
                status: None,
                site: Some(b.site.id),
            },
        )
        .await
        .unwrap();
    assert_eq!(at_b.len(), 1);
    assert_eq!(at_b[0].id, other.incident.id);
    let leak = store
        .list_incidents(
            &a.partner_scope,
            IncidentFilter {
                status: None,
                site: Some(b.site.id),
            },
        )
        .await
        .unwrap();
    assert!(
        leak.is_empty(),
        "filtering on another tenant's site lists nothing"
    );
}
