//! Two servers sharing one PostgreSQL and one Redis and nothing else: a
//! session made on one works on the other, a login quota is shared, an
//! appliance alternating between them keeps one intact chain, and an order
//! is handed out once.

use std::process::Command;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use osiris_core::ManualClock;
use reqwest::StatusCode;
use serde_json::json;

use osiris_core::Clock as _;

use crate::fleet::TestAppliance;
use crate::support::{Api, config_for, http_client, tenant};

/// A fresh database on the test PostgreSQL, named for this run.
fn fresh_database() -> String {
    let url = std::env::var("OSIRIS_TEST_DATABASE_URL").expect(
        "OSIRIS_TEST_DATABASE_URL must name a PostgreSQL 15+ server (cargo xtask ci sets it); this test never skips",
    );
    let name = format!("osiris_replicas_{}", uuid::Uuid::new_v4().simple());
    let out = Command::new("psql")
        .args([
            url.as_str(),
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("psql is needed to create the test database");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

fn api(base: String, token: Option<String>) -> Api {
    Api {
        base,
        token,
        http: http_client(None),
    }
}

#[tokio::test]
async fn replicas_share_sessions_and_rate_limits_through_postgres_and_redis() {
    let database = fresh_database();
    let redis = std::env::var("OSIRIS_TEST_REDIS_URL")
        .expect("OSIRIS_TEST_REDIS_URL must name a Redis 7 server (cargo xtask ci sets it); this test never skips");
    let vault = "v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let env = [
        ("OSIRIS_DATABASE__URL", database.as_str()),
        ("OSIRIS_LIMITS__REDIS_URL", redis.as_str()),
        ("OSIRIS_LIMITS__LOGIN_ATTEMPTS", "3"),
        ("OSIRIS_VAULT__KEYS", vault),
    ];
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap());
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = osiris_server::start(
        &config_for(dir_a.path(), &env),
        Arc::new(clock.clone()),
        std::future::pending(),
    )
    .await
    .unwrap();
    // Replicas share the signing key as they would share a mounted secret.
    std::fs::copy(
        dir_a.path().join("server-signing.pem"),
        dir_b.path().join("server-signing.pem"),
    )
    .unwrap();
    let b = osiris_server::start(
        &config_for(dir_b.path(), &env),
        Arc::new(clock.clone()),
        std::future::pending(),
    )
    .await
    .unwrap();
    let password = a
        .first_admin_password
        .as_ref()
        .expect("the first replica creates the admin");
    assert!(
        b.first_admin_password.is_none(),
        "the second replica finds the admin already there"
    );

    let (status, login) = api(a.url(), None)
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": password.expose()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let token = login["token"].as_str().unwrap().to_owned();
    let on_b = api(b.url(), Some(token));
    let (status, me) = on_b.get("/api/auth/me").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a session made on A works on B: {me}"
    );

    // A fresh username, so the Redis quota is this run's alone.
    let name = format!("ops-{}", uuid::Uuid::new_v4().simple());
    let (status, _) = on_b
        .post(
            "/api/users",
            json!({"username": name, "role": "operator", "password": "a long enough password"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let login = json!({"username": name, "password": "a long enough password"});
    for (replica, url) in [("A", a.url()), ("B", b.url()), ("A", a.url())] {
        let (status, body) = api(url, None).post("/api/auth/login", login.clone()).await;
        assert_eq!(status, StatusCode::OK, "login {replica}: {body}");
    }
    let (status, body) = api(b.url(), None).post("/api/auth/login", login).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the quota is shared: {body}"
    );

    let site = tenant(&on_b, "Replica").await.site;
    let mut appliance = TestAppliance::enrol_at(&a.url(), &on_b, &site).await;
    let id = appliance.id.to_string();
    for seq in 1..=4_u64 {
        appliance.use_replica(&if seq % 2 == 1 { a.url() } else { b.url() });
        let bundle = appliance.seal(clock.now());
        let body = appliance.checkin_body(&[&bundle]);
        let (status, answer) = appliance
            .send_as(&id, &appliance.key, clock.now(), &body)
            .await;
        assert_eq!(status, StatusCode::OK, "check-in {seq}: {answer}");
        assert_eq!(
            answer["acknowledged_through_seq"], seq,
            "check-in {seq}: {answer}"
        );
        assert_eq!(answer["rejected"], json!([]), "check-in {seq}: {answer}");
    }
    let (_, page) = on_b.get(&format!("/api/sites/{site}/evidence")).await;
    assert_eq!(page.as_array().unwrap().len(), 4, "{page}");

    on_b.create(
        "/api/orders",
        json!({"appliance_id": id, "runbook_id": "RB-WIN-AV-001"}),
    )
    .await;
    let empty = appliance.checkin_body(&[]);
    let mut delivered = 0;
    for replica in [b.url(), a.url(), b.url()] {
        appliance.use_replica(&replica);
        let (status, answer) = appliance
            .send_as(&id, &appliance.key, clock.now(), &empty)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        delivered += answer["orders"].as_array().unwrap().len();
    }
    assert_eq!(delivered, 1, "one order, handed out once across replicas");
}
