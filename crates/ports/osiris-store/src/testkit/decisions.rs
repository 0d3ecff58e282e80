//! Decisions: the reporting appliance, one decision per incident, an
//! approval found by its order, rejections delivered once, visibility.

use chrono::Duration;
use osiris_core::{IncidentId, OrderId, RunbookId};

use crate::testkit::world::World;
use crate::testkit::{assert_conflict, assert_not_found, at};
use crate::{DecisionKind, NewDecision, NewIncident, NewOrder, Severity, Store, Tier, constraint};

async fn incident(store: &dyn Store, world: &World, check: &str) -> IncidentId {
    store
        .report_incident(
            &world.a.appliance_scope,
            &NewIncident {
                id: IncidentId::random(),
                site_id: world.a.site.id,
                host_id: None,
                check_id: check.to_owned(),
                dedup_key: format!("decisions:{check}"),
                severity: Severity::High,
                tier: Tier::L3,
            },
            at(300),
        )
        .await
        .unwrap()
        .incident
        .id
}

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let approved = incident(store, world, "win.encryption.bitlocker").await;
    let rejected = incident(store, world, "win.backup.wsb").await;

    // The reporter: unknown until noted, then the latest noted.
    assert_eq!(
        store
            .incident_reporter(&a.partner_scope, approved)
            .await
            .unwrap(),
        None
    );
    store
        .note_incident_reporter(&a.appliance_scope, approved, a.appliance.id)
        .await
        .unwrap();
    store
        .note_incident_reporter(&a.appliance_scope, approved, a.appliance.id)
        .await
        .unwrap();
    store
        .note_incident_reporter(&a.appliance_scope, rejected, a.appliance.id)
        .await
        .unwrap();
    assert_eq!(
        store
            .incident_reporter(&a.partner_scope, approved)
            .await
            .unwrap(),
        Some(a.appliance.id)
    );
    assert_not_found(
        store.incident_reporter(&b.partner_scope, approved).await,
        "incident",
        "another tenant reading an incident's reporter",
    );
    assert_not_found(
        store
            .note_incident_reporter(&b.appliance_scope, approved, b.appliance.id)
            .await,
        "incident",
        "another tenant's appliance claiming an incident",
    );

    // An approval with its order.
    let order = store
        .create_order(
            &a.partner_scope,
            &NewOrder {
                id: OrderId::random(),
                appliance_id: a.appliance.id,
                runbook_id: "RB-WIN-ENCRYPTION-001".parse::<RunbookId>().unwrap(),
                params: serde_json::json!({"mount_point": "C:"}),
                target: None,
                nonce: "decision-nonce-1".to_owned(),
                issued_at: at(301),
                expires_at: at(301) + Duration::minutes(15),
                created_by: Some(a.partner_user.id),
            },
        )
        .await
        .unwrap();
    let approval = NewDecision {
        incident_id: approved,
        appliance_id: a.appliance.id,
        decision: DecisionKind::Approved,
        decided_by: a.partner_user.id,
        decided_at: at(301),
        reason: None,
        order_id: Some(order.id),
    };
    assert_not_found(
        store.decide_incident(&b.partner_scope, &approval).await,
        "incident",
        "another tenant deciding an incident",
    );
    let decided = store
        .decide_incident(&a.partner_scope, &approval)
        .await
        .unwrap();
    assert_eq!(decided.decision, DecisionKind::Approved);
    assert_eq!(decided.site_id, a.site.id);
    assert_eq!(decided.order_id, Some(order.id));
    assert_eq!(decided.decided_at, at(301));
    assert_eq!(decided.delivered_at, None);
    assert_conflict(
        store
            .decide_incident(
                &a.partner_scope,
                &NewDecision {
                    decision: DecisionKind::Rejected,
                    reason: Some("changed my mind".to_owned()),
                    order_id: None,
                    ..approval.clone()
                },
            )
            .await,
        constraint::INCIDENT_DECISION,
        "a second decision on one incident",
    );
    assert_eq!(
        store
            .incident_decision(&a.client_scope, approved)
            .await
            .unwrap(),
        Some(decided.clone())
    );
    assert_eq!(
        store
            .order_decision(&a.appliance_scope, order.id)
            .await
            .unwrap(),
        Some(decided.clone())
    );
    assert_eq!(
        store
            .order_decision(&b.partner_scope, order.id)
            .await
            .unwrap(),
        None,
        "another tenant's order has no visible decision"
    );
    assert_not_found(
        store.incident_decision(&b.partner_scope, approved).await,
        "incident",
        "another tenant reading a decision",
    );

    // A rejection is delivered once, to its appliance only; approvals are
    // never in that list (their order carries them).
    assert_eq!(
        store
            .incident_decision(&a.partner_scope, rejected)
            .await
            .unwrap(),
        None
    );
    let rejection = store
        .decide_incident(
            &a.partner_scope,
            &NewDecision {
                incident_id: rejected,
                appliance_id: a.appliance.id,
                decision: DecisionKind::Rejected,
                decided_by: a.partner_user.id,
                decided_at: at(302),
                reason: Some("the backup job is being replaced".to_owned()),
                order_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rejection.reason.as_deref(),
        Some("the backup job is being replaced")
    );
    assert_not_found(
        store
            .take_undelivered_rejections(&b.appliance_scope, a.appliance.id, at(303))
            .await,
        "appliance",
        "an appliance taking another's decisions",
    );
    let taken = store
        .take_undelivered_rejections(&a.appliance_scope, a.appliance.id, at(303))
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].incident_id, rejected);
    assert_eq!(taken[0].delivered_at, Some(at(303)));
    assert!(
        store
            .take_undelivered_rejections(&a.appliance_scope, a.appliance.id, at(304))
            .await
            .unwrap()
            .is_empty(),
        "a rejection is delivered once"
    );
}
