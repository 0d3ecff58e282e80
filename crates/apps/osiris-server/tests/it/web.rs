//! The dashboard's pages, driven as a browser without JavaScript drives
//! them: plain GETs, form posts and redirects, cookies carried by hand.
//! Rendered pages are compared with golden files under `tests/data/web/`
//! after ids, times and tokens are redacted (`OSIRIS_UPDATE_GOLDEN=1`
//! rewrites them).

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use osiris_core::{BundleId, Clock as _, IncidentId, SiteId};
use osiris_evidence::{BundleDraft, Kind, SealedBundle, Sealer};
use osiris_store::{NewIncident, Severity, TenantScope, Tier};
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::fleet::TestAppliance;
use crate::inventory::with_inventory;
use osiris_testkit::Tenant;

use crate::support::{Api, TestServer, settings, tenant, user};

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
pub(crate) const PASSWORD: &str = "a long enough password";

/// A browser: no redirects followed, cookies sent by hand.
pub(crate) struct Browser {
    base: String,
    http: reqwest::Client,
    session: Option<String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    /// The value of cookie `name` set by this response.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all(SET_COOKIE).iter().find_map(|value| {
            let value = value.to_str().unwrap();
            let (pair, _) = value.split_once(';').unwrap_or((value, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }

    /// The value of the hidden form field `name`.
    pub(crate) fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap() + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }
}

