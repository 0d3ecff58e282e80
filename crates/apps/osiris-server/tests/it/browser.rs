//! The dashboard in a real browser: Debian's headless Chromium driven over
//! WebDriver (chromedriver, started here on a free loopback port). A
//! missing browser or driver fails these tests; `.ci/setup` installs both.
//! Decisions are taken as a person takes them: an L3 escalation approved
//! from its incident page and a learning candidate promoted from
//! `/learning`, each checked afterwards through the JSON API.
//! Screenshots of the main pages are written to
//! `$CARGO_TARGET_DIR/screenshots/` (or `target/screenshots/`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration as StdDuration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::fleet::TestAppliance;
use crate::support::{TestServer, tenant, user};
use crate::web::{PASSWORD, fleet, incident_id};

/// chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromedriver is required (Debian chromium-driver, see .ci/setup): {e}")
            });
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Self {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                };
            }
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on port {port}");
    }

    /// A headless Chromium session downloading into `downloads`.
    async fn browser(&self, downloads: &std::path::Path) -> Client {
        let mut args = vec![
            "--headless=new",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--no-first-run",
            "--disable-extensions",
        ];
        // Chromium refuses to run as root inside its sandbox.
        if std::env::var("USER").as_deref() == Ok("root")
            || std::fs::read_to_string("/proc/self/status")
                .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
        {
            args.push("--no-sandbox");
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": args,
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            }),
        );
        // The WebDriver connection is plain HTTP on loopback, but the
        // client's TLS stack still wants a process-wide provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("starting headless chromium: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target"),
        PathBuf::from,
    );
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn log_in(client: &Client, base: &str, username: &str, password: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    let form = client.form(Locator::Css("form.login")).await.unwrap();
    form.set_by_name("username", username).await.unwrap();
    form.set_by_name("password", password).await.unwrap();
    form.submit().await.unwrap();
}

