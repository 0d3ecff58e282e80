//! The simulated host's state and the scripted answers to PowerShell.
//!
//! Everything host-specific is data (`data/windows-dc.json`): adding a check
//! means adding a rule there, not code.

use std::collections::BTreeMap;
use std::sync::Arc;

use osiris_core::{Clock, SystemClock};
use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::windows::derive;

/// One scripted answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: String,
    /// Every substring must occur in the script (case-sensitive, as the
    /// catalog scripts are fixed text).
    #[serde(rename = "match")]
    needles: Vec<String>,
    /// A JSON template printed compressed; `"$key"` strings read the state,
    /// `"@op:key"` strings derive from it ([`derive`](mod@super::derive)).
    #[serde(default)]
    output: Option<Value>,
    /// Literal text (or `"$key"`).
    #[serde(default)]
    text: Option<String>,
    /// The rule applies only while every source (`key`, `key/json/pointer`
    /// or `stdin/json/pointer`) has the given value: the branches of one
    /// script become one rule each.
    #[serde(default)]
    when: BTreeMap<String, Value>,
    /// State changes applied after the answer; values are templates read
    /// before any change, so a rollback can restore what stdin carries.
    #[serde(default)]
    set: BTreeMap<String, Value>,
    #[serde(default)]
    exit_code: i64,
    /// The command keeps running until it is terminated (`Start-Sleep`).
    #[serde(default)]
    never_ends: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct ModelFile {
    #[serde(rename = "_comment", default)]
    _comment: String,
    state: BTreeMap<String, Value>,
    scripts: Vec<Rule>,
}

/// What a script printed and how it exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptResult {
    /// Console output (CRLF line ends, like Windows).
    pub stdout: String,
    /// CLIXML error stream, empty on success.
    pub stderr: String,
    /// Process exit code.
    pub exit_code: i64,
    /// Which rule answered (`None` for an unknown script).
    pub rule: Option<String>,
    /// The command is still running and never finishes by itself.
    pub never_ends: bool,
}

/// A host: mutable state plus the rules that read and change it.
#[derive(Debug, Clone)]
pub struct HostModel {
    state: BTreeMap<String, Value>,
    rules: Vec<Rule>,
    /// Times in answers are relative to this clock.
    clock: Arc<dyn Clock>,
}

/// The built-in Windows Server 2019 domain controller.
pub const WINDOWS_DC: &str = include_str!("../../data/windows-dc.json");

