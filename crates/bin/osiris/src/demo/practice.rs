//! The simulated practice, "North Valley Clinic": Windows servers from
//! `osiris lab` (a domain controller and a file server, plus `--hosts N`
//! more), each speaking real WinRM with NTLM sealing, and a real Linux
//! host in a network namespace where this machine allows one. Also the
//! appliance's configuration for them and the drift each scenario injects.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Timelike;
use osiris_lab::windows::{HostModel, WindowsLab, WindowsLabConfig};
use serde_json::{Value, json};

use super::linux::LinuxHost;

pub(super) const PRACTICE: &str = "North Valley Clinic";

/// The NTLM account every lab host accepts.
pub(super) const LAB_USER: &str = "NVC\\osiris";
/// The environment name the appliance's configuration reads the lab
/// password from (answered in-process, never set in the environment).
pub(super) const LAB_PASSWORD_ENV: &str = "NVC_LAB_PASSWORD";

/// The domain controller.
pub(super) const DC: &str = "NVC-DC01";
/// The file and imaging server.
pub(super) const FS: &str = "NVC-FS01";
/// The Linux EHR host.
pub(super) const EHR: &str = "nvc-ehr01";

/// The Windows checks of a member server: everything but Active Directory.
const MEMBER_SERVER_CHECKS: [&str; 6] = [
    "win.av.defender",
    "win.backup.wsb",
    "win.encryption.bitlocker",
    "win.firewall.profiles",
    "win.logging.audit",
    "win.patch.wua",
];

/// One simulated Windows server.
#[derive(Debug)]
pub(super) struct WindowsHost {
    pub(super) name: String,
    pub(super) role: &'static str,
    pub(super) lab: WindowsLab,
    domain_controller: bool,
}

/// The practice's hosts.
#[derive(Debug)]
pub(super) struct Practice {
    pub(super) windows: Vec<WindowsHost>,
    pub(super) linux: Option<LinuxHost>,
    pub(super) lab_password: String,
}

impl Practice {
    /// Starts the Windows servers on loopback ports: the domain controller,
    /// the file server and `extra` member servers.
    pub(super) async fn start_windows(extra: u32, lab_password: String) -> Result<Self> {
        let mut hosts = vec![
            (DC.to_owned(), "domain controller", true),
            (FS.to_owned(), "file and imaging server", false),
        ];
        for n in 1..=extra {
            hosts.push((format!("NVC-SRV{n:02}"), "member server", false));
        }
        let mut windows = Vec::with_capacity(hosts.len());
        for (name, role, domain_controller) in hosts {
            let config = WindowsLabConfig {
                user: LAB_USER.to_owned(),
                password: lab_password.clone(),
                latency: Duration::ZERO,
                model: HostModel::windows_dc().context("the lab's host model")?,
                tls: None,
            };
            let lab = WindowsLab::start(([127, 0, 0, 1], 0).into(), config)
                .await
                .with_context(|| format!("starting the simulated {name}"))?;
            lab.set_state("hostname", json!(name))
                .with_context(|| format!("naming {name}"))?;
            windows.push(WindowsHost {
                name,
                role,
                lab,
                domain_controller,
            });
        }
        Ok(Self {
            windows,
            linux: None,
            lab_password,
        })
    }

    /// The Windows host called `name`.
    pub(super) fn windows(&self, name: &str) -> Result<&WindowsLab> {
        self.windows
            .iter()
            .find(|h| h.name == name)
            .map(|h| &h.lab)
            .with_context(|| format!("{name} is not one of the practice's hosts"))
    }

    /// Sets `key` to `value` on the Windows host `host`.
    pub(super) fn drift(&self, host: &str, key: &str, value: Value) -> Result<()> {
        self.windows(host)?
            .set_state(key, value)
            .with_context(|| format!("drifting {key} on {host}"))
    }

    /// How many hosts the appliance checks.
    pub(super) fn host_count(&self) -> usize {
        self.windows.len() + usize::from(self.linux.is_some())
    }

