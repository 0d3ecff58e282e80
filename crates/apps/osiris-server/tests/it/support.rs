//! A server on 127.0.0.1:0 over a temporary SQLite file and a manual
//! clock, and a small JSON client for it.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use osiris_core::ManualClock;
use osiris_server::{Overrides, Running, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

pub(crate) struct TestServer {
    pub(crate) base: String,
    pub(crate) clock: ManualClock,
    pub(crate) admin_password: String,
    pub(crate) running: Running,
    pub(crate) dir: TempDir,
    _stop: oneshot::Sender<()>,
}

pub(crate) fn config_for(dir: &std::path::Path, env: &[(&str, &str)]) -> ServerConfig {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(dir.to_path_buf()),
    };
    // Tests that are not about the appliance quota check in freely.
    let env = [
        ("OSIRIS_TLS__MODE", "off"),
        ("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "1000"),
    ]
    .iter()
    .chain(env)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    ServerConfig::load(None, env, &overrides).unwrap()
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub(crate) async fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = config_for(dir.path(), env);
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let running = osiris_server::start(&config, Arc::new(clock.clone()), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        let admin_password = running
            .first_admin_password
            .as_ref()
            .expect("a first start creates the admin")
            .expose()
            .clone();
        Self {
            base: running.url(),
            clock,
            admin_password,
            running,
            dir,
            _stop: stop,
        }
    }

    pub(crate) fn anonymous(&self) -> Api {
        Api {
            base: self.base.clone(),
            token: None,
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn login(&self, username: &str, password: &str) -> Api {
        let (status, body) = self
            .anonymous()
            .send(
                Method::POST,
                "/api/auth/login",
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login as {username}: {body}");
        Api {
            base: self.base.clone(),
            token: Some(body["token"].as_str().unwrap().to_owned()),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn admin(&self) -> Api {
        self.login("admin", &self.admin_password).await
    }
}

/// A JSON client, optionally with a bearer token.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) base: String,
    pub(crate) token: Option<String>,
    pub(crate) http: reqwest::Client,
}

impl Api {
    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, value)
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// Creates `body` at `path`, asserting 201, and returns its `id`.
    pub(crate) async fn create(&self, path: &str, body: Value) -> String {
        let (status, created) = self.post(path, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {created}");
        created["id"].as_str().unwrap().to_owned()
    }
}

pub(crate) fn settings() -> Value {
    json!({
        "maintenance_window": {"time_zone": "America/Chicago", "starts_at": "02:00", "duration_minutes": 120},
        "healing_mode": "heal"
    })
}

/// A partner with one practice and one site; returns their ids.
pub(crate) async fn tenant(admin: &Api, name: &str) -> Tenant {
    let partner = admin
        .create("/api/partners", json!({"name": format!("{name} IT")}))
        .await;
    let client = admin
        .create(
            "/api/clients",
            json!({"partner_id": partner, "name": format!("{name} Clinic")}),
        )
        .await;
    let site = admin
        .create(
            "/api/sites",
            json!({"client_id": client, "name": "Main", "settings": settings()}),
        )
        .await;
    Tenant {
        partner,
        client,
        site,
    }
}

pub(crate) struct Tenant {
    pub(crate) partner: String,
    pub(crate) client: String,
    pub(crate) site: String,
}

/// Creates a user with `role` (and tenant) and logs in as it.
pub(crate) async fn user(
    server: &TestServer,
    admin: &Api,
    name: &str,
    role: &str,
    tenant: Value,
) -> Api {
    let mut body = json!({"username": name, "role": role, "password": "a long enough password"});
    if let (Some(body), Some(tenant)) = (body.as_object_mut(), tenant.as_object()) {
        body.extend(tenant.clone());
    }
    admin.create("/api/users", body).await;
    server.login(name, "a long enough password").await
}
