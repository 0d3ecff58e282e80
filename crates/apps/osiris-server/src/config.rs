//! `ServerConfig`: the one typed configuration of `osiris server`, loaded
//! from a TOML file and `OSIRIS_*` environment variables (`__` nests:
//! `OSIRIS_DATABASE__URL`), then validated as a whole so that every problem
//! is reported at once, each naming its setting, before a port is bound.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use osiris_core::Secret;
use serde::{Deserialize, Serialize};

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment does not parse into the settings.
    #[error("configuration: {0}")]
    Load(String),
    /// Settings parsed but some values are unacceptable.
    #[error("configuration is invalid:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<String>),
}

/// Everything `osiris server` needs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// Where the server keeps its files (SQLite database, keys, TLS
    /// material, the local evidence store).
    pub data_dir: PathBuf,
    /// The database.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// Rate limits and their backend.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Logins, sessions, lockout.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Orders to appliances.
    #[serde(default)]
    pub orders: OrdersConfig,
    /// The evidence store.
    #[serde(default)]
    pub evidence: EvidenceConfig,
    /// HTTPS.
    #[serde(default)]
    pub tls: TlsConfig,
    /// The key ring that seals target credentials.
    #[serde(default)]
    pub vault: VaultConfig,
    /// The learning loop: promotion thresholds, demotion, automatic promotion.
    #[serde(default)]
    pub learning: LearningConfig,
    /// A catalog directory to use instead of the one built in (checks,
    /// runbooks and built-in rules; the rule set check-ins deliver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_dir: Option<PathBuf>,
    /// Largest accepted request body, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_limit_bytes: usize,
}

/// Which database.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` for PostgreSQL, `sqlite://PATH` for SQLite; unset is
    /// SQLite in `<data_dir>/osiris.db`.
    #[serde(default, with = "secret_opt")]
    pub url: Option<Secret<String>>,
}

/// Rate limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Redis URL shared by every replica; unset keeps limits in process.
    #[serde(default, with = "secret_opt")]
    pub redis_url: Option<Secret<String>>,
    /// Sensitive appliance requests per site per window.
    pub appliance_requests: u32,
    /// The appliance window, in seconds.
    pub appliance_window_secs: u32,
    /// Login attempts per username per window.
    pub login_attempts: u32,
    /// The login window, in seconds.
    pub login_window_secs: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            appliance_requests: 10,
            appliance_window_secs: 300,
            login_attempts: 10,
            login_window_secs: 60,
        }
    }
}

/// Logins and sessions.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Consecutive failed logins that lock an account.
    pub lockout_failures: u32,
    /// How long a locked account stays locked, in minutes.
    pub lockout_minutes: u32,
    /// A session ends after this many idle minutes (HIPAA automatic
    /// logoff, 164.312(a)(2)(iii)).
    pub session_idle_minutes: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            lockout_failures: 5,
            lockout_minutes: 15,
            session_idle_minutes: 30,
        }
    }
}

/// Orders.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrdersConfig {
    /// How long an issued order stays valid, in minutes (at most 15).
    pub ttl_minutes: u32,
    /// How long an appliance waits between check-ins, in seconds.
    pub checkin_interval_secs: u32,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        Self {
            ttl_minutes: 15,
            checkin_interval_secs: 60,
        }
    }
}

/// The evidence store.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// How long each accepted bundle is retained (write-once, undeletable),
    /// in days from its receipt. HIPAA keeps documentation six years
    /// (164.316(b)(2)(i)), hence 2190.
    pub retention_days: u32,
    /// Minutes between scheduled server checkpoints of every appliance's
    /// chain (only chains whose head moved get a new one).
    pub checkpoint_interval_minutes: u32,
    /// Where bundles are stored write-once: `local` (`<data_dir>/evidence`,
    /// the embedded default) or `s3` (an S3 Object Lock bucket,
    /// `[evidence.s3]`).
    pub backend: EvidenceBackend,
    /// The S3 Object Lock bucket, for `backend = "s3"`.
    pub s3: S3StoreConfig,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            retention_days: 2190,
            checkpoint_interval_minutes: 60,
            backend: EvidenceBackend::Local,
            s3: S3StoreConfig::default(),
        }
    }
}

/// Which WORM store holds the evidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceBackend {
    /// A write-once directory in the data directory.
    #[default]
    Local,
    /// An S3 bucket with Object Lock, every object in COMPLIANCE mode.
    S3,
}

