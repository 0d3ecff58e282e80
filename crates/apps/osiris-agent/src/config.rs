//! `AgentConfig`: the one typed configuration of `osiris agent`, read from
//! a TOML file and validated as a whole before anything starts, so every
//! problem is reported at once, each naming its setting.
//!
//! The appliance is configured by the file it was provisioned with; there
//! are no environment overrides except the secrets a target's credentials
//! point to (`password_env`), so nothing secret sits in the file itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use figment::Figment;
use figment::providers::{Format, Toml};
use osiris_catalog::Platform;
use osiris_scrub::ScrubConfig;
use serde::Deserialize;

mod notify;

pub use notify::{
    EmailSettings, NotifySettings, PagerDutySettings, SecretRef, SlackSettings, WebhookSettings,
};

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not parse into the settings.
    #[error("configuration: {0}")]
    Load(String),
    /// Settings parsed but some values are unacceptable.
    #[error("configuration is invalid:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

/// Everything `osiris agent` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Where the appliance keeps its identity, keys, queue and state.
    pub data_dir: PathBuf,
    /// Central Command.
    pub server: ServerSettings,
    /// What the appliance may do about drift.
    #[serde(default)]
    pub healing: HealingSettings,
    /// How often it sweeps and checks in.
    #[serde(default)]
    pub schedule: ScheduleSettings,
    /// When disruptive runbooks may run.
    pub maintenance: MaintenanceSettings,
    /// Concurrency, action rate limits and the queue's size.
    #[serde(default)]
    pub limits: LimitSettings,
    /// The site's PHI scrubbing choices; unset keeps loopback and private
    /// addresses and redacts everything else (`ScrubConfig::it_evidence`).
    /// Target names and addresses are always kept.
    #[serde(default)]
    pub scrub: Option<ScrubConfig>,
    /// A catalog directory overriding the built-in one.
    #[serde(default)]
    pub catalog_dir: Option<PathBuf>,
    /// The hosts this appliance checks.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// The site's own parameters per runbook (`[runbook_params.RB-…]`),
    /// which win over a rule's; checked against the runbook's schema when
    /// the runbook runs.
    #[serde(default)]
    pub runbook_params: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// The L2 planner; unset, what no L1 rule handles goes to a person.
    #[serde(default)]
    pub planner: Option<PlannerSettings>,
    /// L3 escalation channels; unset, escalations wait in `osiris agent
    /// status` and Central Command only.
    #[serde(default)]
    pub notify: Option<NotifySettings>,
}

/// The L2 planner: OpenAI-compatible endpoints, local first.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannerSettings {
    /// Plans the model is less sure of (0.0 to 1.0) go to a person.
    #[serde(default = "default_confidence")]
    pub min_confidence: f64,
    /// Model calls per site per hour.
    #[serde(default = "default_calls")]
    pub calls_per_hour: u32,
    /// Plan, validate and record, but never run a plan.
    #[serde(default)]
    pub dry_run: bool,
    /// The pause before a retry, doubled each time.
    #[serde(default = "default_retry_pause")]
    pub retry_pause_secs: f64,
    /// Tried in order.
    pub endpoints: Vec<PlannerEndpoint>,
}

/// One OpenAI-compatible chat-completions endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannerEndpoint {
    /// A name for logs and evidence (`local`, `hosted`).
    pub name: String,
    /// The API base, such as `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// The model to ask for.
    pub model: String,
    /// `json_schema` (a response format) or `tool_call`.
    #[serde(default = "default_answer_mode")]
    pub mode: String,
    /// The limit of one request, in seconds.
    #[serde(default = "default_model_timeout")]
    pub timeout_secs: f64,
    /// Further attempts after a timeout or server error.
    #[serde(default = "default_model_retries")]
    pub retries: u32,
    /// An environment variable holding the API key (hosted APIs).
    #[serde(default)]
    pub api_key_env: Option<String>,
}

const fn default_confidence() -> f64 {
    0.8
}

const fn default_calls() -> u32 {
    20
}

const fn default_retry_pause() -> f64 {
    1.0
}

fn default_answer_mode() -> String {
    "json_schema".to_owned()
}

const fn default_model_timeout() -> f64 {
    30.0
}

const fn default_model_retries() -> u32 {
    1
}

/// How to reach Central Command.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// `https://host:port`; `http://` only with `allow_http`.
    pub url: String,
    /// The CA that signed the server's certificate (PEM). Unset: the CA
    /// pinned at enrolment.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Allows plain HTTP (a loopback test server, or a TLS-terminating
    /// proxy on the same machine).
    #[serde(default)]
    pub allow_http: bool,
}

