//! Test support for every crate that talks to Central Command.
//!
//! [`TestServer`] starts the real `osiris-server` in-process on
//! 127.0.0.1:0 over a temporary data directory (SQLite, local WORM store),
//! on a clock the test chooses ([`TestClock`]), with plain HTTP or its own
//! self-signed TLS (so clients pin its CA as appliances do). [`Api`] is a
//! small JSON client; [`tenant`], [`user`] and [`create_appliance`] set up
//! partners, practices, sites and appliances through the API, and the
//! `Api` read-backs (`evidence`, `orders`, `incidents`, `appliance`) show
//! what the server stored.
//!
//! This crate is only ever a dev-dependency (`cargo xtask check-layers`
//! enforces it): it may depend on anything, and nothing ships it. A failed
//! setup step is a failed test, so it asserts and unwraps.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support: a failed setup step fails the test that called it"
)]

pub mod intake;

pub mod linux;

pub mod memory;

pub mod windows;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound as _, TimeZone as _, Utc};
use osiris_core::{Clock, ManualClock, SystemClock};
use osiris_server::{Overrides, Running, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The instant [`TestServer::start`]'s manual clock starts at.
#[must_use]
pub fn default_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap()
}

/// The server's clock.
#[derive(Debug, Clone)]
pub enum TestClock {
    /// Moves only when the test says.
    Manual(ManualClock),
    /// The wall clock.
    System,
}

impl TestClock {
    /// A manual clock started at the wall clock's current second: for a
    /// server whose TLS certificate a client checks against the real time.
    #[must_use]
    pub fn manual_now() -> Self {
        let now = SystemClock.now();
        Self::Manual(ManualClock::new(
            now.duration_trunc(Duration::seconds(1)).unwrap_or(now),
        ))
    }

    /// A manual clock started at `start`.
    #[must_use]
    pub fn manual_at(start: DateTime<Utc>) -> Self {
        Self::Manual(ManualClock::new(start))
    }

    /// Moves a manual clock forward.
    ///
    /// # Panics
    /// On the system clock, which no test can move.
    pub fn advance(&self, step: Duration) {
        self.manual().advance(step);
    }

    /// Moves a manual clock to `instant`.
    ///
    /// # Panics
    /// On the system clock.
    pub fn set(&self, instant: DateTime<Utc>) {
        self.manual().set(instant);
    }

    fn manual(&self) -> &ManualClock {
        match self {
            Self::Manual(clock) => clock,
            Self::System => panic!("the server runs on the system clock, which a test cannot move"),
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        match self {
            Self::Manual(clock) => clock.now(),
            Self::System => SystemClock.now(),
        }
    }
}

/// How to start a [`TestServer`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// HTTPS with the server's self-signed CA (made on first start in
    /// `<dir>/tls`), or plain HTTP.
    pub https: bool,
    /// The server's clock.
    pub clock: TestClock,
    /// Extra `OSIRIS_*` settings, applied after the test defaults.
    pub env: Vec<(String, String)>,
}

impl ServerOptions {
    /// Plain HTTP on a manual clock at [`default_start`].
    #[must_use]
    pub fn http() -> Self {
        Self {
            https: false,
            clock: TestClock::manual_at(default_start()),
            env: Vec::new(),
        }
    }

    /// HTTPS with the server's own CA, on a manual clock started at the
    /// real time (clients check the certificate against the real clock).
    #[must_use]
    pub fn https() -> Self {
        Self {
            https: true,
            clock: TestClock::manual_now(),
            env: Vec::new(),
        }
    }

    /// Adds a setting.
    #[must_use]
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the clock.
    #[must_use]
    pub fn with_clock(mut self, clock: TestClock) -> Self {
        self.clock = clock;
        self
    }
}

