//! `osiris target test` and `osiris target exec` (entry points in
//! `osiris-transport-winrm`) against the simulated host.

use std::time::Duration;

use osiris_transport_winrm::WinrmOptions;
use osiris_transport_winrm::cli::{EXEC_FAILED, ExecSource, TargetSpec, target_exec, target_test};
use serde_json::Value;

use crate::winrm_transport::{closed_port, start_lab};
use crate::{PASSWORD, USER};

const VAR: &str = "OSIRIS_TEST_WINRM_PASSWORD";

fn spec(url: &str) -> TargetSpec {
    TargetSpec {
        url: url.into(),
        user: USER.into(),
        password_env: VAR.into(),
        options: WinrmOptions::default(),
    }
}

fn env_with(password: &'static str) -> impl Fn(&str) -> Option<String> {
    move |name| (name == VAR).then(|| password.to_owned())
}

async fn test_json(url: &str, password: &'static str) -> (u8, Value) {
    let mut out = Vec::new();
    let code = target_test(&spec(url), true, &env_with(password), &mut out).await;
    (code, serde_json::from_slice(&out).unwrap())
}

#[tokio::test]
async fn target_test_reports_each_step_with_timings_in_json() {
    let lab = start_lab().await;
    let (code, report) = test_json(&lab.url(), PASSWORD).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    let steps = report["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(names, ["reachable", "authenticated", "command"]);
    assert!(steps.iter().all(|s| s["ok"] == true && s["ms"].is_u64()));
    assert!(steps[2]["detail"].as_str().unwrap().contains("DC01"));
    assert_eq!(lab.open_shells(), 0);
}

#[tokio::test]
async fn target_test_prints_a_readable_report() {
    let lab = start_lab().await;
    let mut out = Vec::new();
    let code = target_test(&spec(&lab.url()), false, &env_with(PASSWORD), &mut out).await;
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with(&format!("target {} as {USER}\n", lab.url())),
        "{text}"
    );
    for line in ["reachable", "authenticated", "command"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(line) && l.contains(" ok ")),
            "{text}"
        );
    }
    assert!(text.contains("\"DC01\""), "{text}");
    assert!(!text.contains(PASSWORD));
}

#[tokio::test]
async fn target_test_with_a_wrong_password_fails_at_authentication() {
    let lab = start_lab().await;
    let (code, report) = test_json(&lab.url(), "wrong-password").await;
    assert_eq!(code, 1);
    assert_eq!(report["steps"][0]["ok"], true);
    assert_eq!(report["steps"][1]["ok"], false);
    assert!(
        report["steps"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("authentication refused")
    );
    assert_eq!(report["steps"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn target_test_of_a_closed_port_fails_at_reachability() {
    let url = format!("http://127.0.0.1:{}/wsman", closed_port().await);
    let (code, report) = test_json(&url, PASSWORD).await;
    assert_eq!(code, 1);
    assert_eq!(report["steps"].as_array().unwrap().len(), 1);
    assert_eq!(report["steps"][0]["ok"], false);
}

#[tokio::test]
async fn target_test_without_the_password_variable_is_a_usage_error() {
    let mut out = Vec::new();
    let code = target_test(
        &spec("http://127.0.0.1:1/wsman"),
        false,
        &|_| None,
        &mut out,
    )
    .await;
    assert_eq!(code, 2);
    assert!(String::from_utf8(out).unwrap().contains(VAR));
}

async fn exec(url: &str, source: ExecSource) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = target_exec(
        &spec(url),
        &source,
        Duration::from_secs(30),
        &env_with(PASSWORD),
        &mut out,
        &mut err,
    )
    .await;
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[tokio::test]
async fn target_exec_prints_stdout_and_returns_the_commands_exit_code() {
    let lab = start_lab().await;
    let (code, out, err) = exec(&lab.url(), ExecSource::Command("hostname".into())).await;
    assert_eq!((code, out.as_str(), err.as_str()), (0, "DC01\r\n", ""));
    let (code, out, _) = exec(&lab.url(), ExecSource::Command("exit 7".into())).await;
    assert_eq!((code, out.as_str()), (7, ""));
    let (code, _, err) = exec(&lab.url(), ExecSource::Command("Get-Frobnicator".into())).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("The term 'Get-Frobnicator' is not recognized"),
        "{err}"
    );
}

#[tokio::test]
async fn target_exec_runs_a_script_file() {
    let lab = start_lab().await;
    let dir = std::env::temp_dir().join(format!("osiris-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("detect.ps1");
    std::fs::write(
        &path,
        "$m = Get-MpComputerStatus\n$m | ConvertTo-Json -Compress\n",
    )
    .unwrap();
    let (code, out, _) = exec(&lab.url(), ExecSource::ScriptFile(path.clone())).await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(status["RealTimeProtectionEnabled"], true);
    let (code, _, err) = exec(&lab.url(), ExecSource::ScriptFile(path)).await;
    assert_eq!(code, EXEC_FAILED);
    assert!(err.contains("cannot read script"), "{err}");
}

#[tokio::test]
async fn target_exec_against_a_closed_port_reports_why_with_the_failure_code() {
    let url = format!("http://127.0.0.1:{}/wsman", closed_port().await);
    let (code, out, err) = exec(&url, ExecSource::Command("hostname".into())).await;
    assert_eq!((code, out.as_str()), (EXEC_FAILED, ""));
    assert!(err.contains("unreachable"), "{err}");
}
