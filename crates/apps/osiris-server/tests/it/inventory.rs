//! Inventory at check-in: the appliance's hosts become the site's hosts
//! (added, or updated by host name), come back with their ids, and
//! incidents may name a host by host name.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fleet::TestAppliance;
use crate::support::{TestServer, tenant};

pub(crate) fn with_inventory(appliance: &TestAppliance, inventory: Value) -> Value {
    let mut body = appliance.checkin_body(&[]);
    body["inventory"] = inventory;
    body
}

pub(crate) fn clinic_inventory() -> Value {
    json!([
        {"hostname": "DC01", "platform": "windows", "address": "10.0.0.10"},
        {"hostname": "web01", "platform": "debian", "address": "web01.clinic.internal"},
        {"hostname": "db_01", "platform": "rhel", "address": "fe80::1%eth0"},
    ])
}

/// The `hosts` of a check-in answer as (hostname, host_id) pairs.
pub(crate) fn hosts(answer: &Value) -> Vec<(String, String)> {
    answer["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["hostname"].as_str().unwrap().to_owned(),
                h["host_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn host_id(answer: &Value, name: &str) -> String {
    hosts(answer)
        .into_iter()
        .find(|(hostname, _)| hostname == name)
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("{name} missing from {answer}"))
}

#[tokio::test]
async fn the_inventory_becomes_the_sites_hosts_and_known_hosts_keep_their_ids() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;

    let (status, before) = appliance.send(&server, &appliance.checkin_body(&[])).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["hosts"], json!([]));

    let (status, first) = appliance
        .send(&server, &with_inventory(&appliance, clinic_inventory()))
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let names: Vec<String> = hosts(&first).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["DC01", "db_01", "web01"], "by host name");
    let dc01 = host_id(&first, "DC01");

    // Moved to another address: the same host, updated.
    let (status, second) = appliance
        .send(
            &server,
            &with_inventory(
                &appliance,
                json!([{"hostname": "DC01", "platform": "windows", "address": "10.0.0.11"}]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(host_id(&second, "DC01"), dc01);
    assert_eq!(hosts(&second).len(), 3, "hosts left out are kept");
    let stored = server
        .running
        .state
        .store
        .get_host(
            &osiris_store::TenantScope::platform(),
            dc01.parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(stored.address, "10.0.0.11");

    // Without an inventory the hosts still come back.
    let (_, third) = appliance.send(&server, &appliance.checkin_body(&[])).await;
    assert_eq!(hosts(&third), hosts(&second));
}

#[tokio::test]
async fn incidents_name_hosts_by_host_name_even_ones_the_same_check_in_adds() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;

    let mut body = with_inventory(&appliance, clinic_inventory());
    body["incidents"] = json!([
        {"check_id": "win.av.defender", "hostname": "DC01", "severity": "high", "tier": "l1"},
    ]);
    let (status, first) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["incidents"][0]["created"], true);
    let dc01 = host_id(&first, "DC01");
    let incident = server
        .running
        .state
        .store
        .get_incident(
            &osiris_store::TenantScope::platform(),
            first["incidents"][0]["incident_id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        incident.host_id.map(|id| id.to_string()),
        Some(dc01.clone())
    );

    // The same failure by host id, or by both: one open incident.
    let mut body = appliance.checkin_body(&[]);
    body["incidents"] = json!([
        {"check_id": "win.av.defender", "host_id": dc01, "severity": "high", "tier": "l1"},
        {"check_id": "win.av.defender", "host_id": dc01, "hostname": "DC01",
         "severity": "high", "tier": "l1"},
    ]);
    let (status, again) = appliance.send(&server, &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["incidents"][0]["created"], false, "{again}");
    assert_eq!(again["incidents"][1]["created"], false, "{again}");
    assert_eq!(
        again["incidents"][0]["incident_id"],
        first["incidents"][0]["incident_id"]
    );
}

#[tokio::test]
async fn a_bad_inventory_or_host_name_is_refused_whole_naming_the_field() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let (_, known) = appliance
        .send(&server, &with_inventory(&appliance, clinic_inventory()))
        .await;
    let dc01 = host_id(&known, "DC01");
    let web01 = host_id(&known, "web01");

    let good = json!({"hostname": "new01", "platform": "windows", "address": "10.0.0.50"});
    let cases = [
        (
            json!([good, {"hostname": "bad host", "platform": "windows", "address": "x"}]),
            json!([]),
            "inventory[1].hostname",
        ),
        (
            json!([good, {"hostname": "-dash", "platform": "windows", "address": "x"}]),
            json!([]),
            "inventory[1].hostname",
        ),
        (
            json!([good, {"hostname": "x".repeat(254), "platform": "windows", "address": "x"}]),
            json!([]),
            "inventory[1].hostname",
        ),
        (json!([good, good]), json!([]), "inventory[1].hostname"),
        (
            json!([{"hostname": "new01", "platform": "linux", "address": "x"}]),
            json!([]),
            "inventory[0].platform",
        ),
        (
            json!([{"hostname": "new01", "platform": "windows", "address": "10.0.0.50 evil"}]),
            json!([]),
            "inventory[0].address",
        ),
        (
            json!([{"hostname": "new01", "platform": "windows", "address": ""}]),
            json!([]),
            "inventory[0].address",
        ),
        (
            json!([good]),
            json!([{"check_id": "win.av.defender", "hostname": "nowhere",
                    "severity": "high", "tier": "l1"}]),
            "incidents[0].hostname",
        ),
        (
            json!([good]),
            json!([{"check_id": "win.av.defender", "host_id": dc01, "hostname": "web01",
                    "severity": "high", "tier": "l1"}]),
            "incidents[0].hostname",
        ),
        (
            // A host added by this very check-in has no id yet to agree with.
            json!([good]),
            json!([{"check_id": "win.av.defender", "host_id": web01, "hostname": "new01",
                    "severity": "high", "tier": "l1"}]),
            "incidents[0].hostname",
        ),
    ];
    for (inventory, incidents, field) in cases {
        let mut body = with_inventory(&appliance, inventory);
        body["incidents"] = incidents;
        let (status, answer) = appliance.send(&server, &body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (_, after) = appliance.send(&server, &appliance.checkin_body(&[])).await;
    assert_eq!(hosts(&after), hosts(&known), "nothing stored");
    assert_eq!(admin.incidents(&acme.site).await, Vec::<Value>::new());

    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"hostname": format!("h{i}"), "platform": "windows", "address": "x"}))
        .collect();
    let (status, answer) = appliance
        .send(&server, &with_inventory(&appliance, json!(too_many)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "inventory");
}
