//! The signed check-in and evidence intake: accepted bundles are stored
//! byte for byte and indexed; every refusal names its reason and stores
//! nothing.

use chrono::Duration;
use osiris_core::Clock as _;
use osiris_core::{ApplianceId, SiteId};
use osiris_evidence::KeyPair;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fleet::TestAppliance;
use crate::support::{Api, TestServer, tenant};

async fn setup() -> (TestServer, Api, TestAppliance) {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    (server, admin, appliance)
}

fn rejection(response: &Value) -> (u64, u64, String) {
    let rejected = response["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{response}");
    (
        rejected[0]["index"].as_u64().unwrap(),
        rejected[0]["seq"].as_u64().unwrap(),
        rejected[0]["reason"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn accepted_bundles_are_stored_byte_identical_and_indexed() {
    let (server, admin, mut appliance) = setup().await;
    let now = server.clock.now();
    let bundles: Vec<_> = (0..3).map(|_| appliance.seal(now)).collect();
    let response = appliance
        .checkin(&server, &bundles.iter().collect::<Vec<_>>())
        .await;
    assert_eq!(response["acknowledged_through_seq"], 3, "{response}");
    assert_eq!(response["rejected"], json!([]));
    assert_eq!(response["next_checkin_secs"], 60);
    assert_eq!(response["server_time"], "2026-11-24T12:00:00Z");
    assert!(response["rule_set"]["version"].is_string(), "{response}");

    let stored = appliance.stored(&server).await;
    assert_eq!(stored.index.len(), 3);
    assert_eq!(stored.objects.len(), 3);
    for (bundle, (key, bytes)) in bundles.iter().zip(&stored.objects) {
        assert_eq!(bytes.as_slice(), bundle.bytes(), "{key:?} differs");
    }
    for (seq, entry) in (1..).zip(&stored.index) {
        assert_eq!(entry.seq, seq);
        assert_eq!(entry.outcome, "pass");
        assert_eq!(
            entry.chain_hash.as_str(),
            bundles[seq as usize - 1].hash().to_string()
        );
        assert_eq!(
            entry.object_key,
            format!(
                "evidence/{}/{}/{seq:020}.json",
                appliance.site, appliance.id
            )
        );
    }

    let (status, raw) = admin
        .request(
            reqwest::Method::GET,
            &format!("/api/evidence/{}/raw", bundles[1].bundle_id()),
        )
        .send()
        .await
        .map(|r| (r.status(), r))
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(raw.headers()["content-type"], "application/json");
    assert_eq!(raw.bytes().await.unwrap().as_ref(), bundles[1].bytes());
    let (_, entry) = admin
        .get(&format!("/api/evidence/{}", bundles[2].bundle_id()))
        .await;
    assert_eq!(entry["seq"], 3);
    let (_, page) = admin
        .get(&format!(
            "/api/sites/{}/evidence?after_seq=1&limit=1",
            appliance.site
        ))
        .await;
    assert_eq!(page.as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page[0]["seq"], 2);

    let (_, listed) = admin
        .get(&format!("/api/appliances/{}", appliance.id))
        .await;
    assert_eq!(listed["agent_version"], "0.1.0");
    assert_eq!(listed["last_checkin_at"], "2026-11-24T12:00:00Z");

    let version = response["rule_set"]["version"].clone();
    let mut body = appliance.checkin_body(&[]);
    body["rule_set_version"] = version;
    let (_, again) = appliance.send(&server, &body).await;
    assert_eq!(again["rule_set"], Value::Null, "same version, no update");
    assert_eq!(again["acknowledged_through_seq"], 3);
}

#[tokio::test]
async fn acknowledged_bundles_can_be_uploaded_again() {
    let (server, _, mut appliance) = setup().await;
    let now = server.clock.now();
    let first = appliance.seal(now);
    let second = appliance.seal(now);
    let third = appliance.seal(now);
    appliance.checkin(&server, &[&first, &second]).await;
    let response = appliance.checkin(&server, &[&first, &second, &third]).await;
    assert_eq!(response["acknowledged_through_seq"], 3, "{response}");
    assert_eq!(response["rejected"], json!([]));
    let response = appliance.checkin(&server, &[&second]).await;
    assert_eq!(response["acknowledged_through_seq"], 3, "{response}");
    assert_eq!(appliance.stored(&server).await.index.len(), 3);
}

#[tokio::test]
async fn a_bad_bundle_signature_is_refused_and_nothing_is_stored() {
    let (server, _, appliance) = setup().await;
    let bundle = appliance.seal_as(
        &appliance.key,
        appliance.site,
        None,
        server.clock.now(),
        "pass",
    );
    let text = String::from_utf8(bundle.bytes().to_vec()).unwrap();
    let sig = text
        .split("\"sig\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let forged = text.replace(sig, &appliance.key.sign_base64(b"something else"));
    let mut body = appliance.checkin_body(&[]);
    body["bundles"] = json!([forged]);
    let (status, response) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(rejection(&response), (0, 1, "bad signature".to_owned()));
    assert_eq!(response["acknowledged_through_seq"], 0);
    assert!(appliance.stored(&server).await.is_empty());

    let other_key = KeyPair::generate().unwrap();
    let foreign = appliance.seal_as(&other_key, appliance.site, None, server.clock.now(), "pass");
    let response = appliance.checkin(&server, &[&foreign]).await;
    assert!(
        rejection(&response).2.starts_with("wrong key"),
        "{response}"
    );
    assert!(appliance.stored(&server).await.is_empty());
}

#[tokio::test]
async fn a_broken_chain_is_refused_and_nothing_is_stored() {
    let (server, _, appliance) = setup().await;
    let bundle = appliance.seal_as(
        &appliance.key,
        appliance.site,
        Some(TestAppliance::bogus_head(0)),
        server.clock.now(),
        "pass",
    );
    let response = appliance.checkin(&server, &[&bundle]).await;
    let (index, seq, reason) = rejection(&response);
    assert_eq!((index, seq), (0, 1));
    assert!(reason.contains("prev_hash"), "{reason}");
    assert!(appliance.stored(&server).await.is_empty());
}

#[tokio::test]
async fn a_broken_link_stops_intake_after_the_good_bundles() {
    let (server, _, mut appliance) = setup().await;
    let now = server.clock.now();
    let good = appliance.seal(now);
    let bad = appliance.seal_as(
        &appliance.key,
        appliance.site,
        Some(TestAppliance::bogus_head(1)),
        now,
        "pass",
    );
    let response = appliance.checkin(&server, &[&good, &bad]).await;
    assert_eq!(response["acknowledged_through_seq"], 1);
    assert_eq!(rejection(&response).0, 1);
    let stored = appliance.stored(&server).await;
    assert_eq!((stored.index.len(), stored.objects.len()), (1, 1));
}

#[tokio::test]
async fn a_replayed_seq_with_other_content_is_refused() {
    let (server, _, mut appliance) = setup().await;
    let now = server.clock.now();
    let original = appliance.seal(now);
    appliance.checkin(&server, &[&original]).await;
    let impostor = appliance.seal_as(&appliance.key, appliance.site, None, now, "fail");
    let response = appliance.checkin(&server, &[&impostor]).await;
    assert_eq!(
        rejection(&response),
        (0, 1, "conflicts with stored seq 1".to_owned())
    );
    assert_eq!(response["acknowledged_through_seq"], 1);
    let stored = appliance.stored(&server).await;
    assert_eq!(stored.index.len(), 1);
    assert_eq!(stored.objects[0].1.as_slice(), original.bytes());
    assert_eq!(stored.index[0].bundle_id, original.bundle_id());
}

#[tokio::test]
async fn a_gap_is_refused_and_nothing_is_stored() {
    let (server, _, mut appliance) = setup().await;
    let now = server.clock.now();
    let _skipped = appliance.seal(now);
    let second = appliance.seal(now);
    let response = appliance.checkin(&server, &[&second]).await;
    let (index, seq, reason) = rejection(&response);
    assert_eq!((index, seq), (0, 2));
    assert!(reason.starts_with("gap"), "{reason}");
    assert!(appliance.stored(&server).await.is_empty());
}

#[tokio::test]
async fn a_bundle_claiming_another_site_is_refused() {
    let (server, _, appliance) = setup().await;
    let bundle = appliance.seal_as(
        &appliance.key,
        SiteId::random(),
        None,
        server.clock.now(),
        "pass",
    );
    let response = appliance.checkin(&server, &[&bundle]).await;
    assert!(
        rejection(&response).2.starts_with("wrong site"),
        "{response}"
    );
    assert!(appliance.stored(&server).await.is_empty());
}

#[tokio::test]
async fn unauthenticated_check_ins_are_refused_with_distinct_codes() {
    let (server, _, mut appliance) = setup().await;
    let bundle = appliance.seal(server.clock.now());
    let body = appliance.checkin_body(&[&bundle]);
    let now = server.clock.now();
    let id = appliance.id.to_string();

    let stranger = ApplianceId::random().to_string();
    let (status, error) = appliance
        .send_as(&stranger, &appliance.key, now, &body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"]["code"], "appliance_unknown");

    let thief = KeyPair::generate().unwrap();
    let (status, error) = appliance.send_as(&id, &thief, now, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"]["code"], "signature_invalid");

    for skew in [Duration::minutes(-6), Duration::minutes(6)] {
        let (status, error) = appliance
            .send_as(&id, &appliance.key, now + skew, &body)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error["error"]["code"], "date_stale");
    }
    let (status, _) = appliance
        .send_as(&id, &appliance.key, now - Duration::minutes(4), &body)
        .await;
    assert_eq!(status, StatusCode::OK, "within the skew is fine");
}

#[tokio::test]
async fn refused_requests_store_nothing() {
    let (server, admin, mut appliance) = setup().await;
    let bundle = appliance.seal(server.clock.now());
    let body = appliance.checkin_body(&[&bundle]);
    let id = appliance.id.to_string();
    let stale = server.clock.now() - Duration::minutes(10);
    assert_eq!(
        appliance.send_as(&id, &appliance.key, stale, &body).await.0,
        StatusCode::UNAUTHORIZED
    );
    let thief = KeyPair::generate().unwrap();
    assert_eq!(
        appliance
            .send_as(&id, &thief, server.clock.now(), &body)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert!(appliance.stored(&server).await.is_empty());
    let (_, row) = admin.get(&format!("/api/appliances/{id}")).await;
    assert_eq!(row["last_checkin_at"], Value::Null, "not even the check-in");
}

#[tokio::test]
async fn the_body_must_name_the_signing_appliance_and_be_valid() {
    let (server, admin, appliance) = setup().await;
    let other = TestAppliance::enrol(&server, &admin, &appliance.site.to_string()).await;
    let mut body = appliance.checkin_body(&[]);
    body["appliance_id"] = json!(other.id);
    let (status, error) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["field"], "appliance_id");
    let mut body = appliance.checkin_body(&[]);
    body["surprise"] = json!(1);
    let (status, error) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["field"], "surprise");
    let mut body = appliance.checkin_body(&[]);
    body["telemetry"] = json!([{"cpu": 3}, 7]);
    let (status, error) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["field"], "telemetry[1]");
}

#[tokio::test]
async fn incidents_are_opened_and_folded_by_dedup_key() {
    let (server, _, appliance) = setup().await;
    let mut body = appliance.checkin_body(&[]);
    body["incidents"] = json!([
        {"check_id": "deb.av.clamav", "severity": "high", "tier": "l1"},
        {"check_id": "deb.av.clamav", "severity": "high", "tier": "l1"},
    ]);
    body["telemetry"] = json!([{"cpu": 0.5}]);
    let (status, response) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(response["incidents"][0]["created"], true);
    assert_eq!(response["incidents"][1]["created"], false);
    assert_eq!(
        response["incidents"][0]["incident_id"],
        response["incidents"][1]["incident_id"]
    );
    body["incidents"] = json!([{"check_id": "no.such.check", "severity": "high", "tier": "l1"}]);
    let (status, error) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["field"], "incidents[0].check_id");
}

#[tokio::test]
async fn a_bundle_dated_in_the_future_is_refused() {
    let (server, _, appliance) = setup().await;
    let later = server.clock.now() + Duration::hours(1);
    let bundle = appliance.seal_as(&appliance.key, appliance.site, None, later, "pass");
    let response = appliance.checkin(&server, &[&bundle]).await;
    assert_eq!(
        rejection(&response),
        (0, 1, "created_at is in the future".to_owned())
    );
    assert!(appliance.stored(&server).await.is_empty());
}

#[tokio::test]
async fn check_ins_beyond_the_site_quota_are_refused_until_capacity_returns() {
    let server = TestServer::start_with(&[
        ("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "2"),
        ("OSIRIS_LIMITS__APPLIANCE_WINDOW_SECS", "300"),
    ])
    .await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let bundle = appliance.seal(server.clock.now());
    let body = appliance.checkin_body(&[&bundle]);
    for _ in 0..2 {
        assert_eq!(appliance.send(&server, &body).await.0, StatusCode::OK);
    }
    let (status, refused) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{refused}");
    assert_eq!(refused["error"]["code"], "rate_limited");
    server.clock.advance(Duration::seconds(151));
    assert_eq!(appliance.send(&server, &body).await.0, StatusCode::OK);
}
