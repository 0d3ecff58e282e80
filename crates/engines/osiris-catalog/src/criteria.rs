//! Pass criteria, evaluated in Rust over the JSON a detect script prints.
//!
//! Logic is three-valued: a fact that could not be collected (a missing
//! field, a value of the wrong type, `ok: false`, output that is not JSON)
//! makes the result **unknown**, never pass. A definite violation makes it
//! **fail** even when other facts are unknown, because the facts that were
//! collected already prove the drift.

use chrono::{DateTime, TimeZone, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::duration::Span;

/// How a check's detect output is judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Criteria {
    /// If any of these holds, the facts are not trustworthy and the result is
    /// unknown (for example: the update search could not reach WSUS).
    #[serde(default)]
    pub unknown_if: Vec<Criterion>,
    /// Every one of these must hold for the check to pass.
    pub pass_if: Vec<Criterion>,
}

/// One named criterion over a dot path of the detect output (`facts.QuickScanAge`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Unique within the check; named in failures and evidence.
    pub id: String,
    /// The requirement in words, as an auditor reads it.
    pub description: String,
    /// Dot path into the detect output; `.` is the value itself (inside `where`).
    pub path: String,
    /// The comparison.
    pub op: Op,
    /// The operand, when the operator takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Predicates over each array element, for `all`, `any` and `none`.
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub predicates: Vec<Predicate>,
    /// What an absent or null fact means: `unknown` (default) or `fail`.
    #[serde(default)]
    pub missing: Missing,
}

/// A test on one array element inside `all`, `any` or `none`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    /// Dot path inside the element; `.` is the element itself.
    pub path: String,
    /// The comparison (not a quantifier).
    pub op: Op,
    /// The operand, when the operator takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// Comparison operators of criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (numbers compare by value: `1 == 1.0`).
    Eq,
    /// Not equal.
    Ne,
    /// Number less than.
    Lt,
    /// Number less than or equal.
    Le,
    /// Number greater than.
    Gt,
    /// Number greater than or equal.
    Ge,
    /// Equal to one element of the `value` list.
    In,
    /// Equal to no element of the `value` list.
    NotIn,
    /// A string containing the `value` substring, or an array containing the `value` element.
    Contains,
    /// The negation of `contains`.
    NotContains,
    /// A string matching the `value` regular expression (anywhere in the string).
    Matches,
    /// A string not matching the `value` regular expression.
    NotMatches,
    /// Present and not null.
    Exists,
    /// Absent or null.
    Absent,
    /// An empty array, string or object (null counts as empty).
    Empty,
    /// A non-empty array, string or object.
    NotEmpty,
    /// A timestamp (RFC 3339 or epoch seconds) older than the `value` duration.
    OlderThan,
    /// A timestamp no older than the `value` duration.
    Within,
    /// Every element of the array satisfies `where`.
    All,
    /// At least one element satisfies `where`.
    Any,
    /// No element satisfies `where`.
    None,
}

/// What an absent or null fact means for a criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// The fact was not collected: the result is unknown.
    #[default]
    Unknown,
    /// The absence is itself a violation.
    Fail,
}

/// The result of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every criterion is met.
    Pass,
    /// The facts were collected and at least one criterion is not met.
    Fail,
    /// The facts could not be collected; never treated as pass, never auto-remediated.
    Unknown,
}

/// One criterion that did not pass, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The criterion id (or `output` for problems with the document itself).
    pub criterion: String,
    /// The reason in words.
    pub reason: String,
}

/// The outcome of evaluating a check's criteria over one detect output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[must_use]
pub struct Evaluation {
    /// Pass, fail or unknown.
    pub outcome: Outcome,
    /// Criteria that are definitely not met.
    pub failed: Vec<Finding>,
    /// Criteria (or document problems) that could not be decided.
    pub unknown: Vec<Finding>,
}

