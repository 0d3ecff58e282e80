//! [`KnownHosts`]: host keys pinned on first contact and refused when they change.
//!
//! The file uses OpenSSH's `known_hosts` line format (`[host]:port type base64`,
//! plain host names, no hashing), so operators can inspect it with
//! `ssh-keygen -l -f` and re-pin a host with `ssh-keygen -R`.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use russh::keys::{HashAlg, PublicKey};

use crate::Error;

/// A known-hosts file.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    path: PathBuf,
}

/// What checking a host key against the file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pinning {
    /// The key matched the one pinned earlier.
    AlreadyPinned,
    /// This was the first contact: the key is now pinned.
    PinnedNow,
}

/// One parsed line: its host patterns and key.
struct Entry<'a> {
    line: usize,
    hosts: &'a str,
    key: PublicKey,
}

impl KnownHosts {
    /// The file at `path`; it is created on the first pin.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name a host is filed under: `host` on port 22, `[host]:port` otherwise (as OpenSSH does).
    #[must_use]
    pub fn host_entry(host: &str, port: u16) -> String {
        if port == 22 {
            host.to_owned()
        } else {
            format!("[{host}]:{port}")
        }
    }

    /// Accepts `key` for `host` if it is the pinned key, pins it if the host
    /// has no entry yet, and refuses it otherwise.
    ///
    /// # Errors
    /// [`osiris_transport::Error::IdentityChanged`] (naming both fingerprints
    /// and how to re-pin) when the host is pinned to another key; a
    /// known-hosts error when the file cannot be read, parsed or appended to.
    pub fn check_or_pin(
        &self,
        target: &str,
        host: &str,
        key: &PublicKey,
    ) -> Result<Pinning, Error> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(Error::KnownHostsIo {
                    action: "read",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let entries = parse(&text).map_err(|(line, reason)| Error::KnownHostsLine {
            path: self.path.clone(),
            line,
            reason,
        })?;
        let pinned: Vec<&Entry<'_>> = entries
            .iter()
            .filter(|entry| entry.hosts.split(',').any(|pattern| pattern == host))
            .collect();
        if pinned
            .iter()
            .any(|entry| entry.key.key_data() == key.key_data())
        {
            return Ok(Pinning::AlreadyPinned);
        }
        if let Some(first) = pinned.first() {
            return Err(osiris_transport::Error::IdentityChanged {
                target: target.to_owned(),
                detail: format!(
                    "the host key of {host} changed: expected {} (pinned in {} line {}), found {} {}; \
                     refusing to connect. If the change is legitimate (the host was reinstalled), \
                     confirm the new fingerprint on the host's console, then re-pin with \
                     `ssh-keygen -R '{host}' -f {}` and connect again",
                    first.key.fingerprint(HashAlg::Sha256),
                    self.path.display(),
                    first.line,
                    key.algorithm(),
                    key.fingerprint(HashAlg::Sha256),
                    self.path.display(),
                ),
            }
            .into());
        }
        self.append(host, key)?;
        Ok(Pinning::PinnedNow)
    }

    fn append(&self, host: &str, key: &PublicKey) -> Result<(), Error> {
        let io = |action: &'static str| {
            let path = self.path.clone();
            move |source| Error::KnownHostsIo {
                action,
                path,
                source,
            }
        };
        if let Some(dir) = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io("create the folder of"))?;
        }
        let encoded = key.to_openssh().map_err(|err| Error::KnownHostsIo {
            action: "encode a key for",
            path: self.path.clone(),
            source: std::io::Error::other(err.to_string()),
        })?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io("open"))?;
        // One write per line, so concurrent first contacts cannot interleave a line.
        file.write_all(format!("{host} {}\n", encoded.trim()).as_bytes())
            .map_err(io("append to"))?;
        file.sync_all().map_err(io("sync"))
    }
}

