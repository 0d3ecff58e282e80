//! L1 rule files. One vocabulary serves two formats:
//!
//! - the reference system's files, loaded unchanged: `conditions` of
//!   `field`/`operator`/`value`, `action`, `action_params.runbook_id`,
//!   `severity_filter`, `priority` (lower first), `cooldown_seconds`;
//! - Osiris's own files, which declare `format: osiris.rules.v1` and are held
//!   to stricter rules: a `platform`, an action Osiris knows, a runbook id of
//!   the catalog's form, known severities.
//!
//! Only the parsing and static validation live here; `osiris-rules` compiles
//! the rules into a matcher.

use std::collections::BTreeSet;

use osiris_core::{HipaaCitation, RunbookId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::Platform;

/// A rule file: an optional format marker and a list of rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// `osiris.rules.v1` for Osiris's strict format; absent in reference files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<RuleFormat>,
    /// The rules.
    pub rules: Vec<RuleSpec>,
}

/// The format marker of Osiris rule files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RuleFormat {
    /// The first (and current) version.
    #[serde(rename = "osiris.rules.v1")]
    OsirisV1,
}

/// Where a rule came from; a synced or promoted rule replaces a built-in one with the same id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// Shipped in the catalog.
    Builtin,
    /// Sent down by Central Command.
    Synced,
    /// Promoted from a successful L2 pattern by the learning loop.
    Promoted,
}

/// One L1 rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id such as `L1-WIN-AV-001`.
    pub id: String,
    /// Short human name.
    #[serde(default)]
    pub name: String,
    /// What the rule is for.
    #[serde(default)]
    pub description: String,
    /// All must hold for the rule to match.
    pub conditions: Vec<ConditionSpec>,
    /// `run_runbook` or `escalate` in Osiris files; reference files use their own names
    /// (`run_windows_runbook`, `restart_service`, …).
    pub action: String,
    /// Parameters of the action; `runbook_id` names the runbook.
    #[serde(default)]
    pub action_params: Map<String, Value>,
    /// HIPAA citations the rule serves.
    #[serde(default)]
    pub hipaa_controls: Vec<String>,
    /// If non-empty, the incident's `severity` must be one of these.
    #[serde(default)]
    pub severity_filter: Vec<String>,
    /// A disabled rule never matches.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// Lower is tried first.
    #[serde(default = "priority_default")]
    pub priority: u32,
    /// Minimum time between two firings for the same host.
    #[serde(default)]
    pub cooldown_seconds: u64,
    /// After this many failed attempts for a host the rule stops matching there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// The platform the rule is for (required in Osiris files); the incident's
    /// `platform` must equal it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Where the rule came from when the file says so (promoted rules do);
    /// otherwise the loader decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RuleSource>,
    /// Shadow mode (Osiris files only, `run_runbook` rules only): the rule
    /// is evaluated and what it would have run is recorded, but it never
    /// acts; the incident goes on to L2 as if no rule matched, so the two
    /// decisions can be compared before the rule is trusted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shadow: bool,
}

const fn enabled_default() -> bool {
    true
}

// serde's skip_serializing_if passes a reference.
const fn is_false(value: &bool) -> bool {
    !*value
}

const fn priority_default() -> u32 {
    100
}

/// One condition: the value at a dot path of the incident, an operator, an operand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// Dot path into the incident, such as `details.cpu_percent`.
    pub field: String,
    /// The comparison.
    pub operator: Operator,
    /// The operand (for `exists`: true or false, default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// Operators of rule conditions (the reference system's set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// Equal (numbers by value).
    Eq,
    /// Not equal; an absent field is not equal.
    Ne,
    /// Substring of a string field, or element of a list field.
    Contains,
    /// Regular expression found in a string field.
    Regex,
    /// Number greater than.
    Gt,
    /// Number less than.
    Lt,
    /// Equal to an element of the operand list.
    In,
    /// Equal to no element of the operand list; an absent field is not in it.
    NotIn,
    /// Present and not null (or, with `value: false`, absent or null).
    Exists,
}

/// Actions Osiris's own rule files may name.
pub const OSIRIS_ACTIONS: [&str; 2] = ["run_runbook", "escalate"];

/// Severities incidents carry.
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

impl RuleFile {
    /// Whether the file declares Osiris's strict format.
    #[must_use]
    pub const fn is_osiris(&self) -> bool {
        matches!(self.format, Some(RuleFormat::OsirisV1))
    }

