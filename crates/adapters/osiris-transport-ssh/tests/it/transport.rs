//! The transport's contract against a real OpenSSH server.

use std::time::Duration;

use osiris_core::Secret;
use osiris_testkit::linux::sshd::keygen;
use osiris_testkit::linux::users::{self, PASSWORD, PLAIN_USER, SUDO_USER};
use osiris_testkit::linux::{Sshd, run};
use osiris_transport::{
    Credentials, Error as PortError, MAX_OUTPUT_BYTES, Script, Shell, Transport,
};
use osiris_transport_ssh::{Error, Pinning, Privilege, SshTransport};

pub(crate) fn sh(body: &str) -> Script {
    Script {
        shell: Shell::Sh,
        body: body.into(),
        input: None,
        timeout: Duration::from_secs(20),
    }
}

fn password(user: &str, password: &str) -> Credentials {
    Credentials::Password {
        user: user.into(),
        password: Secret::new(password.into()),
    }
}

#[tokio::test]
async fn a_script_returns_stdout_stderr_and_exit_code() {
    let sshd = Sshd::start();
    let mut ssh = sshd.connect_as_root().await;
    let out = ssh
        .run(&sh("printf '{\"ok\":true}'; echo 'it''s' >&2; exit 3"))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"{\"ok\":true}");
    assert_eq!(out.stderr, b"its\n");
    assert_eq!(out.exit_code, 3);
    let out = ssh.run(&sh("echo \"quote ' and $((6*7))\"")).await.unwrap();
    assert_eq!(out.stdout, b"quote ' and 42\n");
    assert!(out.succeeded());
    Box::new(ssh).close().await.unwrap();
}

#[tokio::test]
async fn input_bytes_reach_the_script_on_stdin() {
    let sshd = Sshd::start();
    let mut ssh = sshd.connect_as_root().await;
    // Larger than the SSH window, so flow control is exercised.
    let input: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut script = sh("sha256sum | cut -d' ' -f1");
    script.input = Some(input.clone());
    let out = ssh.run(&script).await.unwrap();
    let mut expected = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    expected.stdin.take().unwrap().write_all(&input).unwrap();
    let expected = expected.wait_with_output().unwrap().stdout;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        String::from_utf8(expected)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
    );
}

#[tokio::test]
async fn one_connection_and_one_login_serve_a_whole_sweep() {
    let sshd = Sshd::start();
    let mut ssh = sshd.connect_as_root().await;
    let mut connections = Vec::new();
    for _ in 0..5 {
        let out = ssh.run(&sh("echo \"$SSH_CONNECTION\"")).await.unwrap();
        connections.push(String::from_utf8(out.stdout).unwrap());
    }
    assert!(
        connections
            .iter()
            .all(|c| c == &connections[0] && !c.trim().is_empty())
    );
    assert_eq!(
        sshd.log().matches("Accepted publickey for root").count(),
        1,
        "{}",
        sshd.log()
    );
}

#[tokio::test]
async fn the_host_key_is_pinned_on_first_contact_and_matched_afterwards() {
    let sshd = Sshd::start();
    let first = sshd.connect_as_root().await;
    assert_eq!(first.host_key().pinning, Pinning::PinnedNow);
    assert_eq!(first.host_key().fingerprint, sshd.host_key_fingerprint());
    let second = sshd.connect_as_root().await;
    assert_eq!(second.host_key().pinning, Pinning::AlreadyPinned);
    let pinned = std::fs::read_to_string(sshd.known_hosts().path()).unwrap();
    assert_eq!(pinned.lines().count(), 1);
    assert!(pinned.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", sshd.port)));
}

#[tokio::test]
async fn a_changed_host_key_is_refused_with_both_fingerprints_and_how_to_repin() {
    let mut sshd = Sshd::start();
    let old = sshd.connect_as_root().await.host_key().fingerprint.clone();
    sshd.restart_with_new_host_key();
    let err = SshTransport::connect(sshd.config(sshd.root_key(), Privilege::Login))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, Error::Transport(PortError::IdentityChanged { .. })),
        "{err:?}"
    );
    let new = sshd.host_key_fingerprint();
    assert!(
        message.contains(&old) && message.contains(&new),
        "{message}"
    );
    assert!(message.contains("ssh-keygen -R"), "{message}");
    assert_eq!(
        sshd.log().matches("Accepted publickey").count(),
        1,
        "no login may follow a refused key"
    );
    // Following the advice re-pins.
    let host = format!("[127.0.0.1]:{}", sshd.port);
    run(
        "ssh-keygen",
        &[
            "-R",
            &host,
            "-f",
            sshd.known_hosts().path().to_str().unwrap(),
        ],
    );
    assert_eq!(
        sshd.connect_as_root().await.host_key().pinning,
        Pinning::PinnedNow
    );
}