/// The server configuration tests use: listen on 127.0.0.1:0, data in
/// `dir`, plain HTTP and a generous appliance quota unless `env` says
/// otherwise (later entries win).
#[must_use]
pub fn config_for(dir: &Path, env: &[(&str, &str)]) -> ServerConfig {
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

/// Central Command running in this process.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:<port>` or `https://…`.
    pub base: String,
    /// Its clock.
    pub clock: TestClock,
    /// The first admin's password.
    pub admin_password: String,
    /// The running server (its state, address, CA fingerprint).
    pub running: Running,
    /// Its data directory.
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Plain HTTP on a manual clock at [`default_start`].
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`TestServer::start`], with extra settings.
    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let mut options = ServerOptions::http();
        options.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::start_options(options).await
    }

    /// HTTPS with the server's own CA, on a manual clock at the real time.
    pub async fn start_https() -> Self {
        Self::start_options(ServerOptions::https()).await
    }

    /// A server as `options` say.
    pub async fn start_options(options: ServerOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mode = if options.https { "self_signed" } else { "off" };
        let env: Vec<(&str, &str)> = std::iter::once(("OSIRIS_TLS__MODE", mode))
            .chain(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect();
        let config = config_for(dir.path(), &env);
        let clock = options.clock;
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
            stop: Some(stop),
        }
    }

    /// The CA certificate file clients pin (HTTPS only).
    #[must_use]
    pub fn ca_file(&self) -> Option<PathBuf> {
        (self.running.scheme == "https").then(|| self.dir.path().join("tls/ca.pem"))
    }

    /// The CA's SHA-256 fingerprint as the server prints it (HTTPS only).
    #[must_use]
    pub fn ca_fingerprint(&self) -> Option<&str> {
        self.running.ca_fingerprint.as_deref()
    }

    /// A client of this server without credentials.
    #[must_use]
    pub fn anonymous(&self) -> Api {
        Api {
            base: self.base.clone(),
            token: None,
            http: http_client(self.ca_file().as_deref()),
        }
    }

    /// Logs in, asserting success.
    pub async fn login(&self, username: &str, password: &str) -> Api {
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
            token: Some(body["token"].as_str().unwrap().to_owned()),
            ..self.anonymous()
        }
    }

    /// Logs in as the first admin.
    pub async fn admin(&self) -> Api {
        self.login("admin", &self.admin_password).await
    }

    /// Stops the server and waits until it no longer accepts connections.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.running.task).await;
    }
}

