//! `osiris demo` run as a newcomer runs it, non-interactively with a short
//! `--duration`. Each step's outcome is then read back from what the demo
//! left behind, not from its log: Central Command is started again on the
//! demo's data directory and asked through its API (fleet score, stored
//! evidence, incidents, the appliance, the site's export), the admin logs
//! in with the one-time password from demo.json, and the export the demo
//! wrote is verified offline by `osiris evidence verify`, and read: the
//! approved L3 fix and the promoted L2 fix show in its bundles as they do
//! in the API's.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use osiris_core::SystemClock;
use osiris_testkit::{Api, http_client};
use reqwest::Method;
use serde_json::{Value, json};

fn demo(data: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(["demo", "--data-dir"])
        .arg(data)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--no-browser",
            "--duration",
            "1",
            "--json",
        ])
        .args(extra)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap()
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

/// Central Command on the demo's data directory again, over plain HTTP.
struct Restarted {
    api: Api,
    stop: tokio::sync::oneshot::Sender<()>,
    running: osiris_server::Running,
}

async fn restart(data: &Path, password: &str) -> Restarted {
    let config = osiris_testkit::config_for(&data.join("server"), &[]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = osiris_server::start(&config, Arc::new(SystemClock), async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    assert!(
        running.first_admin_password.is_none(),
        "the demo created the admin"
    );
    let anonymous = Api {
        base: running.url(),
        token: None,
        http: http_client(None),
    };
    let (status, body) = anonymous
        .send(
            Method::POST,
            "/api/auth/login",
            Some(json!({"username": "admin", "password": password})),
        )
        .await;
    assert_eq!(
        status,
        reqwest::StatusCode::OK,
        "the one-time password logs in: {body}"
    );
    let api = Api {
        token: Some(body["token"].as_str().unwrap().to_owned()),
        ..anonymous
    };
    Restarted { api, stop, running }
}

impl Restarted {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.running.task.await;
    }

    /// Every bundle Central Command stored for the site, parsed.
    async fn bundles(&self, site: &str) -> Vec<Value> {
        let mut bundles = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .api
                .get_ok(&format!(
                    "/api/sites/{site}/evidence?after_seq={after}&limit=1000"
                ))
                .await;
            let entries = page.as_array().unwrap().clone();
            for entry in &entries {
                let raw = self
                    .api
                    .evidence_raw(entry["bundle_id"].as_str().unwrap())
                    .await;
                bundles.push(serde_json::from_slice::<Value>(&raw).unwrap());
                after = after.max(entry["seq"].as_u64().unwrap());
            }
            if entries.len() < 1000 {
                return bundles;
            }
        }
    }
}

fn decision<'a>(bundles: &'a [Value], host: &str, check: &str) -> Vec<&'a Value> {
    bundles
        .iter()
        .filter(|b| {
            matches!(b["kind"].as_str(), Some("remediation" | "escalation"))
                && b["host"] == host
                && b["detail"]["check_id"] == check
        })
        .collect()
}

