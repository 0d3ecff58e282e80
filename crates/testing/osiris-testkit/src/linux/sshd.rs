//! A real `sshd` for one test: its own host key, client key, config and log
//! in a temporary folder, on a free loopback port (or on port 22 inside a
//! [`Namespace`](super::Namespace)), stopped when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use osiris_core::Secret;
use osiris_transport::Credentials;
use osiris_transport_ssh::{KnownHosts, Privilege, SshConfig, SshTransport};

use super::run;

/// Debian's OpenSSH server (package `openssh-server`).
pub const SSHD: &str = "/usr/sbin/sshd";

/// Debian's `sshd` running for one test, with everything it reads or
/// writes in [`Sshd::dir`]:
///
/// - `host_key` (ed25519) and its `.pub`;
/// - `client_key` (ed25519, no passphrase), whose public half is the only
///   line of `authorized_keys`, for every account (root included: the
///   config permits root logins by key);
/// - `sshd_config` (password logins allowed, no PAM, `LogLevel VERBOSE`)
///   and `sshd.log` (its stderr);
/// - `known_hosts`, where [`Sshd::config`] makes the transport pin the
///   host key.
///
/// Dropping it kills the server.
#[derive(Debug)]
pub struct Sshd {
    /// The server's folder (keys, config, log, known hosts).
    pub dir: tempfile::TempDir,
    /// The address it listens on.
    pub address: String,
    /// The port it listens on.
    pub port: u16,
    netns: Option<String>,
    child: Child,
}

impl Sshd {
    /// An sshd on a free 127.0.0.1 port.
    ///
    /// # Panics
    /// When sshd is not installed or does not start after 5 attempts.
    #[must_use]
    pub fn start() -> Self {
        Self::start_at("127.0.0.1", None)
    }

    /// An sshd listening on `address`: on a free port on this machine, or
    /// on port 22 inside the network namespace `netns` (a host of its own,
    /// see [`Namespace`](super::Namespace)).
    ///
    /// Another test may take the port between choosing it and sshd's
    /// start: then sshd exits at once and the next of 5 attempts takes
    /// another port.
    ///
    /// # Panics
    /// When sshd is not installed or does not start after 5 attempts (the
    /// message and stderr carry its log).
    #[must_use]
    pub fn start_at(address: &str, netns: Option<&str>) -> Self {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: apt-get install -y openssh-server"
        );
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut dir = tempfile::tempdir().unwrap();
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("client_key"));
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        // Another test may bind a port between `free_port` and sshd's start:
        // then sshd exits at once and the next attempt takes another port.
        for _ in 0..5 {
            // A namespace is a host of its own, so its sshd takes the standard port.
            let port = if netns.is_some() { 22 } else { free_port() };
            let config = format!(
                "Port {port}\nListenAddress {address}\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
                 AuthorizedKeysFile {dir}/authorized_keys\nUsePAM no\nStrictModes no\n\
                 PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 LogLevel VERBOSE\n",
                dir = dir.path().display()
            );
            std::fs::write(dir.path().join("sshd_config"), config).unwrap();
            let child = spawn(dir.path(), netns);
            let mut sshd = Self {
                dir,
                address: address.to_owned(),
                port,
                netns: netns.map(str::to_owned),
                child,
            };
            if sshd.wait_until_listening() {
                return sshd;
            }
            eprintln!("sshd on port {port} did not start: {}", sshd.log());
            let _ = sshd.child.kill();
            let _ = sshd.child.wait();
            dir = std::mem::replace(&mut sshd.dir, tempfile::tempdir().unwrap());
        }
        panic!("sshd did not start on {address} after 5 attempts");
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "test set-up polls a child process; nothing else runs meanwhile"
    )]
    /// Whether sshd accepts connections within 5 s (false at once if it exited).
    fn wait_until_listening(&mut self) -> bool {
        for _ in 0..100 {
            if TcpStream::connect((self.address.as_str(), self.port)).is_ok() {
                return true;
            }
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// What sshd logged so far.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The known-hosts file [`Sshd::config`] pins this server's key in
    /// (absent until the first connection).
    #[must_use]
    pub fn known_hosts(&self) -> KnownHosts {
        KnownHosts::new(self.dir.path().join("known_hosts"))
    }

    /// The private key (OpenSSH format, no passphrase) every account on
    /// this server accepts.
    #[must_use]
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// The server's public host key file (`host_key.pub`).
    #[must_use]
    pub fn host_public_key(&self) -> PathBuf {
        self.dir.path().join("host_key.pub")
    }

    /// The SHA-256 fingerprint of the current host key as `ssh-keygen -l`
    /// prints it (`SHA256:…`), the form the transport reports.
    #[must_use]
    pub fn host_key_fingerprint(&self) -> String {
        let line = run(
            "ssh-keygen",
            &["-l", "-f", self.host_public_key().to_str().unwrap()],
        );
        line.split_whitespace().nth(1).unwrap().to_owned()
    }

    /// Stops sshd, gives it a new host key and starts it again on the same port.
    ///
    /// # Panics
    /// When it does not come back within 5 s.
    pub fn restart_with_new_host_key(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        keygen(&self.dir.path().join("host_key"));
        self.child = spawn(self.dir.path(), self.netns.as_deref());
        assert!(
            self.wait_until_listening(),
            "sshd did not restart: {}",
            self.log()
        );
    }

    /// A transport configuration for this server (named `sshd-<port>`),
    /// pinning its host key in [`Sshd::known_hosts`], with a 10 s connect
    /// timeout.
    #[must_use]
    pub fn config(&self, credentials: Credentials, privilege: Privilege) -> SshConfig {
        SshConfig {
            name: format!("sshd-{}", self.port),
            host: self.address.clone(),
            port: self.port,
            credentials,
            known_hosts: self.known_hosts(),
            privilege,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Root's credentials: the [`Sshd::client_key`].
    #[must_use]
    pub fn root_key(&self) -> Credentials {
        Credentials::PrivateKey {
            user: "root".into(),
            key: Secret::new(std::fs::read_to_string(self.client_key()).unwrap()),
            passphrase: None,
        }
    }

    /// A session as root, logged in with the test's client key.
    ///
    /// # Panics
    /// When the connection or login fails (the message carries sshd's log).
    pub async fn connect_as_root(&self) -> SshTransport {
        SshTransport::connect(self.config(self.root_key(), Privilege::Login))
            .await
            .unwrap_or_else(|err| panic!("{err}\nsshd log:\n{}", self.log()))
    }
}

/// Writes a new ed25519 key pair without a passphrase to `path` and
/// `path.pub`, replacing any there.
///
/// # Panics
/// When `ssh-keygen` fails or `path` is not UTF-8.
pub fn keygen(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            path.to_str().unwrap(),
        ],
    );
}

fn spawn(dir: &Path, netns: Option<&str>) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("sshd.log"))
        .unwrap();
    let config = dir.join("sshd_config");
    let mut command = match netns {
        None => Command::new(SSHD),
        Some(ns) => {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", ns, SSHD]);
            command
        }
    };
    command
        .args(["-D", "-e", "-f"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start sshd: {err}"))
}

/// A 127.0.0.1 port that was free a moment ago (another process may take
/// it before the caller binds it; [`Sshd::start_at`] retries).
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
