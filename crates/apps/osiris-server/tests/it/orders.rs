//! Orders: issued by an operator, delivered signed exactly once, their
//! results recorded, expired when never delivered in time.

use chrono::Duration;
use osiris_core::OrderId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fleet::TestAppliance;
use crate::support::{Api, TestServer, tenant, user};

async fn order(operator: &Api, appliance: &TestAppliance) -> String {
    operator
        .create(
            "/api/orders",
            json!({"appliance_id": appliance.id, "runbook_id": "RB-WIN-AV-001"}),
        )
        .await
}

fn results(appliance: &TestAppliance, results: Value) -> Value {
    let mut body = appliance.checkin_body(&[]);
    body["order_results"] = results;
    body
}

#[tokio::test]
async fn an_order_is_delivered_signed_once_and_its_result_recorded() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let operator = user(&server, &admin, "ops", "operator", json!({})).await;
    let id = order(&operator, &appliance).await;
    let (_, issued) = operator.get(&format!("/api/orders/{id}")).await;
    assert_eq!(issued["state"], "pending");
    assert_eq!(issued["expires_at"], "2026-11-24T12:15:00Z");

    let first = appliance.checkin(&server, &[]).await;
    let orders = first["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{first}");
    let delivered = &orders[0];
    assert_eq!(delivered["order_id"], id);
    assert_eq!(delivered["appliance_id"], appliance.id.to_string());
    assert_eq!(delivered["runbook_id"], "RB-WIN-AV-001");
    assert_eq!(delivered["expires_at"], "2026-11-24T12:15:00.000Z");
    assert!(appliance.order_signature_holds(delivered));
    let mut tampered = delivered.clone();
    tampered["runbook_id"] = json!("RB-WIN-AD-001");
    assert!(!appliance.order_signature_holds(&tampered));

    let second = appliance.checkin(&server, &[]).await;
    assert_eq!(second["orders"], json!([]), "delivered once");

    let unknown = OrderId::random().to_string();
    let (status, response) = appliance
        .send(
            &server,
            &results(
                &appliance,
                json!([
                    {"order_id": id, "outcome": "executed", "detail": "ClamAV running"},
                    {"order_id": unknown, "outcome": "failed", "detail": ""},
                ]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(response["rejected_order_results"][0]["order_id"], unknown);
    assert_eq!(
        response["rejected_order_results"].as_array().unwrap().len(),
        1
    );
    let (_, done) = operator.get(&format!("/api/orders/{id}")).await;
    assert_eq!(done["state"], "executed");
    assert_eq!(done["result_detail"], "ClamAV running");
    let (_, listed) = operator.get("/api/orders?state=executed").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, listed) = operator.get("/api/orders?state=pending").await;
    assert_eq!(listed, json!([]));

    let (_, again) = appliance
        .send(
            &server,
            &results(
                &appliance,
                json!([{"order_id": id, "outcome": "failed", "detail": "late"}]),
            ),
        )
        .await;
    assert_eq!(
        again["rejected_order_results"].as_array().unwrap().len(),
        1,
        "a finished order takes no second result: {again}"
    );
}

#[tokio::test]
async fn an_undelivered_order_past_expiry_is_marked_expired() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let id = order(&admin, &appliance).await;
    server.clock.advance(Duration::minutes(16));
    let response = appliance.checkin(&server, &[]).await;
    assert_eq!(response["orders"], json!([]));
    let (_, expired) = admin.get(&format!("/api/orders/{id}")).await;
    assert_eq!(expired["state"], "expired");
}

#[tokio::test]
async fn another_appliances_order_result_is_rejected() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let first = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let second = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let id = order(&admin, &first).await;
    let (_, response) = second
        .send(
            &server,
            &results(
                &second,
                json!([{"order_id": id, "outcome": "executed", "detail": ""}]),
            ),
        )
        .await;
    assert_eq!(
        response["rejected_order_results"][0]["reason"],
        "unknown order"
    );
    let (_, still) = admin.get(&format!("/api/orders/{id}")).await;
    assert_eq!(still["state"], "pending");
}