    /// The appliance's configuration (TOML) for this practice.
    pub(super) fn agent_config(&self, paths: &ConfigPaths, planner: &PlannerChoice) -> String {
        let (start, end) = closed_window();
        let mut text = format!(
            "# Written by `osiris demo` for the simulated {PRACTICE}.\n\
             data_dir = \"{data}\"\n\
             # The built-in catalog, with audit-policy drift rated low: below the\n\
             # built-in L1 rule's severity filter, so the L2 planner decides it.\n\
             catalog_dir = \"{catalog}\"\n\
             [server]\nurl = \"{url}\"\nca_file = \"{ca}\"\n\
             [schedule]\nsweep_interval_secs = 60\ncheckin_interval_secs = 5\n\
             [maintenance]\ntimezone = \"UTC\"\nstart = \"{start}\"\nend = \"{end}\"\n\
             [limits]\nconcurrency = 8\nhost_actions_per_hour = 10\nsite_actions_per_hour = 100\n",
            data = paths.data_dir.display(),
            catalog = paths.catalog_dir.display(),
            url = paths.server_url,
            ca = paths.ca_file.display(),
        );
        for host in &self.windows {
            let _ = write!(
                text,
                "\n# {role}\n[[targets]]\nname = \"{name}\"\nplatform = \"windows\"\nconnection = \"winrm\"\n\
                 address = \"{url}\"\ncredentials = {{ user = '{LAB_USER}', password_env = \"{LAB_PASSWORD_ENV}\" }}\n",
                role = host.role,
                name = host.name,
                url = host.lab.url(),
            );
            if !host.domain_controller {
                let checks: Vec<String> = MEMBER_SERVER_CHECKS
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect();
                let _ = writeln!(text, "checks = [{}]", checks.join(", "));
            }
        }
        if let Some(linux) = &self.linux {
            // Only the firewall: the namespace's ruleset is its own, while
            // its files are this machine's.
            let _ = write!(
                text,
                "\n# EHR application server (network namespace {ns})\n[[targets]]\nname = \"{EHR}\"\nplatform = \"debian\"\nconnection = \"ssh\"\n\
                 address = \"{guest}:22\"\nsudo = false\ncredentials = {{ user = \"root\", key_file = \"{key}\" }}\n\
                 checks = [\"deb.firewall.nftables\"]\n",
                ns = linux.name(),
                guest = linux.guest,
                key = linux.client_key.display(),
            );
        }
        if let Some(linux) = &self.linux {
            // The address the firewall runbook keeps admitted: the appliance's.
            let _ = write!(
                text,
                "\n[runbook_params.RB-DEB-FIREWALL-002]\nosiris_ip = \"{}\"\n",
                linux.appliance
            );
        }
        let (name, base_url, model) = match planner {
            PlannerChoice::Scripted => (
                "scripted",
                // Never contacted: the scripted planner answers in-process.
                "http://127.0.0.1:9/v1".to_owned(),
                super::planner::MODEL.to_owned(),
            ),
            PlannerChoice::Endpoint { url, model } => ("configured", url.clone(), model.clone()),
        };
        let _ = write!(
            text,
            "\n[planner]\nmin_confidence = 0.7\ncalls_per_hour = 60\n\
             [[planner.endpoints]]\nname = \"{name}\"\nbase_url = \"{base_url}\"\nmodel = \"{model}\"\ntimeout_secs = 60\n"
        );
        text
    }
}

/// Where the appliance's configuration points.
#[derive(Debug)]
pub(super) struct ConfigPaths {
    pub(super) data_dir: PathBuf,
    pub(super) catalog_dir: PathBuf,
    pub(super) server_url: String,
    pub(super) ca_file: PathBuf,
}

/// Which L2 planner the appliance asks.
#[derive(Debug, Clone)]
pub(super) enum PlannerChoice {
    /// The demo's scripted stand-in.
    Scripted,
    /// An OpenAI-compatible endpoint.
    Endpoint { url: String, model: String },
}

/// A maintenance window that is closed now and for the next hours, so a
/// disruptive fix is deferred to it: 02:00 to 04:00 after the coming hour
/// plus two, in UTC.
fn closed_window() -> (String, String) {
    use osiris_core::Clock as _;
    let hour = osiris_core::SystemClock.now().hour();
    (
        format!("{:02}:00", (hour + 3) % 24),
        format!("{:02}:00", (hour + 5) % 24),
    )
}

/// The site settings Central Command keeps, matching the appliance's.
pub(super) fn site_settings() -> Value {
    let (start, _) = closed_window();
    json!({
        "maintenance_window": {"time_zone": "UTC", "starts_at": start, "duration_minutes": 120},
        "healing_mode": "heal"
    })
}

/// Writes the built-in catalog to `dir` for the appliance, with the
/// audit-policy check rated low (see [`Practice::agent_config`]).
pub(super) fn write_catalog(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("replacing {}", dir.display()))?;
    }
    for file in osiris_catalog::Catalog::embedded_sources() {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let text = if file.path == "checks/windows/logging.yaml" {
            file.text
                .replacen("\nseverity: medium\n", "\nseverity: low\n", 1)
        } else {
            file.text
        };
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
