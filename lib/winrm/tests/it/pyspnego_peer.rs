//! Our client against an NTLM acceptor we did not write: pyspnego behind
//! tests/peer/ntlm_peer.py.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use winrm::{Credentials, Error, Mechanism, Session, SessionOptions};

use crate::python::python;

struct Peer {
    child: Child,
    port: u16,
    _users: tempfile::NamedTempFile,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_peer(extra: &[&str]) -> Peer {
    let users = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(users.path(), "TESTDOM:alice:Passw0rd!\n").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peer/ntlm_peer.py");
    let mut child = Command::new(python())
        .arg(script)
        .args(extra)
        .env("NTLM_USER_FILE", users.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("peer did not print a port: {line:?}"));
    Peer {
        child,
        port,
        _users: users,
    }
}

fn options() -> SessionOptions {
    SessionOptions::with_command_timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn client_authenticates_and_seals_against_pyspnego() {
    let peer = start_peer(&[]);
    let url = format!("http://127.0.0.1:{}/wsman", peer.port);
    let credentials = Credentials::new("TESTDOM\\alice", "Passw0rd!", Mechanism::Ntlm);
    let mut session = Session::connect(&url, &credentials, options())
        .await
        .unwrap();
    let shell = session.open_shell().await.unwrap();
    assert_eq!(shell.as_str(), "PEER-SHELL");
    // The peer answers the first Receive with w:TimedOut, which is retried.
    let output = session
        .run_powershell(&shell, "Write-Output 'hi'")
        .await
        .unwrap();
    assert_eq!(output.stdout_text(), "sealed by pyspnego\r\n");
    assert_eq!(output.exit_code, 7);
    session.close_shell(shell).await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_rejected_by_pyspnego() {
    let peer = start_peer(&[]);
    let url = format!("http://127.0.0.1:{}/wsman", peer.port);
    let credentials = Credentials::new("TESTDOM\\alice", "wrong", Mechanism::Ntlm);
    let error = Session::connect(&url, &credentials, options())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::AuthRejected), "{error:?}");
}

#[tokio::test]
async fn tampered_reply_from_pyspnego_is_refused() {
    let peer = start_peer(&["--tamper"]);
    let url = format!("http://127.0.0.1:{}/wsman", peer.port);
    let credentials = Credentials::new("TESTDOM\\alice", "Passw0rd!", Mechanism::Ntlm);
    let mut session = Session::connect(&url, &credentials, options())
        .await
        .unwrap();
    let error = session.open_shell().await.unwrap_err();
    assert!(matches!(error, Error::Tampered(_)), "{error:?}");
}