impl Browser {
    fn new(server: &TestServer) -> Self {
        Self {
            base: server.base.clone(),
            http: reqwest::Client::builder()
                .tls_backend_preconfigured(
                    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                        rustls::crypto::ring::default_provider(),
                    ))
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
                )
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            session: None,
        }
    }

    pub(crate) async fn request(
        &self,
        method: Method,
        path: &str,
        cookies: &[(&str, &str)],
        form: Option<&[(&str, &str)]>,
    ) -> Page {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        let mut jar: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Some(session) = &self.session {
            jar.push(format!("osiris_session={session}"));
        }
        if !jar.is_empty() {
            request = request.header("cookie", jar.join("; "));
        }
        if let Some(form) = form {
            let body: String = form
                .iter()
                .map(|(k, v)| format!("{k}={}", urlencode(v)))
                .collect::<Vec<_>>()
                .join("&");
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.unwrap();
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Page {
        self.request(Method::GET, path, &[], None).await
    }

    /// Posts a form that needs a reason: a blank one comes back 422 naming
    /// the field, then `reason` goes through (303).
    pub(crate) async fn post_with_reason(&self, path: &str, csrf: &str, reason: &str) {
        let blank = [("csrf", csrf), ("reason", "  ")];
        let empty = self.request(Method::POST, path, &[], Some(&blank)).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            empty.body.contains("<strong>reason</strong>"),
            "{}",
            empty.body
        );
        let given = [("csrf", csrf), ("reason", reason)];
        let done = self.request(Method::POST, path, &[], Some(&given)).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }

    /// Logs in through the form, asserting the redirect to the fleet.
    pub(crate) async fn log_in(server: &TestServer, username: &str, password: &str) -> Self {
        let mut browser = Self::new(server);
        let form = browser.get("/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let token = form.cookie("osiris_login").unwrap();
        let csrf = form.field("csrf");
        let done = browser
            .request(
                Method::POST,
                "/login",
                &[("osiris_login", &token)],
                Some(&[
                    ("username", username),
                    ("password", password),
                    ("csrf", &csrf),
                ]),
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location(), "/");
        browser.session = Some(done.cookie("osiris_session").unwrap());
        browser
    }
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Replaces ids, times and tokens so pages can be compared with golden
/// files.
fn redact(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let chars: Vec<char> = html.chars().collect();
    let mut i = 0;
    let is_uuid = |s: &[char]| {
        s.len() == 36
            && s.iter().enumerate().all(|(n, c)| {
                if matches!(n, 8 | 13 | 18 | 23) {
                    *c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    };
    let is_time = |s: &[char]| {
        // 2026-11-24 12:00 UTC
        s.len() == 20
            && s.iter().enumerate().all(|(n, c)| match n {
                4 | 7 => *c == '-',
                10 | 16 => *c == ' ',
                13 => *c == ':',
                17 => *c == 'U',
                18 => *c == 'T',
                19 => *c == 'C',
                _ => c.is_ascii_digit(),
            })
    };
    // A learning pattern's id: 24 hex digits between non-hex characters.
    let is_pattern = |i: usize| {
        let hex = |c: &char| c.is_ascii_digit() || ('a'..='f').contains(c);
        chars.get(i..i + 24).is_some_and(|s| s.iter().all(hex))
            && (i == 0 || !chars[i - 1].is_ascii_alphanumeric())
            && chars.get(i + 24).is_none_or(|c| !c.is_ascii_alphanumeric())
    };
    while i < chars.len() {
        if is_pattern(i) {
            out.push_str("[pattern]");
            i += 24;
        } else if chars.get(i..i + 36).is_some_and(is_uuid) {
            out.push_str("[id]");
            i += 36;
        } else if chars.get(i..i + 20).is_some_and(is_time) {
            out.push_str("[time]");
            i += 20;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    let mut redacted = String::new();
    for line in out.lines() {
        let line = match (line.find("osiris-"), line.find(".css")) {
            (Some(start), Some(end)) if start < end => {
                format!("{}osiris-[hash]{}", &line[..start], &line[end..])
            }
            _ => line.to_owned(),
        };
        let line = match line.find("name=\"csrf\" value=\"") {
            Some(start) => {
                let start = start + "name=\"csrf\" value=\"".len();
                let end = start + line[start..].find('"').unwrap();
                format!("{}[csrf]{}", &line[..start], &line[end..])
            }
            None => line,
        };
        redacted.push_str(&line);
        redacted.push('\n');
    }
    redacted
}

/// Compares `html`, redacted, with `tests/data/web/<name>.html`.
fn golden(name: &str, html: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/web")
        .join(format!("{name}.html"));
    let actual = redact(html);
    if std::env::var_os("OSIRIS_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run with OSIRIS_UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs; rerun with OSIRIS_UPDATE_GOLDEN=1 if the change is intended",
        path.display()
    );
}

fn check_bundle(
    appliance: &mut TestAppliance,
    at: DateTime<Utc>,
    host: &str,
    check: &str,
    outcome: &str,
) -> SealedBundle {
    let mut sealer = Sealer::new(&appliance.key, appliance.site, appliance.id, appliance.head);
    let sealed = sealer
        .seal(&BundleDraft {
            bundle_id: BundleId::random(),
            created_at: at,
            kind: Kind::Check,
            host: host.to_owned(),
            hipaa: vec!["164.308(a)(5)(ii)(B)".parse().unwrap()],
            outcome: outcome.to_owned(),
            detail: json!({"check_id": check, "tier": "l1"}),
            artifacts: vec![],
        })
        .unwrap();
    appliance.head = sealer.head();
    sealed
}

/// An L1 remediation of `check` on `host`: the rule chose the runbook, it
/// ran, and the re-run check passed.
fn remediation_bundle(
    appliance: &mut TestAppliance,
    at: DateTime<Utc>,
    host: &str,
    check: &str,
) -> SealedBundle {
    let mut sealer = Sealer::new(&appliance.key, appliance.site, appliance.id, appliance.head);
    let sealed = sealer
        .seal(&BundleDraft {
            bundle_id: BundleId::random(),
            created_at: at,
            kind: Kind::Remediation,
            host: host.to_owned(),
            hipaa: vec!["164.308(a)(5)(ii)(B)".parse().unwrap()],
            outcome: "success".to_owned(),
            detail: json!({
                "check_id": check,
                "tier": "l1",
                "rule_id": "L1-AV-001",
                "runbook_id": "RB-WIN-AV-001",
                "ending": "verified",
                "verification": [{"check_id": check, "outcome": "pass", "failed": 0, "unknown": 0}],
            }),
            artifacts: vec![],
        })
        .unwrap();
    appliance.head = sealer.head();
    sealed
}

async fn incident(server: &TestServer, site: &str, check: &str, severity: Severity, tier: Tier) {
    let site = SiteId::from_str(site).unwrap();
    server
        .running
        .state
        .store
        .report_incident(
            &TenantScope::platform(),
            &NewIncident {
                id: IncidentId::random(),
                site_id: site,
                host_id: None,
                check_id: check.to_owned(),
                dedup_key: format!("{site}:{check}"),
                severity,
                tier,
            },
            server.clock.now(),
        )
        .await
        .unwrap();
}

/// Two tenants: Acme with an appliance, two hosts, a week of check results
/// and incidents; Other with one incident.
pub(crate) struct Fleet {
    pub(crate) server: TestServer,
    pub(crate) admin: Api,
    pub(crate) acme: Tenant,
    pub(crate) other: Tenant,
    pub(crate) appliance: osiris_core::ApplianceId,
}

/// A second partner whose practice's one site is called "Annex" (sites
/// are listed by name, so golden files stay in order).
async fn annex(admin: &Api) -> Tenant {
    let partner = admin
        .create("/api/partners", json!({"name": "Other IT"}))
        .await;
    let client = admin
        .create(
            "/api/clients",
            json!({"partner_id": partner, "name": "Other Clinic"}),
        )
        .await;
    let site = admin
        .create(
            "/api/sites",
            json!({"client_id": client, "name": "Annex", "settings": settings()}),
        )
        .await;
    Tenant {
        partner,
        client,
        site,
    }
}

pub(crate) async fn fleet() -> Fleet {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = annex(&admin).await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let inventory = json!([
        {"hostname": "DC01", "platform": "windows", "address": "10.0.0.10"},
        {"hostname": "web01", "platform": "debian", "address": "10.0.0.20"},
    ]);
    let (status, body) = appliance
        .send(&server, &with_inventory(&appliance, inventory))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now = server.clock.now();
    let mut bundles = Vec::new();
    for day in (0..7).rev() {
        let at = now - Duration::days(day) - Duration::hours(1);
        let outcome = if day % 3 == 0 { "fail" } else { "pass" };
        bundles.push(check_bundle(
            &mut appliance,
            at,
            "DC01",
            "win.av.defender",
            outcome,
        ));
        bundles.push(check_bundle(
            &mut appliance,
            at,
            "DC01",
            "win.backup.wsb",
            "pass",
        ));
    }
    bundles.push(check_bundle(
        &mut appliance,
        now - Duration::hours(2),
        "web01",
        "deb.av.clamav",
        "fail",
    ));
    bundles.push(remediation_bundle(
        &mut appliance,
        now - Duration::minutes(30),
        "DC01",
        "win.av.defender",
    ));
    appliance
        .checkin(&server, &bundles.iter().collect::<Vec<_>>())
        .await;
    let (status, order) = admin
        .post(
            "/api/orders",
            json!({"appliance_id": appliance.id, "runbook_id": "RB-WIN-AV-001"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    incident(
        &server,
        &acme.site,
        "win.av.defender",
        Severity::High,
        Tier::L1,
    )
    .await;
    incident(
        &server,
        &acme.site,
        "win.bitlocker",
        Severity::Critical,
        Tier::L3,
    )
    .await;
    incident(
        &server,
        &other.site,
        "deb.ssh.root",
        Severity::Medium,
        Tier::L2,
    )
    .await;
    Fleet {
        server,
        admin,
        acme,
        other,
        appliance: appliance.id,
    }
}

#[tokio::test]
async fn pages_need_a_session_and_carry_the_security_headers() {
    let server = TestServer::start().await;
    let browser = Browser::new(&server);
    for path in [
        "/",
        "/incidents",
        "/orders",
        "/sites/00000000-0000-0000-0000-000000000000",
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), "/login", "{path}");
        assert_eq!(page.headers[CONTENT_SECURITY_POLICY], CSP, "{path}");
    }
    let login = browser.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.headers[CONTENT_SECURITY_POLICY], CSP);
    assert_eq!(login.headers["x-content-type-options"], "nosniff");
    assert_eq!(login.headers["referrer-policy"], "same-origin");
    assert_eq!(login.headers["cache-control"], "no-store");
    assert!(
        login.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(!login.body.contains("<script"), "no JavaScript");
    assert!(
        !login.body.contains("style="),
        "no inline styles under the CSP"
    );
    // The form posts without JavaScript.
    assert!(
        login
            .body
            .contains("<form class=\"login\" method=\"post\" action=\"/login\">")
    );
    golden("login", &login.body);

    let start = login.body.find("/static/osiris-").unwrap();
    let end = start + login.body[start..].find('"').unwrap();
    let css = browser.get(&login.body[start..end]).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        css.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.headers[CONTENT_SECURITY_POLICY], CSP);
    let stale = browser.get("/static/osiris-0000000000000000.css").await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
    assert!(stale.body.contains("<h1>Not found</h1>"), "{}", stale.body);
}

#[tokio::test]
async fn the_login_form_checks_its_token_and_logout_needs_the_sessions() {
    let server = TestServer::start().await;
    let browser = Browser::new(&server);
    let form = browser.get("/login").await;
    let token = form.cookie("osiris_login").unwrap();
    let csrf = form.field("csrf");
    assert_eq!(token, csrf);
    let password = server.admin_password.clone();

    // Without the cookie the form's token proves nothing (login CSRF).
    let forged = browser
        .request(
            Method::POST,
            "/login",
            &[],
            Some(&[
                ("username", "admin"),
                ("password", &password),
                ("csrf", &csrf),
            ]),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.cookie("osiris_session").is_none());
    assert!(forged.body.contains("The form expired"), "{}", forged.body);

    let wrong = browser
        .request(
            Method::POST,
            "/login",
            &[("osiris_login", &token)],
            Some(&[
                ("username", "admin"),
                ("password", "not it"),
                ("csrf", &csrf),
            ]),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.body.contains("Wrong username or password."),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("value=\"admin\""),
        "the username stays filled in"
    );
    assert!(wrong.cookie("osiris_session").is_none());

    let browser = Browser::log_in(&server, "admin", &password).await;
    let fleet = browser.get("/").await;
    assert_eq!(fleet.status, StatusCode::OK, "{}", fleet.body);
    assert!(fleet.body.contains("admin (admin)"));
    let logout_csrf = fleet.field("csrf");

    let refused = browser
        .request(Method::POST, "/logout", &[], Some(&[("csrf", "forged")]))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        browser.get("/").await.status,
        StatusCode::OK,
        "still logged in"
    );

    let out = browser
        .request(
            Method::POST,
            "/logout",
            &[],
            Some(&[("csrf", &logout_csrf)]),
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/login");
    assert_eq!(out.cookie("osiris_session").as_deref(), Some(""));
    let after = browser.get("/").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the session ended");
    assert_eq!(after.location(), "/login");
}

#[tokio::test]
async fn the_fleet_site_incident_and_order_pages_render_as_recorded() {
    let fleet = fleet().await;
    let server = &fleet.server;
    let browser = Browser::log_in(server, "admin", &server.admin_password).await;

    let overview = browser.get("/").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert!(overview.body.contains("<svg class=\"spark\" role=\"img\""));
    golden("fleet", &overview.body);

    let site = browser.get(&format!("/sites/{}", fleet.acme.site)).await;
    assert_eq!(site.status, StatusCode::OK, "{}", site.body);
    golden("site", &site.body);

    let incidents = browser
        .get(&format!(
            "/incidents?site={}&severity=&tier=&state=open",
            fleet.acme.site
        ))
        .await;
    assert_eq!(incidents.status, StatusCode::OK, "{}", incidents.body);
    golden("incidents", &incidents.body);
    let critical = browser.get("/incidents?severity=critical").await;
    assert!(critical.body.contains("win.bitlocker"));
    assert!(!critical.body.contains("win.av.defender"));
    let l2 = browser.get("/incidents?tier=l2").await;
    assert!(l2.body.contains("deb.ssh.root"));
    assert!(!l2.body.contains("win.bitlocker"));
    let resolved = browser.get("/incidents?state=resolved").await;
    assert!(resolved.body.contains("No incidents match."));
    let bad = browser.get("/incidents?tier=l9").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let orders = browser.get("/orders").await;
    assert_eq!(orders.status, StatusCode::OK, "{}", orders.body);
    golden("orders", &orders.body);
    let expired = browser.get("/orders?state=expired").await;
    assert!(
        expired.body.contains("No expired orders."),
        "{}",
        expired.body
    );
    assert_eq!(
        browser.get("/orders?state=lost").await.status,
        StatusCode::BAD_REQUEST
    );
    let _ = &fleet.admin;
}

#[tokio::test]
async fn partner_and_client_users_see_only_their_own_tenant() {
    let fleet = fleet().await;
    let server = &fleet.server;
    user(
        server,
        &fleet.admin,
        "acme-partner",
        "partner",
        json!({"partner_id": fleet.acme.partner}),
    )
    .await;
    user(
        server,
        &fleet.admin,
        "acme-client",
        "client",
        json!({"client_id": fleet.acme.client}),
    )
    .await;
    user(
        server,
        &fleet.admin,
        "other-client",
        "client",
        json!({"client_id": fleet.other.client}),
    )
    .await;
    fleet
        .admin
        .post(
            "/api/sites",
            json!({"client_id": fleet.other.client, "name": "Other Annex", "settings": settings()}),
        )
        .await;

    for name in ["acme-partner", "acme-client"] {
        let browser = Browser::log_in(server, name, PASSWORD).await;
        let home = if name == "acme-client" {
            let landing = browser.get("/").await;
            assert_eq!(landing.status, StatusCode::SEE_OTHER, "{name}");
            assert_eq!(landing.location(), "/portal", "{name}");
            "/portal"
        } else {
            "/"
        };
        let overview = browser.get(home).await;
        assert_eq!(overview.status, StatusCode::OK, "{name}");
        assert!(overview.body.contains(&fleet.acme.site), "{name}");
        assert!(!overview.body.contains(&fleet.other.site), "{name}");
        assert!(!overview.body.contains("Other Annex"), "{name}");
        let theirs = browser.get(&format!("/sites/{}", fleet.other.site)).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{name}");
        assert!(theirs.body.contains("<h1>Not found</h1>"), "{name}");
        let missing = browser.get(&format!("/sites/{}", SiteId::random())).await;
        assert_eq!(
            missing.status,
            StatusCode::NOT_FOUND,
            "{name}: same as missing"
        );
        assert_eq!(missing.body, theirs.body, "{name}: indistinguishable");
        let filtered = browser
            .get(&format!("/incidents?site={}", fleet.other.site))
            .await;
        assert_eq!(filtered.status, StatusCode::NOT_FOUND, "{name}");
        let incidents = browser.get("/incidents?state=all").await;
        assert!(incidents.body.contains("win.bitlocker"), "{name}");
        assert!(!incidents.body.contains("deb.ssh.root"), "{name}");
        let own = browser.get(&format!("/sites/{}", fleet.acme.site)).await;
        assert_eq!(own.status, StatusCode::OK, "{name}");
    }
    let other = Browser::log_in(server, "other-client", PASSWORD).await;
    let theirs = other.get(&format!("/sites/{}", fleet.acme.site)).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let overview = other.get("/portal").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("Other Annex"));
    assert!(!overview.body.contains(&fleet.acme.site));

    // Auditors see evidence only, not the dashboard.
    let api = user(server, &fleet.admin, "auditor", "auditor", json!({})).await;
    let auditor = Browser::log_in(server, "auditor", PASSWORD).await;
    let landing = auditor.get("/").await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER);
    assert_eq!(landing.location(), "/audit");
    for path in ["/incidents", "/orders", "/portal"] {
        assert_eq!(
            auditor.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let site = auditor.get(&format!("/sites/{}", fleet.acme.site)).await;
    assert_eq!(site.status, StatusCode::FORBIDDEN);
    let before = auditor.get("/audit").await;
    assert!(before.body.contains("No site has been granted to you yet."));
    let (_, me) = api.get("/api/auth/me").await;
    let (status, body) = fleet
        .admin
        .put(
            &format!(
                "/api/users/{}/sites/{}",
                me["id"].as_str().unwrap(),
                fleet.acme.site
            ),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    let audit = auditor.get("/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(audit.body.contains(&fleet.acme.site));
    assert!(!audit.body.contains(&fleet.other.site));
    assert!(!audit.body.contains("href=\"/incidents\""), "evidence only");
    let key = server.running.state.server_key.public_key();
    assert!(audit.body.contains(&key.to_base64()), "the key to confirm");
    let page = audit
        .body
        .replace(&key.to_base64(), "[server key]")
        .replace(&key.key_id().to_string(), "[key id]");
    golden("audit", &page);
    // The export link works with the session cookie alone.
    let export = auditor
        .get(&format!("/api/sites/{}/evidence/export", fleet.acme.site))
        .await;
    assert_eq!(export.status, StatusCode::OK);
}

#[tokio::test]
async fn the_client_portal_shows_its_practice_by_safeguard() {
    let fleet = fleet().await;
    let server = &fleet.server;
    user(
        server,
        &fleet.admin,
        "acme-client",
        "client",
        json!({"client_id": fleet.acme.client}),
    )
    .await;
    let browser = Browser::log_in(server, "acme-client", PASSWORD).await;
    let portal = browser.get("/portal").await;
    assert_eq!(portal.status, StatusCode::OK, "{}", portal.body);
    assert!(portal.body.contains("Compliance of Acme Clinic"));
    assert!(portal.body.contains("Technical safeguards (164.312)"));
    assert!(portal.body.contains("<svg class=\"bars\" role=\"img\""));
    assert!(!portal.body.contains("Annex"), "another practice");
    golden("portal", &portal.body);
}

#[tokio::test]
async fn names_are_escaped() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let (status, body) = admin
        .post(
            "/api/sites",
            json!({"client_id": acme.client, "name": "<script>alert(1)</script>", "settings": settings()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let site = body["id"].as_str().unwrap().to_owned();
    let browser = Browser::log_in(&server, "admin", &server.admin_password).await;
    for path in [
        "/".to_owned(),
        format!("/sites/{site}"),
        "/incidents".to_owned(),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("<script>"), "{path}: {}", page.body);
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                || page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}: {}",
            page.body
        );
    }
}

/// The id of the open incident of `check`.
pub(crate) async fn incident_id(server: &TestServer, check: &str) -> IncidentId {
    server
        .running
        .state
        .store
        .list_incidents(
            &TenantScope::platform(),
            osiris_store::IncidentFilter::default(),
        )
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.check_id == check)
        .unwrap()
        .id
}

#[tokio::test]
async fn the_incident_timeline_links_each_step_to_its_evidence() {
    let fleet = fleet().await;
    let server = &fleet.server;
    let browser = Browser::log_in(server, "admin", &server.admin_password).await;
    let id = incident_id(server, "win.av.defender").await;
    let list = browser.get("/incidents?state=all").await;
    assert!(list.body.contains(&format!("href=\"/incidents/{id}\"")));
    let page = browser.get(&format!("/incidents/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let order: Vec<usize> = [
        "stage-detected\">detected",
        "stage-L1\">L1",
        "stage-action\">action",
        "stage-verify\">verify",
    ]
    .iter()
    .map(|stage| {
        page.body
            .find(stage)
            .unwrap_or_else(|| panic!("{stage}: {}", page.body))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(
        page.body
            .contains("rule L1-AV-001 chose runbook RB-WIN-AV-001")
    );
    assert!(page.body.contains("href=\"/evidence/"), "links to bundles");
    // Another check's and another host's bundles are not in it.
    assert!(!page.body.contains("deb.av.clamav"));
    assert!(!page.body.contains("win.backup.wsb"));
    golden("incident", &page.body);

    assert_eq!(
        browser.get("/incidents/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
    user(
        server,
        &fleet.admin,
        "other-client",
        "client",
        json!({"client_id": fleet.other.client}),
    )
    .await;
    let other = Browser::log_in(server, "other-client", PASSWORD).await;
    let theirs = other.get(&format!("/incidents/{id}")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "another tenant's");
}

#[tokio::test]
async fn the_evidence_browser_downloads_and_verifies_bundles() {
    let fleet = fleet().await;
    let server = &fleet.server;
    let browser = Browser::log_in(server, "admin", &server.admin_password).await;
    let list = browser
        .get(&format!("/evidence?site={}", fleet.acme.site))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("16 matching bundles"), "{}", list.body);
    assert!(list.body.contains(&format!(
        "href=\"/api/sites/{}/evidence/export\"",
        fleet.acme.site
    )));
    golden("evidence", &list.body);
    let remediations = browser
        .get(&format!(
            "/evidence?site={}&kind=remediation&outcome=&days=7",
            fleet.acme.site
        ))
        .await;
    assert!(remediations.body.contains("1 matching bundles"));
    let failed = browser
        .get(&format!("/evidence?site={}&outcome=fail", fleet.acme.site))
        .await;
    assert!(
        failed.body.contains("4 matching bundles"),
        "{}",
        failed.body
    );
    assert_eq!(
        browser.get("/evidence?kind=nonsense").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        browser
            .get(&format!("/evidence?site={}", SiteId::random()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let start = remediations.body.find("href=\"/evidence/").unwrap() + "href=\"/evidence/".len();
    let bundle = &remediations.body[start..start + 36];
    let page = browser.get(&format!("/evidence/{bundle}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("RB-WIN-AV-001"));

    // The download is the stored bytes, exactly as the API serves them.
    let download = browser
        .http
        .get(format!("{}/evidence/{bundle}/download", browser.base))
        .header(
            "cookie",
            format!("osiris_session={}", browser.session.as_deref().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"bundle-")
    );
    let bytes = download.bytes().await.unwrap();
    let raw = fleet.admin.evidence_raw(bundle).await;
    assert_eq!(bytes.as_ref(), raw.as_slice());

    // Before any checkpoint the inclusion cannot be shown.
    let early = browser.get(&format!("/evidence/{bundle}/verify")).await;
    assert_eq!(early.status, StatusCode::OK, "{}", early.body);
    assert!(early.body.contains("Not verified"), "{}", early.body);
    assert!(early.body.contains("has not signed a checkpoint"));
    let (status, body) = fleet
        .admin
        .post(
            &format!("/api/appliances/{}/checkpoint", fleet.appliance),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let verified = browser.get(&format!("/evidence/{bundle}/verify")).await;
    assert!(
        verified.body.contains("Verified: every check below holds."),
        "{}",
        verified.body
    );
    assert!(verified.body.contains("leaf 15 of 16"), "{}", verified.body);
    assert!(!verified.body.contains("cell fail"));

    // Auditors get exports, not the browser.
    user(server, &fleet.admin, "auditor", "auditor", json!({})).await;
    let auditor = Browser::log_in(server, "auditor", PASSWORD).await;
    for path in [
        "/evidence".to_owned(),
        format!("/evidence/{bundle}"),
        format!("/evidence/{bundle}/verify"),
    ] {
        assert_eq!(
            auditor.get(&path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
}

#[tokio::test]
async fn admin_forms_post_with_csrf_and_name_the_field_at_fault() {
    let fleet = fleet().await;
    let server = &fleet.server;
    let browser = Browser::log_in(server, "admin", &server.admin_password).await;
    let index = browser.get("/admin").await;
    assert_eq!(index.status, StatusCode::OK, "{}", index.body);
    let key = server.running.state.server_key.public_key();
    golden(
        "admin",
        &index
            .body
            .replace(&key.to_base64(), "[server key]")
            .replace(&key.key_id().to_string(), "[key id]"),
    );
    let users = browser.get("/admin/users").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    let csrf = users.field("csrf");
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let browser = &browser;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.request(Method::POST, path, &[], Some(&form)).await
        }
    };

    let forged = post(
        "/admin/users",
        vec![
            ("csrf", "forged".to_owned()),
            ("username", "mallory".to_owned()),
            ("role", "admin".to_owned()),
            ("password", "a long enough password".to_owned()),
        ],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let weak = post(
        "/admin/users",
        vec![
            ("csrf", csrf.clone()),
            ("username", "nurse.joy".to_owned()),
            ("role", "client".to_owned()),
            ("client_id", fleet.acme.client.clone()),
            ("partner_id", String::new()),
            ("password", "tiny".to_owned()),
        ],
    )
    .await;
    assert_eq!(
        weak.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        weak.body
    );
    assert!(
        weak.body.contains("<strong>password</strong>"),
        "{}",
        weak.body
    );
    assert!(weak.body.contains("value=\"nurse.joy\""), "kept");
    assert!(!weak.body.contains("tiny"), "never echoed");
    let missing = post(
        "/admin/users",
        vec![
            ("csrf", csrf.clone()),
            ("username", "nurse.joy".to_owned()),
            ("role", "client".to_owned()),
            ("client_id", String::new()),
            ("partner_id", String::new()),
            ("password", "a long enough password".to_owned()),
        ],
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        missing.body.contains("<strong>client_id</strong>"),
        "{}",
        missing.body
    );
    assert!(
        missing
            .body
            .contains("name=\"client_id\" aria-invalid=\"true\"")
    );
    let created = post(
        "/admin/users",
        vec![
            ("csrf", csrf.clone()),
            ("username", "nurse.joy".to_owned()),
            ("role", "client".to_owned()),
            ("client_id", fleet.acme.client.clone()),
            ("partner_id", String::new()),
            ("password", "a long enough password".to_owned()),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    assert_eq!(created.location(), "/admin/users");
    let joy = Browser::log_in(server, "nurse.joy", PASSWORD).await;
    assert_eq!(joy.get("/admin").await.status, StatusCode::FORBIDDEN);
    let users = browser.get("/admin/users").await;
    assert!(users.body.contains("nurse.joy"));
    golden("admin-users", &users.body);

    // A new password, set by the admin, works.
    let (_, list) = fleet.admin.get("/api/users").await;
    let joy_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "nurse.joy")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path: &'static str = Box::leak(format!("/admin/users/{joy_id}/password").into_boxed_str());
    let reset = post(
        path,
        vec![
            ("csrf", csrf.clone()),
            ("password", "another long password".to_owned()),
        ],
    )
    .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    Browser::log_in(server, "nurse.joy", "another long password").await;

    // Sites: a bad time zone names that field; a good form saves.
    let sites = browser.get("/admin/sites").await;
    assert_eq!(sites.status, StatusCode::OK);
    golden("admin-sites", &sites.body);
    let site_path: &'static str =
        Box::leak(format!("/admin/sites/{}", fleet.acme.site).into_boxed_str());
    let site_form = |zone: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("healing_mode", "dry_run".to_owned()),
            ("starts_at", "03:30".to_owned()),
            ("duration_minutes", "90".to_owned()),
            ("time_zone", zone.to_owned()),
        ]
    };
    let bad = post(site_path, site_form("Mars/Olympus")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("<strong>time_zone-"), "{}", bad.body);
    let saved = post(site_path, site_form("America/Chicago")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, site) = fleet
        .admin
        .get(&format!("/api/sites/{}", fleet.acme.site))
        .await;
    assert_eq!(site["settings"]["healing_mode"], "dry_run", "{site}");
    assert_eq!(site["settings"]["maintenance_window"]["starts_at"], "03:30");

    // Appliances: a bad MAC is named; a good one is armed, the claim code shown once.
    let appliances = browser.get("/admin/appliances").await;
    golden("admin-appliances", &appliances.body);
    let bad = post(
        "/admin/appliances",
        vec![
            ("csrf", csrf.clone()),
            ("site", fleet.acme.site.clone()),
            ("name", "Front desk".to_owned()),
            ("mac", "not a mac".to_owned()),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("<strong>mac</strong>"), "{}", bad.body);
    let armed = post(
        "/admin/appliances",
        vec![
            ("csrf", csrf.clone()),
            ("site", fleet.acme.site.clone()),
            ("name", "Front desk".to_owned()),
            ("mac", "00:11:22:33:44:55".to_owned()),
        ],
    )
    .await;
    assert_eq!(armed.status, StatusCode::OK, "{}", armed.body);
    assert!(
        armed.body.contains("Its one-time claim code is "),
        "{}",
        armed.body
    );
    assert!(armed.body.contains("MAC armed at"));
    let again = browser.get("/admin/appliances").await;
    assert!(!again.body.contains("one-time claim code is"), "shown once");

    // Credentials: the secret goes in and never comes back.
    let credentials = browser
        .get(&format!("/admin/credentials?site={}", fleet.acme.site))
        .await;
    assert_eq!(credentials.status, StatusCode::OK, "{}", credentials.body);
    golden("admin-credentials", &credentials.body);
    let secret = "Sup3r-s3cret-winrm-passw0rd";
    let bad = post(
        "/admin/credentials",
        vec![
            ("csrf", csrf.clone()),
            ("site", fleet.acme.site.clone()),
            ("kind", "telnet".to_owned()),
            ("username", "ACME\\osiris".to_owned()),
            ("host_id", String::new()),
            ("secret", secret.to_owned()),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("<strong>kind</strong>"));
    assert!(!bad.body.contains(secret), "not even after a refusal");
    let stored = post(
        "/admin/credentials",
        vec![
            ("csrf", csrf.clone()),
            ("site", fleet.acme.site.clone()),
            ("kind", "winrm_password".to_owned()),
            ("username", "ACME\\osiris".to_owned()),
            ("host_id", String::new()),
            ("secret", secret.to_owned()),
        ],
    )
    .await;
    assert_eq!(stored.status, StatusCode::SEE_OTHER, "{}", stored.body);
    let listed = browser.get(stored.location()).await;
    assert!(listed.body.contains("ACME\\osiris"), "{}", listed.body);
    assert!(!listed.body.contains(secret));

    // Operators run the fleet but not the admin pages.
    user(server, &fleet.admin, "op", "operator", json!({})).await;
    let operator = Browser::log_in(server, "op", PASSWORD).await;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/sites",
        "/admin/credentials",
    ] {
        assert_eq!(
            operator.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
}

#[tokio::test]
async fn escalations_are_approved_and_rejected_from_the_incident_page() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let ops = user(&server, &admin, "ops", "operator", json!({})).await;
    user(
        &server,
        &admin,
        "manager",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;
    let approved =
        crate::approvals::escalated(&server, &appliance, "win.encryption.bitlocker").await;
    let rejected = crate::approvals::escalated(&server, &appliance, "win.av.defender").await;
    let browser = Browser::log_in(&server, "ops", PASSWORD).await;

    let list = browser.get("/approvals").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(
        list.body
            .contains(&format!("href=\"/incidents/{approved}\""))
    );
    assert!(
        list.body
            .contains(&format!("href=\"/incidents/{rejected}\""))
    );
    assert!(
        list.body
            .contains("href=\"/approvals\" aria-current=\"page\"")
    );
    golden("approvals", &list.body);

    // A client may read the incident but sees no forms, and the API
    // refuses its post.
    let client = Browser::log_in(&server, "manager", PASSWORD).await;
    let seen = client.get(&format!("/incidents/{approved}")).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert!(!seen.body.contains("/approve\""), "{}", seen.body);
    assert!(!seen.body.contains("/reject\""), "{}", seen.body);
    assert!(!seen.body.contains("href=\"/approvals\""));
    let csrf = seen.field("csrf");
    let refused = client
        .request(
            Method::POST,
            &format!("/incidents/{approved}/reject"),
            &[],
            Some(&[("csrf", csrf.as_str()), ("reason", "not mine to say")]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    let page = browser.get(&format!("/incidents/{approved}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("action=\"/incidents/{approved}/approve\""))
    );
    assert!(
        page.body
            .contains("<option value=\"RB-WIN-ENCRYPTION-001\" selected>")
    );
    assert!(
        !page.body.contains("RB-DEB-"),
        "only the check platform's runbooks"
    );
    golden("incident-decide", &page.body);
    let csrf = page.field("csrf");
    let approve = format!("/incidents/{approved}/approve");
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let browser = &browser;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.request(Method::POST, &path, &[], Some(&form)).await
        }
    };
    let decision = format!("/api/incidents/{approved}/decision");

    let forged = post(
        approve.clone(),
        vec![
            ("csrf", "forged".to_owned()),
            ("runbook_id", "RB-WIN-ENCRYPTION-001".to_owned()),
            ("params", r#"{"mount_point": "C:"}"#.to_owned()),
            ("target", String::new()),
        ],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(ops.get(&decision).await.0, StatusCode::NOT_FOUND);

    for (params, field) in [
        ("not json", "params"),
        ("[1]", "params"),
        (r#"{"mount_point": 7}"#, "params.mount_point"),
    ] {
        let bad = post(
            approve.clone(),
            vec![
                ("csrf", csrf.clone()),
                ("runbook_id", "RB-WIN-ENCRYPTION-001".to_owned()),
                ("params", params.to_owned()),
                ("target", String::new()),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert!(
            bad.body.contains(&format!("<strong>{field}</strong>")),
            "{params}: {}",
            bad.body
        );
        assert!(
            bad.body
                .contains("<textarea name=\"params\" rows=\"4\" cols=\"60\" aria-invalid=\"true\"")
        );
        assert_eq!(ops.get(&decision).await.0, StatusCode::NOT_FOUND);
    }
    let ghost = post(
        approve.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("runbook_id", "RB-WIN-ENCRYPTION-001".to_owned()),
            ("params", r#"{"mount_point": "C:"}"#.to_owned()),
            ("target", "ghost".to_owned()),
        ],
    )
    .await;
    assert_eq!(ghost.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        ghost.body.contains("<strong>target</strong>"),
        "{}",
        ghost.body
    );
    assert!(ghost.body.contains("value=\"ghost\""), "kept");

    let done = post(
        approve.clone(),
        vec![
            ("csrf", csrf.clone()),
            ("runbook_id", "RB-WIN-ENCRYPTION-001".to_owned()),
            ("params", r#"{"mount_point": "C:"}"#.to_owned()),
            ("target", String::new()),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), format!("/incidents/{approved}"));
    let (status, decided) = ops.get(&decision).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["decision"], "approved");
    let order_id = decided["order_id"].as_str().unwrap();
    let (status, order) = ops.get(&format!("/api/orders/{order_id}")).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["runbook_id"], "RB-WIN-ENCRYPTION-001");
    assert_eq!(order["params"], json!({"mount_point": "C:"}));
    let page = browser.get(&format!("/incidents/{approved}")).await;
    assert!(!page.body.contains("/approve\""), "decided: no forms");
    assert!(
        page.body
            .contains(&format!("<a href=\"/orders\">{order_id}</a>"))
    );
    golden("incident-decided", &page.body);

    browser
        .post_with_reason(
            &format!("/incidents/{rejected}/reject"),
            &csrf,
            "risk accepted by the practice",
        )
        .await;
    let (_, decided) = ops
        .get(&format!("/api/incidents/{rejected}/decision"))
        .await;
    assert_eq!(decided["decision"], "rejected");
    assert_eq!(decided["reason"], "risk accepted by the practice");
    let page = browser.get(&format!("/incidents/{rejected}")).await;
    assert!(page.body.contains("risk accepted by the practice"));
    assert!(!page.body.contains("/reject\""));

    let list = browser.get("/approvals").await;
    assert!(
        list.body.contains("Nothing awaits a decision."),
        "{}",
        list.body
    );
}

/// A pattern's L2 runs, uploaded in one check-in: `n` verified runs of
/// RB-WIN-AV-001 with `params`.
async fn learned(
    server: &TestServer,
    appliance: &mut TestAppliance,
    n: usize,
    params: serde_json::Value,
) {
    let now = server.clock.now();
    let drafts: Vec<_> = (0..n)
        .map(|_| crate::learning::remediation(now, "L2", "verified", params.clone(), None))
        .collect();
    crate::learning::upload(server, appliance, &drafts, None).await;
}

#[tokio::test]
async fn learning_candidates_are_approved_and_rules_demoted_from_the_learning_page() {
    // 5/5 verified has a Wilson lower bound of 0.566: the bar is lowered.
    let server = TestServer::start_with(&[("OSIRIS_LEARNING__MIN_LOWER_BOUND", "0.5")]).await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let mut a = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let mut b = TestAppliance::enrol(&server, &admin, &other.site).await;
    // Acme: a candidate and a pattern still learning; Other: a candidate
    // whose rule the catalog refuses (the runbook takes no parameters).
    learned(&server, &mut a, 5, json!({})).await;
    learned(&server, &mut a, 2, json!({"force": false})).await;
    learned(&server, &mut b, 5, json!({"force": true})).await;
    let ops = user(&server, &admin, "ops", "operator", json!({})).await;
    user(
        &server,
        &admin,
        "other-ops",
        "partner",
        json!({"partner_id": other.partner}),
    )
    .await;
    user(
        &server,
        &admin,
        "manager",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;

    let browser = Browser::log_in(&server, "ops", PASSWORD).await;
    let page = browser.get("/learning").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("href=\"/learning\" aria-current=\"page\"")
    );
    let candidates = ops.get_ok("/api/learning/candidates").await;
    assert_eq!(candidates.as_array().unwrap().len(), 2, "{candidates}");
    let (good, refused): (Vec<_>, Vec<_>) = candidates
        .as_array()
        .unwrap()
        .iter()
        .partition(|c| c["rule"].is_object());
    let good_id = good[0]["id"].as_str().unwrap().to_owned();
    let good_rule = good[0]["rule"]["id"].as_str().unwrap().to_owned();
    let refused_id = refused[0]["id"].as_str().unwrap().to_owned();
    for candidate in [&good_id, &refused_id] {
        assert!(
            page.body.contains(&format!(
                "action=\"/learning/candidates/{candidate}/promote\""
            )),
            "an Approve form per candidate"
        );
    }
    assert_eq!(
        page.body.matches(">Approve</button>").count(),
        2,
        "candidates only"
    );
    assert!(
        page.body.contains("2 samples, at least 5 needed"),
        "why not yet"
    );
    assert!(page.body.contains("the catalog refuses its rule"));
    assert!(page.body.contains("0.566"), "the Wilson lower bound");
    golden("learning", &page.body);
    // Rendering twice gives the same page: rows are sorted, not stored order.
    assert_eq!(
        redact(&browser.get("/learning").await.body),
        redact(&page.body)
    );

    // A client neither sees the page nor its entry in the navigation.
    let client = Browser::log_in(&server, "manager", PASSWORD).await;
    let portal = client.get("/portal").await;
    assert!(!portal.body.contains("href=\"/learning\""));
    assert_eq!(client.get("/learning").await.status, StatusCode::FORBIDDEN);
    let csrf = portal.field("csrf");
    let denied = client
        .request(
            Method::POST,
            &format!("/learning/candidates/{good_id}/promote"),
            &[],
            Some(&[("csrf", csrf.as_str())]),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.body);
    // Another partner sees its own fleet's patterns only.
    let partner = Browser::log_in(&server, "other-ops", PASSWORD).await;
    let theirs = partner.get("/learning").await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    assert!(theirs.body.contains(&refused_id));
    assert!(!theirs.body.contains(&good_id));
    assert!(!theirs.body.contains("Acme IT"));

    let csrf = page.field("csrf");
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let browser = &browser;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.request(Method::POST, &path, &[], Some(&form)).await
        }
    };
    let forged = post(
        format!("/learning/candidates/{good_id}/promote"),
        vec![("csrf", "forged".to_owned())],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(ops.get_ok("/api/learning/rules").await, json!([]));

    // The catalog's refusal, with its reason, and nothing stored.
    let refusal = post(
        format!("/learning/candidates/{refused_id}/promote"),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(
        refusal.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refusal.body
    );
    assert!(
        refusal.body.contains("<strong>rule</strong>"),
        "{}",
        refusal.body
    );
    assert!(
        refusal
            .body
            .contains("parameters for runbook RB-WIN-AV-001 are invalid"),
        "{}",
        refusal.body
    );
    assert_eq!(ops.get_ok("/api/learning/rules").await, json!([]));
    let ghost = post(
        "/learning/candidates/0123456789abcdef01234567/promote".to_owned(),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(ghost.status, StatusCode::NOT_FOUND);

    let done = post(
        format!("/learning/candidates/{good_id}/promote"),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/learning");
    let rules = ops.get_ok("/api/learning/rules").await;
    assert_eq!(rules[0]["rule_id"], good_rule.as_str(), "{rules}");
    assert_eq!(rules[0]["state"], "active");
    let again = post(
        format!("/learning/candidates/{good_id}/promote"),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "promoted once"
    );
    let page = browser.get("/learning").await;
    assert_eq!(page.body.matches(">Approve</button>").count(), 1);
    assert!(page.body.contains(">Demote</button>"));
    golden("learning-promoted", &page.body);

    let promotion = rules[0]["id"].as_u64().unwrap();
    browser
        .post_with_reason(
            &format!("/learning/rules/{promotion}/demote"),
            &csrf,
            "the vendor changed the service",
        )
        .await;
    let rules = ops.get_ok("/api/learning/rules").await;
    assert_eq!(rules[0]["state"], "demoted");
    let page = browser.get("/learning").await;
    assert!(!page.body.contains(">Demote</button>"));
    assert!(page.body.contains("demoted by ops"), "{}", page.body);
    assert!(page.body.contains("the vendor changed the service"));
}