/// An S3 Object Lock bucket (AWS, MinIO or another S3-compatible
/// server). The credentials are meant to come from the environment
/// (`OSIRIS_EVIDENCE__S3__ACCESS_KEY_ID`,
/// `OSIRIS_EVIDENCE__S3__SECRET_ACCESS_KEY`), never from a file kept
/// with the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3StoreConfig {
    /// `http(s)://host:port` of an S3-compatible server; unset for AWS.
    pub endpoint: Option<String>,
    /// The bucket, created with Object Lock enabled.
    pub bucket: String,
    /// The bucket's region.
    pub region: String,
    /// Address the bucket in the path (`endpoint/bucket/key`), as most
    /// S3-compatible servers need.
    pub path_style: bool,
    /// The access key id.
    #[serde(with = "secret_opt")]
    pub access_key_id: Option<Secret<String>>,
    /// The secret access key.
    #[serde(with = "secret_opt")]
    pub secret_access_key: Option<Secret<String>>,
    /// PUTs in flight at once while storing a check-in's bundles.
    pub put_concurrency: u32,
}

impl Default for S3StoreConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            bucket: String::new(),
            region: "us-east-1".to_owned(),
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            put_concurrency: 32,
        }
    }
}

/// The learning loop ([`crate::learning`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearningConfig {
    /// A pattern needs at least this many executed L2 runs to be a candidate.
    pub min_samples: u32,
    /// ... and a 95% Wilson lower bound of its success rate of at least this.
    pub min_lower_bound: f64,
    /// A promoted rule whose verified failure rate over the window is above
    /// this is demoted.
    pub demote_failure_rate: f64,
    /// ... once it has at least this many runs in the window.
    pub demote_min_samples: u32,
    /// The window, in days.
    pub demote_window_days: u32,
    /// Promote every candidate without waiting for an operator (the
    /// promotion is recorded as automatic). A site may also opt in on its
    /// own (its `learning_auto_promote` setting).
    pub auto_promote: bool,
    /// Shadow mode: a new promotion first reaches appliances in shadow
    /// (the rule records what it would do, L2 still acts) and acts only
    /// after this many of its decisions agreed with L2 (same runbook and
    /// parameters, L2's run verified) and none disagreed. 0 turns shadow
    /// mode off: a promotion acts at the next check-in.
    pub shadow_samples: u32,
    /// How often, in minutes, every promoted rule is evaluated on the
    /// server's clock besides at check-in: a window that slides past old
    /// successes can demote a rule no new run arrived for.
    pub evaluate_interval_minutes: u32,
}

impl Default for LearningConfig {
    fn default() -> Self {
        Self {
            min_samples: 5,
            min_lower_bound: 0.90,
            demote_failure_rate: 0.20,
            demote_min_samples: 5,
            demote_window_days: 7,
            auto_promote: false,
            shadow_samples: 0,
            evaluate_interval_minutes: 60,
        }
    }
}

/// Where the credentials vault's keys live: never in the database.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// Key file (`v<N>:<base64>` lines, mode 0600); created on first start.
    /// Unset: `<data_dir>/vault.key`.
    pub key_file: Option<PathBuf>,
    /// The keys themselves (same entries, comma-separated), for
    /// deployments that inject secrets through the environment
    /// (`OSIRIS_VAULT__KEYS`); takes precedence over the file.
    #[serde(with = "secret_opt")]
    pub keys: Option<Secret<String>>,
}

/// How the API is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// HTTPS with a CA and server certificate generated on first start in
    /// `<data_dir>/tls` (the embedded default).
    #[default]
    SelfSigned,
    /// HTTPS with the operator's certificate chain and key.
    Operator,
    /// Plain HTTP, for a TLS-terminating proxy in front (never exposed).
    Off,
}

/// HTTPS settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// `self_signed`, `operator` or `off`.
    pub mode: TlsMode,
    /// DNS names and IP addresses the self-signed server certificate
    /// covers.
    pub names: Vec<String>,
    /// PEM certificate chain, for `operator`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key, for `operator`.
    pub key_file: Option<PathBuf>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            mode: TlsMode::SelfSigned,
            names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            cert_file: None,
            key_file: None,
        }
    }
}

const fn default_body_limit() -> usize {
    crate::api::BODY_LIMIT
}

