//! `osiris demo`: the whole product in one command, on embedded defaults.
//!
//! Central Command runs in this process (`central`), a practice of
//! simulated Windows servers and, where the machine allows, a real Linux
//! host in a network namespace (`practice`, `linux`), and the real
//! appliance enrolled by claim code checks and heals them. Each step is a
//! line of the live log, and every figure it prints comes from Central
//! Command's API or the exported evidence, not from the demo's own
//! bookkeeping.

mod central;
mod linux;
mod loops;
mod planner;
mod practice;
mod steps;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use osiris_agent::uplink::{Claim, Enrolment, Identity, ServerTrust, Timeouts, enrol};
use osiris_agent::{Agent, AgentConfig};
use osiris_core::{Clock, Secret, SystemClock};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use self::central::{Api, Central};
use self::practice::{ConfigPaths, PRACTICE, PlannerChoice, Practice};
use self::steps::Outcomes;
use crate::cli::{DemoArgs, Scenario};

/// Between two sweeps once the tour is over.
const LIVE_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The value at `pointer` in `value`, or null: the API's answers are read
/// leniently and checked where it matters.
pub(super) fn at<'v>(value: &'v Value, pointer: &str) -> &'v Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

/// What the demo keeps in `<data-dir>/demo.json` for scripts and the next
/// run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DemoFile {
    practice: String,
    partner_id: String,
    client_id: String,
    site_id: String,
    appliance_id: String,
    #[serde(default)]
    dashboard_url: Option<String>,
    #[serde(default)]
    admin_username: Option<String>,
    #[serde(default)]
    admin_password: Option<String>,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    server_public_key: Option<String>,
    #[serde(default)]
    linux_host: Option<String>,
    #[serde(default)]
    outcomes: Option<Outcomes>,
}

pub(crate) fn run(args: &DemoArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(demo(args))
}

/// The live log: one line per event, on stdout (stderr with `--json`),
/// with a spinner naming the current step on a terminal.
#[derive(Debug)]
pub(super) struct Log {
    json: bool,
    spinner: ProgressBar,
}

impl Log {
    fn new(json: bool) -> Self {
        let spinner = if std::io::stderr().is_terminal() {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(120));
            spinner
        } else {
            ProgressBar::hidden()
        };
        Self { json, spinner }
    }

    /// One line of the log, stamped with the time.
    pub(super) fn line(&self, text: &str) {
        let stamp = SystemClock.now().format("%H:%M:%S");
        let text = format!("{stamp}  {text}");
        self.spinner.suspend(|| {
            // A closed stream leaves nobody to tell.
            if self.json {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            } else {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
        });
    }

    /// What the spinner says is going on.
    pub(super) fn doing(&self, what: &str) {
        self.spinner.set_message(what.to_owned());
    }

    fn finish(&self) {
        self.spinner.finish_and_clear();
    }
}