/// Every bundle in an export, parsed.
fn exported_bundles(path: &str) -> Vec<Value> {
    let opened = osiris_evidence::export::OpenedExport::open(Path::new(path)).unwrap();
    let mut bundles = Vec::new();
    for entry in std::fs::read_dir(opened.root().join("bundles")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        bundles.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    bundles
}

/// The approved L3 fix: the order bundle of `order_id`, carrying the
/// approval of `incident`, executed on the domain controller.
fn assert_approved_order(bundles: &[Value], incident: &str, order_id: &str) {
    let order = bundles
        .iter()
        .find(|b| b["kind"] == "order" && b["detail"]["order_id"] == order_id)
        .unwrap_or_else(|| panic!("no order bundle of {order_id}"));
    assert_eq!(order["outcome"], "executed", "{order:#}");
    assert_eq!(order["host"], "NVC-DC01", "{order:#}");
    assert_eq!(order["detail"]["runbook_id"], "RB-WIN-ENCRYPTION-001");
    assert_eq!(order["detail"]["approval"]["incident_id"], incident);
}

/// The learned rule `rule`: delivered in a rule change after the L2 runs
/// of its pattern, then the next audit-policy drift fixed by it at L1 and
/// no longer put to L2.
fn assert_learned(bundles: &[Value], rule: &str) {
    let fixes = |tier: &str| -> Vec<u64> {
        bundles
            .iter()
            .filter(|b| {
                b["kind"] == "remediation"
                    && b["outcome"] == "verified"
                    && b["detail"]["check_id"] == "win.logging.audit"
                    && b["detail"]["tier"] == tier
            })
            .map(|b| b["seq"].as_u64().unwrap())
            .collect()
    };
    let change = bundles
        .iter()
        .find(|b| {
            b["kind"] == "rule_change"
                && b["detail"]["promoted_rules"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r == rule))
        })
        .unwrap_or_else(|| panic!("no rule change delivering {rule}"));
    assert_eq!(change["outcome"], "applied");
    let changed_at = change["seq"].as_u64().unwrap();
    let l2 = fixes("L2");
    assert!(
        l2.iter().filter(|s| **s < changed_at).count() >= 3,
        "the pattern's L2 runs precede the promotion: {l2:?} < {changed_at}"
    );
    assert!(
        l2.iter().all(|s| *s < changed_at),
        "no L2 run after the promotion: {l2:?}"
    );
    let l1: Vec<&Value> = bundles
        .iter()
        .filter(|b| {
            b["kind"] == "remediation"
                && b["outcome"] == "verified"
                && b["detail"]["tier"] == "L1"
                && b["detail"]["rule_id"] == rule
        })
        .collect();
    assert!(
        l1.iter().any(|b| b["seq"].as_u64().unwrap() > changed_at
            && b["detail"]["check_id"] == "win.logging.audit"),
        "{l1:#?}"
    );
}