/// Settings given on the command line, which override file and
/// environment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl ServerConfig {
    /// Loads the file (if any), then `OSIRIS_*` variables from `env`, then
    /// the command-line overrides, and validates the result.
    ///
    /// # Errors
    /// [`ConfigError`] naming every bad setting.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let vars: Vec<(String, String)> =
            env.into_iter().filter(|(key, _)| is_setting(key)).collect();
        // Figment reads the process environment itself; the variables are
        // passed in so tests can run several configurations in one process.
        figment = figment.merge(EnvSnapshot { vars });
        figment = figment.merge(Serialized::defaults(overrides));
        let config: Self = figment
            .extract()
            .map_err(|error| ConfigError::Load(describe(&error)))?;
        config.validate()?;
        Ok(config)
    }

    /// Collects every problem, naming each setting.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with one line per problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if let Some(url) = &self.database.url {
            let url = url.expose();
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite://"))
            {
                problems.push("database.url: expected postgres://… or sqlite://PATH".to_owned());
            }
        }
        if let Some(url) = &self.limits.redis_url {
            let url = url.expose();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                problems.push("limits.redis_url: expected redis://host:port".to_owned());
            }
        }
        let positive = [
            ("limits.appliance_requests", self.limits.appliance_requests),
            (
                "limits.appliance_window_secs",
                self.limits.appliance_window_secs,
            ),
            ("limits.login_attempts", self.limits.login_attempts),
            ("limits.login_window_secs", self.limits.login_window_secs),
            ("auth.lockout_failures", self.auth.lockout_failures),
            ("auth.lockout_minutes", self.auth.lockout_minutes),
            ("auth.session_idle_minutes", self.auth.session_idle_minutes),
            ("orders.ttl_minutes", self.orders.ttl_minutes),
            (
                "orders.checkin_interval_secs",
                self.orders.checkin_interval_secs,
            ),
            ("evidence.retention_days", self.evidence.retention_days),
            (
                "evidence.checkpoint_interval_minutes",
                self.evidence.checkpoint_interval_minutes,
            ),
            (
                "learning.evaluate_interval_minutes",
                self.learning.evaluate_interval_minutes,
            ),
        ];
        for (name, value) in positive {
            if value == 0 {
                problems.push(format!("{name}: must be at least 1"));
            }
        }
        if self.orders.ttl_minutes > 15 {
            problems.push(format!(
                "orders.ttl_minutes: {} is above the 15 minutes an order may live",
                self.orders.ttl_minutes
            ));
        }
        if let Err(error) = osiris_learning::Thresholds::new(
            u64::from(self.learning.min_samples),
            self.learning.min_lower_bound,
        ) {
            problems.push(format!("learning.{error}"));
        }
        if let Err(error) = osiris_learning::DemotionPolicy::new(
            self.learning.demote_failure_rate,
            u64::from(self.learning.demote_min_samples),
            chrono::Duration::days(i64::from(self.learning.demote_window_days)),
        ) {
            problems.push(format!("learning.{error}"));
        }
        if let Err(error) =
            osiris_learning::ShadowPolicy::new(u64::from(self.learning.shadow_samples))
        {
            problems.push(format!("learning.{error}"));
        }
        if self.body_limit_bytes < 1024 {
            problems.push("body_limit_bytes: must be at least 1024".to_owned());
        }
        if self.tls.mode == TlsMode::Operator {
            if self.tls.cert_file.is_none() {
                problems.push("tls.cert_file: required when tls.mode is operator".to_owned());
            }
            if self.tls.key_file.is_none() {
                problems.push("tls.key_file: required when tls.mode is operator".to_owned());
            }
        }
        if self.tls.mode == TlsMode::SelfSigned && self.tls.names.is_empty() {
            problems.push("tls.names: name at least one host for the certificate".to_owned());
        }
        if self.data_dir.as_os_str().is_empty() {
            problems.push("data_dir: must not be empty".to_owned());
        }
        if self.evidence.backend == EvidenceBackend::S3 {
            problems.extend(self.evidence.s3.problems());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The vault key file, defaulting to one in the data directory.
    #[must_use]
    pub fn vault_key_file(&self) -> PathBuf {
        self.vault
            .key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("vault.key"))
    }

    /// The database URL, defaulting to SQLite in the data directory.
    #[must_use]
    pub fn database_url(&self) -> Secret<String> {
        self.database.url.clone().unwrap_or_else(|| {
            Secret::new(format!(
                "sqlite://{}",
                self.data_dir.join("osiris.db").display()
            ))
        })
    }
}