async fn demo(args: &DemoArgs) -> Result<ExitCode> {
    let data = &args.data_dir;
    if args.fresh {
        clean(data)?;
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let data =
        std::fs::canonicalize(data).with_context(|| format!("resolving {}", data.display()))?;
    let log = Log::new(args.json);
    let previous = read_demo_file(&data)?;

    log.doing("starting Central Command");
    let central = Central::start(&data.join("server"), args.listen).await?;
    log.line(&format!(
        "Central Command at {} (SQLite, local WORM store, in-process limits, self-signed TLS; CA {})",
        central.url(),
        central.ca_file().display()
    ));
    let result = with_central(args, &data, &central, previous, &log).await;
    log.doing("stopping");
    central.stop().await;
    log.finish();
    result
}

async fn with_central(
    args: &DemoArgs,
    data: &Path,
    central: &Central,
    previous: Option<DemoFile>,
    log: &Log,
) -> Result<ExitCode> {
    let api = central.admin().await?;
    let appliance_dir = data.join("appliance");
    let mut file = match previous.filter(|_| Identity::load(&appliance_dir).is_ok()) {
        Some(file) => {
            log.line(&format!(
                "reusing {PRACTICE} (site {}, appliance {}) from {}",
                file.site_id,
                file.appliance_id,
                data.join("demo.json").display()
            ));
            file
        }
        None => onboard(central, &api, &appliance_dir, log).await?,
    };
    file.dashboard_url = Some(central.url());
    file.ca_file = Some(central.ca_file());
    file.server_public_key = Some(central.server_key.to_base64());
    write_demo_file(data, &file)?;

    log.doing("starting the simulated practice");
    let lab_password = central::one_time_password()?;
    let mut practice = Practice::start_windows(args.hosts, lab_password).await?;
    for host in &practice.windows {
        log.line(&format!(
            "practice: {} ({}, simulated Windows Server 2019 over WinRM at {})",
            host.name,
            host.role,
            host.lab.url()
        ));
    }
    match linux::unavailable() {
        Some(why) => log.line(&format!(
            "practice: no Linux host on this machine: {why}; the practice runs with its Windows servers only"
        )),
        None => {
            let mut host = linux::LinuxHost::start(&data.join("linux-host"))
                .context("starting the Linux host in a network namespace")?;
            host.wait_until_listening().await?;
            log.line(&format!(
                "practice: {} (EHR server: network namespace {} with its own nftables ruleset and sshd at {}:22)",
                practice::EHR,
                host.name(),
                host.guest
            ));
            file.linux_host = Some(practice::EHR.to_owned());
            practice.linux = Some(host);
        }
    }

    let planner = match &args.llm_url {
        Some(url) => PlannerChoice::Endpoint {
            url: url.clone(),
            model: args.llm_model.clone(),
        },
        None => PlannerChoice::Scripted,
    };
    let scripted = matches!(planner, PlannerChoice::Scripted)
        .then(|| Arc::new(planner::ScriptedPlanner::default()));
    let agent = open_agent(
        central,
        &practice,
        &appliance_dir,
        &planner,
        scripted.clone(),
    )
    .await?;
    log.line(&format!(
        "appliance {} runs the real osiris agent against {} hosts",
        file.appliance_id,
        practice.host_count()
    ));

    let tour = steps::Tour {
        api: &api,
        agent: &agent,
        practice: &practice,
        site_id: &file.site_id,
        appliance_id: &file.appliance_id,
        log,
        planner: &planner,
        scripted: scripted.as_deref(),
        dashboard_url: &central.url(),
        learning: &central.config.learning,
    };
    let outcomes = tour
        .run(
            args.scenario == Scenario::Tour,
            &data.join("exports"),
            &central.server_key,
        )
        .await?;
    let verified = outcomes.export.as_ref().is_some_and(|e| e.verified);
    file.admin_username = Some(central::ADMIN.to_owned());
    file.admin_password = Some(central.admin_password.expose().clone());
    file.outcomes = Some(outcomes);
    write_demo_file(data, &file)?;

    log.line(&format!(
        "5. dashboard: {}  user {}  one-time password {}  (CA {}; also in {})",
        central.url(),
        central::ADMIN,
        central.admin_password.expose(),
        central.ca_file().display(),
        data.join("demo.json").display()
    ));
    if !args.no_browser {
        open_browser(&central.url(), log);
    }

    let stop_after = args.duration.map(Duration::from_secs);
    log.line(&match stop_after {
        Some(after) => format!(
            "sweeping every {} s for {} s",
            LIVE_SWEEP_EVERY.as_secs(),
            after.as_secs()
        ),
        None => format!(
            "sweeping every {} s; Ctrl-C stops",
            LIVE_SWEEP_EVERY.as_secs()
        ),
    });
    log.doing("running");
    tour.live(LIVE_SWEEP_EVERY, stop_after).await;
    agent.queue().clone().close().await.ok();
    agent.state().close().await;

    if args.json {
        crate::output::json(&file)?;
    }
    if !verified {
        log.line("the site's export did NOT verify");
        return Ok(crate::output::EXIT_FINDING);
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates the MSP, the practice, its site and an appliance, and enrols
/// the appliance with its one-time claim code.
async fn onboard(
    central: &Central,
    api: &Api,
    appliance_dir: &Path,
    log: &Log,
) -> Result<DemoFile> {
    log.doing("creating the practice and enrolling its appliance");
    let created = |body: Value| -> Result<String> {
        at(&body, "/id")
            .as_str()
            .map(str::to_owned)
            .context("the API's answer has no id")
    };
    let partner = created(
        api.post(
            "/api/partners",
            json!({"name": "Osiris Demo MSP"}),
            StatusCode::CREATED,
        )
        .await?,
    )?;
    let client = created(
        api.post(
            "/api/clients",
            json!({"partner_id": partner, "name": PRACTICE}),
            StatusCode::CREATED,
        )
        .await?,
    )?;
    let site = created(
        api.post(
            "/api/sites",
            json!({"client_id": client, "name": PRACTICE, "settings": practice::site_settings()}),
            StatusCode::CREATED,
        )
        .await?,
    )?;
    let appliance = api
        .post(
            &format!("/api/sites/{site}/appliances"),
            json!({"name": "NVC front-office appliance"}),
            StatusCode::CREATED,
        )
        .await?;
    let claim_code = at(&appliance, "/claim_code")
        .as_str()
        .context("the new appliance has no claim code")?
        .to_owned();
    log.line(&format!(
        "created partner \"Osiris Demo MSP\", client and site \"{PRACTICE}\" ({site}); appliance claim code issued"
    ));
    if appliance_dir.exists() {
        // An appliance of an earlier, unfinished run: its identity was
        // never recorded in demo.json, so it starts again.
        std::fs::remove_dir_all(appliance_dir)
            .with_context(|| format!("removing {}", appliance_dir.display()))?;
    }
    std::fs::create_dir_all(appliance_dir)
        .with_context(|| format!("creating {}", appliance_dir.display()))?;
    let identity = enrol(
        appliance_dir,
        &Enrolment {
            server_url: central.url(),
            trust: Some(ServerTrust::ca_file(&central.ca_file())?),
            allow_http: false,
            claim: Claim::Code(Secret::new(claim_code)),
            replace_existing: false,
            timeouts: Timeouts {
                connect: Duration::from_secs(10),
                request: Duration::from_secs(60),
            },
        },
    )
    .await
    .context("enrolling the appliance")?;
    log.line(&format!(
        "appliance {} enrolled by claim code, pinning the server's CA",
        identity.appliance_id
    ));
    Ok(DemoFile {
        practice: PRACTICE.to_owned(),
        partner_id: partner,
        client_id: client,
        site_id: identity.site_id.to_string(),
        appliance_id: identity.appliance_id.to_string(),
        dashboard_url: None,
        admin_username: None,
        admin_password: None,
        ca_file: None,
        server_public_key: None,
        linux_host: None,
        outcomes: None,
    })
}

/// Writes the appliance's configuration and catalog and opens it.
async fn open_agent(
    central: &Central,
    practice: &Practice,
    appliance_dir: &Path,
    planner: &PlannerChoice,
    scripted: Option<Arc<planner::ScriptedPlanner>>,
) -> Result<Agent> {
    let catalog_dir = appliance_dir.join("catalog");
    practice::write_catalog(&catalog_dir)?;
    let paths = ConfigPaths {
        data_dir: appliance_dir.to_path_buf(),
        catalog_dir,
        server_url: central.url(),
        ca_file: central.ca_file(),
    };
    let text = practice.agent_config(&paths, planner);
    let config_file = appliance_dir.join("agent.toml");
    std::fs::write(&config_file, &text)
        .with_context(|| format!("writing {}", config_file.display()))?;
    let config = AgentConfig::load(&config_file)?;
    let secrets: BTreeMap<String, String> = [(
        practice::LAB_PASSWORD_ENV.to_owned(),
        practice.lab_password.clone(),
    )]
    .into();
    let env = Arc::new(move |name: &str| secrets.get(name).cloned());
    let agent = match scripted {
        Some(model) => {
            Agent::open_with_model(config, Arc::new(SystemClock), env, Some(model)).await?
        }
        None => Agent::open(config, Arc::new(SystemClock), env).await?,
    };
    Ok(agent)
}

/// Opens the dashboard in a browser on a desktop session, never in CI.
fn open_browser(url: &str, log: &Log) {
    let desktop =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !desktop || std::env::var_os("CI").is_some() {
        return;
    }
    let spawned = std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if spawned.is_err() {
        log.line("no browser could be opened (xdg-open); open the dashboard URL yourself");
    }
}

fn read_demo_file(data: &Path) -> Result<Option<DemoFile>> {
    let path = data.join("demo.json");
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).map(Some).with_context(|| {
        format!(
            "{}: not a demo file; run `osiris demo --fresh` to start clean",
            path.display()
        )
    })
}

/// Writes demo.json (mode 0600: it holds the admin's password) by
/// replacing it whole.
fn write_demo_file(data: &Path, file: &DemoFile) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data.join("demo.json");
    let partial = data.join(".demo.json.partial");
    let _ = std::fs::remove_file(&partial);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("writing {}", partial.display()))?;
    out.write_all(&serde_json::to_vec_pretty(file)?)
        .and_then(|()| out.sync_all())
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &path).with_context(|| format!("replacing {}", path.display()))
}

/// `--fresh`: removes what earlier runs left in the data directory.
fn clean(data: &Path) -> Result<()> {
    for entry in ["server", "appliance", "linux-host", "exports", "demo.json"] {
        let path = data.join(entry);
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else if path.exists() {
            std::fs::remove_file(&path)
        } else {
            Ok(())
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}
