//! A real `sshd` for one test: its own host key, client key, config and log
//! in a temporary folder, on a free loopback port (or inside a network
//! namespace), stopped when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use osiris_core::Secret;
use osiris_transport::Credentials;
use osiris_transport_ssh::{KnownHosts, Privilege, SshConfig, SshTransport};

pub(crate) const SSHD: &str = "/usr/sbin/sshd";
/// A throwaway account with a password and a sudo rule for `/bin/sh`.
pub(crate) const SUDO_USER: &str = "osiris-ssh-sudo";
/// A throwaway account with a password and no sudo rule.
pub(crate) const PLAIN_USER: &str = "osiris-ssh-plain";
pub(crate) const PASSWORD: &str = "correct horse battery staple 7";

pub(crate) struct Sshd {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) address: String,
    pub(crate) port: u16,
    netns: Option<String>,
    child: Child,
}

pub(crate) fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {program}: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn keygen(path: &Path) {
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

/// Creates the two throwaway accounts once per test run (idempotent across runs).
pub(crate) fn ensure_test_users() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        for user in [SUDO_USER, PLAIN_USER] {
            let exists = Command::new("id")
                .arg(user)
                .output()
                .unwrap()
                .status
                .success();
            if !exists {
                run("useradd", &["--create-home", "--shell", "/bin/sh", user]);
            }
            let mut chpasswd = Command::new("chpasswd")
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            writeln!(chpasswd.stdin.take().unwrap(), "{user}:{PASSWORD}").unwrap();
            assert!(chpasswd.wait().unwrap().success());
        }
        std::fs::write(
            "/etc/sudoers.d/osiris-ssh-test",
            format!("{SUDO_USER} ALL=(root) NOPASSWD: /bin/sh\n"),
        )
        .unwrap();
        run("chmod", &["0440", "/etc/sudoers.d/osiris-ssh-test"]);
    });
}

impl Sshd {
    /// An sshd on a free 127.0.0.1 port.
    pub(crate) fn start() -> Self {
        Self::start_at("127.0.0.1", None)
    }

    /// An sshd listening on `address`, inside `netns` when given.
    pub(crate) fn start_at(address: &str, netns: Option<&str>) -> Self {
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
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub(crate) fn known_hosts(&self) -> KnownHosts {
        KnownHosts::new(self.dir.path().join("known_hosts"))
    }

    pub(crate) fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// Stops sshd, gives it a new host key and starts it again on the same port.
    pub(crate) fn restart_with_new_host_key(&mut self) {
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

    pub(crate) fn config(&self, credentials: Credentials, privilege: Privilege) -> SshConfig {
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

    pub(crate) fn root_key(&self) -> Credentials {
        Credentials::PrivateKey {
            user: "root".into(),
            key: Secret::new(std::fs::read_to_string(self.client_key()).unwrap()),
            passphrase: None,
        }
    }

    /// A session as root, logged in with the test's client key.
    pub(crate) async fn connect_as_root(&self) -> SshTransport {
        SshTransport::connect(self.config(self.root_key(), Privilege::Login))
            .await
            .unwrap_or_else(|err| panic!("{err}\nsshd log:\n{}", self.log()))
    }
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

/// A port that was free a moment ago; sshd fails loudly if another test took it.
fn free_port() -> u16 {
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