fn verify(path: &str, key: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(["evidence", "verify", path, "--server-key", key, "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_the_whole_loop_and_every_step_shows_in_the_api_and_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = demo(&data, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();

    // demo.json says what the summary says, readable by its owner only.
    let file = data.join("demo.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written, summary);
    let site = summary["site_id"].as_str().unwrap();
    let appliance = summary["appliance_id"].as_str().unwrap();
    let password = summary["admin_password"].as_str().unwrap();
    assert!(password.len() >= 20, "{password}");
    assert!(
        summary["dashboard_url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    // The live log named each step (the outcomes are checked below).
    for step in [
        "1. sweep",
        "2. L1 fix",
        "2. L2 decision (scripted",
        "2. L3 approved fix",
        "3. learning loop: demo thresholds:",
        "4. export",
        "5. dashboard",
    ] {
        assert!(
            stderr.contains(step),
            "{step} missing from the log:\n{stderr}"
        );
    }

    let server = restart(&data, password).await;
    let api = &server.api;

    // The practice, its site and the appliance, enrolled by claim code.
    let sites = api.get_ok("/api/sites").await;
    let entry = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == site)
        .unwrap_or_else(|| panic!("{sites}"));
    assert_eq!(entry["name"], "North Valley Clinic");
    let stored = api.appliance(appliance).await;
    assert_eq!(stored["claimed"], true, "{stored}");

    // 1. Every host swept: a compliance score on the dashboard.
    let fleet = api.get_ok("/api/dashboard/fleet").await;
    let ours = fleet["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["site_id"] == site)
        .unwrap();
    assert!(ours["compliance_score"].as_f64().is_some(), "{ours}");
    let bundles = server.bundles(site).await;
    let checked_hosts: std::collections::BTreeSet<&str> = bundles
        .iter()
        .filter(|b| b["kind"] == "check")
        .filter_map(|b| b["host"].as_str())
        .collect();
    for host in ["NVC-DC01", "NVC-FS01"] {
        assert!(checked_hosts.contains(host), "{checked_hosts:?}");
    }
    let linux = running_as_root();
    assert_eq!(
        checked_hosts.contains("nvc-ehr01"),
        linux,
        "{checked_hosts:?}"
    );

    // 2. Each tier, from the evidence Central Command stored.
    let l1 = decision(&bundles, "NVC-DC01", "win.av.defender");
    assert!(
        l1.iter().any(|b| b["kind"] == "remediation"
            && b["outcome"] == "verified"
            && b["detail"]["tier"] == "L1"
            && b["detail"]["rule_id"] == "L1-WIN-AV-001"),
        "{l1:#?}"
    );
    let l2 = decision(&bundles, "NVC-FS01", "win.logging.audit");
    assert!(
        l2.iter().any(|b| b["kind"] == "remediation"
            && b["outcome"] == "verified"
            && b["detail"]["tier"] == "L2"
            && b["detail"]["runbook_id"] == "RB-WIN-LOGGING-001"
            && b["detail"]["l2"]["model"] == "scripted-local-planner"),
        "{l2:#?}"
    );
    let l3 = decision(&bundles, "NVC-DC01", "win.encryption.bitlocker");
    assert!(
        l3.iter()
            .any(|b| b["kind"] == "escalation" && b["detail"]["gate"] == "approval"),
        "{l3:#?}"
    );
    let deferred = decision(&bundles, "NVC-DC01", "win.backup.wsb");
    assert!(
        deferred
            .iter()
            .any(|b| b["outcome"] == "deferred" && b["detail"]["gate"] == "maintenance_window"),
        "{deferred:#?}"
    );
    let rolled_back = decision(&bundles, "NVC-FS01", "win.av.defender");
    assert!(
        rolled_back
            .iter()
            .any(|b| b["kind"] == "remediation" && b["outcome"] == "rolled_back"),
        "{rolled_back:#?}"
    );
    if linux {
        let firewall = decision(&bundles, "nvc-ehr01", "deb.firewall.nftables");
        assert!(
            firewall.iter().any(|b| b["kind"] == "escalation"),
            "{firewall:#?}"
        );
    }
    // Central Command held the escalated incident at L3; it was approved
    // with the check's runbook, and the executed order resolved it.
    let resolved = api
        .get_ok(&format!(
            "/api/dashboard/incidents?site_id={site}&status=resolved"
        ))
        .await;
    let escalated = resolved
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["check_id"] == "win.encryption.bitlocker" && i["tier"] == "l3")
        .unwrap_or_else(|| panic!("{resolved:#}"));
    let incident = escalated["id"].as_str().unwrap();
    let decision = api
        .get_ok(&format!("/api/incidents/{incident}/decision"))
        .await;
    assert_eq!(decision["decision"], "approved", "{decision}");
    let order_id = decision["order_id"].as_str().unwrap();
    assert_approved_order(&bundles, incident, order_id);

    // The L2 fix of step 2 was promoted to L1 through the learning loop.
    let learned = api.get_ok("/api/learning/rules").await;
    let promotion = learned
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["state"] == "active" && p["rule"].to_string().contains("win.logging.audit"))
        .unwrap_or_else(|| panic!("{learned:#}"));
    assert!(promotion["samples"].as_u64().unwrap() >= 3, "{promotion}");
    assert!(promotion["approved_by"].is_string(), "{promotion}");
    let rule = promotion["rule_id"].as_str().unwrap();
    assert!(rule.starts_with("L1-LRN-"), "{rule}");
    assert_learned(&bundles, rule);

    // 3. The export the demo wrote verifies offline against the server
    // key, and holds exactly the chain Central Command stored then.
    let export = summary["outcomes"]["export"]["path"].as_str().unwrap();
    let key = summary["server_public_key"].as_str().unwrap();
    let report = verify(export, key);
    assert_eq!(report["ok"], true);
    let in_export = exported_bundles(export);
    assert_approved_order(&in_export, incident, order_id);
    assert_learned(&in_export, rule);
    let exported = report["bundles_checked"].as_u64().unwrap();
    assert_eq!(
        summary["outcomes"]["export"]["bundles_checked"].as_u64(),
        Some(exported)
    );
    assert!(
        exported >= 30 && exported <= bundles.len() as u64,
        "{exported} of {}",
        bundles.len()
    );
    // The server's own export, now, verifies too.
    let response = api
        .request(Method::GET, &format!("/api/sites/{site}/evidence/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let now = dir.path().join("now.tar.gz");
    std::fs::write(&now, response.bytes().await.unwrap()).unwrap();
    let report = verify(now.to_str().unwrap(), key);
    assert_eq!(
        report["bundles_checked"].as_u64(),
        Some(bundles.len() as u64)
    );
    server.stop().await;

    // A second run reuses the data directory: the same site and appliance,
    // the chain continues, a new one-time password replaces the first.
    let out = demo(&data, &["--scenario", "steady"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["site_id"], site);
    assert_eq!(second["appliance_id"], appliance);
    assert_ne!(second["admin_password"], summary["admin_password"]);
    let report = verify(second["outcomes"]["export"]["path"].as_str().unwrap(), key);
    assert!(report["bundles_checked"].as_u64().unwrap() > bundles.len() as u64);

    // --fresh starts clean: a new site.
    let out = demo(&data, &["--scenario", "steady", "--fresh"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(fresh["site_id"], site);
}
