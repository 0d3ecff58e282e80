//! Entry points of `osiris target test` and `osiris target exec`: the
//! binary parses arguments and calls these with its stdout and stderr.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use osiris_core::Secret;
use osiris_transport::{Credentials, Script, Shell, Transport};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::transport::{WinrmOptions, connect};

/// Exit code of `target exec` when the command could not be run at all
/// (as `ssh` does), so it is told apart from the command's own codes.
pub const EXEC_FAILED: u8 = 255;

/// A target as given on the command line.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// `--winrm URL`.
    pub url: String,
    /// `--user DOMAIN\USER`.
    pub user: String,
    /// `--password-env VAR`: the environment variable holding the password.
    pub password_env: String,
    /// HTTPS trust and mechanism.
    pub options: WinrmOptions,
}

impl TargetSpec {
    fn credentials(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Credentials, String> {
        let password = env(&self.password_env)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                format!(
                    "environment variable {} is not set or empty; it must hold the password of {}",
                    self.password_env, self.user
                )
            })?;
        Ok(Credentials::Password {
            user: self.user.clone(),
            password: Secret::new(password),
        })
    }
}

/// One step of `target test`.
#[derive(Debug, Clone, Serialize)]
struct Step {
    step: &'static str,
    ok: bool,
    ms: u128,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    url: &'a str,
    user: &'a str,
    ok: bool,
    total_ms: u128,
    steps: Vec<Step>,
}

/// The trivial command of `target test`: a program every Windows host has.
const TRIVIAL_COMMAND: &str = "hostname";

