//! `osiris target …`: the adapters' own entry points, on a runtime.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use osiris_transport_ssh::cli as ssh;
use osiris_transport_winrm::cli as winrm;

use crate::cli::TargetArgs;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `target exec` runs.
pub(crate) enum Source {
    Script(std::path::PathBuf),
    Command(String),
}

enum Wire {
    Winrm(winrm::TargetSpec),
    Ssh(ssh::TargetArgs),
}

fn wire(args: &TargetArgs) -> Result<Wire> {
    match (&args.winrm, &args.ssh) {
        (Some(url), None) => Ok(Wire::Winrm(winrm::TargetSpec {
            url: url.clone(),
            user: args
                .user
                .clone()
                .context("--user is required with --winrm")?,
            password_env: args
                .password_env
                .clone()
                .context("--password-env is required with --winrm")?,
            options: osiris_transport_winrm::WinrmOptions::default(),
        })),
        (None, Some(target)) => Ok(Wire::Ssh(ssh::TargetArgs {
            ssh: target.clone(),
            key_file: args
                .key_file
                .clone()
                .context("--key-file is required with --ssh")?,
            known_hosts: args.known_hosts.clone(),
            sudo: args.sudo,
            connect_timeout: CONNECT_TIMEOUT,
        })),
        _ => bail!("give exactly one of --winrm and --ssh"),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

pub(crate) fn test(args: &TargetArgs) -> Result<ExitCode> {
    let wire = wire(args)?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = runtime()?.block_on(async {
        match &wire {
            Wire::Winrm(spec) => {
                winrm::target_test(spec, args.json, &|k| std::env::var(k).ok(), &mut out).await
            }
            Wire::Ssh(target) => ssh::target_test(target, &mut out, &mut err).await,
        }
    });
    Ok(ExitCode::from(code))
}

pub(crate) fn exec(args: &TargetArgs, source: Source, timeout: Duration) -> Result<ExitCode> {
    let wire = wire(args)?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = runtime()?.block_on(async {
        match wire {
            Wire::Winrm(spec) => {
                let source = match source {
                    Source::Script(path) => winrm::ExecSource::ScriptFile(path),
                    Source::Command(text) => winrm::ExecSource::Command(text),
                };
                winrm::target_exec(
                    &spec,
                    &source,
                    timeout,
                    &|k| std::env::var(k).ok(),
                    &mut out,
                    &mut err,
                )
                .await
            }
            Wire::Ssh(target) => {
                let script = match source {
                    Source::Script(path) => ssh::ScriptSource::File(path),
                    Source::Command(text) => ssh::ScriptSource::Command(text),
                };
                ssh::target_exec(
                    &ssh::ExecArgs {
                        target,
                        script,
                        timeout,
                    },
                    &mut out,
                    &mut err,
                )
                .await
            }
        }
    });
    Ok(ExitCode::from(code))
}
