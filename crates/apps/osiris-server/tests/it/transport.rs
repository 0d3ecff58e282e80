//! HTTPS on the embedded default, and rate limits.

use std::process::Command;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, config_for};

#[tokio::test]
async fn the_embedded_default_serves_https_with_its_own_ca() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &[("OSIRIS_TLS__MODE", "self_signed")]);
    #[expect(
        clippy::disallowed_methods,
        reason = "curl checks the certificate against the real clock"
    )]
    let clock = osiris_core::ManualClock::new(chrono::Utc::now());
    let running = osiris_server::start(&config, Arc::new(clock), std::future::pending())
        .await
        .unwrap();
    assert_eq!(running.scheme, "https");
    let fingerprint = running.ca_fingerprint.clone().unwrap();
    assert_eq!(fingerprint.len(), 64);
    let url = format!("https://localhost:{}/health", running.addr.port());
    let ca = dir.path().join("tls/ca.pem");
    let trusted = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            Command::new("curl")
                .args(["--silent", "--show-error", "--cacert"])
                .arg(&ca)
                .arg(&url)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        trusted.status.success(),
        "{}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(String::from_utf8_lossy(&trusted.stdout).contains("\"database\":\"ok\""));
    let untrusted = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["--silent", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        !untrusted.status.success(),
        "a client without the CA must refuse the certificate"
    );
}

#[tokio::test]
async fn logins_per_username_are_rate_limited_before_the_password_is_checked() {
    let server = TestServer::start_with(&[
        ("OSIRIS_LIMITS__LOGIN_ATTEMPTS", "3"),
        ("OSIRIS_LIMITS__LOGIN_WINDOW_SECS", "60"),
    ])
    .await;
    let anonymous = server.anonymous();
    let right = json!({"username": "admin", "password": server.admin_password});
    for _ in 0..3 {
        assert_eq!(
            anonymous.post("/api/auth/login", right.clone()).await.0,
            StatusCode::OK
        );
    }
    let (status, body) = anonymous.post("/api/auth/login", right.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let (status, _) = anonymous
        .post(
            "/api/auth/login",
            json!({"username": "someone-else", "password": "x"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "other usernames have their own quota"
    );
    server.clock.advance(chrono::Duration::seconds(21));
    assert_eq!(
        anonymous.post("/api/auth/login", right).await.0,
        StatusCode::OK
    );
}