/// The healing mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Check and record; never change a host.
    Observe,
    /// Record exactly what would run, without running it.
    DryRun,
    /// Heal through L1 rules inside the guardrails.
    #[default]
    Heal,
}

/// What the appliance may do about drift.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealingSettings {
    /// `observe`, `dry_run` or `heal` (the default).
    #[serde(default)]
    pub mode: Mode,
}

/// How often things happen, in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleSettings {
    /// Between the starts of two sweeps.
    pub sweep_interval_secs: u64,
    /// Between two check-ins when the server does not say otherwise.
    pub checkin_interval_secs: u64,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            sweep_interval_secs: 3600,
            checkin_interval_secs: 60,
        }
    }
}

/// The site's maintenance window, in its own time zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSettings {
    /// An IANA zone such as `America/Chicago`.
    pub timezone: String,
    /// Days the window opens: `mon` … `sun`; empty means every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// Local opening time, `HH:MM`.
    pub start: String,
    /// Local closing time, `HH:MM`; before `start` means overnight.
    pub end: String,
}

/// Bounds on what the appliance does at once and per hour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Hosts swept at once.
    pub concurrency: usize,
    /// Runbook runs per host per hour.
    pub host_actions_per_hour: u32,
    /// Runbook runs per site per hour.
    pub site_actions_per_hour: u32,
    /// The outbound queue's bound in MiB (telemetry goes first when full).
    pub queue_max_mib: u64,
    /// Most bundles sent in one check-in.
    pub checkin_batch: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            host_actions_per_hour: 4,
            site_actions_per_hour: 30,
            queue_max_mib: 1024,
            checkin_batch: 200,
        }
    }
}

/// How the appliance reaches a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connection {
    /// WS-Management (Windows).
    Winrm,
    /// SSH (Linux).
    Ssh,
    /// The appliance itself.
    Local,
}

/// One host of the site.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Its inventory name, unique at the site; evidence names it so.
    pub name: String,
    /// `windows`, `debian`, `rhel` or `appliance`.
    pub platform: Platform,
    /// `winrm`, `ssh` or `local`.
    pub connection: Connection,
    /// WinRM: the endpoint URL (`https://host:5986/wsman`); SSH:
    /// `host[:port]`; local: unused.
    #[serde(default)]
    pub address: String,
    /// How to log in (not for `local`).
    #[serde(default)]
    pub credentials: Option<CredentialsRef>,
    /// WinRM over HTTPS: SHA-256 of the host's certificate (hex), pinned.
    #[serde(default)]
    pub cert_sha256: Option<String>,
    /// SSH: run scripts through `sudo -n` (the default) or as the login user.
    #[serde(default = "yes")]
    pub sudo: bool,
    /// Only these catalog checks run on this target (unset: every check of
    /// its platform), for a host whose other controls another system owns.
    #[serde(default)]
    pub checks: Option<Vec<String>>,
}

const fn yes() -> bool {
    true
}

/// Where a target's secret is: the configuration names it, never holds it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRef {
    /// The login, `DOMAIN\user` for WinRM.
    pub user: String,
    /// An environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A file (mode 0600) holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// An SSH private key file.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl TargetConfig {
    /// Whether `check` runs on this target.
    #[must_use]
    pub fn runs(&self, check: &osiris_catalog::Check) -> bool {
        check.platform == self.platform
            && self
                .checks
                .as_ref()
                .is_none_or(|only| only.contains(&check.id))
    }
}

impl AgentConfig {
    /// Problems with the configuration that only the catalog can see: a
    /// target's `checks` naming a check that does not exist or is for
    /// another platform.
    #[must_use]
    pub fn catalog_problems(&self, catalog: &osiris_catalog::Catalog) -> Vec<String> {
        let mut problems = Vec::new();
        for id in self.runbook_params.keys() {
            let known = id
                .parse::<osiris_core::RunbookId>()
                .ok()
                .and_then(|id| catalog.runbook(&id))
                .is_some();
            if !known {
                problems.push(format!("runbook_params.{id}: not a runbook of the catalog"));
            }
        }
        for (index, target) in self.targets.iter().enumerate() {
            for (at, id) in target.checks.iter().flatten().enumerate() {
                match catalog.check(id) {
                    None => problems.push(format!(
                        "targets[{index}].checks[{at}]: {id} is not a check of the catalog"
                    )),
                    Some(check) if check.platform != target.platform => problems.push(format!(
                        "targets[{index}].checks[{at}]: {id} is a {} check, not {}",
                        check.platform, target.platform
                    )),
                    Some(_) => {}
                }
            }
        }
        problems
    }