impl Criteria {
    /// Judges the stdout of a detect script. `now` is the reference for
    /// `older_than` and `within`; it is passed in, never read.
    pub fn evaluate(&self, stdout: &str, now: DateTime<Utc>) -> Evaluation {
        let document: Value = match serde_json::from_str(stdout.trim_start_matches('\u{feff}')) {
            Ok(document) => document,
            Err(err) => {
                return Evaluation::unknown("output", format!("detect output is not JSON: {err}"));
            }
        };
        match document.get("ok") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                let error = document
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no error message");
                return Evaluation::unknown("output", format!("detect reported ok=false: {error}"));
            }
            _ => {
                return Evaluation::unknown(
                    "output",
                    "detect output has no boolean `ok` field".into(),
                );
            }
        }
        for criterion in &self.unknown_if {
            if let Tri::True = criterion.test(&document, now) {
                return Evaluation::unknown(&criterion.id, criterion.description.clone());
            }
        }
        let mut failed = Vec::new();
        let mut unknown = Vec::new();
        for criterion in &self.pass_if {
            match criterion.test(&document, now) {
                Tri::True => {}
                Tri::False(reason) => failed.push(criterion.finding(reason)),
                Tri::Unknown(reason) => unknown.push(criterion.finding(reason)),
            }
        }
        let outcome = if !failed.is_empty() {
            Outcome::Fail
        } else if !unknown.is_empty() {
            Outcome::Unknown
        } else {
            Outcome::Pass
        };
        Evaluation {
            outcome,
            failed,
            unknown,
        }
    }

    /// Every problem in the criteria, as (field path, message); empty when valid.
    #[must_use]
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.pass_if.is_empty() {
            problems.push((
                "criteria.pass_if".to_owned(),
                "at least one criterion is required".to_owned(),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (list, name) in [(&self.unknown_if, "unknown_if"), (&self.pass_if, "pass_if")] {
            for (index, criterion) in list.iter().enumerate() {
                let at = format!("criteria.{name}[{index}]");
                if !seen.insert(criterion.id.as_str()) {
                    problems.push((
                        format!("{at}.id"),
                        format!("duplicate criterion id {:?}", criterion.id),
                    ));
                }
                operand_problems(
                    &at,
                    &criterion.path,
                    criterion.op,
                    criterion.value.as_ref(),
                    &mut problems,
                );
                let quantifier = matches!(criterion.op, Op::All | Op::Any | Op::None);
                if quantifier && criterion.predicates.is_empty() {
                    problems.push((
                        format!("{at}.where"),
                        "all, any and none need at least one predicate".into(),
                    ));
                }
                if !quantifier && !criterion.predicates.is_empty() {
                    problems.push((
                        format!("{at}.where"),
                        "where is only allowed with all, any and none".into(),
                    ));
                }
                for (inner, predicate) in criterion.predicates.iter().enumerate() {
                    let at = format!("{at}.where[{inner}]");
                    if matches!(predicate.op, Op::All | Op::Any | Op::None) {
                        problems.push((format!("{at}.op"), "quantifiers do not nest".into()));
                    }
                    operand_problems(
                        &at,
                        &predicate.path,
                        predicate.op,
                        predicate.value.as_ref(),
                        &mut problems,
                    );
                }
            }
        }
        problems
    }
}

fn operand_problems(
    at: &str,
    path: &str,
    op: Op,
    value: Option<&Value>,
    problems: &mut Vec<(String, String)>,
) {
    if path != "." && (path.is_empty() || path.split('.').any(str::is_empty)) {
        problems.push((
            format!("{at}.path"),
            format!("{path:?} is not a dot path like facts.name"),
        ));
    }
    let expected = match op {
        Op::Eq | Op::Ne => value.is_none().then_some("a value to compare with"),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            (!value.is_some_and(Value::is_number)).then_some("a number")
        }
        Op::In | Op::NotIn => (!value.is_some_and(Value::is_array)).then_some("a list"),
        Op::Contains | Op::NotContains => value.is_none().then_some("a value to look for"),
        Op::Matches | Op::NotMatches => {
            match value.and_then(Value::as_str).map(regex::Regex::new) {
                Some(Ok(_)) => None,
                _ => Some("a valid regular expression"),
            }
        }
        Op::OlderThan | Op::Within => value
            .and_then(Value::as_str)
            .is_none_or(|v| v.parse::<Span>().is_err())
            .then_some(crate::duration::EXPECTED),
        Op::Exists | Op::Absent | Op::Empty | Op::NotEmpty | Op::All | Op::Any | Op::None => {
            value.is_some().then_some("no value for this operator")
        }
    };
    if let Some(expected) = expected {
        let expected = expected.strip_prefix("expected ").unwrap_or(expected);
        problems.push((
            format!("{at}.value"),
            format!("{op:?} needs {expected}").to_lowercase(),
        ));
    }
}

impl Evaluation {
    fn unknown(criterion: &str, reason: String) -> Self {
        Self {
            outcome: Outcome::Unknown,
            failed: Vec::new(),
            unknown: vec![Finding {
                criterion: criterion.to_owned(),
                reason,
            }],
        }
    }
}

/// Three-valued truth with the reason for anything but true.
enum Tri {
    True,
    False(String),
    Unknown(String),
}

impl Tri {
    fn from_bool(value: bool, reason: impl FnOnce() -> String) -> Self {
        if value {
            Self::True
        } else {
            Self::False(reason())
        }
    }

