//! `osiris lab …`: simulated hosts speaking the real wire protocols.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::LabWindowsArgs;
use crate::output;

pub(crate) fn windows(args: &LabWindowsArgs) -> Result<ExitCode> {
    let password = std::env::var(&args.password_env).with_context(|| {
        format!(
            "--password-env: environment variable {} is not set",
            args.password_env
        )
    })?;
    if password.is_empty() {
        anyhow::bail!(
            "--password-env: {} is empty; the lab has no default password",
            args.password_env
        );
    }
    output::line(&format!(
        "simulated Windows Server (WinRM, NTLM with message encryption) on http://{}/wsman as {}",
        args.listen, args.user
    ));
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime
        .block_on(osiris_lab::windows::run_windows_lab(
            args.listen,
            &args.user,
            &password,
            args.latency_ms,
        ))
        .context("serving the simulated Windows host")?;
    Ok(ExitCode::SUCCESS)
}
