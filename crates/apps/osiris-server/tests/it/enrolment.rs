//! Creating appliances and claiming their identity.

use osiris_evidence::KeyPair;
use reqwest::StatusCode;
use serde_json::json;

use crate::fleet::{TestAppliance, claim, create};
use crate::support::{TestServer, tenant, user};

#[tokio::test]
async fn an_appliance_is_created_with_a_code_and_claims_its_identity_once() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let (id, code) = create(&admin, &acme.site, "Closet box").await;
    assert_eq!(code.len(), 23, "{code}");
    let key = KeyPair::generate().unwrap();
    let (status, claimed) = claim(&server, &code.replace('-', " "), &key).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["appliance_id"], id);
    assert_eq!(claimed["server_time"], "2026-11-24T12:00:00Z");
    let (status, again) = claim(&server, &code, &KeyPair::generate().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a code works once: {again}");
    let (status, _) = claim(&server, "AAAAA-BBBBB-CCCCC-DDDDD", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, appliance) = admin.get(&format!("/api/appliances/{id}")).await;
    assert_eq!(appliance["claimed"], true);
    assert_eq!(appliance["public_key"], key.public_key().to_base64());
    let (_, listed) = admin.get("/api/appliances").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_malformed_public_key_is_refused_and_the_code_is_kept() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let (_, code) = create(&admin, &acme.site, "Closet box").await;
    let (status, body) = server
        .anonymous()
        .post(
            "/api/appliances/claim",
            json!({"claim_code": code, "public_key": "c2hvcnQ="}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "public_key");
    let (status, _) = claim(&server, &code, &KeyPair::generate().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn appliances_of_another_tenant_are_not_found_and_clients_cannot_create_them() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let appliance = TestAppliance::enrol(&server, &admin, &other.site).await;
    let partner = user(
        &server,
        &admin,
        "acme-ops",
        "partner",
        json!({"partner_id": acme.partner}),
    )
    .await;
    let (status, _) = partner
        .get(&format!("/api/appliances/{}", appliance.id))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = partner.get("/api/appliances").await;
    assert_eq!(listed, json!([]));
    let (status, _) = partner
        .post(
            &format!("/api/sites/{}/appliances", other.site),
            json!({"name": "Intruder"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let client = user(
        &server,
        &admin,
        "manager",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;
    let (status, _) = client
        .post(
            &format!("/api/sites/{}/appliances", acme.site),
            json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