/// Every entry of a known-hosts text, or the first bad line and why.
fn parse(text: &str) -> Result<Vec<Entry<'_>>, (usize, String)> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with('@') {
            return Err((
                line,
                "markers such as @revoked and @cert-authority are not supported".into(),
            ));
        }
        let mut fields = trimmed.split_whitespace();
        let (Some(hosts), Some(kind), Some(blob)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err((line, "expected `host key-type base64-key`".into()));
        };
        let key = PublicKey::from_openssh(&format!("{kind} {blob}"))
            .map_err(|err| (line, format!("the {kind} key does not decode: {err}")))?;
        entries.push(Entry { line, hosts, key });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnnASotMcw7BfK7Oj/nPgBLccerh2b+jADBkeTM+60g";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBF/LxImH5dMTCrjzHHnFJIipOhAEKnG/n+OOn87lhOH";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    #[test]
    fn first_contact_pins_and_later_contacts_match() {
        let dir = tempfile::tempdir().unwrap();
        let known = KnownHosts::new(dir.path().join("sub/known_hosts"));
        let host = KnownHosts::host_entry("127.0.0.1", 2222);
        assert_eq!(
            known.check_or_pin("t", &host, &key(KEY_A)).unwrap(),
            Pinning::PinnedNow
        );
        assert_eq!(
            known.check_or_pin("t", &host, &key(KEY_A)).unwrap(),
            Pinning::AlreadyPinned
        );
        let text = std::fs::read_to_string(known.path()).unwrap();
        assert_eq!(text, format!("[127.0.0.1]:2222 {KEY_A}\n"));
    }

    #[test]
    fn a_changed_key_is_refused_naming_both_fingerprints_and_the_repin_command() {
        let dir = tempfile::tempdir().unwrap();
        let known = KnownHosts::new(dir.path().join("known_hosts"));
        known.check_or_pin("db01", "db01", &key(KEY_A)).unwrap();
        let err = known.check_or_pin("db01", "db01", &key(KEY_B)).unwrap_err();
        let message = err.to_string();
        assert!(matches!(
            err,
            Error::Transport(osiris_transport::Error::IdentityChanged { .. })
        ));
        for needle in [
            key(KEY_A).fingerprint(HashAlg::Sha256).to_string(),
            key(KEY_B).fingerprint(HashAlg::Sha256).to_string(),
            "ssh-keygen -R 'db01'".to_owned(),
            "line 1".to_owned(),
        ] {
            assert!(message.contains(&needle), "{needle} missing from {message}");
        }
    }

    #[test]
    fn other_hosts_and_ports_are_separate_entries() {
        let dir = tempfile::tempdir().unwrap();
        let known = KnownHosts::new(dir.path().join("known_hosts"));
        known.check_or_pin("a", "[h]:2222", &key(KEY_A)).unwrap();
        assert_eq!(
            known.check_or_pin("b", "h", &key(KEY_B)).unwrap(),
            Pinning::PinnedNow
        );
        std::fs::write(known.path(), format!("# comment\n\nother,h {KEY_A}\n")).unwrap();
        assert_eq!(
            known.check_or_pin("h", "h", &key(KEY_A)).unwrap(),
            Pinning::AlreadyPinned
        );
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let known = KnownHosts::new(dir.path().join("known_hosts"));
        std::fs::write(
            known.path(),
            format!("h {KEY_A}\nh ssh-ed25519 notbase64\n"),
        )
        .unwrap();
        let message = known
            .check_or_pin("h", "x", &key(KEY_A))
            .unwrap_err()
            .to_string();
        assert!(message.contains("known_hosts:2:"), "{message}");
        std::fs::write(known.path(), "@revoked h ssh-ed25519 AAAA\n").unwrap();
        let message = known
            .check_or_pin("h", "x", &key(KEY_A))
            .unwrap_err()
            .to_string();
        assert!(message.contains(":1: markers"), "{message}");
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn parsing_arbitrary_lines_around_a_valid_entry_never_panics(prefix in "[ -~\n]{0,80}", suffix in "[ -~\n]{0,80}") {
            let _ = parse(&format!("{prefix}\nh {KEY_A}\n{suffix}"));
        }
    }
}
