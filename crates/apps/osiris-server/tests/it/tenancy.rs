//! Every role against every route that names an object, with objects of
//! another tenant: 404 (or 403 where the route is not for the role), never
//! data. Platform staff are the positive control: the same requests reach
//! the objects for them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use osiris_core::Clock as _;

use crate::fleet::TestAppliance;
use crate::support::{Api, TestServer, settings, tenant, user};

/// The host name tenant B's appliance reports (it carries the marker).
const BRAVO_HOST: &str = "Bravo-DC01";

/// Tenant B's objects, which tenant A's users must never reach.
struct Other {
    /// A host of its site, from its appliance's inventory.
    host: String,
    site: String,
    credential: String,
    user: String,
    auditor: String,
    token: String,
    appliance: String,
    bundle: String,
    order: String,
    incident: String,
    marker: String,
}

async fn other_tenant(server: &TestServer, admin: &Api) -> Other {
    let b = tenant(admin, "Bravo").await;
    let (_, credential) = admin
        .post(
            &format!("/api/sites/{}/credentials", b.site),
            json!({"kind": "ssh_password", "username": "bravo-svc", "secret": "bravo secret"}),
        )
        .await;
    let bravo_user = user(
        server,
        admin,
        "bravo-ops",
        "partner",
        json!({"partner_id": b.partner}),
    )
    .await;
    let (_, me) = bravo_user.get("/api/auth/me").await;
    let (_, token) = bravo_user
        .post("/api/auth/tokens", json!({"name": "bravo script"}))
        .await;
    let (_, auditor) = admin
        .post(
            "/api/users",
            json!({"username": "bravo-auditor", "role": "auditor", "password": "a long enough password"}),
        )
        .await;
    let auditor = auditor["id"].as_str().unwrap().to_owned();
    let mut appliance = TestAppliance::enrol(server, admin, &b.site).await;
    let bundle = appliance.seal(server.clock.now());
    let mut body = appliance.checkin_body(&[&bundle]);
    body["inventory"] =
        json!([{"hostname": BRAVO_HOST, "platform": "windows", "address": "10.9.0.1"}]);
    body["incidents"] = json!([{"check_id": "win.encryption.bitlocker", "hostname": BRAVO_HOST,
        "dedup_key": null, "severity": "high", "tier": "l3"}]);
    let (status, answer) = appliance.send(server, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let incident = answer["incidents"][0]["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let host = answer["hosts"][0]["host_id"].as_str().unwrap().to_owned();
    let order = admin
        .create(
            "/api/orders",
            json!({"appliance_id": appliance.id, "runbook_id": "RB-WIN-AV-001"}),
        )
        .await;
    let (status, _) = admin
        .send(
            Method::PUT,
            &format!("/api/users/{auditor}/sites/{}", b.site),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    Other {
        host,
        site: b.site,
        credential: credential["id"].as_str().unwrap().to_owned(),
        user: me["id"].as_str().unwrap().to_owned(),
        auditor,
        token: token["id"].as_str().unwrap().to_owned(),
        appliance: appliance.id.to_string(),
        bundle: bundle.bundle_id().to_string(),
        order,
        incident,
        marker: "Bravo".to_owned(),
    }
}

fn requests(other: &Other) -> Vec<(Method, String, Option<Value>)> {
    let site = &other.site;
    vec![
        (Method::GET, format!("/api/sites/{site}"), None),
        (Method::PUT, format!("/api/sites/{site}"), Some(settings())),
        (Method::GET, format!("/api/sites/{site}/credentials"), None),
        (
            Method::POST,
            format!("/api/sites/{site}/credentials"),
            Some(json!({"kind": "ssh_password", "username": "x", "secret": "y"})),
        ),
        (
            Method::DELETE,
            format!("/api/credentials/{}", other.credential),
            None,
        ),
        (Method::GET, format!("/api/users/{}", other.user), None),
        (
            Method::PUT,
            format!("/api/users/{}/password", other.user),
            Some(json!({"password": "hijacked password!"})),
        ),
        (
            Method::PUT,
            format!("/api/users/{}/sites/{site}", other.auditor),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/auth/tokens/{}", other.token),
            None,
        ),
        (
            Method::GET,
            format!("/api/appliances/{}", other.appliance),
            None,
        ),
        (
            Method::POST,
            format!("/api/sites/{site}/appliances"),
            Some(json!({"name": "planted", "mac": "02:00:00:00:bb:01"})),
        ),
        (Method::GET, format!("/api/orders/{}", other.order), None),
        (
            Method::GET,
            format!("/api/sites/{site}/evidence/export"),
            None,
        ),
        (
            Method::POST,
            format!("/api/appliances/{}/checkpoint", other.appliance),
            None,
        ),
        (
            Method::POST,
            "/api/orders".to_owned(),
            Some(
                json!({"appliance_id": other.appliance, "runbook_id": "RB-WIN-AV-001",
                        "target": BRAVO_HOST}),
            ),
        ),
        (
            Method::POST,
            format!("/api/incidents/{}/approve", other.incident),
            Some(json!({"runbook_id": "RB-WIN-ENCRYPTION-001", "params": {"mount_point": "C:"}})),
        ),
        (
            Method::POST,
            format!("/api/incidents/{}/reject", other.incident),
            Some(json!({"reason": "not ours to decide"})),
        ),
        (
            Method::GET,
            format!("/api/incidents/{}/decision", other.incident),
            None,
        ),
    ]
}

#[tokio::test]
async fn no_role_reaches_another_tenants_objects() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let a = tenant(&admin, "Alpha").await;
    let other = other_tenant(&server, &admin).await;
    let alpha_auditor = user(&server, &admin, "alpha-auditor", "auditor", json!({})).await;
    let (_, me) = alpha_auditor.get("/api/auth/me").await;
    let auditor_id = me["id"].as_str().unwrap();
    admin
        .send(
            Method::PUT,
            &format!("/api/users/{auditor_id}/sites/{}", a.site),
            None,
        )
        .await;
    let roles = [
        (
            "partner",
            user(
                &server,
                &admin,
                "alpha-ops",
                "partner",
                json!({"partner_id": a.partner}),
            )
            .await,
        ),
        (
            "client",
            user(
                &server,
                &admin,
                "alpha-manager",
                "client",
                json!({"client_id": a.client}),
            )
            .await,
        ),
        ("auditor", alpha_auditor),
    ];
    for (role, api) in &roles {
        for (method, path, body) in requests(&other) {
            let (status, answer) = api.send(method.clone(), &path, body).await;
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "{role} {method} {path}: {status} {answer}"
            );
            assert!(
                answer.get("error").is_some(),
                "{role} {method} {path}: {answer}"
            );
            assert!(
                !answer.to_string().contains(&other.marker),
                "{role} {method} {path} leaked: {answer}"
            );
        }
        for listing in [
            "/api/sites",
            "/api/partners",
            "/api/clients",
            "/api/users",
            "/api/dashboard/fleet",
            "/api/dashboard/incidents",
        ] {
            let (_, answer) = api.get(listing).await;
            assert!(
                !answer.to_string().contains(&other.marker),
                "{role} GET {listing} leaked: {answer}"
            );
            assert!(
                !answer.to_string().contains(&other.site),
                "{role} GET {listing} leaked: {answer}"
            );
        }
    }
    // The positive control: platform staff reach every one of those objects.
    let (status, site) = admin.get(&format!("/api/sites/{}", other.site)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(site["id"], other.site.as_str());
    for path in [
        format!("/api/appliances/{}", other.appliance),
        format!("/api/evidence/{}", other.bundle),
        format!("/api/orders/{}", other.order),
    ] {
        assert_eq!(admin.get(&path).await.0, StatusCode::OK, "{path}");
    }
    let (status, _) = admin.get(&format!("/api/users/{}", other.user)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = admin
        .get(&format!("/api/sites/{}/credentials", other.site))
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// An appliance's scope is its own site: another tenant's hosts cannot be
/// named in its incidents, by id or by name, and never appear in its
/// answer; its inventory lands at its own site even when the names clash.
#[tokio::test]
async fn an_appliance_never_reaches_another_sites_hosts() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let a = tenant(&admin, "Alpha").await;
    let other = other_tenant(&server, &admin).await;
    let appliance = TestAppliance::enrol(&server, &admin, &a.site).await;
    for (report, field) in [
        (json!({"host_id": other.host}), "incidents[0].host_id"),
        (json!({"hostname": BRAVO_HOST}), "incidents[0].hostname"),
    ] {
        let mut body = appliance.checkin_body(&[]);
        let mut incident = json!({"check_id": "win.av.defender", "severity": "high", "tier": "l1"});
        incident
            .as_object_mut()
            .unwrap()
            .extend(report.as_object().unwrap().clone());
        body["incidents"] = json!([incident]);
        let (status, answer) = appliance.send(&server, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
        assert!(!answer.to_string().contains(&other.host), "{answer}");
    }
    let mut body = appliance.checkin_body(&[]);
    body["inventory"] =
        json!([{"hostname": BRAVO_HOST, "platform": "debian", "address": "10.1.0.1"}]);
    let (status, answer) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let hosts = answer["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{answer}");
    assert_ne!(hosts[0]["host_id"], other.host.as_str(), "its own host");
    let theirs = server
        .running
        .state
        .store
        .get_host(
            &osiris_store::TenantScope::platform(),
            other.host.parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        theirs.platform,
        osiris_store::Platform::Windows,
        "untouched"
    );
    assert_eq!(theirs.address, "10.9.0.1");
}
