//! The local state database: incidents open, fold and resolve; nonces and
//! the ledger survive a restart.

use chrono::{Duration, TimeZone, Utc};
use osiris_agent::state::{Observation, Seen, State};

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

#[tokio::test]
async fn a_failure_opens_one_incident_that_folds_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db")).await.unwrap();
    let first = state
        .observe("dc01", "win.av", "high", Seen::Fail, t0())
        .await
        .unwrap();
    let Observation::Opened(id) = first else {
        panic!("{first:?}")
    };
    let again = state
        .observe(
            "dc01",
            "win.av",
            "high",
            Seen::Fail,
            t0() + Duration::minutes(5),
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        Observation::StillOpen {
            id,
            flapping: false
        }
    );
    // Another host or check is another incident.
    assert!(
        matches!(state.observe("dc02", "win.av", "high", Seen::Fail, t0()).await.unwrap(), Observation::Opened(other) if other != id)
    );
    // Unknown neither opens nor resolves.
    assert_eq!(
        state
            .observe("dc01", "win.av", "high", Seen::Unknown, t0())
            .await
            .unwrap(),
        Observation::Nothing
    );
    assert_eq!(
        state
            .observe(
                "dc01",
                "win.av",
                "high",
                Seen::Pass,
                t0() + Duration::minutes(9)
            )
            .await
            .unwrap(),
        Observation::Resolved(id)
    );
    assert_eq!(
        state
            .observe(
                "dc01",
                "win.av",
                "high",
                Seen::Pass,
                t0() + Duration::minutes(10)
            )
            .await
            .unwrap(),
        Observation::Nothing
    );
    let incidents = state.incidents().await.unwrap();
    let resolved = incidents.iter().find(|i| i.id == id).unwrap();
    assert!(!resolved.open);
    assert_eq!(resolved.failures, 2);
    // It fails again: a new incident, and the history shows two openings.
    let reopened = state
        .observe(
            "dc01",
            "win.av",
            "high",
            Seen::Fail,
            t0() + Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(matches!(reopened, Observation::Opened(new) if new != id));
    let episodes = state.episodes("dc01", "win.av", t0()).await.unwrap();
    let shape: Vec<_> = episodes
        .iter()
        .map(|e| (e.opened_at, e.resolved_at))
        .collect();
    assert_eq!(
        shape,
        vec![
            (t0(), Some(t0() + Duration::minutes(9))),
            (t0() + Duration::hours(1), None)
        ]
    );
    assert_eq!(
        state
            .episodes("dc01", "win.av", t0() + Duration::minutes(30))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn nonces_ledger_escalations_and_rules_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let id = {
        let state = State::open(&path).await.unwrap();
        assert!(state.remember_nonce("n-1", t0()).await.unwrap());
        assert!(
            !state.remember_nonce("n-1", t0()).await.unwrap(),
            "a nonce is remembered once"
        );
        let mut ledger = state.ledger().await.unwrap();
        ledger.record_fired("L1-WIN-AV-001", "dc01", t0());
        ledger.record_outcome("L1-WIN-AV-001", "dc01", false);
        state
            .save_ledger_entry(
                "L1-WIN-AV-001",
                "dc01",
                *ledger.get("L1-WIN-AV-001", "dc01").unwrap(),
            )
            .await
            .unwrap();
        let Observation::Opened(id) = state
            .observe("dc01", "win.backup", "high", Seen::Fail, t0())
            .await
            .unwrap()
        else {
            panic!()
        };
        state
            .escalate(id, "dc01", "win.backup", "no L1 rule matched", t0())
            .await
            .unwrap();
        state
            .store_rules(
                "v1",
                &[("rules/windows.yaml".to_owned(), "rules: []".to_owned())],
            )
            .await
            .unwrap();
        state.close().await;
        id
    };
    let state = State::open(&path).await.unwrap();
    assert!(state.nonce_seen("n-1").await.unwrap());
    assert!(
        !state.remember_nonce("n-1", t0()).await.unwrap(),
        "a replay after a restart is still a replay"
    );
    let ledger = state.ledger().await.unwrap();
    let entry = ledger.get("L1-WIN-AV-001", "dc01").unwrap();
    assert_eq!((entry.last_fired, entry.failures), (t0(), 1));
    let escalations = state.escalations().await.unwrap();
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0].incident_id, id);
    assert_eq!(escalations[0].reason, "no L1 rule matched");
    let incident = state
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id == id)
        .unwrap();
    assert_eq!(incident.tier.as_deref(), Some("L3"));
    assert_eq!(state.synced_rules().await.unwrap().unwrap().0, "v1");
    // Old nonces are forgotten only well after their order expired.
    assert_eq!(
        state
            .forget_expired_nonces(t0() + Duration::minutes(30))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        state
            .forget_expired_nonces(t0() + Duration::hours(2))
            .await
            .unwrap(),
        1
    );
}

/// Regression: sweeping many hosts at once opened incidents from as many
/// tasks; a transaction that read before it wrote could not take the
/// write lock behind another writer (SQLite answers busy at once, without
/// waiting), and the sweep of that host stopped with "opening an incident".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incidents_open_fold_and_resolve_from_many_hosts_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db")).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for host in 0..32 {
        let state = state.clone();
        tasks.spawn(async move {
            let host = format!("dc{host:02}");
            for seen in [Seen::Fail, Seen::Fail, Seen::Pass, Seen::Fail] {
                for check in ["win.av", "win.backup", "win.firewall", "win.audit"] {
                    state
                        .observe(&host, check, "high", seen, t0())
                        .await
                        .unwrap();
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
    }
    let incidents = state.incidents().await.unwrap();
    assert_eq!(incidents.len(), 32 * 4 * 2);
    assert_eq!(incidents.iter().filter(|i| i.open).count(), 32 * 4);
}
