//! Reading evidence: scoped to the caller's tenant, open to auditors on
//! their granted sites.

use osiris_core::Clock as _;
use reqwest::StatusCode;
use serde_json::json;

use crate::fleet::TestAppliance;
use crate::support::{TestServer, tenant, user};

#[tokio::test]
async fn evidence_of_another_tenant_is_not_found() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let mut theirs = TestAppliance::enrol(&server, &admin, &other.site).await;
    let bundle = theirs.seal(server.clock.now());
    theirs.checkin(&server, &[&bundle]).await;
    let partner = user(
        &server,
        &admin,
        "acme-ops",
        "partner",
        json!({"partner_id": acme.partner}),
    )
    .await;
    let id = bundle.bundle_id();
    for path in [
        format!("/api/evidence/{id}"),
        format!("/api/evidence/{id}/raw"),
        format!("/api/sites/{}/evidence", other.site),
        format!(
            "/api/sites/{}/evidence?appliance_id={}",
            acme.site, theirs.id
        ),
    ] {
        let (status, body) = partner.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, own) = partner
        .get(&format!("/api/sites/{}/evidence", acme.site))
        .await;
    assert_eq!((status, own), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn an_auditor_reads_the_evidence_of_granted_sites_only() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let bundle = appliance.seal(server.clock.now());
    appliance.checkin(&server, &[&bundle]).await;
    let auditor = user(&server, &admin, "auditor", "auditor", json!({})).await;
    let (_, me) = auditor.get("/api/auth/me").await;
    let auditor_id = me["id"].as_str().unwrap();
    assert_eq!(
        auditor
            .get(&format!("/api/sites/{}/evidence", acme.site))
            .await
            .0,
        StatusCode::NOT_FOUND,
        "nothing before the grant"
    );
    let (status, body) = admin
        .put(
            &format!("/api/users/{auditor_id}/sites/{}", acme.site),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    let (status, page) = auditor
        .get(&format!(
            "/api/sites/{}/evidence?appliance_id={}",
            acme.site, appliance.id
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page[0]["bundle_id"], bundle.bundle_id().to_string());
    let (status, _) = auditor
        .request(
            reqwest::Method::GET,
            &format!("/api/evidence/{}/raw", bundle.bundle_id()),
        )
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        auditor
            .get(&format!("/api/sites/{}/evidence", other.site))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = auditor
        .get(&format!("/api/sites/{}/evidence?limit=0", acme.site))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
