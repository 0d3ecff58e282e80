//! `osiris agent …`: the on-site appliance.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use osiris_agent::uplink::{
    Claim, Enrolment, SYS_CLASS_NET, ServerTrust, Timeouts, enrol, mac_addresses,
};
use osiris_agent::{Agent, AgentConfig, AgentError, CheckinSummary};
use osiris_core::{Secret, SystemClock};

use crate::cli::EnrollArgs;
use crate::output;

/// The appliance waits on its targets and Central Command, not on the CPU:
/// one worker thread beside the main one, whatever the machine's core
/// count (each thread costs a stack and an allocator arena), while SQLite
/// runs on threads of its own.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn load(config: &Path) -> Result<AgentConfig> {
    Ok(AgentConfig::load(config)?)
}

async fn open(config: AgentConfig) -> Result<Agent> {
    let env = Arc::new(|name: &str| std::env::var(name).ok());
    Ok(Agent::open(config, Arc::new(SystemClock), env).await?)
}

pub(crate) fn enroll(args: &EnrollArgs) -> Result<ExitCode> {
    let config = load(&args.config)?;
    let claim = match (&args.claim_code_env, args.mac) {
        (Some(var), false) => {
            let code = std::env::var(var).with_context(|| {
                format!("--claim-code-env: environment variable {var} is not set")
            })?;
            Claim::Code(Secret::new(code))
        }
        (None, true) => Claim::MacAddresses(mac_addresses(Path::new(SYS_CLASS_NET))?),
        _ => return Ok(output::usage("give --claim-code-env VAR or --mac")),
    };
    let trust = match (&args.ca_file, &args.ca_fingerprint, &config.server.ca_file) {
        (Some(file), _, _) | (None, None, Some(file)) => Some(ServerTrust::ca_file(file)?),
        (None, Some(fingerprint), _) => Some(ServerTrust::fingerprint(fingerprint)?),
        (None, None, None) => None,
    };
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let enrolment = Enrolment {
        server_url: config.server.url.clone(),
        trust,
        allow_http: config.server.allow_http,
        claim,
        replace_existing: args.force,
        timeouts: Timeouts {
            connect: std::time::Duration::from_secs(10),
            request: std::time::Duration::from_secs(60),
        },
    };
    let identity = runtime()?.block_on(enrol(&config.data_dir, &enrolment))?;
    if args.json {
        output::json(&serde_json::json!({
            "appliance_id": identity.appliance_id,
            "site_id": identity.site_id,
            "server_url": identity.server_url,
        }))?;
    } else {
        output::line(&format!(
            "enrolled: appliance {} at site {} with {}",
            identity.appliance_id, identity.site_id, identity.server_url
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(config: &Path, once: bool, json: bool) -> Result<ExitCode> {
    let config = load(config)?;
    runtime()?.block_on(async {
        let agent = open(config).await?;
        if once {
            let sweep = agent.sweep().await?;
            let checkin = agent.checkin().await;
            let code = if checkin.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
            if json {
                output::json(&serde_json::json!({
                    "sweep": sweep,
                    "checkin": checkin.as_ref().ok(),
                    "checkin_error": checkin.as_ref().err().map(|e| describe(e)),
                }))?;
            } else {
                output::line(&format!(
                    "sweep: {} checks, {} pass, {} fail, {} unknown; {} healed, {} escalated",
                    sweep.checks,
                    sweep.pass,
                    sweep.fail,
                    sweep.unknown,
                    sweep.healed,
                    sweep.escalated
                ));
                output::line(&checkin_line(&checkin));
            }
            return Ok(code);
        }
        let shutdown = async {
            // Ctrl-C or SIGTERM; if the handler cannot be installed the
            // appliance runs until killed, which the queue survives.
            let _ = tokio::signal::ctrl_c().await;
        };
        agent.run(shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// One check-in without a sweep: the operator's "send the queue now".
pub(crate) fn checkin(config: &Path, json: bool) -> Result<ExitCode> {
    let config = load(config)?;
    runtime()?.block_on(async {
        let agent = open(config).await?;
        let checkin = agent.checkin().await;
        let queued_bundles = agent.queue().stats().await?.bundles.count;
        if json {
            output::json(&serde_json::json!({
                "checkin": checkin.as_ref().ok(),
                "checkin_error": checkin.as_ref().err().map(|e| describe(e)),
                "queued_bundles": queued_bundles,
            }))?;
        } else {
            output::line(&checkin_line(&checkin));
            output::line(&format!("queued bundles: {queued_bundles}"));
        }
        Ok(if checkin.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

fn checkin_line(checkin: &Result<CheckinSummary, AgentError>) -> String {
    match checkin {
        Ok(summary) => format!(
            "check-in: {} bundles sent, acknowledged through seq {}",
            summary.bundles_sent, summary.acknowledged_through_seq
        ),
        Err(error) => format!(
            "check-in failed: {}; the evidence stays queued",
            describe(error)
        ),
    }
}

/// An error and its causes on one line; a cause whose text the line
/// already holds (some errors print their source) is not repeated.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

pub(crate) fn status(config: &Path, json: bool) -> Result<ExitCode> {
    let config = load(config)?;
    runtime()?.block_on(async {
        let agent = open(config).await?;
        let status = agent.status().await?;
        if json {
            output::json(&status)?;
        } else {
            output::line(&format!(
                "appliance {} at site {}",
                status.appliance_id, status.site_id
            ));
            output::line(&format!(
                "rule set: {}",
                status.rule_set_version.as_deref().unwrap_or("built-in")
            ));
            output::line(&format!("queued bundles: {}", status.queued_bundles));
            output::line(&format!("open incidents: {}", status.open_incidents.len()));
            for incident in &status.open_incidents {
                output::line(&format!(
                    "  {} {} on {} ({} failures{})",
                    incident.severity,
                    incident.check_id,
                    incident.host,
                    incident.failures,
                    if incident.flapping { ", flapping" } else { "" }
                ));
            }
            output::line(&format!(
                "waiting for a person: {}",
                status.escalations.len()
            ));
            for escalation in &status.escalations {
                output::line(&format!(
                    "  {} on {}: {}",
                    escalation.check_id, escalation.host, escalation.reason
                ));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
