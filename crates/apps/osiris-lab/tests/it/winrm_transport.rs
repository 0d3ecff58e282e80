//! `osiris-transport-winrm` against the simulated host: the adapter's
//! integration tests live here because an adapter may not depend on an app,
//! even for tests, while the lab may depend on the adapter.

use std::time::Duration;

use osiris_core::Secret;
use osiris_transport::{Credentials, Error, Script, Shell, Transport};
use osiris_transport_winrm::{WinrmOptions, WinrmTransport, connect};
use serde_json::Value;

use crate::{PASSWORD, USER};

pub(crate) async fn start_lab() -> osiris_lab::windows::WindowsLab {
    crate::start_lab(Duration::ZERO).await
}

#[must_use]
pub(crate) fn credentials(password: &str) -> Credentials {
    Credentials::Password {
        user: USER.into(),
        password: Secret::new(password.to_owned()),
    }
}

#[must_use]
pub(crate) fn powershell(body: &str) -> Script {
    Script {
        shell: Shell::PowerShell,
        body: body.into(),
        input: None,
        timeout: Duration::from_secs(30),
    }
}

/// A loopback port with nothing listening on it.
pub(crate) async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn open(url: &str) -> Box<WinrmTransport> {
    Box::new(
        connect(
            "dc01",
            url,
            &credentials(PASSWORD),
            &WinrmOptions::default(),
        )
        .await
        .unwrap(),
    )
}

#[tokio::test]
async fn scripts_of_a_session_share_one_shell_which_close_deletes() {
    let lab = start_lab().await;
    let mut transport = open(&lab.url()).await;
    assert_eq!(transport.target(), "dc01");
    for _ in 0..3 {
        let output = transport
            .run(&powershell(
                "Get-NetFirewallProfile | ConvertTo-Json -Compress",
            ))
            .await
            .unwrap();
        assert!(output.succeeded());
        let profiles: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(profiles[2]["Name"], "Public");
        assert_eq!(lab.open_shells(), 1);
    }
    transport.close().await.unwrap();
    assert_eq!(lab.open_shells(), 0);
}

#[tokio::test]
async fn drift_injected_in_the_host_shows_in_the_next_script() {
    let lab = start_lab().await;
    let mut transport = open(&lab.url()).await;
    let detect = powershell("Get-MpComputerStatus | ConvertTo-Json -Compress");
    let before: Value =
        serde_json::from_slice(&transport.run(&detect).await.unwrap().stdout).unwrap();
    assert_eq!(before["RealTimeProtectionEnabled"], true);
    lab.set_state("defender.realtime_enabled", Value::Bool(false))
        .unwrap();
    let after: Value =
        serde_json::from_slice(&transport.run(&detect).await.unwrap().stdout).unwrap();
    assert_eq!(after["RealTimeProtectionEnabled"], false);
}

#[tokio::test]
async fn script_input_arrives_on_standard_input() {
    let lab = start_lab().await;
    let mut transport = open(&lab.url()).await;
    let mut script = powershell("$Before = [Console]::In.ReadToEnd() | ConvertFrom-Json");
    let input = br#"{"before":{"DisableRealtimeMonitoring":true}}"#;
    script.input = Some(input.to_vec());
    let output = transport.run(&script).await.unwrap();
    assert_eq!(output.stdout, [&input[..], b"\r\n"].concat());
}

#[tokio::test]
async fn a_long_script_with_input_runs_unchanged() {
    let lab = start_lab().await;
    let mut transport = open(&lab.url()).await;
    let body = format!("# {}\n[Console]::In.ReadToEnd()", "x".repeat(100 * 1024));
    let mut script = powershell(&body);
    script.input = Some(b"prior state".to_vec());
    let output = transport.run(&script).await.unwrap();
    assert_eq!(output.stdout, b"prior state\r\n");
}

