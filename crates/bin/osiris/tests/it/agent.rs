//! `osiris agent` as an operator runs it: enrolled with a claim code at
//! Central Command (in-process, over its own TLS), sweeping a simulated
//! domain controller, checking in on demand.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use chrono::{Timelike, Utc};
use osiris_testkit::windows::{LAB_PASSWORD, LAB_USER, WindowsLab, domain_controller};
use osiris_testkit::{ServerOptions, Site, TestClock, TestServer, site_with_appliance};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The environment variable the tests hand the claim code in.
const CLAIM_CODE_ENV: &str = "OSIRIS_TEST_CLAIM_CODE";

/// An appliance enrolled at an in-process Central Command, with one
/// simulated domain controller as its target.
pub(crate) struct Appliance {
    pub(crate) server: TestServer,
    pub(crate) site: Site,
    pub(crate) lab: WindowsLab,
    /// Holds the data directory and the configuration.
    pub(crate) dir: TempDir,
    pub(crate) config: PathBuf,
}

impl Appliance {
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `osiris agent <command> --config <its file> …` with the lab's
    /// password in the environment, ready to spawn.
    pub(crate) fn command(&self, command: &str, extra: &[&str]) -> tokio::process::Command {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_osiris"));
        child
            .args(["agent", command, "--config"])
            .arg(&self.config)
            .args(extra)
            .env("LAB_PASSWORD", LAB_PASSWORD)
            .stdin(Stdio::null());
        child
    }

    /// Runs `osiris agent <command>` to the end.
    pub(crate) async fn run(&self, command: &str, extra: &[&str]) -> Output {
        self.command(command, extra).output().await.unwrap()
    }

    /// `osiris agent checkin --json`, parsed, with its exit code.
    pub(crate) async fn checkin(&self) -> (Option<i32>, Value, Output) {
        let out = self.run("checkin", &["--json"]).await;
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "checkin --json printed no JSON ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code(), report, out)
    }

    /// The appliance's chain as Central Command stored it, index entries
    /// after `after_seq`, ascending.
    pub(crate) async fn stored_after(&self, after_seq: u64) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut after = after_seq;
        loop {
            let page = self
                .site
                .admin
                .get_ok(&format!(
                    "/api/sites/{}/evidence?appliance_id={}&after_seq={after}&limit=1000",
                    self.site.tenant.site, self.site.appliance_id
                ))
                .await;
            let page = page.as_array().unwrap().clone();
            let full = page.len() == 1000;
            if let Some(last) = page.last() {
                after = last["seq"].as_u64().unwrap();
            }
            entries.extend(page);
            if !full {
                return entries;
            }
        }
    }
}

/// A maintenance window that is closed now and for the next hours, so
/// disruptive fixes are deferred (and recorded) on every sweep.
#[expect(
    clippy::disallowed_methods,
    reason = "the appliance under test runs on the system clock, so the window is placed by it"
)]
fn closed_window() -> (String, String) {
    let hour = Utc::now().hour();
    (
        format!("{:02}:00", (hour + 3) % 24),
        format!("{:02}:00", (hour + 5) % 24),
    )
}

/// The appliance's configuration file: `batch` bundles per check-in,
/// `targets` as TOML `[[targets]]` tables.
pub(crate) fn config_text(
    data_dir: &Path,
    server: &TestServer,
    batch: usize,
    targets: &str,
) -> String {
    let (start, end) = closed_window();
    format!(
        r#"
data_dir = "{data_dir}"
[server]
url = "{url}"
[schedule]
sweep_interval_secs = 60
[maintenance]
timezone = "UTC"
start = "{start}"
end = "{end}"
[limits]
checkin_batch = {batch}
{targets}
"#,
        data_dir = data_dir.display(),
        url = server.base,
    )
}

/// A `[[targets]]` table for a simulated Windows host.
pub(crate) fn windows_target(name: &str, lab: &WindowsLab) -> String {
    format!(
        r#"
[[targets]]
name = "{name}"
platform = "windows"
connection = "winrm"
address = "{url}"
credentials = {{ user = '{user}', password_env = "LAB_PASSWORD" }}
"#,
        url = lab.url(),
        user = LAB_USER,
    )
}

