use std::time::Duration;

use osiris_transport::{Error, LocalTransport, Script, Shell, Transport};

fn sh(body: &str) -> Script {
    Script {
        shell: Shell::Sh,
        body: body.into(),
        input: None,
        timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn local_script_returns_stdout_stderr_and_exit_code() {
    let mut local = LocalTransport::new("appliance");
    let out = local
        .run(&sh("printf '{\"ok\":true}'; echo oops >&2; exit 3"))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"{\"ok\":true}");
    assert_eq!(out.stderr, b"oops\n");
    assert_eq!(out.exit_code, 3);
    assert!(!out.succeeded());
}

#[tokio::test]
async fn local_script_reads_its_input_from_stdin() {
    let mut local = LocalTransport::new("appliance");
    let mut script = sh("cat");
    script.input = Some(b"{\"before\":1}".to_vec());
    assert_eq!(local.run(&script).await.unwrap().stdout, b"{\"before\":1}");
}

#[tokio::test]
async fn a_script_that_hangs_is_stopped_at_its_timeout() {
    let mut local = LocalTransport::new("appliance");
    let mut script = sh("sleep 30");
    script.timeout = Duration::from_millis(200);
    let started = tokio::time::Instant::now();
    let err = local.run(&script).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("appliance"));
}

#[tokio::test]
async fn runaway_output_is_refused_not_buffered() {
    let mut local = LocalTransport::new("appliance");
    let script = sh("head -c 20000000 /dev/zero");
    let err = local.run(&script).await.unwrap_err();
    assert!(matches!(err, Error::OutputTooLarge { .. }), "{err}");
}

#[tokio::test]
async fn powershell_is_refused_locally() {
    let mut local = LocalTransport::new("appliance");
    let mut script = sh("Get-Date");
    script.shell = Shell::PowerShell;
    let err = local.run(&script).await.unwrap_err();
    assert!(err.to_string().contains("cannot run powershell"), "{err}");
}

#[tokio::test]
async fn a_killed_script_reports_128_plus_the_signal() {
    let mut local = LocalTransport::new("appliance");
    let out = local.run(&sh("kill -9 $$")).await.unwrap();
    assert_eq!(out.exit_code, 137);
    Box::new(local).close().await.unwrap();
}
