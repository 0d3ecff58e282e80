//! A third independent client: the `winrm-rs` crate (pinned `=1.1.2`), with
//! its own NTLMv2, against the lab.
//!
//! winrm-rs 1.1.2 sends the first SOAP body in clear text inside the NTLM
//! Type 3 request and seals only the requests after it. The lab, like
//! Windows with `AllowUnencrypted=false`, refuses clear-text SOAP on HTTP, so
//! that client cannot open a shell over sealed HTTP; the interoperating path
//! is NTLM inside HTTPS, which is tested here, and the refusal is pinned.

use std::time::Duration;

use winrm_rs::{AuthMethod, EncryptionMode, WinrmClient, WinrmConfig, WinrmCredentials};

use crate::https::{https_lab, pki};
use crate::{PASSWORD, USER, start_lab};

fn client(port: u16, password: &str, use_tls: bool, encryption: EncryptionMode) -> WinrmClient {
    let (domain, user) = USER.split_once('\\').unwrap();
    let config = WinrmConfig {
        port,
        use_tls,
        // The lab's certificate comes from a throw-away test CA that winrm-rs
        // has no option to trust; TLS still protects the exchange.
        accept_invalid_certs: use_tls,
        auth_method: AuthMethod::Ntlm,
        encryption,
        connect_timeout_secs: 5,
        operation_timeout_secs: 20,
        ..WinrmConfig::default()
    };
    WinrmClient::new(config, WinrmCredentials::new(user, password, domain)).unwrap()
}

#[tokio::test]
async fn winrm_rs_runs_powershell_and_cmd_over_ntlm_inside_https() {
    let pki = pki(&["127.0.0.1"]);
    let lab = https_lab(&pki).await;
    lab.set_state("defender.realtime_enabled", serde_json::json!(false))
        .unwrap();
    let client = client(lab.address().port(), PASSWORD, true, EncryptionMode::Never);

    let detect = client
        .run_powershell(
            "127.0.0.1",
            "Get-MpComputerStatus | ConvertTo-Json -Compress",
        )
        .await
        .unwrap();
    assert_eq!(detect.exit_code, 0);
    let facts: serde_json::Value = serde_json::from_slice(&detect.stdout).unwrap();
    assert_eq!(facts["RealTimeProtectionEnabled"], false);

    let unknown = client
        .run_powershell("127.0.0.1", "Get-Frobnicator -All")
        .await
        .unwrap();
    assert_eq!(unknown.exit_code, 1);
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("Get-Frobnicator"),
        "{:?}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    let cmd = client
        .run_command("127.0.0.1", "hostname", &[])
        .await
        .unwrap();
    assert_eq!((cmd.exit_code, cmd.stdout), (0, b"DC01\r\n".to_vec()));
    assert_eq!(lab.open_shells(), 0);
}

#[tokio::test]
async fn clear_text_soap_in_winrm_rs_ntlm_handshake_is_refused_on_http() {
    let lab = start_lab(Duration::ZERO).await;
    let result = client(
        lab.address().port(),
        PASSWORD,
        false,
        EncryptionMode::Always,
    )
    .run_command("127.0.0.1", "hostname", &[])
    .await;
    assert!(
        matches!(result, Err(winrm_rs::WinrmError::AuthFailed(_))),
        "{result:?}"
    );
    assert_eq!(lab.open_shells(), 0);
}

/// winrm-rs over TLS sends no MIC; the lab must still check the NTLMv2
/// proof itself, or any password would do.
#[tokio::test]
async fn winrm_rs_with_a_wrong_password_is_refused() {
    let pki = pki(&["127.0.0.1"]);
    let lab = https_lab(&pki).await;
    let result = client(lab.address().port(), "wrong", true, EncryptionMode::Never)
        .run_command("127.0.0.1", "hostname", &[])
        .await;
    assert!(
        matches!(result, Err(winrm_rs::WinrmError::AuthFailed(_))),
        "{result:?}"
    );
    assert_eq!(lab.open_shells(), 0);
}
