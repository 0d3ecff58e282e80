//! Real Linux hosts for tests: Debian's own `sshd` ([`Sshd`]), a separate
//! host made with a network namespace ([`Namespace`]), both together as
//! [`LinuxHost`], and the throwaway accounts of [`users`].
//!
//! Everything here needs root and the packages `openssh-server`, `sudo`,
//! `nftables` and `iproute2`; a missing one fails the test that asked for
//! it rather than skipping it. Tests run in parallel in one process, so
//! every sshd, namespace, link and address is the test's own, and each is
//! removed when its value is dropped.

mod host;
pub mod netns;
pub mod sshd;
pub mod users;

use std::process::Command;

pub use host::LinuxHost;
pub use netns::Namespace;
pub use sshd::Sshd;

/// Runs `program` with `args` on this machine and returns its stdout.
///
/// # Panics
/// When the program cannot start, exits unsuccessfully (its stderr is in
/// the message) or prints something other than UTF-8.
#[expect(
    clippy::must_use_candidate,
    reason = "called for its effect as often as for its output"
)]
pub fn run(program: &str, args: &[&str]) -> String {
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