impl S3StoreConfig {
    /// What is missing or malformed, each naming its setting.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let when = "required when evidence.backend is s3";
        if self.bucket.trim().is_empty() {
            problems.push(format!("evidence.s3.bucket: {when}"));
        }
        if self.region.trim().is_empty() {
            problems.push(format!("evidence.s3.region: {when}"));
        }
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            problems.push(format!(
                "evidence.s3.endpoint: expected http(s)://host:port, got {endpoint:?}"
            ));
        }
        let empty = |secret: &Option<Secret<String>>| {
            secret
                .as_ref()
                .is_none_or(|value| value.expose().trim().is_empty())
        };
        if empty(&self.access_key_id) {
            problems.push(format!(
                "evidence.s3.access_key_id: {when} (set OSIRIS_EVIDENCE__S3__ACCESS_KEY_ID)"
            ));
        }
        if empty(&self.secret_access_key) {
            problems.push(format!(
                "evidence.s3.secret_access_key: {when} (set OSIRIS_EVIDENCE__S3__SECRET_ACCESS_KEY)"
            ));
        }
        if self.put_concurrency == 0 {
            problems.push("evidence.s3.put_concurrency: must be at least 1".to_owned());
        }
        problems
    }
}

/// Variables that share the prefix but are not settings: logging, and the
/// `OSIRIS_TEST_*` addresses the test suites read.
const IGNORED_ENV: &[&str] = &["OSIRIS_LOG", "OSIRIS_LOG_FORMAT"];

fn is_setting(key: &str) -> bool {
    key.starts_with("OSIRIS_") && !key.starts_with("OSIRIS_TEST_") && !IGNORED_ENV.contains(&key)
}

/// `OSIRIS_*` variables as a figment provider, with `__` nesting like
/// figment's own `Env`, over a given set of variables rather than the
/// process environment.
struct EnvSnapshot {
    vars: Vec<(String, String)>,
}

