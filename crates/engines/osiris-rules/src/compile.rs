//! Rules compiled once: paths split, regexes built, operands typed, severities lowercased.

use osiris_catalog::Platform;
use osiris_catalog::rules::{ConditionSpec, Operator, RuleSource, RuleSpec};
use regex::Regex;
use serde_json::{Map, Value};

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) source: RuleSource,
    pub(crate) file: String,
    pub(crate) priority: u32,
    pub(crate) enabled: bool,
    pub(crate) platform: Option<Platform>,
    pub(crate) severity_filter: Vec<String>,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) action: String,
    pub(crate) action_params: Map<String, Value>,
    pub(crate) runbook_id: Option<String>,
    pub(crate) cooldown_seconds: u64,
    pub(crate) max_retries: Option<u32>,
    pub(crate) shadow: bool,
}

impl Rule {
    /// The rule id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The human name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the rule came from.
    #[must_use]
    pub const fn source(&self) -> RuleSource {
        self.source
    }

    /// The file it was loaded from.
    #[must_use]
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Lower is tried first.
    #[must_use]
    pub const fn priority(&self) -> u32 {
        self.priority
    }

    /// The action name.
    #[must_use]
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The action's parameters as written.
    #[must_use]
    pub const fn action_params(&self) -> &Map<String, Value> {
        &self.action_params
    }

    /// `action_params.runbook_id`, when the action names a runbook.
    #[must_use]
    pub fn runbook_id(&self) -> Option<&str> {
        self.runbook_id.as_deref()
    }

    /// Whether the rule is in shadow mode: evaluated, never acting.
    #[must_use]
    pub const fn is_shadow(&self) -> bool {
        self.shadow
    }
}

/// One compiled condition.
#[derive(Debug)]
pub(crate) struct Condition {
    pub(crate) field: String,
    pub(crate) path: Vec<Box<str>>,
    pub(crate) test: Test,
}

#[derive(Debug)]
pub(crate) enum Test {
    Eq(Value),
    Ne(Value),
    Contains(Value),
    Regex(Regex),
    Gt(f64),
    Lt(f64),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Exists(bool),
}