    fn not(self, reason: impl FnOnce() -> String) -> Self {
        match self {
            Self::True => Self::False(reason()),
            Self::False(_) => Self::True,
            unknown @ Self::Unknown(_) => unknown,
        }
    }
}

impl Criterion {
    fn finding(&self, reason: String) -> Finding {
        Finding {
            criterion: self.id.clone(),
            reason: format!("{}: {reason}", self.description),
        }
    }

    fn test(&self, document: &Value, now: DateTime<Utc>) -> Tri {
        let result = match self.op {
            Op::All | Op::Any | Op::None => self.quantify(document, now),
            op => compare(&self.path, op, self.value.as_ref(), document, now),
        };
        match (result, self.missing) {
            (Tri::Unknown(reason), Missing::Fail) if reason.ends_with(MISSING) => {
                Tri::False(reason)
            }
            (result, _) => result,
        }
    }

    fn quantify(&self, document: &Value, now: DateTime<Utc>) -> Tri {
        let elements = match lookup(document, &self.path) {
            None | Some(Value::Null) => return Tri::Unknown(format!("{}{MISSING}", self.path)),
            Some(Value::Array(elements)) => elements,
            Some(other) => {
                return Tri::Unknown(format!("{} is {}, expected a list", self.path, kind(other)));
            }
        };
        let mut satisfied = None;
        let mut violated = None;
        let mut unknown = None;
        for (index, element) in elements.iter().enumerate() {
            match self.element_matches(element, now) {
                Tri::True => {
                    satisfied.get_or_insert(index);
                }
                Tri::False(reason) => {
                    violated.get_or_insert((index, reason));
                }
                Tri::Unknown(reason) => {
                    unknown.get_or_insert(reason);
                }
            }
        }
        let path = &self.path;
        match self.op {
            Op::All => match (violated, unknown) {
                (Some((index, reason)), _) => Tri::False(format!("{path}[{index}]: {reason}")),
                (None, Some(reason)) => Tri::Unknown(reason),
                (None, None) => Tri::True,
            },
            Op::Any => match (satisfied, unknown) {
                (Some(_), _) => Tri::True,
                (None, Some(reason)) => Tri::Unknown(reason),
                (None, None) => Tri::False(format!("no element of {path} satisfies it")),
            },
            _ => match (satisfied, unknown) {
                (Some(index), _) => Tri::False(format!(
                    "{path}[{index}] violates it: {}",
                    element_text(elements.get(index))
                )),
                (None, Some(reason)) => Tri::Unknown(reason),
                (None, None) => Tri::True,
            },
        }
    }

    fn element_matches(&self, element: &Value, now: DateTime<Utc>) -> Tri {
        let mut result = Tri::True;
        for predicate in &self.predicates {
            match compare(
                &predicate.path,
                predicate.op,
                predicate.value.as_ref(),
                element,
                now,
            ) {
                Tri::True => {}
                false_ @ Tri::False(_) => return false_,
                unknown @ Tri::Unknown(_) => result = unknown,
            }
        }
        result
    }
}

fn element_text(element: Option<&Value>) -> String {
    let text = element.map(Value::to_string).unwrap_or_default();
    if text.chars().count() > 160 {
        text.chars().take(160).chain("…".chars()).collect()
    } else {
        text
    }
}

const MISSING: &str = " is missing or null";