impl figment::Provider for EnvSnapshot {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("OSIRIS_* environment variable")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for (key, value) in &self.vars {
            let Some(path) = key.strip_prefix("OSIRIS_") else {
                continue;
            };
            let path = path.to_ascii_lowercase().replace("__", ".");
            let parsed: figment::value::Value = value
                .parse()
                .unwrap_or_else(|_| figment::value::Value::from(value.clone()));
            let nested = figment::util::nest(&path, parsed);
            if let figment::value::Value::Dict(_, entries) = nested {
                for (name, entry) in entries {
                    merge_into(&mut dict, name, entry);
                }
            }
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

fn merge_into(dict: &mut figment::value::Dict, name: String, entry: figment::value::Value) {
    use figment::value::Value;
    match (dict.get_mut(&name), entry) {
        (Some(Value::Dict(_, existing)), Value::Dict(_, incoming)) => {
            for (inner_name, inner) in incoming {
                merge_into(existing, inner_name, inner);
            }
        }
        (_, entry) => {
            dict.insert(name, entry);
        }
    }
}

/// One line per figment error, each naming the setting and where it came
/// from.
fn describe(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        .map(|error| {
            let setting = error.path.join(".");
            let origin = error
                .metadata
                .as_ref()
                .map(|meta| match &meta.source {
                    Some(source) => format!(" (from {source})"),
                    None => format!(" (from {})", meta.name),
                })
                .unwrap_or_default();
            if setting.is_empty() {
                format!("{}{origin}", error.kind)
            } else {
                format!("{setting}: {}{origin}", error.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Secrets in config: read as plain strings, never written back out.
mod secret_opt {
    use osiris_core::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        _value: &Option<Secret<String>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_none()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Secret<String>>, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.map(Secret::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides() -> Overrides {
        Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: Some(PathBuf::from("/tmp/osiris-test")),
        }
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn embedded_defaults_need_only_the_overrides() {
        let config = ServerConfig::load(None, env(&[]), &overrides()).unwrap();
        assert_eq!(config.limits.appliance_requests, 10);
        assert_eq!(config.auth.lockout_failures, 5);
        assert_eq!(config.evidence.retention_days, 2190);
        assert!(config.database_url().expose().starts_with("sqlite://"));
    }

    #[test]
    fn environment_sets_nested_settings() {
        let config = ServerConfig::load(
            None,
            env(&[
                ("OSIRIS_LIMITS__APPLIANCE_REQUESTS", "3"),
                ("OSIRIS_LOG", "debug"),
            ]),
            &overrides(),
        )
        .unwrap();
        assert_eq!(config.limits.appliance_requests, 3);
    }

    #[test]
    fn every_invalid_setting_is_named_at_once() {
        let error = ServerConfig::load(
            None,
            env(&[
                ("OSIRIS_ORDERS__TTL_MINUTES", "60"),
                ("OSIRIS_AUTH__LOCKOUT_FAILURES", "0"),
                ("OSIRIS_DATABASE__URL", "mysql://x"),
                ("OSIRIS_EVIDENCE__RETENTION_DAYS", "0"),
                ("OSIRIS_LEARNING__SHADOW_SAMPLES", "5000"),
                ("OSIRIS_LEARNING__EVALUATE_INTERVAL_MINUTES", "0"),
            ]),
            &overrides(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("learning.shadow_samples"), "{error}");
        assert!(
            error.contains("learning.evaluate_interval_minutes"),
            "{error}"
        );
        assert!(error.contains("orders.ttl_minutes"), "{error}");
        assert!(error.contains("auth.lockout_failures"), "{error}");
        assert!(error.contains("database.url"), "{error}");
        assert!(error.contains("evidence.retention_days"), "{error}");
    }

    #[test]
    fn an_s3_evidence_store_names_each_missing_setting() {
        let error = ServerConfig::load(
            None,
            env(&[
                ("OSIRIS_EVIDENCE__BACKEND", "s3"),
                ("OSIRIS_EVIDENCE__S3__ENDPOINT", "127.0.0.1:5055"),
                ("OSIRIS_EVIDENCE__S3__REGION", " "),
                ("OSIRIS_EVIDENCE__S3__PUT_CONCURRENCY", "0"),
            ]),
            &overrides(),
        )
        .unwrap_err()
        .to_string();
        for setting in [
            "evidence.s3.bucket",
            "evidence.s3.region",
            "evidence.s3.endpoint",
            "evidence.s3.access_key_id",
            "evidence.s3.secret_access_key",
            "evidence.s3.put_concurrency",
        ] {
            assert!(error.contains(setting), "{setting}: {error}");
        }
        let error = ServerConfig::load(
            None,
            env(&[("OSIRIS_EVIDENCE__BACKEND", "tape")]),
            &overrides(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("backend"), "{error}");
    }

    #[test]
    fn an_s3_evidence_store_loads_from_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            "[evidence]\nbackend = \"s3\"\n[evidence.s3]\nendpoint = \"http://127.0.0.1:5055\"\nbucket = \"evidence\"\npath_style = true\n",
        )
        .unwrap();
        let config = ServerConfig::load(
            Some(&file),
            env(&[
                ("OSIRIS_EVIDENCE__S3__ACCESS_KEY_ID", "AKIA0"),
                ("OSIRIS_EVIDENCE__S3__SECRET_ACCESS_KEY", "s3cr3t"),
            ]),
            &overrides(),
        )
        .unwrap();
        assert_eq!(config.evidence.backend, EvidenceBackend::S3);
        let s3 = &config.evidence.s3;
        assert_eq!(s3.bucket, "evidence");
        assert_eq!(s3.region, "us-east-1");
        assert!(s3.path_style);
        assert_eq!(s3.put_concurrency, 32);
        assert_eq!(
            s3.secret_access_key.as_ref().map(|s| s.expose().as_str()),
            Some("s3cr3t")
        );
        let local = ServerConfig::load(None, env(&[]), &overrides()).unwrap();
        assert_eq!(local.evidence.backend, EvidenceBackend::Local);
    }

    #[test]
    fn unknown_and_mistyped_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1\"\n[auth]\nlockout_minute = 3\n",
        )
        .unwrap();
        let error = ServerConfig::load(Some(&file), env(&[]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("lockout_minute"), "{error}");
        let error = ServerConfig::load(
            None,
            env(&[("OSIRIS_LIMITS__LOGIN_ATTEMPTS", "many")]),
            &overrides(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("limits.login_attempts"), "{error}");
    }

    #[test]
    fn a_missing_config_file_is_named() {
        let error = ServerConfig::load(
            Some(Path::new("/nonexistent/osiris.toml")),
            env(&[]),
            &overrides(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("/nonexistent/osiris.toml"), "{error}");
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let config = ServerConfig::load(
            None,
            env(&[("OSIRIS_DATABASE__URL", "postgres://u:hunter2@db/osiris")]),
            &overrides(),
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
