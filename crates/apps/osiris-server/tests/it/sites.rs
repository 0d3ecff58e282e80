//! The tenant tree and site settings.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, settings, tenant, user};

#[tokio::test]
async fn a_partner_builds_its_practices_and_edits_a_site() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let partner = user(
        &server,
        &admin,
        "acme-ops",
        "partner",
        json!({"partner_id": acme.partner}),
    )
    .await;
    let client = partner
        .create("/api/clients", json!({"name": "North Valley Clinic"}))
        .await;
    let site = partner
        .create(
            "/api/sites",
            json!({"client_id": client, "name": "Front office", "settings": settings()}),
        )
        .await;
    let mut changed = settings();
    changed["healing_mode"] = json!("dry_run");
    changed["maintenance_window"]["starts_at"] = json!("23:30");
    let (status, updated) = partner.put(&format!("/api/sites/{site}"), changed).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["settings"]["healing_mode"], "dry_run");
    assert_eq!(
        updated["settings"]["maintenance_window"]["starts_at"],
        "23:30"
    );
    let (_, sites) = partner.get("/api/sites").await;
    assert_eq!(
        sites.as_array().unwrap().len(),
        2,
        "its own two sites: {sites}"
    );
    let (_, all) = admin.get("/api/sites").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (status, _) = partner
        .post("/api/partners", json!({"name": "Rogue"}))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only platform staff create partners"
    );
}

#[tokio::test]
async fn a_client_reads_its_own_site_and_cannot_change_it() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let client = user(
        &server,
        &admin,
        "manager",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;
    let (status, site) = client.get(&format!("/api/sites/{}", acme.site)).await;
    assert_eq!(status, StatusCode::OK, "{site}");
    let (status, _) = client.get(&format!("/api/sites/{}", other.site)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = client
        .put(&format!("/api/sites/{}", acme.site), settings())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