#[tokio::test]
async fn orders_are_validated_against_the_catalog() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let cases = [
        (json!({"runbook_id": "RB-WIN-NOPE-001"}), "runbook_id"),
        (json!({"runbook_id": "rm -rf"}), "runbook_id"),
        (
            json!({"runbook_id": "RB-WIN-AV-001", "params": {"surprise": 1}}),
            "params",
        ),
        (
            json!({"runbook_id": "RB-WIN-FIREWALL-001", "params": {"revert_after_minutes": 1}}),
            "params.revert_after_minutes",
        ),
    ];
    for (mut body, field) in cases {
        body["appliance_id"] = json!(appliance.id);
        let (status, error) = admin.post("/api/orders", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    assert_eq!(admin.get("/api/orders").await.1, json!([]));
}

#[tokio::test]
async fn another_tenants_orders_are_not_found() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let theirs = TestAppliance::enrol(&server, &admin, &other.site).await;
    let id = order(&admin, &theirs).await;
    let partner = user(
        &server,
        &admin,
        "acme-ops",
        "partner",
        json!({"partner_id": acme.partner}),
    )
    .await;
    assert_eq!(
        partner.get(&format!("/api/orders/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(partner.get("/api/orders").await.1, json!([]));
    let (status, _) = partner
        .post(
            "/api/orders",
            json!({"appliance_id": theirs.id, "runbook_id": "RB-WIN-AV-001"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// An appliance whose site has a Windows and a Debian host.
async fn site_with_hosts(server: &TestServer, admin: &Api) -> TestAppliance {
    let acme = tenant(admin, "Acme").await;
    let appliance = TestAppliance::enrol(server, admin, &acme.site).await;
    let (status, answer) = appliance
        .send(
            server,
            &crate::inventory::with_inventory(&appliance, crate::inventory::clinic_inventory()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    appliance
}

#[tokio::test]
async fn an_order_names_its_target_host_inside_the_signature() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let appliance = site_with_hosts(&server, &admin).await;
    let (status, created) = admin
        .post(
            "/api/orders",
            json!({"appliance_id": appliance.id, "runbook_id": "RB-WIN-AV-001", "target": "DC01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["target"], "DC01");
    let untargeted = order(&admin, &appliance).await;
    let (_, view) = admin.get(&format!("/api/orders/{untargeted}")).await;
    assert_eq!(view["target"], Value::Null);

    let delivered = appliance.checkin(&server, &[]).await;
    let orders = delivered["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2, "{delivered}");
    let targeted = orders
        .iter()
        .find(|o| o["order_id"] == created["id"])
        .unwrap();
    assert_eq!(targeted["target"], "DC01");
    assert!(appliance.order_signature_holds(targeted));
    let mut moved = targeted.clone();
    moved["target"] = json!("web01");
    assert!(
        !appliance.order_signature_holds(&moved),
        "the target is signed"
    );
    let plain = orders.iter().find(|o| o["order_id"] == untargeted).unwrap();
    assert!(
        plain.get("target").is_none(),
        "an order without a target signs as before: {plain}"
    );
    assert!(appliance.order_signature_holds(plain));
    // Both read back with the shared wire type, unknown fields refused.
    for order in orders {
        let read: osiris_proto::SignedOrder = serde_json::from_value(order.clone()).unwrap();
        assert_eq!(read.signature, order["signature"].as_str().unwrap());
    }
}

#[tokio::test]
async fn an_unknown_or_unsuitable_target_is_refused() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let appliance = site_with_hosts(&server, &admin).await;
    for (runbook, target, message) in [
        ("RB-WIN-AV-001", "nowhere", "no host"),
        ("RB-WIN-AV-001", "dc01", "no host"),
        ("RB-WIN-AV-001", "web01", "debian"),
        ("RB-DEB-AV-001", "DC01", "windows"),
    ] {
        let (status, answer) = admin
            .post(
                "/api/orders",
                json!({"appliance_id": appliance.id, "runbook_id": runbook, "target": target}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{target}: {answer}"
        );
        assert_eq!(answer["error"]["field"], "target", "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{answer}"
        );
    }
    let (status, answer) = admin
        .post(
            "/api/orders",
            json!({"appliance_id": appliance.id, "runbook_id": "RB-DEB-AV-001", "target": "web01"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "a Debian runbook suits the Debian host: {answer}"
    );
    let (_, pending) = admin.get("/api/orders?state=pending").await;
    assert_eq!(
        pending.as_array().unwrap().len(),
        1,
        "refusals stored nothing"
    );
}