    /// Reads `file` and validates it.
    ///
    /// # Errors
    /// [`ConfigError::Load`] when the file is missing or does not parse,
    /// [`ConfigError::Invalid`] listing every unacceptable setting.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        if !file.is_file() {
            return Err(ConfigError::Load(format!(
                "config file {} does not exist",
                file.display()
            )));
        }
        Self::from_figment(Figment::new().merge(Toml::file_exact(file)))
    }

    /// Parses TOML text and validates it (for tests and generated configs).
    ///
    /// # Errors
    /// As [`AgentConfig::load`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::new().merge(Toml::string(text)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Self = figment.extract().map_err(|error| {
            ConfigError::Load(
                error
                    .into_iter()
                    .map(|e| {
                        let setting = e.path.join(".");
                        if setting.is_empty() {
                            e.kind.to_string()
                        } else {
                            format!("{setting}: {}", e.kind)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting, collecting every problem.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] listing each unacceptable setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut bad = |setting: &str, what: &str| problems.push(format!("{setting}: {what}"));
        if self.data_dir.as_os_str().is_empty() {
            bad("data_dir", "must not be empty");
        }
        match self.server.url.split_once("://") {
            Some(("https", rest)) if !rest.is_empty() => {}
            Some(("http", rest)) if !rest.is_empty() => {
                if !self.server.allow_http {
                    bad(
                        "server.url",
                        "is plain http; use https, or set server.allow_http = true for a loopback server",
                    );
                }
            }
            _ => bad("server.url", "must be an https:// URL"),
        }
        if self.schedule.sweep_interval_secs < 60 {
            bad("schedule.sweep_interval_secs", "must be at least 60");
        }
        if !(5..=86_400).contains(&self.schedule.checkin_interval_secs) {
            bad(
                "schedule.checkin_interval_secs",
                "must be between 5 and 86400",
            );
        }
        if self.maintenance.timezone.parse::<chrono_tz::Tz>().is_err() {
            bad(
                "maintenance.timezone",
                "is not an IANA time zone such as America/Chicago",
            );
        }
        for (index, day) in self.maintenance.days.iter().enumerate() {
            if parse_weekday(day).is_none() {
                bad(
                    &format!("maintenance.days[{index}]"),
                    "must be one of mon, tue, wed, thu, fri, sat, sun",
                );
            }
        }
        for (setting, value) in [
            ("maintenance.start", &self.maintenance.start),
            ("maintenance.end", &self.maintenance.end),
        ] {
            if parse_time(value).is_none() {
                bad(setting, "must be a local time HH:MM");
            }
        }
        if self.maintenance.start == self.maintenance.end {
            bad("maintenance.end", "must differ from maintenance.start");
        }
        if !(1..=256).contains(&self.limits.concurrency) {
            bad("limits.concurrency", "must be between 1 and 256");
        }
        if self.limits.host_actions_per_hour == 0 {
            bad("limits.host_actions_per_hour", "must be at least 1");
        }
        if self.limits.site_actions_per_hour < self.limits.host_actions_per_hour {
            bad(
                "limits.site_actions_per_hour",
                "must be at least limits.host_actions_per_hour",
            );
        }
        if self.limits.queue_max_mib < 16 {
            bad("limits.queue_max_mib", "must be at least 16");
        }
        if !(1..=1000).contains(&self.limits.checkin_batch) {
            bad("limits.checkin_batch", "must be between 1 and 1000");
        }
        let mut names = BTreeSet::new();
        for (index, target) in self.targets.iter().enumerate() {
            let at = |field: &str| format!("targets[{index}].{field}");
            if !valid_name(&target.name) {
                bad(
                    &at("name"),
                    "must be 1 to 253 letters, digits, '.', '-' or '_'",
                );
            } else if !names.insert(target.name.to_ascii_lowercase()) {
                bad(&at("name"), "is used by an earlier target");
            }
            let suits = match target.connection {
                Connection::Winrm => target.platform == Platform::Windows,
                Connection::Ssh => matches!(target.platform, Platform::Debian | Platform::Rhel),
                Connection::Local => target.platform == Platform::Appliance,
            };
            if !suits {
                bad(
                    &at("connection"),
                    "does not suit the platform (windows: winrm; debian, rhel: ssh; appliance: local)",
                );
            }
            if target.connection == Connection::Local {
                continue;
            }
            if target.address.trim().is_empty() {
                bad(&at("address"), "must name the host");
            } else if target.connection == Connection::Winrm
                && !(target.address.starts_with("https://")
                    || target.address.starts_with("http://"))
            {
                bad(
                    &at("address"),
                    "must be a WinRM URL such as https://host:5986/wsman",
                );
            }
            match &target.credentials {
                None => bad(&at("credentials"), "are required for winrm and ssh targets"),
                Some(credentials) => {
                    let sources = [
                        credentials.password_env.is_some(),
                        credentials.password_file.is_some(),
                        credentials.key_file.is_some(),
                    ]
                    .into_iter()
                    .filter(|set| *set)
                    .count();
                    if credentials.user.trim().is_empty() {
                        bad(&at("credentials.user"), "must not be empty");
                    }
                    if sources != 1 {
                        bad(
                            &at("credentials"),
                            "need exactly one of password_env, password_file, key_file",
                        );
                    }
                    if target.connection == Connection::Winrm && credentials.key_file.is_some() {
                        bad(
                            &at("credentials.key_file"),
                            "is for ssh; winrm logs in with a password",
                        );
                    }
                }
            }
            if let Some(pin) = &target.cert_sha256
                && (pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                bad(&at("cert_sha256"), "must be 64 hex digits");
            }
        }
        if let Some(planner) = &self.planner {
            planner_problems(planner, &mut bad);
        }
        if let Some(notify) = &self.notify {
            notify::problems(notify, &mut bad);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The maintenance window's zone (validated at load).
    #[must_use]
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.maintenance.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The maintenance window's days (validated at load); empty: every day.
    #[must_use]
    pub fn window_days(&self) -> Vec<chrono::Weekday> {
        self.maintenance
            .days
            .iter()
            .filter_map(|d| parse_weekday(d))
            .collect()
    }

    /// The maintenance window's local opening and closing times.
    #[must_use]
    pub fn window_times(&self) -> (NaiveTime, NaiveTime) {
        (
            parse_time(&self.maintenance.start).unwrap_or(NaiveTime::MIN),
            parse_time(&self.maintenance.end).unwrap_or(NaiveTime::MIN),
        )
    }

    /// The scrubbing choices with the site's own targets kept verbatim.
    #[must_use]
    pub fn scrub_config(&self) -> ScrubConfig {
        let mut config = self.scrub.clone().unwrap_or_else(ScrubConfig::it_evidence);
        for target in &self.targets {
            config.allowlist.push(target.name.clone());
            if let Ok(ip) = target.address.parse() {
                config.ip.inventory.push(ip);
            }
        }
        config
    }
}

fn planner_problems(planner: &PlannerSettings, bad: &mut impl FnMut(&str, &str)) {
    if !(0.0..=1.0).contains(&planner.min_confidence) {
        bad("planner.min_confidence", "must be between 0 and 1");
    }
    if planner.calls_per_hour == 0 {
        bad("planner.calls_per_hour", "must be at least 1");
    }
    if !(0.0..=60.0).contains(&planner.retry_pause_secs) {
        bad("planner.retry_pause_secs", "must be between 0 and 60");
    }
    if planner.endpoints.is_empty() {
        bad("planner.endpoints", "need at least one endpoint");
    }
    for (index, endpoint) in planner.endpoints.iter().enumerate() {
        let at = |field: &str| format!("planner.endpoints[{index}].{field}");
        if !(endpoint.base_url.starts_with("http://") || endpoint.base_url.starts_with("https://"))
        {
            bad(&at("base_url"), "must be an http:// or https:// URL");
        }
        if endpoint.model.trim().is_empty() {
            bad(&at("model"), "must name a model");
        }
        if !matches!(endpoint.mode.as_str(), "json_schema" | "tool_call") {
            bad(&at("mode"), "must be json_schema or tool_call");
        }
        if !(0.1..=600.0).contains(&endpoint.timeout_secs) {
            bad(&at("timeout_secs"), "must be between 0.1 and 600");
        }
    }
}

fn parse_weekday(day: &str) -> Option<chrono::Weekday> {
    use chrono::Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};
    Some(match day.to_ascii_lowercase().as_str() {
        "mon" => Mon,
        "tue" => Tue,
        "wed" => Wed,
        "thu" => Thu,
        "fri" => Fri,
        "sat" => Sat,
        "sun" => Sun,
        _ => return None,
    })
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M").ok()
}

fn valid_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
data_dir = "/var/lib/osiris-agent"
[server]
url = "https://cc.example.net:8443"
[maintenance]
timezone = "America/Chicago"
start = "01:00"
end = "05:00"
"#;

    fn problems(text: &str) -> Vec<String> {
        match AgentConfig::from_toml(text) {
            Err(ConfigError::Invalid(problems)) => problems,
            other => panic!("expected invalid settings, got {other:?}"),
        }
    }

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let config = AgentConfig::from_toml(MINIMAL).unwrap();
        assert_eq!(config.healing.mode, Mode::Heal);
        assert_eq!(config.limits.concurrency, 8);
        assert_eq!(config.schedule.checkin_interval_secs, 60);
        assert!(config.targets.is_empty());
        assert_eq!(config.timezone(), chrono_tz::America::Chicago);
        assert!(config.window_days().is_empty());
    }

    #[test]
    fn every_bad_setting_is_named_at_once() {
        let text = r#"
data_dir = "/d"
[server]
url = "http://cc.example.net"
[healing]
mode = "heal"
[maintenance]
timezone = "Mars/Olympus"
days = ["sat", "caturday"]
start = "25:00"
end = "05:00"
[limits]
concurrency = 0
[[targets]]
name = "dc01"
platform = "windows"
connection = "ssh"
address = "dc01:22"
[[targets]]
name = "DC01"
platform = "debian"
connection = "ssh"
address = "ehr:22"
credentials = { user = "osiris", password_env = "A", key_file = "/k" }
"#;
        let found = problems(text);
        for setting in [
            "server.url",
            "maintenance.timezone",
            "maintenance.days[1]",
            "maintenance.start",
            "limits.concurrency",
            "targets[0].connection",
            "targets[0].credentials",
            "targets[1].name",
            "targets[1].credentials",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(&format!("{setting}:"))),
                "{setting} not named in {found:#?}"
            );
        }
    }

    #[test]
    fn unknown_and_mistyped_settings_name_their_key() {
        let text = format!("{MINIMAL}\n[limits]\nconcurency = 3\n");
        let Err(ConfigError::Load(message)) = AgentConfig::from_toml(&text) else {
            panic!("an unknown key must be refused")
        };
        assert!(message.contains("concurency"), "{message}");
        let text = MINIMAL.replace("\"01:00\"", "1");
        let Err(ConfigError::Load(message)) = AgentConfig::from_toml(&text) else {
            panic!("a number for a time must be refused")
        };
        assert!(message.contains("maintenance.start"), "{message}");
    }

    #[test]
    fn checks_and_runbook_params_are_checked_against_the_catalog() {
        let text = format!(
            "{MINIMAL}\n[runbook_params.RB-WIN-ENCRYPTION-001]\nmount_point = \"D:\"\n[runbook_params.RB-WIN-NOPE-001]\nx = 1\n\
             [[targets]]\nname = \"dc01\"\nplatform = \"windows\"\nconnection = \"winrm\"\naddress = \"https://dc01:5986/wsman\"\n\
             credentials = {{ user = 'NVC\\\\osiris', password_env = \"PW\" }}\nchecks = [\"win.av.defender\", \"deb.ssh.sshd\", \"win.nope\"]\n"
        );
        let config = AgentConfig::from_toml(&text).unwrap();
        let catalog = osiris_catalog::Catalog::embedded().unwrap();
        let problems = config.catalog_problems(&catalog);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("runbook_params.RB-WIN-NOPE-001:"));
        assert!(
            problems[1].starts_with("targets[0].checks[1]:"),
            "{problems:#?}"
        );
        assert!(problems[2].starts_with("targets[0].checks[2]:"));
        let av = catalog.check("win.av.defender").unwrap();
        let backup = catalog.check("win.backup.wsb").unwrap();
        assert!(config.targets[0].runs(av));
        assert!(!config.targets[0].runs(backup));
    }

    #[test]
    fn the_targets_are_kept_by_the_scrubber() {
        let text = format!(
            "{MINIMAL}\n[[targets]]\nname = \"ehr01\"\nplatform = \"debian\"\nconnection = \"ssh\"\naddress = \"203.0.113.7\"\ncredentials = {{ user = \"osiris\", key_file = \"/k\" }}\n"
        );
        let config = AgentConfig::from_toml(&text).unwrap();
        let scrub = config.scrub_config();
        assert!(scrub.allowlist.contains(&"ehr01".to_owned()));
        assert_eq!(
            scrub.ip.inventory,
            vec!["203.0.113.7".parse::<std::net::IpAddr>().unwrap()]
        );
    }
}