async fn heading(client: &Client) -> String {
    client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn operators_clients_and_auditors_in_headless_chromium() {
    let fleet = fleet().await;
    let server = &fleet.server;
    let base = &server.base;
    let driver = Driver::start().await;
    let downloads = tempfile::tempdir().unwrap();

    // An admin logs in, sees the fleet, opens an incident and its timeline.
    let admin = driver.browser(downloads.path()).await;
    log_in(&admin, base, "admin", &server.admin_password).await;
    assert_eq!(heading(&admin).await, "Fleet");
    let source = admin.source().await.unwrap();
    assert!(source.contains("Main"), "the fleet lists the site");
    shot(&admin, "fleet").await;
    admin
        .find(Locator::LinkText("Main"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(heading(&admin).await, "Main");
    shot(&admin, "site").await;
    admin
        .find(Locator::LinkText("Incidents"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    shot(&admin, "incidents").await;
    let id = incident_id(server, "win.av.defender").await;
    admin
        .find(Locator::Css(&format!("a[href='/incidents/{id}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(heading(&admin).await.starts_with("win.av.defender"));
    let steps = admin
        .find_all(Locator::Css("ol.timeline li"))
        .await
        .unwrap();
    assert!(steps.len() >= 4, "{} steps", steps.len());
    shot(&admin, "incident").await;

    // The evidence browser, a bundle and its verification.
    admin
        .goto(&format!("{base}/evidence?site={}", fleet.acme.site))
        .await
        .unwrap();
    shot(&admin, "evidence").await;
    admin
        .find(Locator::LinkText("verify"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(heading(&admin).await.starts_with("Verification of bundle"));
    shot(&admin, "verify").await;

    // Downloading an export: the signed archive lands in the download folder.
    admin
        .goto(&format!("{base}/evidence?site={}", fleet.acme.site))
        .await
        .unwrap();
    admin
        .find(Locator::Css("a[href$='/evidence/export']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut archive = None;
    for _ in 0..100 {
        archive = std::fs::read_dir(downloads.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".tar.gz"));
        if archive.is_some() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let archive = archive.expect("the export was downloaded");
    let bytes = std::fs::read(&archive).unwrap();
    assert!(bytes.starts_with(&[0x1f, 0x8b]), "a gzip archive");

    admin.goto(&format!("{base}/admin/users")).await.unwrap();
    assert_eq!(heading(&admin).await, "Users and roles");
    shot(&admin, "admin-users").await;
    admin.close().await.unwrap();

    // A client user sees its own practice only.
    user(
        server,
        &fleet.admin,
        "acme-client",
        "client",
        json!({"client_id": fleet.acme.client}),
    )
    .await;
    let client = driver.browser(downloads.path()).await;
    log_in(&client, base, "acme-client", PASSWORD).await;
    assert_eq!(
        client.current_url().await.unwrap().path(),
        "/portal",
        "clients land on the portal"
    );
    assert_eq!(heading(&client).await, "Compliance of Acme Clinic");
    let portal = client.source().await.unwrap();
    assert!(!portal.contains("Annex"), "another practice");
    assert!(!portal.contains(&fleet.other.site));
    shot(&client, "portal").await;
    client
        .goto(&format!("{base}/sites/{}", fleet.other.site))
        .await
        .unwrap();
    assert_eq!(heading(&client).await, "Not found");
    client.close().await.unwrap();

    // An auditor sees the evidence exports and nothing else.
    user(server, &fleet.admin, "auditor", "auditor", json!({})).await;
    let auditor = driver.browser(downloads.path()).await;
    log_in(&auditor, base, "auditor", PASSWORD).await;
    assert_eq!(auditor.current_url().await.unwrap().path(), "/audit");
    assert_eq!(heading(&auditor).await, "Evidence for audit");
    let links: Vec<String> = {
        let mut hrefs = Vec::new();
        for link in auditor.find_all(Locator::Css("nav a")).await.unwrap() {
            hrefs.push(link.attr("href").await.unwrap().unwrap_or_default());
        }
        hrefs
    };
    assert_eq!(links, vec!["/audit".to_owned()], "evidence only");
    shot(&auditor, "audit").await;
    for path in ["/incidents", "/evidence", "/portal", "/admin"] {
        auditor.goto(&format!("{base}{path}")).await.unwrap();
        assert_eq!(heading(&auditor).await, "Not allowed", "{path}");
    }
    auditor.close().await.unwrap();
}

#[tokio::test]
async fn an_escalation_and_a_promotion_are_approved_in_headless_chromium() {
    // 5/5 verified runs have a Wilson lower bound of 0.566: the bar is lowered.
    let server = TestServer::start_with(&[("OSIRIS_LEARNING__MIN_LOWER_BOUND", "0.5")]).await;
    let base = &server.base;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let incident =
        crate::approvals::escalated(&server, &appliance, "win.encryption.bitlocker").await;
    let now = osiris_core::Clock::now(&server.clock);
    let runs: Vec<_> = (0..5)
        .map(|_| crate::learning::remediation(now, "L2", "verified", json!({}), None))
        .collect();
    crate::learning::upload(&server, &mut appliance, &runs, None).await;
    let candidates = admin.get_ok("/api/learning/candidates").await;
    let rule_id = candidates[0]["rule"]["id"].as_str().unwrap().to_owned();

    let driver = Driver::start().await;
    let downloads = tempfile::tempdir().unwrap();
    let browser = driver.browser(downloads.path()).await;
    log_in(&browser, base, "admin", &server.admin_password).await;
    assert_eq!(heading(&browser).await, "Fleet");

    // The escalation: the incident page's Approve form, filled and sent.
    browser
        .find(Locator::LinkText("Approvals"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(heading(&browser).await, "Approvals");
    browser
        .find(Locator::Css(&format!("a[href='/incidents/{incident}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(
        heading(&browser)
            .await
            .starts_with("win.encryption.bitlocker")
    );
    let form = browser
        .form(Locator::Css(&format!(
            "form[action='/incidents/{incident}/approve']"
        )))
        .await
        .unwrap();
    browser
        .find(Locator::Css("select[name='runbook_id']"))
        .await
        .unwrap()
        .select_by_value("RB-WIN-ENCRYPTION-001")
        .await
        .unwrap();
    form.set_by_name("params", r#"{"mount_point": "C:"}"#)
        .await
        .unwrap();
    shot(&browser, "incident-decide").await;
    form.submit().await.unwrap();
    let decision = browser
        .wait()
        .for_element(Locator::XPath("//h2[text()='Decision']"))
        .await
        .unwrap();
    assert_eq!(decision.text().await.unwrap(), "Decision");
    let page = browser.source().await.unwrap();
    assert!(page.contains("<dd>approved</dd>"), "the decision is shown");
    assert!(!page.contains("/approve\""), "no form once decided");
    shot(&browser, "incident-decided").await;
    let (status, decided) = admin
        .get(&format!("/api/incidents/{incident}/decision"))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{decided}");
    assert_eq!(decided["decision"], "approved");

    // The promotion: the candidate's Approve button on /learning.
    browser
        .find(Locator::LinkText("Learning"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(heading(&browser).await, "Learning");
    assert!(browser.source().await.unwrap().contains(&rule_id));
    shot(&browser, "learning").await;
    browser
        .find(Locator::Css("form[action^='/learning/candidates/'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .for_element(Locator::Css("form[action^='/learning/rules/'] button"))
        .await
        .unwrap();
    let page = browser.source().await.unwrap();
    assert!(page.contains("<strong>promoted</strong>"), "{page}");
    assert!(!page.contains("/promote\""), "no candidate left to approve");
    shot(&browser, "learning-promoted").await;
    let rules = admin.get_ok("/api/learning/rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert_eq!(rules[0]["rule_id"], rule_id.as_str());
    assert_eq!(rules[0]["state"], "active");
    browser.close().await.unwrap();
}
