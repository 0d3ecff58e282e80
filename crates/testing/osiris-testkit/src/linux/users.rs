//! Throwaway accounts on this machine for password logins and `sudo`.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::run;

/// A throwaway account with [`PASSWORD`] and a sudo rule for `/bin/sh`.
pub const SUDO_USER: &str = "osiris-ssh-sudo";
/// A throwaway account with [`PASSWORD`] and no sudo rule.
pub const PLAIN_USER: &str = "osiris-ssh-plain";
/// The password of both test accounts.
pub const PASSWORD: &str = "correct horse battery staple 7";
/// The sudoers drop-in that lets [`SUDO_USER`] run `/bin/sh` as root
/// without a password.
pub const SUDOERS_FILE: &str = "/etc/sudoers.d/osiris-ssh-test";

/// Creates [`SUDO_USER`] and [`PLAIN_USER`] (with home folders and
/// `/bin/sh`), sets both passwords to [`PASSWORD`] and writes the sudo
/// rule in [`SUDOERS_FILE`]: once per test process, and idempotent across
/// runs (an existing account is kept and its password reset).
///
/// # Panics
/// When `useradd`, `chpasswd` or writing the sudo rule fails (not root).
pub fn ensure_test_users() {
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
            writeln!(chpasswd.stdin.take().unwrap(), "{user}:{PASSWORD}").unwrap();
            assert!(chpasswd.wait().unwrap().success());
        }
        std::fs::write(
            SUDOERS_FILE,
            format!("{SUDO_USER} ALL=(root) NOPASSWD: /bin/sh\n"),
        )
        .unwrap();
        run("chmod", &["0440", SUDOERS_FILE]);
    });
}
