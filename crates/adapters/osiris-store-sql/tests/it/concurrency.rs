//! What two server replicas do at the same time against one database.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use osiris_core::{ApplianceId, ClientId, OrderId, PartnerId, Secret, SiteId};
use osiris_store::{
    ApplianceStore, HealingMode, MaintenanceWindow, NewAppliance, NewClient, NewOrder, NewPartner,
    NewSite, OrderStore, SiteSettings, SiteStore, TenantScope, TenantStore, TokenHash,
};
use osiris_store_sql::{PgStore, SqliteStore};

use crate::fresh::FreshDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sqlite_check_ins_deliver_each_order_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("osiris.db"))
            .await
            .unwrap(),
    );
    deliver_each_order_exactly_once(Arc::clone(&store)).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_postgres_check_ins_deliver_each_order_exactly_once() {
    let database = FreshDatabase::create().await;
    let store = Arc::new(
        PgStore::connect_with(database.options.clone())
            .await
            .unwrap(),
    );
    deliver_each_order_exactly_once(Arc::clone(&store)).await;
    store.close().await;
    database.drop_database().await;
}

/// Eight check-ins race to take 40 pending orders for one appliance.
async fn deliver_each_order_exactly_once<S>(store: Arc<S>)
where
    S: TenantStore + SiteStore + ApplianceStore + OrderStore + Send + Sync + 'static,
{
    let platform = TenantScope::platform();
    let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
    let partner = store
        .create_partner(
            &platform,
            &NewPartner {
                id: PartnerId::random(),
                name: "msp".into(),
            },
            now,
        )
        .await
        .unwrap();
    let client = store
        .create_client(
            &platform,
            &NewClient {
                id: ClientId::random(),
                partner_id: partner.id,
                name: "clinic".into(),
            },
            now,
        )
        .await
        .unwrap();
    let site = store
        .create_site(
            &platform,
            &NewSite {
                id: SiteId::random(),
                client_id: client.id,
                name: "main".into(),
                settings: SiteSettings {
                    maintenance_window: MaintenanceWindow {
                        time_zone: chrono_tz::UTC,
                        starts_at: chrono::NaiveTime::MIN,
                        duration_minutes: 60,
                    },
                    healing_mode: HealingMode::Heal,
                },
            },
            now,
        )
        .await
        .unwrap();
    let appliance = store
        .create_appliance(
            &platform,
            &NewAppliance {
                id: ApplianceId::random(),
                site_id: site.id,
                name: "box".into(),
                claim_code: TokenHash::of(&Secret::new("code".to_owned())),
                mac: None,
            },
            now,
        )
        .await
        .unwrap();
    let orders = 40;
    for index in 0..orders {
        store
            .create_order(
                &platform,
                &NewOrder {
                    id: OrderId::random(),
                    appliance_id: appliance.id,
                    runbook_id: "RB-WIN-PATCH-001".parse().unwrap(),
                    params: serde_json::json!({}),
                    target: None,
                    nonce: format!("nonce-{index}"),
                    issued_at: now,
                    expires_at: now + Duration::minutes(15),
                    created_by: None,
                },
            )
            .await
            .unwrap();
    }
    let takers: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            let scope = platform.clone();
            tokio::spawn(async move {
                let mut taken = Vec::new();
                for _ in 0..5 {
                    taken.extend(
                        store
                            .take_undelivered_orders(
                                &scope,
                                appliance.id,
                                now + Duration::minutes(1),
                            )
                            .await
                            .unwrap()
                            .into_iter()
                            .map(|order| order.id),
                    );
                }
                taken
            })
        })
        .collect();
    let mut delivered = Vec::new();
    for taker in takers {
        delivered.extend(taker.await.unwrap());
    }
    let total = delivered.len();
    delivered.sort();
    delivered.dedup();
    assert_eq!(total, orders, "every order delivered");
    assert_eq!(delivered.len(), orders, "no order delivered twice");
}
