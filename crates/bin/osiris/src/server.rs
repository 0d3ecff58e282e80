//! `osiris server` and `osiris admin …`: Central Command and its offline
//! administration.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use osiris_core::{Clock, Secret, SystemClock};
use osiris_server::{Overrides, ServerConfig};

use crate::cli::{ServerArgs, ServerConfigArgs};
use crate::output;

pub(crate) fn load(
    source: &ServerConfigArgs,
    listen: Option<std::net::SocketAddr>,
) -> Result<ServerConfig> {
    if source.config.is_none() && source.data_dir.is_none() {
        anyhow::bail!("give --config FILE, or --data-dir DIR for the embedded defaults");
    }
    let overrides = Overrides {
        listen,
        data_dir: source.data_dir.clone(),
    };
    Ok(ServerConfig::load(
        source.config.as_deref(),
        std::env::vars(),
        &overrides,
    )?)
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

pub(crate) fn run(args: &ServerArgs) -> Result<ExitCode> {
    let config = load(&args.source, args.listen)?;
    runtime()?.block_on(async {
        let shutdown = async {
            // Ctrl-C or SIGTERM; if the handler cannot be installed the
            // server runs until killed.
            let _ = tokio::signal::ctrl_c().await;
        };
        let running = osiris_server::start(&config, Arc::new(SystemClock), shutdown)
            .await
            .context("starting central command")?;
        output::line(&format!("central command listening on {}", running.url()));
        if let Some(fingerprint) = &running.ca_fingerprint {
            output::line(&format!("CA certificate: {} (SHA-256 {fingerprint})", config.data_dir.join("tls/ca.pem").display()));
        }
        if let Some(password) = &running.first_admin_password {
            output::line(&format!(
                "first start: created user `admin` with password {}\n  it is shown only this once; change it after logging in",
                password.expose()
            ));
        }
        running.task.await.context("server task")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The password in environment variable `name`.
pub(crate) fn password_from(name: &str) -> Result<Secret<String>> {
    let value = std::env::var(name)
        .with_context(|| format!("--password-env: environment variable {name} is not set"))?;
    Ok(Secret::new(value))
}

pub(crate) fn placeholder_listen() -> Option<std::net::SocketAddr> {
    // Admin commands never listen; the setting is required by the config.
    Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
}

pub(crate) fn create_user(
    source: &ServerConfigArgs,
    request: osiris_server::admin::CreateUser,
    json: bool,
) -> Result<ExitCode> {
    let config = load(source, placeholder_listen())?;
    let user = runtime()?.block_on(osiris_server::admin::create_user(
        &config,
        request,
        SystemClock.now(),
    ))?;
    if json {
        output::json(&serde_json::json!({
            "id": user.id,
            "username": user.username.as_str(),
            "role": user.membership.role().as_str(),
        }))?;
    } else {
        output::line(&format!(
            "created {} ({}) {}",
            user.username,
            user.membership.role().as_str(),
            user.id
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn reset_password(
    source: &ServerConfigArgs,
    username: &str,
    password_env: &str,
) -> Result<ExitCode> {
    let config = load(source, placeholder_listen())?;
    let password = password_from(password_env)?;
    let user = runtime()?.block_on(osiris_server::admin::reset_password(
        &config,
        username,
        &password,
        SystemClock.now(),
    ))?;
    output::line(&format!(
        "password of {} replaced; its sessions ended",
        user.username
    ));
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn rotate_keys(source: &ServerConfigArgs, json: bool) -> Result<ExitCode> {
    let config = load(source, placeholder_listen())?;
    let rotation = runtime()?.block_on(osiris_server::admin::rotate_keys(
        &config,
        SystemClock.now(),
    ))?;
    if json {
        output::json(&rotation)?;
    } else {
        output::line(&format!(
            "vault key v{} now seals; {} credential(s) re-sealed; older versions may be removed from the key file",
            rotation.key_version, rotation.resealed
        ));
    }
    Ok(ExitCode::SUCCESS)
}