impl Condition {
    fn compile(spec: &ConditionSpec) -> Result<Self, String> {
        if let Some(problem) = spec.problem() {
            return Err(problem);
        }
        let operand = spec.value.clone().unwrap_or(Value::Null);
        let number = |v: &Value| v.as_f64().ok_or_else(|| "needs a number".to_owned());
        let list = |v: Value| match v {
            Value::Array(items) => Ok(items),
            _ => Err("needs a list".to_owned()),
        };
        let test = match spec.operator {
            Operator::Eq => Test::Eq(operand),
            Operator::Ne => Test::Ne(operand),
            Operator::Contains => Test::Contains(operand),
            Operator::Regex => {
                let pattern = operand.as_str().unwrap_or_default();
                // Bounded size: a rule file from the server must not exhaust appliance memory.
                let regex = regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|err| {
                        format!(
                            "invalid regex: {}",
                            err.to_string().lines().last().unwrap_or_default().trim()
                        )
                    })?;
                Test::Regex(regex)
            }
            Operator::Gt => Test::Gt(number(&operand)?),
            Operator::Lt => Test::Lt(number(&operand)?),
            Operator::In => Test::In(list(operand)?),
            Operator::NotIn => Test::NotIn(list(operand)?),
            Operator::Exists => Test::Exists(operand.as_bool().unwrap_or(true)),
        };
        Ok(Self {
            field: spec.field.clone(),
            path: spec.field.split('.').map(Box::from).collect(),
            test,
        })
    }

    /// Whether the condition holds for the incident.
    pub(crate) fn holds(&self, incident: &Value) -> bool {
        let found = lookup(incident, &self.path);
        match &self.test {
            Test::Eq(operand) => found.is_some_and(|v| json_eq(v, operand)),
            Test::Ne(operand) => !found.is_some_and(|v| json_eq(v, operand)),
            Test::Contains(operand) => match (found, operand) {
                (Some(Value::String(text)), Value::String(needle)) => {
                    text.contains(needle.as_str())
                }
                (Some(Value::Array(items)), needle) => items.iter().any(|v| json_eq(v, needle)),
                _ => false,
            },
            Test::Regex(regex) => found
                .and_then(Value::as_str)
                .is_some_and(|text| regex.is_match(text)),
            Test::Gt(limit) => found.and_then(Value::as_f64).is_some_and(|x| x > *limit),
            Test::Lt(limit) => found.and_then(Value::as_f64).is_some_and(|x| x < *limit),
            Test::In(items) => found.is_some_and(|v| items.iter().any(|item| json_eq(v, item))),
            Test::NotIn(items) => !found.is_some_and(|v| items.iter().any(|item| json_eq(v, item))),
            Test::Exists(expected) => found.is_some_and(|v| !v.is_null()) == *expected,
        }
    }

    /// Why the condition fails, in words (slow path, for explanations).
    pub(crate) fn why_not(&self, incident: &Value) -> String {
        let field = &self.field;
        let found = lookup(incident, &self.path);
        let actual = found.map_or_else(|| "absent".to_owned(), |v| format!("{v}"));
        let expected = match &self.test {
            Test::Eq(v) => format!("= {v}"),
            Test::Ne(v) => format!("!= {v}"),
            Test::Contains(v) => format!("to contain {v}"),
            Test::Regex(r) => format!("to match /{}/", r.as_str()),
            Test::Gt(n) => format!("> {n}"),
            Test::Lt(n) => format!("< {n}"),
            Test::In(items) => format!("one of {}", Value::Array(items.clone())),
            Test::NotIn(items) => format!("none of {}", Value::Array(items.clone())),
            Test::Exists(true) => "present".to_owned(),
            Test::Exists(false) => "absent".to_owned(),
        };
        format!("{field} is {actual}, expected {expected}")
    }

    /// The operand when the condition is `eq` on a string (used to index rules).
    pub(crate) fn eq_string(&self) -> Option<&str> {
        match &self.test {
            Test::Eq(Value::String(text)) => Some(text),
            _ => None,
        }
    }
}

/// Compiles one rule, or says which part is wrong as (field path, message).
pub(crate) fn compile(
    spec: &RuleSpec,
    source: RuleSource,
    file: &str,
) -> Result<Rule, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let mut conditions = Vec::with_capacity(spec.conditions.len());
    for (index, condition) in spec.conditions.iter().enumerate() {
        match Condition::compile(condition) {
            Ok(condition) => conditions.push(condition),
            Err(message) => problems.push((format!("conditions[{index}]"), message)),
        }
    }
    let runbook_id = match spec.action_params.get("runbook_id") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => {
            problems.push((
                "action_params.runbook_id".to_owned(),
                "runbook_id must be a string".to_owned(),
            ));
            None
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Rule {
        id: spec.id.clone(),
        name: spec.name.clone(),
        source: spec.source.unwrap_or(source),
        file: file.to_owned(),
        priority: spec.priority,
        enabled: spec.enabled,
        platform: spec.platform,
        severity_filter: spec
            .severity_filter
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect(),
        conditions,
        action: spec.action.clone(),
        action_params: spec.action_params.clone(),
        runbook_id,
        cooldown_seconds: spec.cooldown_seconds,
        max_retries: spec.max_retries,
        shadow: spec.shadow,
    })
}

/// Follows a pre-split dot path through objects (and array indexes).
pub(crate) fn lookup<'a>(value: &'a Value, path: &[Box<str>]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |current, segment| match current {
            Value::Object(map) => map.get(&**segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// JSON equality where numbers compare by value (`1 == 1.0`); other types never equal across kinds.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
