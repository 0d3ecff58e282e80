//! Entry points of `osiris target test` and `osiris target exec`: the binary
//! parses flags into [`TargetArgs`] / [`ExecArgs`] and returns the exit code
//! these functions give. Failures of the transport itself exit 255, as
//! `ssh` does, so they cannot be mistaken for a script's own exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use osiris_core::Secret;
use osiris_transport::{Credentials, Script, Shell, Transport};

use crate::{Error, KnownHosts, Pinning, Privilege, SshConfig, SshTarget, SshTransport};

/// The exit code for a failure of the transport (not of the script).
pub const TRANSPORT_FAILURE: u8 = 255;

/// How to reach a target from the command line.
#[derive(Debug, Clone)]
pub struct TargetArgs {
    /// `USER@HOST[:PORT]` (`--ssh`).
    pub ssh: String,
    /// An OpenSSH private key file, unencrypted (`--key-file`).
    pub key_file: PathBuf,
    /// The known-hosts file (`--known-hosts`); [`default_known_hosts`] when absent.
    pub known_hosts: Option<PathBuf>,
    /// Run through `sudo -n` (`--sudo`).
    pub sudo: bool,
    /// The limit for connecting and logging in (`--connect-timeout`, 10 s is sensible).
    pub connect_timeout: Duration,
}

/// What `osiris target exec` runs.
#[derive(Debug, Clone)]
pub enum ScriptSource {
    /// A script file (`--script F`).
    File(PathBuf),
    /// A command line (`--command S`).
    Command(String),
}

/// The arguments of `osiris target exec`.
#[derive(Debug, Clone)]
pub struct ExecArgs {
    /// The target.
    pub target: TargetArgs,
    /// The script or command.
    pub script: ScriptSource,
    /// How long it may run (`--timeout`, 60 s is sensible).
    pub timeout: Duration,
}

/// `$XDG_CONFIG_HOME/osiris/known_hosts`, else `$HOME/.config/osiris/known_hosts`,
/// else `./osiris_known_hosts`.
#[must_use]
pub fn default_known_hosts() -> PathBuf {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".config")));
    config.map_or_else(
        || PathBuf::from("osiris_known_hosts"),
        |dir| dir.join("osiris").join("known_hosts"),
    )
}

/// `osiris target test`: connects (pinning the host key on first contact),
/// logs in, runs `id` and `uname`, and reports. Exit 0 on success, 255 with
/// the reason on `err` otherwise (a changed host key among them).
pub async fn target_test(args: &TargetArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let probe = Script {
        shell: Shell::Sh,
        body: "printf 'user: %s\\nsystem: %s\\n' \"$(id -un)\" \"$(uname -srm)\"".into(),
        input: None,
        timeout: args.connect_timeout,
    };
    match run_once(args, &probe).await {
        Ok((transport_report, output)) => {
            let _ = writeln!(out, "{transport_report}");
            let _ = out.write_all(&output.stdout);
            if output.succeeded() {
                0
            } else {
                let _ = err.write_all(&output.stderr);
                TRANSPORT_FAILURE
            }
        }
        Err(reason) => {
            let _ = writeln!(err, "error: {reason}");
            TRANSPORT_FAILURE
        }
    }
}

/// `osiris target exec`: runs a script or command, copies its stdout and
/// stderr, and returns its exit code (255 with the reason on `err` when the
/// transport fails).
pub async fn target_exec(args: &ExecArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let body = match &args.script {
        ScriptSource::Command(command) => command.clone(),
        ScriptSource::File(path) => match std::fs::read_to_string(path) {
            Ok(body) => body,
            Err(reason) => {
                let _ = writeln!(err, "error: cannot read {}: {reason}", path.display());
                return TRANSPORT_FAILURE;
            }
        },
    };
    let script = Script {
        shell: Shell::Sh,
        body,
        input: None,
        timeout: args.timeout,
    };
    match run_once(&args.target, &script).await {
        Ok((_, output)) => {
            let _ = out.write_all(&output.stdout);
            let _ = err.write_all(&output.stderr);
            u8::try_from(output.exit_code).unwrap_or(TRANSPORT_FAILURE)
        }
        Err(reason) => {
            let _ = writeln!(err, "error: {reason}");
            TRANSPORT_FAILURE
        }
    }
}

/// Connects, runs one script, disconnects; returns a line about the host key and the output.
async fn run_once(
    args: &TargetArgs,
    script: &Script,
) -> Result<(String, osiris_transport::Output), Error> {
    let target: SshTarget = args.ssh.parse()?;
    let key = std::fs::read_to_string(&args.key_file).map_err(|reason| Error::Key {
        target: target.to_string(),
        reason: format!("cannot read {}: {reason}", args.key_file.display()),
    })?;
    let known_hosts = KnownHosts::new(args.known_hosts.clone().unwrap_or_else(default_known_hosts));
    let config = SshConfig {
        name: target.to_string(),
        host: target.host().to_owned(),
        port: target.port(),
        credentials: Credentials::PrivateKey {
            user: target.user().to_owned(),
            key: Secret::new(key),
            passphrase: None,
        },
        known_hosts: known_hosts.clone(),
        privilege: if args.sudo {
            Privilege::Sudo
        } else {
            Privilege::Login
        },
        connect_timeout: args.connect_timeout,
    };
    let mut transport = SshTransport::connect(config).await?;
    let host_key = transport.host_key();
    let report = format!(
        "connected to {target}: host key {} {} {}",
        host_key.algorithm,
        host_key.fingerprint,
        match host_key.pinning {
            Pinning::PinnedNow => format!("pinned now in {}", known_hosts.path().display()),
            Pinning::AlreadyPinned =>
                format!("matches the key pinned in {}", known_hosts.path().display()),
        }
    );
    let output = transport.run(script).await?;
    // The result is already in hand; a failed goodbye changes nothing for the caller.
    let _ = Box::new(transport).close().await;
    Ok((report, output))
}
