//! Secrets never reach the log: every log line of the test binary (the
//! server at TRACE, libraries at DEBUG) is captured and searched for each
//! secret a busy session handled.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, tenant, user};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once for the whole test binary, a global subscriber that keeps
/// every log line of every test in memory. Global rather than per-thread:
/// tracing caches per call site whether anyone listens, and a thread-local
/// subscriber can miss call sites first reached by other tests.
fn capture_everything() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter("debug,osiris_server=trace")
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this test binary");
            captured
        })
        .clone()
}

#[tokio::test]
async fn passwords_tokens_credentials_and_keys_never_appear_in_logs() {
    let captured = capture_everything();
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let admin_token = admin.token.clone().unwrap();
    let acme = tenant(&admin, "Acme").await;
    let user_password = "a long enough password";
    let partner = user(
        &server,
        &admin,
        "acme-ops",
        "partner",
        json!({"partner_id": acme.partner}),
    )
    .await;
    let (_, wrong) = server
        .anonymous()
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": "guessed-Secret-123"}),
        )
        .await;
    assert_eq!(wrong["error"]["code"], "invalid_credentials");
    let (_, token) = admin
        .post("/api/auth/tokens", json!({"name": "script"}))
        .await;
    let api_token = token["token"].as_str().unwrap().to_owned();
    let credential = "Domain-Admin-Pa55word!";
    let (status, _) = partner
        .post(
            &format!("/api/sites/{}/credentials", acme.site),
            json!({"kind": "winrm_password", "username": "svc", "secret": credential}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let vault_key = std::fs::read_to_string(server.dir.path().join("vault.key")).unwrap();
    let vault_key = vault_key
        .lines()
        .find_map(|line| line.strip_prefix("v1:"))
        .unwrap()
        .to_owned();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("request"),
        "the log captured the requests: {log}"
    );
    assert!(
        log.contains("failed login"),
        "the failed login was logged (without its password)"
    );
    for (what, secret) in [
        ("admin password", server.admin_password.as_str()),
        ("user password", user_password),
        ("guessed password", "guessed-Secret-123"),
        ("session token", admin_token.as_str()),
        ("api token", api_token.as_str()),
        ("credential", credential),
        ("vault key", vault_key.as_str()),
    ] {
        assert!(!log.contains(secret), "the {what} appears in the log");
    }
}
