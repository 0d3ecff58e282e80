//! The three file kinds of the catalog as typed Rust: [`Check`], [`Runbook`]
//! and (in [`crate::rules`]) rule files. Every struct refuses unknown fields,
//! so a misspelt key is an error instead of a silently ignored setting.

use std::fmt;

use osiris_core::{HipaaCitation, RunbookId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::criteria::Criteria;
use crate::duration::Span;

/// Where a check or runbook runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Windows Server over WinRM, PowerShell 5.1.
    Windows,
    /// Debian and Ubuntu over SSH.
    Debian,
    /// RHEL, Rocky and Alma over SSH.
    Rhel,
    /// The appliance itself.
    Appliance,
}

impl Platform {
    /// The name used in files and incidents.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Windows => "windows",
            Self::Debian => "debian",
            Self::Rhel => "rhel",
            Self::Appliance => "appliance",
        }
    }

    /// The interpreter scripts for this platform are written for.
    #[must_use]
    pub const fn shell(self) -> Shell {
        match self {
            Self::Windows => Shell::Powershell,
            Self::Debian | Self::Rhel | Self::Appliance => Shell::Sh,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The interpreter of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Shell {
    /// Windows PowerShell 5.1, sent as `-EncodedCommand`.
    Powershell,
    /// POSIX sh over SSH.
    Sh,
}

/// How bad a failing check is; incidents carry it and rules filter on it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Informational.
    Low,
    /// Should be fixed this week.
    Medium,
    /// Should be fixed today.
    High,
    /// Exposes ePHI now.
    Critical,
}

/// Whether a HIPAA implementation specification is required or addressable
/// (45 CFR 164.306(d)), or a standard without specifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CitationKind {
    /// (R): must be implemented.
    Required,
    /// (A): implement, or document why not and what instead.
    Addressable,
    /// A standard (no implementation specification of its own).
    Standard,
}

/// One HIPAA Security Rule citation of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HipaaRef {
    /// For example `164.308(a)(5)(ii)(B)`.
    #[schemars(with = "String")]
    pub cite: HipaaCitation,
    /// The name of the standard or implementation specification.
    pub name: String,
    /// Required, addressable or standard.
    pub kind: CitationKind,
}

/// A script with its interpreter and time limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// The interpreter; must suit the platform.
    pub shell: Shell,
    /// The run is abandoned (and the result is unknown or failed) after this long.
    pub timeout: Span,
    /// The script text.
    pub script: String,
}

/// A drift check: one file per check and platform under `checks/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Unique id such as `win.av.defender`.
    pub id: String,
    /// A short human title.
    pub title: String,
    /// Where it runs; must match the folder (`windows`, `linux`, `appliance`).
    pub platform: Platform,
    /// The incident category it raises (`patching`, `av`, `backup`, `logging`,
    /// `firewall`, `encryption`, `accounts`); L1 rules match on it.
    pub check_type: String,
    /// The severity of an incident raised by this check.
    pub severity: Severity,
    /// The HIPAA citations this check gives evidence for.
    pub hipaa: Vec<HipaaRef>,
    /// A read-only script that prints one JSON document and exits 0 even when
    /// the host is not compliant.
    pub detect: Script,
    /// How the detect output is judged.
    pub criteria: Criteria,
    /// The runbook that remediates a failure of this check.
    #[schemars(with = "String")]
    pub runbook: RunbookId,
}

/// Whether a runbook may run unattended. Written `false`, `true` or `approval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disruptive {
    /// Safe at any time.
    No,
    /// Only inside the site's maintenance window.
    Yes,
    /// A human must approve each run (reboots, lock-out risk, encryption).
    Approval,
}

const DISRUPTIVE_EXPECTED: &str = "expected false, true or approval";

impl<'de> Deserialize<'de> for Disruptive {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Disruptive;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DISRUPTIVE_EXPECTED)
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Disruptive, E> {
                Ok(if v { Disruptive::Yes } else { Disruptive::No })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Disruptive, E> {
                match v {
                    "approval" => Ok(Disruptive::Approval),
                    _ => Err(E::custom(DISRUPTIVE_EXPECTED)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for Disruptive {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::No => serializer.serialize_bool(false),
            Self::Yes => serializer.serialize_bool(true),
            Self::Approval => serializer.serialize_str("approval"),
        }
    }
}

impl JsonSchema for Disruptive {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Disruptive".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "false, true (maintenance window only) or approval (a human approves each run)",
            "oneOf": [{ "type": "boolean" }, { "const": "approval" }]
        })
    }
}

/// The verification step: re-run the check's detect script, or a script of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyStep {
    /// Re-run the detect script of the check that raised the incident and
    /// evaluate its criteria again.
    #[serde(default)]
    pub rerun_detect: bool,
    /// Interpreter of `script` (only without `rerun_detect`).
    #[serde(default)]
    pub shell: Option<Shell>,
    /// A script printing the same JSON envelope as a detect script.
    #[serde(default)]
    pub script: Option<String>,
    /// Time limit of the step.
    pub timeout: Span,
}

/// The steps of a runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Steps {
    /// Changes the host. It must print JSON whose `before` field captures the
    /// prior state; rollback receives that output on standard input
    /// (PowerShell rollbacks read it into `$Before`; `$OSIRIS_BEFORE` in sh).
    pub remediate: Script,
    /// Proves the change worked.
    pub verify: VerifyStep,
    /// Runs only after verify passed, over the verifying connection, with the
    /// same `before` JSON as rollback: makes a provisional change final, for
    /// example by stopping a dead-man timer that would otherwise undo it.
    /// Rollback never runs after it.
    #[serde(default)]
    pub confirm: Option<Script>,
    /// Restores the `before` state when verify fails; absent only with `no_rollback`.
    #[serde(default)]
    pub rollback: Option<Script>,
    /// Why a runbook has no rollback (for example: a backup run changes nothing to undo).
    #[serde(default)]
    pub no_rollback: Option<String>,
}

/// A remediation runbook: one file per runbook, named after its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    /// `RB-WIN-AV-001`; equals the file name.
    #[schemars(with = "String")]
    pub id: RunbookId,
    /// A short human title.
    pub title: String,
    /// What it does and what it does not do.
    pub description: String,
    /// The platforms it suits; checks and rules may only point to a runbook of their platform.
    pub platforms: Vec<Platform>,
    /// `false`, `true` (maintenance window only) or `approval` (a human approves each run).
    pub disruptive: Disruptive,
    /// A JSON Schema (draft 2020-12) for the parameters the L2 planner or an operator may pass.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub parameters: serde_json::Value,
    /// Remediate, verify, then confirm (verify passed) or rollback (verify failed).
    pub steps: Steps,
}