/// `osiris target test --winrm URL --user D\U --password-env VAR [--json]`:
/// checks reachability (TCP), authentication (session and shell) and runs
/// a trivial command, timing each step. `env` reads environment variables
/// (`|k| std::env::var(k).ok()` in the binary).
///
/// Returns the process exit code: 0 when every step passed, 1 when one
/// failed (later steps are skipped), 2 for unusable arguments.
pub async fn target_test(
    spec: &TargetSpec,
    json: bool,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> u8 {
    let credentials = match spec.credentials(env) {
        Ok(credentials) => credentials,
        Err(message) => return usage(out, &message, 2),
    };
    let endpoint = match winrm::Endpoint::parse(&spec.url) {
        Ok(endpoint) => endpoint,
        Err(error) => return usage(out, &error.to_string(), 2),
    };
    let started = Instant::now();
    let steps = run_steps(spec, &endpoint, &credentials).await;
    let report = Report {
        url: &spec.url,
        user: &spec.user,
        ok: steps.len() == 3 && steps.iter().all(|s| s.ok),
        total_ms: started.elapsed().as_millis(),
        steps,
    };
    let written = if json {
        serde_json::to_writer(&mut *out, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        write_human(out, &report)
    };
    match (written, report.ok) {
        (Err(_), _) | (Ok(()), false) => 1,
        (Ok(()), true) => 0,
    }
}

async fn run_steps(
    spec: &TargetSpec,
    endpoint: &winrm::Endpoint,
    credentials: &Credentials,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let timeout = spec.options.connect_timeout;

    let clock = Instant::now();
    let tcp = tokio::time::timeout(
        timeout,
        TcpStream::connect((endpoint.host(), endpoint.port())),
    )
    .await;
    let (ok, detail) = match tcp {
        Ok(Ok(_)) => (true, format!("tcp {} open", endpoint.authority())),
        Ok(Err(error)) => (false, format!("tcp {}: {error}", endpoint.authority())),
        Err(_) => (
            false,
            format!("tcp {}: no answer within {timeout:?}", endpoint.authority()),
        ),
    };
    steps.push(Step {
        step: "reachable",
        ok,
        ms: clock.elapsed().as_millis(),
        detail,
    });
    if !ok {
        return steps;
    }

    let clock = Instant::now();
    let connected = connect(&spec.url, &spec.url, credentials, &spec.options).await;
    let mechanism = match (spec.options.mechanism, endpoint.is_tls()) {
        (winrm::Mechanism::Ntlm, false) => "ntlm, messages sealed",
        (winrm::Mechanism::Ntlm, true) => "ntlm over tls",
        (winrm::Mechanism::Basic, _) => "basic over tls",
    };
    let (mut transport, detail) = match connected {
        Ok(transport) => (
            Some(transport),
            format!("{} ({mechanism}), shell open", spec.user),
        ),
        Err(error) => (None, error.to_string()),
    };
    steps.push(Step {
        step: "authenticated",
        ok: transport.is_some(),
        ms: clock.elapsed().as_millis(),
        detail,
    });
    let Some(session) = transport.as_mut() else {
        return steps;
    };

    let clock = Instant::now();
    let script = Script {
        shell: Shell::PowerShell,
        body: TRIVIAL_COMMAND.to_owned(),
        input: None,
        timeout: Duration::from_secs(30),
    };
    let (ok, detail) = match session.run(&script).await {
        Ok(output) if output.succeeded() => (
            true,
            format!(
                "{TRIVIAL_COMMAND} printed {:?}",
                String::from_utf8_lossy(&output.stdout).trim()
            ),
        ),
        Ok(output) => (
            false,
            format!(
                "{TRIVIAL_COMMAND} exited {}: {}",
                output.exit_code,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ),
        Err(error) => (false, error.to_string()),
    };
    steps.push(Step {
        step: "command",
        ok,
        ms: clock.elapsed().as_millis(),
        detail,
    });
    if let Some(transport) = transport {
        // The test already has its answer; a failed shell delete only
        // leaves a shell to expire on the server.
        let _ = Box::new(transport).close().await;
    }
    steps
}

fn write_human(out: &mut dyn Write, report: &Report<'_>) -> std::io::Result<()> {
    writeln!(out, "target {} as {}", report.url, report.user)?;
    for step in &report.steps {
        let verdict = if step.ok { "ok" } else { "FAILED" };
        writeln!(
            out,
            "  {:<14}{verdict:<7}{:>6} ms  {}",
            step.step, step.ms, step.detail
        )?;
    }
    let verdict = if report.ok { "ok" } else { "FAILED" };
    writeln!(out, "{verdict} in {} ms", report.total_ms)
}

fn usage(out: &mut dyn Write, message: &str, code: u8) -> u8 {
    let _ = writeln!(out, "error: {message}");
    code
}

/// What `target exec` runs.
#[derive(Debug, Clone)]
pub enum ExecSource {
    /// `--script F`: a PowerShell script file.
    ScriptFile(PathBuf),
    /// `--command S`: PowerShell text.
    Command(String),
}

/// `osiris target exec --winrm URL --user D\U --password-env VAR
/// (--script F | --command S)`: runs the PowerShell on the target, copies
/// its stdout to `out` and its (decoded) stderr to `err`, and returns its
/// exit code as the process's (codes outside 0..=254 become 1). When the
/// command cannot be run the reason goes to `err` and the code is
/// [`EXEC_FAILED`].
pub async fn target_exec(
    spec: &TargetSpec,
    source: &ExecSource,
    timeout: Duration,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let body = match source {
        ExecSource::Command(command) => command.clone(),
        ExecSource::ScriptFile(path) => match std::fs::read_to_string(path) {
            Ok(body) => body,
            Err(error) => {
                return usage(
                    err,
                    &format!("cannot read script {}: {error}", path.display()),
                    EXEC_FAILED,
                );
            }
        },
    };
    let credentials = match spec.credentials(env) {
        Ok(credentials) => credentials,
        Err(message) => return usage(err, &message, EXEC_FAILED),
    };
    let script = Script {
        shell: Shell::PowerShell,
        body,
        input: None,
        timeout,
    };
    let mut transport = match connect(&spec.url, &spec.url, &credentials, &spec.options).await {
        Ok(transport) => Box::new(transport),
        Err(error) => return usage(err, &error.to_string(), EXEC_FAILED),
    };
    let result = transport.run(&script).await;
    let _ = transport.close().await;
    match result {
        Ok(output) => {
            let written = out
                .write_all(&output.stdout)
                .and_then(|()| err.write_all(&output.stderr));
            match (written, u8::try_from(output.exit_code)) {
                (Err(_), _) => EXEC_FAILED,
                (Ok(()), Ok(code)) if code != EXEC_FAILED => code,
                (Ok(()), _) => 1,
            }
        }
        Err(error) => usage(err, &error.to_string(), EXEC_FAILED),
    }
}