#[tokio::test]
async fn a_key_the_server_does_not_authorise_is_rejected() {
    let sshd = Sshd::start();
    let stranger = sshd.dir.path().join("stranger");
    keygen(&stranger);
    let credentials = Credentials::PrivateKey {
        user: "root".into(),
        key: Secret::new(std::fs::read_to_string(&stranger).unwrap()),
        passphrase: None,
    };
    let err = SshTransport::connect(sshd.config(credentials, Privilege::Login))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(PortError::AuthRejected { user, .. }) if user == "root"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_key_that_does_not_decode_is_a_key_error_before_connecting() {
    let sshd = Sshd::start();
    let credentials = Credentials::PrivateKey {
        user: "root".into(),
        key: Secret::new(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n"
                .into(),
        ),
        passphrase: None,
    };
    let err = SshTransport::connect(sshd.config(credentials, Privilege::Login))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Key { .. }), "{err:?}");
    assert!(!sshd.log().contains("Connection from"), "{}", sshd.log());
}

#[tokio::test]
async fn password_login_works_and_a_wrong_password_is_rejected() {
    users::ensure_test_users();
    let sshd = Sshd::start();
    let mut ssh =
        SshTransport::connect(sshd.config(password(PLAIN_USER, PASSWORD), Privilege::Login))
            .await
            .unwrap_or_else(|err| panic!("{err}\n{}", sshd.log()));
    let out = ssh.run(&sh("id -un")).await.unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), PLAIN_USER);
    let err = SshTransport::connect(sshd.config(password(PLAIN_USER, "wrong"), Privilege::Login))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport(PortError::AuthRejected { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn sudo_runs_scripts_as_root_through_the_configured_rule() {
    users::ensure_test_users();
    let sshd = Sshd::start();
    let mut plain =
        SshTransport::connect(sshd.config(password(SUDO_USER, PASSWORD), Privilege::Login))
            .await
            .unwrap();
    assert_ne!(plain.run(&sh("id -u")).await.unwrap().stdout, b"0\n");
    let mut elevated =
        SshTransport::connect(sshd.config(password(SUDO_USER, PASSWORD), Privilege::Sudo))
            .await
            .unwrap();
    let mut script = sh("id -u; cat");
    script.input = Some(b"stdin passes through sudo\n".to_vec());
    let out = elevated.run(&script).await.unwrap();
    assert_eq!(
        out.stdout,
        b"0\nstdin passes through sudo\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn sudo_without_a_rule_fails_at_once_instead_of_waiting_for_a_password() {
    users::ensure_test_users();
    let sshd = Sshd::start();
    let mut elevated =
        SshTransport::connect(sshd.config(password(PLAIN_USER, PASSWORD), Privilege::Sudo))
            .await
            .unwrap();
    let mut script = sh("id -u");
    script.timeout = Duration::from_secs(5);
    let out = elevated.run(&script).await.unwrap();
    assert_ne!(out.exit_code, 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("password is required"),
        "{out:?}"
    );
}

/// Whether any process's command line contains `needle` (read from /proc, no procps needed).
fn running(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| {
            std::fs::read(entry.path().join("cmdline"))
                .map(|raw| {
                    String::from_utf8_lossy(&raw)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
}

#[tokio::test]
async fn a_hanging_command_times_out_is_killed_and_the_session_goes_on() {
    let sshd = Sshd::start();
    let mut ssh = sshd.connect_as_root().await;
    let marker = format!("sleep 4{}", sshd.port);
    let mut script = sh(&format!("echo started; {marker}"));
    script.timeout = Duration::from_millis(800);
    let err = ssh.run(&script).await.unwrap_err();
    assert!(
        matches!(err, PortError::Timeout { after, .. } if after == Duration::from_millis(800)),
        "{err:?}"
    );
    let out = ssh.run(&sh("echo still here")).await.unwrap();
    assert_eq!(out.stdout, b"still here\n");
    // The remote command must not outlive its deadline.
    let mut gone = false;
    for _ in 0..50 {
        if !running(&marker) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "{marker} still runs after the timeout");
}

#[tokio::test]
async fn output_past_the_cap_is_refused_and_the_session_goes_on() {
    let sshd = Sshd::start();
    let mut ssh = sshd.connect_as_root().await;
    let err = ssh
        .run(&sh(&format!("head -c {} /dev/zero", MAX_OUTPUT_BYTES + 1)))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::OutputTooLarge { .. }), "{err:?}");
    let out = ssh
        .run(&sh(&format!(
            "head -c {MAX_OUTPUT_BYTES} /dev/zero | wc -c"
        )))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        MAX_OUTPUT_BYTES.to_string()
    );
}

#[tokio::test]
async fn a_server_that_dies_mid_command_is_an_error_not_a_panic() {
    let sshd = Sshd::start();
    let mut ssh = sshd.connect_as_root().await;
    // The script's parent is timeout(1), whose parent is the sshd process serving this connection.
    let err = ssh
        .run(&sh(
            "echo partial; kill -9 $(cut -d' ' -f4 /proc/$PPID/stat); sleep 5",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PortError::Protocol { reason, .. } if reason.contains("closed")),
        "{err:?}"
    );
    let again = ssh.run(&sh("echo hello")).await.unwrap_err();
    assert!(matches!(again, PortError::Protocol { .. }), "{again:?}");
}

#[tokio::test]
async fn a_peer_that_is_not_an_ssh_server_is_an_error_not_a_panic() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            // A banner, then garbage, then the connection closes.
            let _ = socket
                .write_all(b"SSH-2.0-fake\r\n\x00\x00\x00\x0cgarbage!")
                .await;
        }
    });
    let sshd = Sshd::start();
    let mut config = sshd.config(sshd.root_key(), Privilege::Login);
    config.port = port;
    let err = SshTransport::connect(config).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport(PortError::Protocol { .. } | PortError::Unreachable { .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let sshd = Sshd::start();
    let mut config = sshd.config(sshd.root_key(), Privilege::Login);
    config.port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = SshTransport::connect(config).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(PortError::Unreachable { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn powershell_scripts_are_unsupported_over_ssh() {
    let sshd = Sshd::start();
    let mut ssh = sshd.connect_as_root().await;
    let mut script = sh("Get-Date");
    script.shell = Shell::PowerShell;
    assert!(matches!(
        ssh.run(&script).await.unwrap_err(),
        PortError::Unsupported { .. }
    ));
}

#[tokio::test]
async fn an_encrypted_key_logs_in_with_its_passphrase_and_a_wrong_one_is_a_key_error() {
    let sshd = Sshd::start();
    let locked = sshd.dir.path().join("locked_key");
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "open sesame",
            "-f",
            locked.to_str().unwrap(),
        ],
    );
    let public = std::fs::read_to_string(locked.with_extension("pub")).unwrap();
    std::fs::write(sshd.dir.path().join("authorized_keys"), public).unwrap();
    let credentials = |passphrase: &str| Credentials::PrivateKey {
        user: "root".into(),
        key: Secret::new(std::fs::read_to_string(&locked).unwrap()),
        passphrase: Some(Secret::new(passphrase.into())),
    };
    let mut ssh = SshTransport::connect(sshd.config(credentials("open sesame"), Privilege::Login))
        .await
        .unwrap();
    assert_eq!(ssh.run(&sh("echo in")).await.unwrap().stdout, b"in\n");
    let err = SshTransport::connect(sshd.config(credentials("wrong"), Privilege::Login))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Key { .. }), "{err:?}");
    assert!(!err.to_string().contains("open sesame"));
}

#[tokio::test]
async fn a_peer_that_accepts_but_never_speaks_is_unreachable_after_the_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        loop {
            sockets.push(listener.accept().await.unwrap());
        }
    });
    let sshd = Sshd::start();
    let mut config = sshd.config(sshd.root_key(), Privilege::Login);
    config.port = port;
    config.connect_timeout = Duration::from_millis(500);
    let err = SshTransport::connect(config).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(PortError::Unreachable { reason, .. }) if reason.contains("handshake")),
        "{err:?}"
    );
    held.abort();
}
