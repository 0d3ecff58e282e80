//! The practice's real Linux host: a network namespace joined to this
//! machine by a veth pair, with its own interfaces and nftables ruleset,
//! running Debian's own sshd on port 22. The appliance reaches it over SSH
//! like any server. Only its firewall is checked and changed, and that
//! ruleset belongs to the namespace alone, so nothing on this machine is
//! touched.
//!
//! It needs root, iproute2, nftables and openssh-server; without them the
//! practice runs without a Linux host and the log says why.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

const SSHD: &str = "/usr/sbin/sshd";

/// An nftables ruleset an operator would deploy: input policy drop,
/// replies and SSH admitted. The shipped nftables check passes on it.
const DEFAULT_DENY_RULESET: &str = "flush ruleset\ntable inet filter {\n  chain input {\n    type filter hook input priority filter; policy drop;\n    ct state established,related accept\n    tcp dport 22 accept\n  }\n}\n";

/// Why this machine cannot host the namespace, or `None` when it can.
pub(super) fn unavailable() -> Option<String> {
    if !running_as_root() {
        return Some("needs root (network namespaces)".to_owned());
    }
    for (tool, package) in [
        ("ip", "iproute2"),
        ("nft", "nftables"),
        ("ssh-keygen", "openssh-client"),
    ] {
        if !on_path(tool) {
            return Some(format!("`{tool}` is missing (apt-get install {package})"));
        }
    }
    if !Path::new(SSHD).exists() {
        return Some(format!(
            "{SSHD} is missing (apt-get install openssh-server)"
        ));
    }
    None
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find(|line| line.starts_with("Uid:"))
            .and_then(|line| line.split_whitespace().nth(2))
            == Some("0")
    })
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

fn run(program: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program}"))?;
    if !output.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The namespace host; dropping it stops sshd and removes the namespace.
#[derive(Debug)]
pub(super) struct LinuxHost {
    name: String,
    host_link: String,
    /// This machine's side of the link: the appliance's address.
    pub(super) appliance: Ipv4Addr,
    /// The host's address, where sshd listens on port 22.
    pub(super) guest: Ipv4Addr,
    /// Root's private key (OpenSSH format, no passphrase).
    pub(super) client_key: PathBuf,
    sshd: Option<Child>,
}

impl LinuxHost {
    /// Creates the namespace and starts sshd in it. Its keys live in
    /// `dir` and its address derives from `dir`, so a second run of the
    /// same demo meets the host key the appliance pinned the first time.
    pub(super) fn start(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tag = {
            let digest = Sha256::digest(dir.display().to_string().as_bytes());
            let bytes: [u8; 3] = digest
                .get(..3)
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default();
            bytes
        };
        let [a, b, c] = tag;
        let suffix = format!("{a:02x}{b:02x}{c:02x}");
        // 10.254.<a>.<b & 0xf8>/29: a block of its own per data directory.
        let base = b & 0xf8;
        let mut host = Self {
            name: format!("osiris-demo-{suffix}"),
            host_link: format!("odm{suffix}h"),
            appliance: Ipv4Addr::new(10, 254, a, base + 1),
            guest: Ipv4Addr::new(10, 254, a, base + 2),
            client_key: dir.join("client_key"),
            sshd: None,
        };
        // Left by a run that was killed: start from nothing.
        host.remove();
        let guest_link = format!("odm{suffix}g");
        run("ip", &["netns", "add", &host.name])?;
        run(
            "ip",
            &[
                "link",
                "add",
                &host.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &guest_link,
            ],
        )?;
        run("ip", &["link", "set", &guest_link, "netns", &host.name])?;
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/29", host.appliance),
                "dev",
                &host.host_link,
            ],
        )?;
        run("ip", &["link", "set", &host.host_link, "up"])?;
        host.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{}/29", host.guest),
            "dev",
            &guest_link,
        ])?;
        host.exec(&["ip", "link", "set", &guest_link, "up"])?;
        host.exec(&["ip", "link", "set", "lo", "up"])?;
        host.set_ruleset(DEFAULT_DENY_RULESET, dir)?;
        host.start_sshd(dir)?;
        Ok(host)
    }

    fn exec(&self, command: &[&str]) -> Result<String> {
        let mut args = vec!["netns", "exec", self.name.as_str()];
        args.extend_from_slice(command);
        run("ip", &args)
    }

    fn set_ruleset(&self, ruleset: &str, dir: &Path) -> Result<()> {
        let path = dir.join("ruleset.nft");
        std::fs::write(&path, ruleset).with_context(|| format!("writing {}", path.display()))?;
        let file = path.display().to_string();
        self.exec(&["nft", "-f", &file]).map(drop)
    }

    fn start_sshd(&mut self, dir: &Path) -> Result<()> {
        for key in ["host_key", "client_key"] {
            let path = dir.join(key);
            if !path.exists() {
                let file = path.display().to_string();
                run(
                    "ssh-keygen",
                    &["-q", "-t", "ed25519", "-N", "", "-f", &file],
                )?;
            }
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))
            .context("writing authorized_keys")?;
        std::fs::create_dir_all("/run/sshd").context("creating /run/sshd")?;
        let config = format!(
            "Port 22\nListenAddress {guest}\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nUsePAM no\nStrictModes no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n",
            guest = self.guest,
            dir = dir.display()
        );
        let config_path = dir.join("sshd_config");
        std::fs::write(&config_path, config).context("writing sshd_config")?;
        let log = std::fs::File::create(dir.join("sshd.log")).context("creating sshd.log")?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, SSHD, "-D", "-e", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting sshd")?;
        self.sshd = Some(child);
        Ok(())
    }

    /// Waits until sshd answers on port 22 (5 s at most).
    pub(super) async fn wait_until_listening(&mut self) -> Result<()> {
        for _ in 0..100 {
            let connect = tokio::net::TcpStream::connect((self.guest, 22));
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), connect).await {
                return Ok(());
            }
            if let Some(child) = &mut self.sshd
                && child.try_wait().ok().flatten().is_some()
            {
                bail!("sshd in the namespace exited; see its log");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("sshd in the namespace did not start listening within 5 s")
    }

    /// Firewall drift: the ruleset flushed, as `nft flush ruleset` leaves it.
    pub(super) fn flush_firewall(&self) -> Result<()> {
        self.exec(&["nft", "flush", "ruleset"]).map(drop)
    }

    /// The namespace as this machine names it (for `ip netns exec`).
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    fn remove(&self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
    }
}

impl Drop for LinuxHost {
    fn drop(&mut self) {
        if let Some(mut child) = self.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.remove();
    }
}
