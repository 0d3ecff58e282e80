//! lib/winrm's client against the simulated host.

use std::time::Duration;

use serde_json::Value;
use winrm::{Credentials, Error, FaultKind, Mechanism, Session, SessionOptions, powershell};

use crate::{PASSWORD, USER, start_lab};

fn options() -> SessionOptions {
    SessionOptions::with_command_timeout(Duration::from_secs(30))
}

async fn connect(url: &str) -> Session {
    Session::connect(
        url,
        &Credentials::new(USER, PASSWORD, Mechanism::Ntlm),
        options(),
    )
    .await
    .unwrap()
}

const DETECT_DEFENDER: &str = "$m = Get-MpComputerStatus\n[ordered]@{RealTimeProtectionEnabled=$m.RealTimeProtectionEnabled} | ConvertTo-Json -Compress";

#[tokio::test]
async fn drift_is_detected_and_remediation_heals_it_over_one_shell() {
    let lab = start_lab(Duration::ZERO).await;
    let mut session = connect(&lab.url()).await;
    let shell = session.open_shell().await.unwrap();

    let clean = session
        .run_powershell(&shell, DETECT_DEFENDER)
        .await
        .unwrap();
    let parsed: Value = serde_json::from_str(clean.stdout_text().trim()).unwrap();
    assert_eq!(parsed["RealTimeProtectionEnabled"], Value::Bool(true));

    lab.set_state("defender.realtime_enabled", Value::Bool(false))
        .unwrap();
    let drifted = session
        .run_powershell(&shell, DETECT_DEFENDER)
        .await
        .unwrap();
    assert!(
        drifted
            .stdout_text()
            .contains("\"RealTimeProtectionEnabled\":false")
    );

    let fix = session
        .run_powershell(&shell, "Set-MpPreference -DisableRealtimeMonitoring $false")
        .await
        .unwrap();
    assert_eq!(fix.exit_code, 0);
    assert_eq!(
        lab.state("defender.realtime_enabled"),
        Some(Value::Bool(true))
    );
    session.close_shell(shell).await.unwrap();
}

#[tokio::test]
async fn long_script_is_streamed_through_stdin_and_runs() {
    let lab = start_lab(Duration::ZERO).await;
    let mut session = connect(&lab.url()).await;
    let shell = session.open_shell().await.unwrap();
    // 200 KiB: beyond the command line and beyond one stdin chunk.
    let script = format!(
        "# {}\nGet-NetFirewallProfile | ConvertTo-Json -Compress",
        "x".repeat(200 * 1024)
    );
    assert!(!powershell::invocation(&script).unwrap().stdin.is_empty());
    let output = session.run_powershell(&shell, &script).await.unwrap();
    assert!(
        output.stdout_text().contains("\"Name\":\"Public\""),
        "{}",
        output.stdout_text()
    );
}

#[tokio::test]
async fn unknown_script_yields_a_decoded_powershell_error() {
    let lab = start_lab(Duration::ZERO).await;
    let mut session = connect(&lab.url()).await;
    let shell = session.open_shell().await.unwrap();
    let output = session
        .run_powershell(&shell, "Get-Frobnicator")
        .await
        .unwrap();
    assert_eq!(output.exit_code, 1);
    assert!(
        output
            .stderr_text()
            .starts_with("Get-Frobnicator : The term 'Get-Frobnicator' is not recognized"),
        "{}",
        output.stderr_text()
    );
}

#[tokio::test]
async fn wrong_password_is_an_auth_error() {
    let lab = start_lab(Duration::ZERO).await;
    let credentials = Credentials::new(USER, "not-the-password", Mechanism::Ntlm);
    let error = Session::connect(&lab.url(), &credentials, options())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::AuthRejected), "{error:?}");
}

#[tokio::test]
async fn another_account_with_the_right_password_is_refused() {
    let lab = start_lab(Duration::ZERO).await;
    let credentials = Credentials::new("TESTDOM\\mallory", PASSWORD, Mechanism::Ntlm);
    let error = Session::connect(&lab.url(), &credentials, options())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::AuthRejected), "{error:?}");
}

#[tokio::test]
async fn expired_shell_is_a_typed_invalid_selectors_fault() {
    let lab = start_lab(Duration::ZERO).await;
    let mut session = connect(&lab.url()).await;
    let shell = session.open_shell().await.unwrap();
    lab.expire_shells();
    let Error::Fault(fault) = session
        .run_powershell(&shell, DETECT_DEFENDER)
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(fault.kind, FaultKind::InvalidSelectors);
}

#[tokio::test]
async fn receive_timeouts_are_retried_until_the_command_deadline() {
    let lab = start_lab(Duration::ZERO).await;
    let mut options = options();
    options.operation_timeout = Duration::from_millis(300);
    options.command_timeout = Duration::from_secs(2);
    let credentials = Credentials::new(USER, PASSWORD, Mechanism::Ntlm);
    let mut session = Session::connect(&lab.url(), &credentials, options)
        .await
        .unwrap();
    let shell = session.open_shell().await.unwrap();
    // The stdin bootstrap with no stdin never finishes: every Receive
    // times out (w:TimedOut) and is retried until the command deadline.
    let bootstrap = powershell::invocation(&"#".repeat(9000)).unwrap().arguments;
    let error = session
        .run_command(&shell, powershell::POWERSHELL, &bootstrap, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::CommandTimeout { seconds: 2 }),
        "{error:?}"
    );
    // The session is still usable afterwards.
    assert_eq!(
        session
            .run_powershell(&shell, DETECT_DEFENDER)
            .await
            .unwrap()
            .exit_code,
        0
    );
}

#[tokio::test]
async fn added_latency_delays_every_reply() {
    let lab = start_lab(Duration::from_millis(50)).await;
    let started = tokio::time::Instant::now();
    let mut session = connect(&lab.url()).await;
    let shell = session.open_shell().await.unwrap();
    session
        .run_powershell(&shell, DETECT_DEFENDER)
        .await
        .unwrap();
    // create + command + receive + signal = 4 delayed replies.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}