impl HostModel {
    /// Loads a model from its JSON description.
    ///
    /// # Errors
    /// [`Error::Model`] naming the JSON problem, or a rule whose `set`
    /// names a key the state does not have.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let file: ModelFile =
            serde_json::from_str(json).map_err(|e| Error::Model(e.to_string()))?;
        for rule in &file.scripts {
            if let Some(key) = rule.set.keys().find(|k| !file.state.contains_key(*k)) {
                return Err(Error::Model(format!(
                    "rule {:?} sets unknown state key {key:?}",
                    rule.name
                )));
            }
        }
        for rule in &file.scripts {
            let mut strings = Vec::new();
            if let Some(output) = &rule.output {
                template_strings(output, &mut strings);
            }
            rule.set
                .values()
                .for_each(|v| template_strings(v, &mut strings));
            for text in strings.into_iter().chain(rule.text.as_deref()) {
                check_derivation(text, &file.state)
                    .map_err(|e| Error::Model(format!("rule {:?}: {e}", rule.name)))?;
            }
            if let Some(source) = rule.when.keys().find(|s| !known_source(s, &file.state)) {
                return Err(Error::Model(format!(
                    "rule {:?} tests unknown state key {source:?}",
                    rule.name
                )));
            }
        }
        Ok(Self {
            state: file.state,
            rules: file.scripts,
            clock: Arc::new(SystemClock),
        })
    }

    /// The same host answering with times relative to `clock` (tests pin it).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The built-in domain controller model.
    ///
    /// # Errors
    /// Only if the embedded file is broken (a test guards it).
    pub fn windows_dc() -> Result<Self, Error> {
        Self::from_json(WINDOWS_DC)
    }

    /// Current value of a state key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.state.get(key)
    }

    /// Injects drift: sets a state key.
    ///
    /// # Errors
    /// [`Error::UnknownStateKey`] for a key the model does not have, so a
    /// typo cannot silently inject nothing.
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), Error> {
        let slot = self
            .state
            .get_mut(key)
            .ok_or_else(|| Error::UnknownStateKey(key.to_owned()))?;
        *slot = value;
        Ok(())
    }

    /// Runs a PowerShell script against the model.
    pub fn run_powershell(&mut self, script: &str) -> ScriptResult {
        self.run_powershell_with_input(script, &[])
    }

    /// Runs a PowerShell script whose standard input is `input`; templates
    /// read it as `"$stdin"`.
    pub fn run_powershell_with_input(&mut self, script: &str, input: &[u8]) -> ScriptResult {
        let input = String::from_utf8_lossy(input);
        let Some(rule) = self.rules.iter().find(|r| {
            r.needles.iter().all(|n| script.contains(n.as_str()))
                && r.when.iter().all(|(source, expected)| {
                    self.source(source, &input).as_ref() == Some(expected)
                })
        }) else {
            return exit_statement(script).unwrap_or_else(|| command_not_found(script));
        };
        let stdout = match (&rule.output, &rule.text) {
            (Some(template), _) => format!("{}\r\n", self.render(template, &input)),
            (None, Some(text)) if text.is_empty() => String::new(),
            (None, Some(text)) => format!("{}\r\n", self.render_text(text, &input)),
            (None, None) => String::new(),
        };
        let result = ScriptResult {
            stdout,
            stderr: String::new(),
            exit_code: rule.exit_code,
            rule: Some(rule.name.clone()),
            never_ends: rule.never_ends,
        };
        let changes: Vec<(String, Value)> = rule
            .set
            .iter()
            .map(|(key, template)| (key.clone(), self.render(template, &input)))
            .collect();
        self.state.extend(changes);
        result
    }

    /// A state value, or a part of one (`key/json/pointer`), or of the JSON
    /// on standard input (`stdin/json/pointer`); `None` when absent.
    fn source(&self, source: &str, input: &str) -> Option<Value> {
        let (key, pointer) = split_source(source);
        let whole = if key == "stdin" {
            serde_json::from_str(input).ok()?
        } else {
            self.state.get(key)?.clone()
        };
        if pointer.is_empty() {
            Some(whole)
        } else {
            whole.pointer(pointer).cloned()
        }
    }

    fn lookup(&self, text: &str, input: &str) -> Option<Value> {
        if text == "@now" {
            return Some(Value::String(derive::round_trip(self.clock.now())));
        }
        if let Some((op, key)) = text.strip_prefix('@').and_then(|t| t.split_once(':')) {
            // Loading checked op and key; drift may still set a value of the
            // wrong type, which prints as PowerShell's null.
            return Some(
                self.source(key, input)
                    .and_then(|v| derive::derive(op, &v, self.clock.now()).ok())
                    .unwrap_or(Value::Null),
            );
        }
        match text.strip_prefix('$')? {
            "stdin" => Some(Value::String(input.to_owned())),
            // A part of a value, like PowerShell's missing property, is null.
            source if source.contains('/') => {
                Some(self.source(source, input).unwrap_or(Value::Null))
            }
            source => self.source(source, input),
        }
    }

    fn render_text(&self, text: &str, input: &str) -> String {
        match self.lookup(text, input) {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => text.to_owned(),
        }
    }

    fn render(&self, template: &Value, input: &str) -> Value {
        match template {
            Value::String(s) => self.lookup(s, input).unwrap_or_else(|| template.clone()),
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| self.render(i, input)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.render(v, input)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn template_strings<'a>(template: &'a Value, out: &mut Vec<&'a str>) {
    match template {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| template_strings(i, out)),
        Value::Object(map) => map.values().for_each(|v| template_strings(v, out)),
        _ => {}
    }
}

/// `key/json/pointer` split into the key and the pointer (`""` for all).
fn split_source(source: &str) -> (&str, &str) {
    source
        .find('/')
        .map_or((source, ""), |at| source.split_at(at))
}

fn known_source(source: &str, state: &BTreeMap<String, Value>) -> bool {
    let (key, _) = split_source(source);
    key == "stdin" || state.contains_key(key)
}

/// A derivation names a known operation and source, and renders a whole
/// state key's initial value (parts and stdin are only known when run).
fn check_derivation(text: &str, state: &BTreeMap<String, Value>) -> Result<(), String> {
    let Some(derivation) = text.strip_prefix('@').filter(|d| *d != "now") else {
        return Ok(());
    };
    let (op, source) = derivation
        .split_once(':')
        .filter(|(op, _)| derive::known_op(op))
        .ok_or_else(|| format!("unknown derivation {text:?}"))?;
    if !known_source(source, state) {
        return Err(format!("{text:?} reads unknown state key {source:?}"));
    }
    match state.get(source) {
        Some(value) => derive::derive(op, value, chrono::DateTime::UNIX_EPOCH).map(|_| ()),
        None => Ok(()),
    }
}

/// What `cmd.exe` prints for a program it cannot find.
#[must_use]
pub(crate) fn cmd_not_found(command: &str) -> ScriptResult {
    ScriptResult {
        stdout: String::new(),
        stderr: format!(
            "'{command}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
        ),
        exit_code: 1,
        rule: None,
        never_ends: false,
    }
}

/// A script that is only `exit N` ends with code N and prints nothing.
fn exit_statement(script: &str) -> Option<ScriptResult> {
    let code = script.trim().strip_prefix("exit ")?.trim().parse().ok()?;
    Some(ScriptResult {
        stdout: String::new(),
        stderr: String::new(),
        exit_code: code,
        rule: None,
        never_ends: false,
    })
}

