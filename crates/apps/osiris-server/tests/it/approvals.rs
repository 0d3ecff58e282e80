//! Decisions on escalated incidents: approve (a signed order to the
//! reporting appliance, carrying the approval) or reject (a signed decision
//! in the next check-in answer, delivered once); refusals name the field;
//! roles; the audit log; an executed approved order resolves the incident.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use osiris_store::TenantScope;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fleet::TestAppliance;
use crate::support::{TestServer, tenant, user};

/// Reports a BitLocker incident on `dc01` and returns its id.
pub(crate) async fn escalated(
    server: &TestServer,
    appliance: &TestAppliance,
    check: &str,
) -> String {
    let mut body = appliance.checkin_body(&[]);
    body["inventory"] = json!([{"hostname": "dc01", "platform": "windows", "address": "10.0.0.5"}]);
    body["incidents"] = json!([{"check_id": check, "hostname": "dc01", "dedup_key": null,
        "severity": "high", "tier": "l3"}]);
    let (status, answer) = appliance.send(server, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["incidents"][0]["incident_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn decision_signature_holds(appliance: &TestAppliance, signed: &Value) -> bool {
    let message = osiris_evidence::canonical::to_vec("decision", &signed["decision"]).unwrap();
    let raw: [u8; 64] = STANDARD
        .decode(signed["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    osiris_evidence::PublicKey::from_base64(&appliance.server_key)
        .unwrap()
        .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&raw))
}

async fn audit_actions(server: &TestServer) -> Vec<Value> {
    server
        .running
        .state
        .store
        .list_audit(&TenantScope::platform(), 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| json!({"action": e.action, "target": e.target, "detail": e.detail}))
        .collect()
}

#[tokio::test]
async fn an_approval_becomes_a_signed_order_carrying_it_and_resolves_the_incident() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let operator = user(&server, &admin, "ops", "operator", json!({})).await;
    let client = user(
        &server,
        &admin,
        "manager",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;
    let incident = escalated(&server, &appliance, "win.encryption.bitlocker").await;
    let approve = format!("/api/incidents/{incident}/approve");

    // Refusals name the field, and change nothing.
    for (body, field) in [
        (
            json!({"runbook_id": "RB-DEB-FIREWALL-002", "params": {}}),
            "runbook_id",
        ),
        (json!({"runbook_id": "RB-WIN-NOPE-001"}), "runbook_id"),
        (json!({"runbook_id": "not an id"}), "runbook_id"),
        (
            json!({"runbook_id": "RB-WIN-ENCRYPTION-001", "params": {"mount_point": 7}}),
            "params.mount_point",
        ),
        (
            json!({"runbook_id": "RB-WIN-ENCRYPTION-001", "params": {"mount_point": "C:"}, "target": "ghost"}),
            "target",
        ),
    ] {
        let (status, answer) = operator.post(&approve, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, answer) = operator
        .post(
            &approve,
            json!({"runbook_id": "RB-WIN-ENCRYPTION-001", "surprise": 1}),
        )
        .await;
    assert!(
        status.is_client_error() && status != StatusCode::NOT_FOUND,
        "{status} {answer}"
    );
    let (status, _) = client
        .post(
            &approve,
            json!({"runbook_id": "RB-WIN-ENCRYPTION-001", "params": {"mount_point": "C:"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a client may not decide");
    let (status, _) = operator
        .get(&format!("/api/incidents/{incident}/decision"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was decided yet");
    assert!(
        appliance.checkin(&server, &[]).await["orders"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let (status, decided) = operator
        .post(
            &approve,
            json!({"runbook_id": "RB-WIN-ENCRYPTION-001", "params": {"mount_point": "C:"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{decided}");
    assert_eq!(decided["decision"], "approved");
    let order_id = decided["order_id"].as_str().unwrap().to_owned();
    let (status, again) = operator
        .post(
            &format!("/api/incidents/{incident}/reject"),
            json!({"reason": "second thoughts"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "one decision per incident: {again}"
    );
    let (status, shown) = client
        .get(&format!("/api/incidents/{incident}/decision"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["decision"], "approved");
    assert_eq!(shown["decided_by"], decided["decided_by"]);

    // Delivered once, signed, on the incident's host, approval inside.
    let answer = appliance.checkin(&server, &[]).await;
    let orders = answer["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{answer}");
    let order = &orders[0];
    assert_eq!(order["order_id"], order_id.as_str());
    assert_eq!(order["target"], "dc01");
    assert_eq!(order["approval"]["incident_id"], incident.as_str());
    assert_eq!(order["approval"]["decided_by"], decided["decided_by"]);
    assert!(appliance.order_signature_holds(order));
    let mut forged = order.clone();
    forged["approval"]["decided_by"] = json!(osiris_core::UserId::random().to_string());
    assert!(
        !appliance.order_signature_holds(&forged),
        "the approval is signed"
    );
    assert!(
        answer.get("decisions").is_none(),
        "no rejection to send: {answer}"
    );

    let audit = audit_actions(&server).await;
    assert!(
        audit.iter().any(|e| e["action"] == "incident.approve"
            && e["target"] == incident.as_str()
            && e["detail"]["order_id"] == order_id.as_str()),
        "{audit:#?}"
    );

    // The executed order resolves the incident.
    let mut body = appliance.checkin_body(&[]);
    body["order_results"] =
        json!([{"order_id": order_id, "outcome": "executed", "detail": "verified"}]);
    let (status, answer) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let incidents = admin
        .get("/api/dashboard/incidents?status=resolved")
        .await
        .1;
    assert!(
        incidents
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == incident.as_str() && i["status"] == "resolved"),
        "{incidents:#}"
    );
}

#[tokio::test]
async fn a_rejection_reaches_the_appliance_signed_once() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let operator = user(&server, &admin, "ops", "operator", json!({})).await;
    let incident = escalated(&server, &appliance, "win.backup.wsb").await;
    let reject = format!("/api/incidents/{incident}/reject");
    for reason in ["", "   ", &"x".repeat(2001)] {
        let (status, answer) = operator.post(&reject, json!({"reason": reason})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["field"], "reason");
    }
    let (status, decided) = operator
        .post(
            &reject,
            json!({"reason": "the backup system is being replaced this week"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{decided}");
    assert_eq!(decided["decision"], "rejected");
    assert_eq!(decided["order_id"], Value::Null);

    let answer = appliance.checkin(&server, &[]).await;
    let decisions = answer["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{answer}");
    let signed = &decisions[0];
    assert_eq!(signed["decision"]["incident_id"], incident.as_str());
    assert_eq!(signed["decision"]["decision"], "rejected");
    assert_eq!(signed["decision"]["check_id"], "win.backup.wsb");
    assert_eq!(signed["decision"]["host"], "dc01");
    assert_eq!(signed["decision"]["appliance_id"], appliance.id.to_string());
    assert!(decision_signature_holds(&appliance, signed));
    let mut forged = signed.clone();
    forged["decision"]["reason"] = json!("something else");
    assert!(!decision_signature_holds(&appliance, &forged));
    assert!(answer["orders"].as_array().unwrap().is_empty());

    let again = appliance.checkin(&server, &[]).await;
    assert!(again.get("decisions").is_none(), "delivered once: {again}");
    let (_, shown) = operator
        .get(&format!("/api/incidents/{incident}/decision"))
        .await;
    assert!(shown["delivered_at"].is_string(), "{shown}");
    let audit = audit_actions(&server).await;
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "incident.reject" && e["target"] == incident.as_str()),
        "{audit:#?}"
    );
}