/// Follows a dot path; `.` is the value itself. Numeric segments index arrays.
pub(crate) fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path == "." {
        return Some(value);
    }
    path.split('.')
        .try_fold(value, |current, segment| match current {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// JSON equality where numbers compare by value.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(
    path: &str,
    op: Op,
    operand: Option<&Value>,
    document: &Value,
    now: DateTime<Utc>,
) -> Tri {
    let found = lookup(document, path);
    let null = Value::Null;
    let operand = operand.unwrap_or(&null);
    let missing = || Tri::Unknown(format!("{path}{MISSING}"));
    let shown = |v: &Value| element_text(Some(v));
    match op {
        Op::Exists => Tri::from_bool(found.is_some_and(|v| !v.is_null()), || {
            format!("{path}{MISSING}")
        }),
        Op::Absent => Tri::from_bool(found.is_none_or(Value::is_null), || {
            format!("{path} is present")
        }),
        Op::Eq | Op::Ne => match found {
            None => missing(),
            Some(Value::Null) if !operand.is_null() => missing(),
            Some(actual) => {
                let equal = Tri::from_bool(json_eq(actual, operand), || {
                    format!("{path} is {}, expected {}", shown(actual), shown(operand))
                });
                if op == Op::Eq {
                    equal
                } else {
                    equal.not(|| format!("{path} is {}", shown(actual)))
                }
            }
        },
        Op::Empty | Op::NotEmpty => {
            let empty = match found {
                None => return missing(),
                Some(Value::Null) => true,
                Some(Value::Array(items)) => items.is_empty(),
                Some(Value::String(text)) => text.is_empty(),
                Some(Value::Object(map)) => map.is_empty(),
                Some(other) => {
                    return Tri::Unknown(format!("{path} is {}, expected a list", kind(other)));
                }
            };
            let actual = found.map(shown).unwrap_or_default();
            if op == Op::Empty {
                Tri::from_bool(empty, || format!("{path} is not empty: {actual}"))
            } else {
                Tri::from_bool(!empty, || format!("{path} is empty"))
            }
        }
        _ => match found {
            None | Some(Value::Null) => missing(),
            Some(actual) => compare_present(path, op, operand, actual, now),
        },
    }
}

fn compare_present(path: &str, op: Op, operand: &Value, actual: &Value, now: DateTime<Utc>) -> Tri {
    let shown = element_text(Some(actual));
    match op {
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let (Some(x), Some(y)) = (actual.as_f64(), operand.as_f64()) else {
                return Tri::Unknown(format!("{path} is {}, expected a number", kind(actual)));
            };
            let holds = match op {
                Op::Lt => x < y,
                Op::Le => x <= y,
                Op::Gt => x > y,
                _ => x >= y,
            };
            Tri::from_bool(holds, || {
                format!("{path} is {shown}, expected {} {operand}", symbol(op))
            })
        }
        Op::In | Op::NotIn => {
            let listed = operand
                .as_array()
                .is_some_and(|list| list.iter().any(|v| json_eq(actual, v)));
            let holds = listed == (op == Op::In);
            Tri::from_bool(holds, || {
                format!(
                    "{path} is {shown}, expected {} {operand}",
                    if op == Op::In { "one of" } else { "none of" }
                )
            })
        }
        Op::Contains | Op::NotContains => {
            let contains = match (actual, operand) {
                (Value::String(text), Value::String(needle)) => text.contains(needle.as_str()),
                (Value::Array(items), needle) => items.iter().any(|v| json_eq(v, needle)),
                _ => {
                    return Tri::Unknown(format!(
                        "{path} is {}, expected a string or a list",
                        kind(actual)
                    ));
                }
            };
            let holds = contains == (op == Op::Contains);
            Tri::from_bool(holds, || {
                format!(
                    "{path} is {shown}, expected it {}to contain {operand}",
                    if op == Op::Contains { "" } else { "not " }
                )
            })
        }
        Op::Matches | Op::NotMatches => {
            let Value::String(text) = actual else {
                return Tri::Unknown(format!("{path} is {}, expected a string", kind(actual)));
            };
            let Some(Ok(pattern)) = operand.as_str().map(regex::Regex::new) else {
                return Tri::Unknown(format!("criterion on {path} has an invalid pattern"));
            };
            let holds = pattern.is_match(text) == (op == Op::Matches);
            Tri::from_bool(holds, || {
                format!(
                    "{path} is {shown}, expected it {}to match {operand}",
                    if op == Op::Matches { "" } else { "not " }
                )
            })
        }
        Op::OlderThan | Op::Within => {
            let Some(span) = operand.as_str().and_then(|v| v.parse::<Span>().ok()) else {
                return Tri::Unknown(format!("criterion on {path} has an invalid duration"));
            };
            let Some(at) = timestamp(actual) else {
                return Tri::Unknown(format!(
                    "{path} is {shown}, expected an RFC 3339 time or epoch seconds"
                ));
            };
            let older = now.signed_duration_since(at) > span.as_chrono();
            let holds = older == (op == Op::OlderThan);
            Tri::from_bool(holds, || {
                format!(
                    "{path} is {shown}, expected {} {span} before now",
                    if op == Op::OlderThan {
                        "more than"
                    } else {
                        "at most"
                    }
                )
            })
        }
        // Handled by `compare`; kept exhaustive so a new operator must be placed.
        Op::Eq
        | Op::Ne
        | Op::Exists
        | Op::Absent
        | Op::Empty
        | Op::NotEmpty
        | Op::All
        | Op::Any
        | Op::None => Tri::Unknown(format!("operator {op:?} cannot be applied to {path} here")),
    }
}

const fn symbol(op: Op) -> &'static str {
    match op {
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        _ => ">=",
    }
}

fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(number) => number
            .as_i64()
            .and_then(|secs| Utc.timestamp_opt(secs, 0).single()),
        _ => None,
    }
}