/// Central Command on the system clock (appliances sign their requests
/// with the real time, and a harness may run for longer than the 5
/// minutes of skew a frozen clock allows), answering every appliance with
/// a one-second check-in interval and no request quota to speak of.
pub(crate) async fn central_command() -> TestServer {
    TestServer::start_options(
        ServerOptions::https()
            .with_clock(TestClock::System)
            .with_env("OSIRIS_ORDERS__CHECKIN_INTERVAL_SECS", "1")
            .with_env("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "1000000"),
    )
    .await
}

/// A site with an appliance enrolled through `osiris agent enroll` and a
/// domain controller drifted three ways: real-time protection off (an L1
/// fix), the last backup failed (disruptive: deferred outside the window)
/// and BitLocker suspended (approval only: escalated). Every sweep records
/// seven checks and the decisions on the failing ones.
pub(crate) async fn enrolled_appliance(batch: usize) -> Appliance {
    let server = central_command().await;
    let site = site_with_appliance(&server, "Crash Clinic").await;
    let lab = domain_controller().await;
    lab.set_state("defender.realtime_enabled", json!(false))
        .unwrap();
    lab.set_state("backup.last_result", json!(1)).unwrap();
    lab.set_state("bitlocker.c_protection", json!("Off"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        config_text(
            &dir.path().join("data"),
            &server,
            batch,
            &windows_target("dc01", &lab),
        ),
    )
    .unwrap();
    let appliance = Appliance {
        server,
        site,
        lab,
        dir,
        config,
    };
    let ca = appliance.server.ca_file().unwrap();
    let out = appliance
        .command(
            "enroll",
            &[
                "--claim-code-env",
                CLAIM_CODE_ENV,
                "--ca-file",
                ca.to_str().unwrap(),
                "--json",
            ],
        )
        .env(CLAIM_CODE_ENV, &appliance.site.claim_code)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "enroll: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let enrolled: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        enrolled["appliance_id"],
        appliance.site.appliance_id.as_str()
    );
    appliance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_checkin_sends_the_queue_without_a_sweep_and_exits_1_when_central_command_is_unreachable()
 {
    let appliance = enrolled_appliance(4).await;

    // A first check-in: nothing queued yet; the answer brings Central
    // Command's rule set, whose rule_change bundle waits for the next one.
    let (code, first, out) = appliance.checkin().await;
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(first["checkin"]["bundles_sent"], 0, "{first}");
    assert!(first["checkin"]["rule_set"].is_string(), "{first}");
    assert_eq!(first["checkin_error"], Value::Null);
    assert_eq!(first["queued_bundles"], 1, "{first}");

    // One sweep queues a chain longer than one batch; its own check-in
    // sends only the first four.
    let out = appliance.run("run", &["--once", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let once: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(once["sweep"]["checks"], 7, "{once}");
    assert_eq!(once["checkin"]["bundles_sent"], 4, "{once}");
    let stored = appliance.stored_after(0).await.len();
    assert_eq!(stored, 4);

    // Each `checkin` sends one batch more and sweeps nothing: the server
    // ends up with exactly the chain the appliance sealed.
    let mut rounds = 0;
    let mut queued = u64::MAX;
    while queued > 0 {
        let (code, report, out) = appliance.checkin().await;
        assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(report["checkin"]["bundles_sent"].as_u64().unwrap() <= 4);
        queued = report["queued_bundles"].as_u64().unwrap();
        rounds += 1;
        assert!(rounds < 50, "the queue does not drain: {report}");
    }
    assert!(rounds > 1, "one sweep fills more than one batch");
    let chain = appliance.stored_after(0).await;
    let seqs: Vec<u64> = chain.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        chain.iter().filter(|e| e["kind"] == "check").count(),
        7,
        "no sweep ran during the check-ins"
    );

    // In words, for a person.
    let out = appliance.run("checkin", &[]).await;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!(
            "check-in: 0 bundles sent, acknowledged through seq {}",
            seqs.len()
        )),
        "{text}"
    );
    assert!(text.contains("queued bundles: 0"), "{text}");

    // Central Command gone: exit 1, the reason, and the queue kept.
    let out = appliance.run("run", &["--once"]).await;
    assert!(out.status.success());
    let Appliance {
        server,
        site: _site,
        lab: _lab,
        dir: _dir,
        config,
    } = appliance;
    server.stop().await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(["agent", "checkin", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("check-in failed: "), "{text}");
    assert!(text.contains("the evidence stays queued"), "{text}");
    let queued: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("queued bundles: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(queued > 0, "{text}");
}