    /// Every static problem, as (field path, message); empty when valid.
    #[must_use]
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut ids = BTreeSet::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{index}]");
            if !ids.insert(rule.id.as_str()) {
                problems.push((
                    format!("{at}.id"),
                    format!("duplicate rule id {:?}", rule.id),
                ));
            }
            rule.problems(&at, self.is_osiris(), &mut problems);
        }
        problems
    }
}

impl RuleSpec {
    /// The runbook the action runs, from `action_params.runbook_id`.
    #[must_use]
    pub fn runbook_id(&self) -> Option<&str> {
        self.action_params.get("runbook_id").and_then(Value::as_str)
    }

    fn problems(&self, at: &str, strict: bool, problems: &mut Vec<(String, String)>) {
        let mut push =
            |field: &str, message: String| problems.push((format!("{at}.{field}"), message));
        if self.id.trim().is_empty() {
            push("id", "rule id must not be empty".into());
        }
        for (index, condition) in self.conditions.iter().enumerate() {
            if let Some(message) = condition.problem() {
                push(&format!("conditions[{index}]"), message);
            }
        }
        for (index, cite) in self.hipaa_controls.iter().enumerate() {
            if let Err(err) = cite.parse::<HipaaCitation>() {
                push(&format!("hipaa_controls[{index}]"), err.to_string());
            }
        }
        if let Some(runbook) = self.action_params.get("runbook_id") {
            match runbook.as_str() {
                None => push(
                    "action_params.runbook_id",
                    "runbook_id must be a string".into(),
                ),
                Some(text) if strict => {
                    if let Err(err) = text.parse::<RunbookId>() {
                        push("action_params.runbook_id", err.to_string());
                    }
                }
                Some(_) => {}
            }
        }
        if !strict {
            if self.shadow {
                push("shadow", "shadow rules need format: osiris.rules.v1".into());
            }
            return;
        }
        if self.shadow && self.action != "run_runbook" {
            push(
                "shadow",
                format!(
                    "a shadow rule must run a runbook (action run_runbook), not {:?}: there would be nothing to compare with L2",
                    self.action
                ),
            );
        }
        if self.platform.is_none() {
            push(
                "platform",
                "osiris rules need a platform (windows, debian, rhel, appliance)".into(),
            );
        }
        if !OSIRIS_ACTIONS.contains(&self.action.as_str()) {
            push(
                "action",
                format!(
                    "unknown action {:?}, expected one of {}",
                    self.action,
                    OSIRIS_ACTIONS.join(", ")
                ),
            );
        }
        if self.action == "run_runbook" && self.runbook_id().is_none() {
            push(
                "action_params.runbook_id",
                "run_runbook needs action_params.runbook_id".into(),
            );
        }
        for (index, severity) in self.severity_filter.iter().enumerate() {
            if !SEVERITIES.contains(&severity.as_str()) {
                push(
                    &format!("severity_filter[{index}]"),
                    format!(
                        "unknown severity {severity:?}, expected one of {}",
                        SEVERITIES.join(", ")
                    ),
                );
            }
        }
    }
}

impl ConditionSpec {
    /// Why the operand does not suit the operator, if it does not.
    #[must_use]
    pub fn problem(&self) -> Option<String> {
        if self.field.is_empty() || self.field.split('.').any(str::is_empty) {
            return Some(format!(
                "field {:?} is not a dot path like details.cpu_percent",
                self.field
            ));
        }
        let value = self.value.as_ref();
        let needs = match self.operator {
            Operator::Eq | Operator::Ne | Operator::Contains => {
                value.is_none().then_some("a value")
            }
            Operator::Gt | Operator::Lt => {
                (!value.is_some_and(Value::is_number)).then_some("a number")
            }
            Operator::In | Operator::NotIn => {
                (!value.is_some_and(Value::is_array)).then_some("a list")
            }
            Operator::Exists => value
                .is_some_and(|v| !v.is_boolean())
                .then_some("true or false (or nothing)"),
            Operator::Regex => match value.and_then(Value::as_str).map(regex::Regex::new) {
                Some(Ok(_)) => None,
                Some(Err(err)) => {
                    return Some(format!("invalid regex: {}", first_line(&err.to_string())));
                }
                None => Some("a regular expression string"),
            },
        };
        needs.map(|needs| {
            format!(
                "{} needs {needs}",
                serde_json::to_value(self.operator)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )
        })
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
