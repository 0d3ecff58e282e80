//! The Python interpreter with the independent WinRM/NTLM peers installed.
//!
//! `OSIRIS_TEST_PYTHON` names an interpreter that already has `pywinrm`,
//! `pypsrp` and `pyspnego`; otherwise a venv is created once under the cargo
//! target directory with `python3 -m venv` and `pip install`. Tests never
//! skip: if neither works they fail with the command to run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The pinned peer versions (also what CI installs).
pub(crate) const PACKAGES: [&str; 3] = ["pywinrm==0.5.0", "pypsrp==0.9.1", "pyspnego==0.12.4"];

fn target_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        return dir.into();
    }
    // target/<profile>/deps/it-<hash>
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        status.success(),
        "{command:?} failed; install the peers with: pip install {}",
        PACKAGES.join(" ")
    );
}

#[allow(
    clippy::disallowed_methods,
    reason = "waiting for another test binary to finish creating the venv"
)]
fn create_venv(venv: &Path) {
    let lock = venv.with_extension("lock");
    while std::fs::create_dir(&lock).is_err() {
        if venv.join("ready").exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if !venv.join("ready").exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(venv));
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "-q"])
            .args(PACKAGES));
        std::fs::write(venv.join("ready"), b"").unwrap();
    }
    std::fs::remove_dir(&lock).unwrap();
}

/// Path of a Python with the peers importable.
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Ok(python) = std::env::var("OSIRIS_TEST_PYTHON") {
            return python.into();
        }
        let venv = target_dir().join("osiris-pyenv");
        if !venv.join("ready").exists() {
            create_venv(&venv);
        }
        venv.join("bin/python")
    })
}