/// A reqwest client on rustls with the ring provider, trusting only the
/// CA in `ca_file` (PEM) when given, and no certificate otherwise (for
/// plain HTTP). Tests build every client here: the workspace compiles
/// reqwest without a crypto provider of its own.
#[must_use]
pub fn http_client(ca_file: Option<&Path>) -> reqwest::Client {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_file {
        for cert in CertificateDer::pem_file_iter(path).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

/// A JSON client, optionally with a bearer token.
#[derive(Debug, Clone)]
pub struct Api {
    /// The server's base URL.
    pub base: String,
    /// The bearer token, once logged in.
    pub token: Option<String>,
    /// The HTTP client (trusting the server's CA over HTTPS).
    pub http: reqwest::Client,
}

impl Api {
    /// A request to `path` with the token, if any.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `body` (if any) as JSON; returns the status and the JSON
    /// answer (`Null` when empty).
    pub async fn send(
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

    /// GET.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// Creates `body` at `path`, asserting 201, and returns its `id`.
    pub async fn create(&self, path: &str, body: Value) -> String {
        let (status, created) = self.post(path, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {created}");
        created["id"].as_str().unwrap().to_owned()
    }

    /// GET, asserting 200.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// The evidence index of `site`, oldest first (up to 1000 entries).
    pub async fn evidence(&self, site: &str) -> Vec<Value> {
        as_list(
            self.get_ok(&format!("/api/sites/{site}/evidence?limit=1000"))
                .await,
        )
    }

    /// The bytes the server stored for a bundle, exactly as received.
    pub async fn evidence_raw(&self, bundle_id: &str) -> Vec<u8> {
        let response = self
            .request(Method::GET, &format!("/api/evidence/{bundle_id}/raw"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "raw bundle {bundle_id}");
        response.bytes().await.unwrap().to_vec()
    }

    /// The orders of `site`, newest first.
    pub async fn orders(&self, site: &str) -> Vec<Value> {
        as_list(self.get_ok(&format!("/api/orders?site_id={site}")).await)
    }

    /// Creates an order for `appliance`, asserting 201; returns it.
    pub async fn create_order(&self, appliance: &str, runbook: &str, params: Value) -> Value {
        let (status, order) = self
            .post(
                "/api/orders",
                json!({"appliance_id": appliance, "runbook_id": runbook, "params": params}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "order {runbook}: {order}");
        order
    }

    /// The incidents of `site`.
    pub async fn incidents(&self, site: &str) -> Vec<Value> {
        as_list(
            self.get_ok(&format!("/api/dashboard/incidents?site_id={site}"))
                .await,
        )
    }

    /// An appliance as the server lists it (`claimed`, `public_key`,
    /// `last_checkin_at`, `agent_version`).
    pub async fn appliance(&self, id: &str) -> Value {
        self.get_ok(&format!("/api/appliances/{id}")).await
    }
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => panic!("expected a list: {other}"),
    }
}

/// Site settings every test site gets.
#[must_use]
pub fn settings() -> Value {
    json!({
        "maintenance_window": {"time_zone": "America/Chicago", "starts_at": "02:00", "duration_minutes": 120},
        "healing_mode": "heal"
    })
}

/// A partner with one practice and one site.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The partner's id.
    pub partner: String,
    /// The practice's id.
    pub client: String,
    /// The site's id.
    pub site: String,
}

/// Creates a partner `<name> IT`, its practice `<name> Clinic` and a site.
pub async fn tenant(admin: &Api, name: &str) -> Tenant {
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

/// Creates a user with `role` (and the tenant fields in `tenant`) and logs
/// in as it.
pub async fn user(server: &TestServer, admin: &Api, name: &str, role: &str, tenant: Value) -> Api {
    let mut body = json!({"username": name, "role": role, "password": "a long enough password"});
    if let (Some(body), Some(tenant)) = (body.as_object_mut(), tenant.as_object()) {
        body.extend(tenant.clone());
    }
    admin.create("/api/users", body).await;
    server.login(name, "a long enough password").await
}

/// Creates an appliance at `site` as `operator`, asserting 201; returns
/// its id and one-time claim code.
pub async fn create_appliance(operator: &Api, site: &str, name: &str) -> (String, String) {
    let (status, created) = operator
        .post(
            &format!("/api/sites/{site}/appliances"),
            json!({"name": name}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["appliance"]["claimed"], false);
    (
        created["appliance"]["id"].as_str().unwrap().to_owned(),
        created["claim_code"].as_str().unwrap().to_owned(),
    )
}

/// Creates an appliance at `site` armed with `mac` (any accepted spelling),
/// so that it may claim by MAC within 24 hours; returns its id and claim
/// code.
pub async fn create_appliance_with_mac(
    operator: &Api,
    site: &str,
    name: &str,
    mac: &str,
) -> (String, String) {
    let (status, created) = operator
        .post(
            &format!("/api/sites/{site}/appliances"),
            json!({"name": name, "mac": mac}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["appliance"]["id"].as_str().unwrap().to_owned(),
        created["claim_code"].as_str().unwrap().to_owned(),
    )
}

/// A site with one appliance waiting to be claimed.
#[derive(Debug, Clone)]
pub struct Site {
    /// The first admin, logged in.
    pub admin: Api,
    /// The partner, practice and site.
    pub tenant: Tenant,
    /// The appliance's id.
    pub appliance_id: String,
    /// Its one-time claim code.
    pub claim_code: String,
}

/// Logs in as the admin, creates partner → practice → site → appliance.
pub async fn site_with_appliance(server: &TestServer, name: &str) -> Site {
    let admin = server.admin().await;
    let tenant = tenant(&admin, name).await;
    let (appliance_id, claim_code) =
        create_appliance(&admin, &tenant.site, "Front office appliance").await;
    Site {
        admin,
        tenant,
        appliance_id,
        claim_code,
    }
}