/// PowerShell 5.1's error for an unknown first command, as CLIXML.
fn command_not_found(script: &str) -> ScriptResult {
    let first = script.split_whitespace().next().unwrap_or_default();
    let lines = [
        format!(
            "{first} : The term '{first}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
        ),
        "At line:1 char:1".to_owned(),
        format!("+ {first}"),
        format!("+ {}", "~".repeat(first.chars().count().max(1))),
        format!(
            "    + CategoryInfo          : ObjectNotFound: ({first}:String) [], CommandNotFoundException"
        ),
        "    + FullyQualifiedErrorId : CommandNotFoundException".to_owned(),
        " ".to_owned(),
    ];
    let nodes: String = lines
        .iter()
        .map(|l| format!("<S S=\"Error\">{}_x000D__x000A_</S>", xml_escape(l)))
        .collect();
    ScriptResult {
        stdout: String::new(),
        stderr: format!(
            "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">{nodes}</Objs>"
        ),
        exit_code: 1,
        rule: None,
        never_ends: false,
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_model_loads() {
        HostModel::windows_dc().unwrap();
    }

    #[test]
    fn drift_shows_in_detect_and_remediation_heals_it() {
        let mut host = HostModel::windows_dc().unwrap();
        host.set("defender.realtime_enabled", Value::Bool(false))
            .unwrap();
        let detect =
            host.run_powershell("$m = Get-MpComputerStatus\n$m | ConvertTo-Json -Compress");
        assert!(
            detect
                .stdout
                .contains("\"RealTimeProtectionEnabled\":false"),
            "{}",
            detect.stdout
        );
        let fix = host.run_powershell("Set-MpPreference -DisableRealtimeMonitoring $false");
        assert_eq!(
            (fix.exit_code, fix.rule.as_deref()),
            (0, Some("defender-remediate"))
        );
        assert!(
            host.run_powershell("Get-MpComputerStatus")
                .stdout
                .contains("\"RealTimeProtectionEnabled\":true")
        );
    }

    #[test]
    fn unknown_script_gets_command_not_found_in_clixml() {
        let mut host = HostModel::windows_dc().unwrap();
        let result = host.run_powershell("Get-Frobnicator -All");
        assert_eq!(result.exit_code, 1);
        let text = winrm::powershell::decode_clixml(&result.stderr);
        assert!(
            text.starts_with("Get-Frobnicator : The term 'Get-Frobnicator' is not recognized"),
            "{text}"
        );
    }

    #[test]
    fn derivations_of_unknown_keys_or_operations_are_refused_at_load() {
        for template in ["@hours_ago:nope", "@yesterday:a", "@not:a"] {
            let json = format!(
                r#"{{"state":{{"a":"text"}},"scripts":[{{"name":"r","match":["x"],"output":{{"t":"{template}"}}}}]}}"#
            );
            let error = HostModel::from_json(&json).unwrap_err().to_string();
            assert!(
                error.starts_with("host model: rule \"r\""),
                "{template}: {error}"
            );
        }
    }

    #[test]
    fn when_picks_the_branch_and_set_restores_from_stdin() {
        let json = r#"{"state":{"p":"Off","q":1},"scripts":[
            {"name":"on","match":["x"],"when":{"p":"On"},"text":"was on"},
            {"name":"restore","match":["x"],"when":{"stdin/before/p":"On"},"text":"","set":{"p":"$stdin/before/p","q":"@at_least=5:q"}},
            {"name":"other","match":["x"],"text":"fallback"}]}"#;
        let mut host = HostModel::from_json(json).unwrap();
        assert_eq!(host.run_powershell("x").stdout, "fallback\r\n");
        let restored = host.run_powershell_with_input("x", br#"{"before":{"p":"On"}}"#);
        assert_eq!(restored.rule.as_deref(), Some("restore"));
        assert_eq!(
            (host.get("p"), host.get("q")),
            (Some(&Value::from("On")), Some(&Value::from(5)))
        );
        assert_eq!(host.run_powershell("x").stdout, "was on\r\n");
    }

    #[test]
    fn when_and_set_templates_naming_unknown_keys_are_refused_at_load() {
        for rule in [
            r#"{"name":"r","match":["x"],"when":{"nope/a":1}}"#,
            r#"{"name":"r","match":["x"],"set":{"a":"@not:nope"}}"#,
        ] {
            let json = format!(r#"{{"state":{{"a":true}},"scripts":[{rule}]}}"#);
            let error = HostModel::from_json(&json).unwrap_err().to_string();
            assert!(error.contains("nope"), "{error}");
        }
    }

    #[test]
    fn unknown_state_keys_are_refused() {
        let mut host = HostModel::windows_dc().unwrap();
        assert!(matches!(
            host.set("defender.realtime", Value::Bool(false)),
            Err(Error::UnknownStateKey(_))
        ));
        let bad = r#"{"state":{},"scripts":[{"name":"x","match":["x"],"set":{"nope":1}}]}"#;
        assert!(
            HostModel::from_json(bad)
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
    }
}
