//! The fleet overview, incidents, runbooks and statistics.

use std::str::FromStr;

use osiris_core::{Clock, IncidentId, SiteId};
use osiris_store::{NewIncident, Severity, TenantScope, Tier};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, tenant, user};

async fn incident(server: &TestServer, site: &str, check: &str, severity: Severity, tier: Tier) {
    let site = SiteId::from_str(site).unwrap();
    server
        .running
        .state
        .store
        .report_incident(
            &TenantScope::platform(),
            &NewIncident {
                id: IncidentId::random(),
                site_id: site,
                host_id: None,
                check_id: check.to_owned(),
                dedup_key: format!("{site}:{check}"),
                severity,
                tier,
            },
            server.clock.now(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_fleet_and_incident_views_are_scoped_and_filterable() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    incident(
        &server,
        &acme.site,
        "win-defender-realtime",
        Severity::High,
        Tier::L1,
    )
    .await;
    incident(
        &server,
        &acme.site,
        "win-bitlocker",
        Severity::Critical,
        Tier::L3,
    )
    .await;
    incident(
        &server,
        &other.site,
        "linux-sshd-root-login",
        Severity::Medium,
        Tier::L2,
    )
    .await;

    let (status, fleet) = admin.get("/api/dashboard/fleet").await;
    assert_eq!(status, StatusCode::OK, "{fleet}");
    let sites = fleet["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2);
    let acme_row = sites
        .iter()
        .find(|s| s["site_id"] == acme.site.as_str())
        .unwrap();
    assert_eq!(acme_row["open_incidents"], 2);
    assert!(
        acme_row["compliance_score"].is_null(),
        "no check results yet"
    );

    let client = user(
        &server,
        &admin,
        "manager",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;
    let (_, mine) = client.get("/api/dashboard/incidents").await;
    assert_eq!(mine.as_array().unwrap().len(), 2, "{mine}");
    let (_, critical) = client
        .get("/api/dashboard/incidents?severity=critical")
        .await;
    assert_eq!(critical.as_array().unwrap().len(), 1);
    assert_eq!(critical[0]["check_id"], "win-bitlocker");
    let (_, l2) = admin.get("/api/dashboard/incidents?tier=l2").await;
    assert_eq!(l2.as_array().unwrap().len(), 1);
    let (status, error) = admin.get("/api/dashboard/incidents?severity=urgent").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["field"], "severity");
    let (status, error) = admin.get("/api/dashboard/incidents?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");

    let auditor = user(&server, &admin, "auditor", "auditor", json!({})).await;
    assert_eq!(
        auditor.get("/api/dashboard/fleet").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        auditor.get("/api/dashboard/incidents").await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn runbooks_come_from_the_catalog_and_stats_are_for_staff() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let (status, runbooks) = admin.get("/runbooks").await;
    assert_eq!(status, StatusCode::OK);
    let runbooks = runbooks.as_array().unwrap();
    assert_eq!(
        runbooks.len(),
        server.running.state.catalog.runbooks().len()
    );
    assert!(
        runbooks
            .iter()
            .all(|r| r["id"].as_str().unwrap().starts_with("RB-"))
    );
    let (status, stats) = admin.get("/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["sites"], 1);
    assert_eq!(stats["users"], 1);
    let partner = user(
        &server,
        &admin,
        "acme-ops",
        "partner",
        json!({"partner_id": acme.partner}),
    )
    .await;
    assert_eq!(partner.get("/stats").await.0, StatusCode::FORBIDDEN);
    assert_eq!(partner.get("/runbooks").await.0, StatusCode::OK);
}