#[tokio::test]
async fn a_script_running_past_its_timeout_is_a_timeout_and_the_session_survives() {
    let lab = start_lab().await;
    let mut transport = open(&lab.url()).await;
    let mut script = powershell("Start-Sleep -Seconds 3600");
    script.timeout = Duration::from_secs(1);
    let error = transport.run(&script).await.unwrap_err();
    assert!(
        matches!(error, Error::Timeout { ref target, after } if target == "dc01" && after == Duration::from_secs(1)),
        "{error:?}"
    );
    let output = transport.run(&powershell("hostname")).await.unwrap();
    assert_eq!(output.stdout, b"DC01\r\n");
}

#[tokio::test]
async fn exit_codes_and_decoded_errors_come_back_as_output() {
    let lab = start_lab().await;
    let mut transport = open(&lab.url()).await;
    let output = transport.run(&powershell("exit 3")).await.unwrap();
    assert_eq!((output.exit_code, output.succeeded()), (3, false));
    let output = transport.run(&powershell("Get-Frobnicator")).await.unwrap();
    assert_eq!(output.exit_code, 1);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("Get-Frobnicator : The term 'Get-Frobnicator' is not recognized"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_shell_lost_on_the_server_is_replaced_on_the_next_script() {
    let lab = start_lab().await;
    let mut transport = open(&lab.url()).await;
    lab.expire_shells();
    let error = transport.run(&powershell("hostname")).await.unwrap_err();
    assert!(matches!(error, Error::Protocol { .. }), "{error:?}");
    let output = transport.run(&powershell("hostname")).await.unwrap();
    assert_eq!(output.stdout, b"DC01\r\n");
    assert_eq!(lab.open_shells(), 1);
}

#[tokio::test]
async fn a_wrong_password_is_auth_rejected_naming_the_user_not_the_password() {
    let lab = start_lab().await;
    let error = connect(
        "dc01",
        &lab.url(),
        &credentials("hunter2-wrong"),
        &WinrmOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::AuthRejected { ref user, .. } if user == USER),
        "{error:?}"
    );
    assert!(!error.to_string().contains("hunter2"));
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let url = format!("http://127.0.0.1:{}/wsman", closed_port().await);
    let error = connect(
        "dc01",
        &url,
        &credentials(PASSWORD),
        &WinrmOptions::default(),
    )
    .await
    .unwrap_err();
    let Error::Unreachable { target, reason } = error else {
        panic!("{error:?}")
    };
    assert_eq!(target, "dc01");
    assert!(reason.contains("refused"), "{reason}");
}

#[tokio::test]
async fn a_silent_server_is_unreachable_after_the_connect_timeout() {
    // Accepts TCP but never answers HTTP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wsman", listener.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let options = WinrmOptions {
        connect_timeout: Duration::from_millis(300),
        ..WinrmOptions::default()
    };
    let error = connect("dc01", &url, &credentials(PASSWORD), &options)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
}

#[tokio::test]
async fn sh_scripts_and_key_credentials_are_refused_with_typed_errors() {
    let lab = start_lab().await;
    let mut transport = open(&lab.url()).await;
    let mut script = powershell("echo hi");
    script.shell = Shell::Sh;
    assert!(matches!(
        transport.run(&script).await.unwrap_err(),
        Error::Unsupported {
            shell: Shell::Sh,
            ..
        }
    ));
    let key = Credentials::PrivateKey {
        user: "alice".into(),
        key: Secret::new("-----BEGIN OPENSSH PRIVATE KEY-----".into()),
        passphrase: None,
    };
    let error = connect("dc01", &lab.url(), &key, &WinrmOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Protocol { .. }), "{error:?}");
}

#[tokio::test]
async fn the_password_never_appears_in_debug_output() {
    let lab = start_lab().await;
    let transport = open(&lab.url()).await;
    let debug = format!("{transport:?} {:?}", credentials(PASSWORD));
    assert!(!debug.contains(PASSWORD), "{debug}");
}
