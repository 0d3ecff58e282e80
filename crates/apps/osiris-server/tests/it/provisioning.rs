//! Provisioning by MAC address: an operator arms an appliance with its
//! MAC; the appliance claims its identity with the MAC instead of the
//! code, once, while unclaimed, within 24 hours of its creation.

use chrono::Duration;
use osiris_evidence::KeyPair;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fleet::claim;
use crate::support::{Api, TestServer, tenant};

async fn arm(operator: &Api, site: &str, mac: &str) -> (StatusCode, Value) {
    operator
        .post(
            &format!("/api/sites/{site}/appliances"),
            json!({"name": "Closet box", "mac": mac}),
        )
        .await
}

async fn claim_by_mac(server: &TestServer, mac: &str, key: &KeyPair) -> (StatusCode, Value) {
    server
        .anonymous()
        .post(
            "/api/appliances/claim",
            json!({"mac": mac, "public_key": key.public_key().to_base64()}),
        )
        .await
}

#[tokio::test]
async fn an_armed_appliance_claims_by_its_mac_once() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let (status, created) = arm(&admin, &acme.site, "02-1A-2B-3C-4D-5E").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["appliance"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["appliance"]["mac"], "02:1a:2b:3c:4d:5e");
    assert_eq!(
        created["appliance"]["mac_claim_until"],
        "2026-11-25T12:00:00Z"
    );
    let code = created["claim_code"].as_str().unwrap().to_owned();

    let key = KeyPair::generate().unwrap();
    let (status, claimed) = claim_by_mac(&server, "021a.2b3c.4d5e", &key).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["appliance_id"], id.as_str());
    assert_eq!(claimed["site_id"], acme.site.as_str());

    let (status, again) =
        claim_by_mac(&server, "02:1a:2b:3c:4d:5e", &KeyPair::generate().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a MAC claims once: {again}");
    let (status, _) = claim(&server, &code, &KeyPair::generate().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "and consumes the code");

    let appliance = admin.appliance(&id).await;
    assert_eq!(appliance["claimed"], true);
    assert_eq!(appliance["public_key"], key.public_key().to_base64());
    assert_eq!(appliance["mac"], "02:1a:2b:3c:4d:5e");
    assert_eq!(appliance["mac_claim_until"], Value::Null);

    // A claimed appliance no longer holds its MAC: a replacement unit can
    // be armed with it.
    let (status, replacement) = arm(&admin, &acme.site, "02:1a:2b:3c:4d:5e").await;
    assert_eq!(status, StatusCode::CREATED, "{replacement}");
}

#[tokio::test]
async fn a_mac_claims_only_within_24_hours_while_the_code_still_works() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let (_, created) = arm(&admin, &acme.site, "02:00:00:00:00:01").await;
    let code = created["claim_code"].as_str().unwrap().to_owned();
    server
        .clock
        .advance(Duration::hours(24) + Duration::seconds(1));
    let (status, late) =
        claim_by_mac(&server, "02:00:00:00:00:01", &KeyPair::generate().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{late}");
    assert_eq!(late["error"]["code"], "not_found");
    let (status, claimed) = claim(&server, &code, &KeyPair::generate().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
}

#[tokio::test]
async fn macs_are_validated_and_unique_among_unclaimed_appliances() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    for mac in [
        "02:00:00:00:00",
        "zz:00:00:00:00:01",
        "ff:ff:ff:ff:ff:ff",
        "00:00:00:00:00:00",
    ] {
        let (status, answer) = arm(&admin, &acme.site, mac).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{mac}: {answer}");
        assert_eq!(answer["error"]["field"], "mac", "{answer}");
    }
    let (status, _) = arm(&admin, &acme.site, "02:00:00:00:00:07").await;
    assert_eq!(status, StatusCode::CREATED);
    for site in [&acme.site, &other.site] {
        let (status, answer) = arm(&admin, site, "02-00-00-00-00-07").await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert_eq!(answer["error"]["field"], "mac", "{answer}");
    }
    let (_, listed) = admin.get("/api/appliances").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "nothing stored");
}

#[tokio::test]
async fn a_claim_gives_exactly_one_of_code_and_mac() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let (_, created) = arm(&admin, &acme.site, "02:00:00:00:00:08").await;
    let code = created["claim_code"].as_str().unwrap();
    let key = KeyPair::generate().unwrap().public_key().to_base64();
    let anonymous = server.anonymous();
    for body in [
        json!({"public_key": key}),
        json!({"claim_code": code, "mac": "02:00:00:00:00:08", "public_key": key}),
    ] {
        let (status, answer) = anonymous.post("/api/appliances/claim", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["field"], "claim_code", "{answer}");
    }
    let (status, answer) = anonymous
        .post(
            "/api/appliances/claim",
            json!({"mac": "not a mac", "public_key": key}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "mac");
    let (status, _) =
        claim_by_mac(&server, "02:00:00:00:00:09", &KeyPair::generate().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a MAC nobody armed");
    let (status, claimed) =
        claim_by_mac(&server, "02:00:00:00:00:08", &KeyPair::generate().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the refusals consumed nothing: {claimed}"
    );
}

#[tokio::test]
async fn guessing_macs_is_rate_limited_across_the_server() {
    let server = TestServer::start().await;
    let key = KeyPair::generate().unwrap();
    for guess in 0..30 {
        let (status, _) = claim_by_mac(&server, &format!("02:00:00:00:01:{guess:02x}"), &key).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "guess {guess}");
    }
    let (status, answer) = claim_by_mac(&server, "02:00:00:00:02:00", &key).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    // A claim code is not counted against MAC guesses.
    let (status, _) = claim(&server, "AAAAA-BBBBB-CCCCC-DDDDD", &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
