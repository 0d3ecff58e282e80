//! Derived template values: `"@op:key"` strings in the host model render a
//! state value the way PowerShell would print it, relative to the lab's
//! clock, so a healthy host stays healthy whenever the lab runs.
//!
//! - `@now`: the current time.
//! - `@hours_ago:key`, `@days_ago:key`: the time that many hours or days
//!   (a number, possibly fractional or negative) before now; `null` stays `null`.
//! - `@days_ago_each:key`: a list of day counts as a list of times.
//! - `@string:key`: PowerShell's `[string]` cast (`True`, `False`, digits).
//! - `@not:key`: a boolean negated (`DisableRealtimeMonitoring` from
//!   real-time protection being on).
//! - `@parse_bool:key`: `"True"`/`"False"` (how runbooks carry a profile's
//!   `Enabled`) back to a boolean.
//! - `@kbs:key`: pending updates (objects with a `kb` list) as the flat list
//!   of KB numbers the update agent reports; `@hotfix_ids:key` as the
//!   `KB…` ids `Get-HotFix` lists.
//! - `@audit_success:key`: an audit setting after `/success:enable`
//!   (failure auditing is kept).
//! - `@at_least=N:key`: a number raised to at least `N` (a log grown to a
//!   baseline size, never shrunk).
//!
//! Any `key` may be `key/json/pointer` or `stdin/json/pointer`.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

/// The operations, for validating a model when it loads.
const OPS: [&str; 10] = [
    "hours_ago",
    "days_ago",
    "days_ago_each",
    "string",
    "not",
    "parse_bool",
    "kbs",
    "hotfix_ids",
    "audit_success",
    "at_least",
];

/// Whether `op` (without its `=N` argument) is one of [`OPS`].
pub(crate) fn known_op(op: &str) -> bool {
    let name = op.split_once('=').map_or(op, |(name, _)| name);
    OPS.contains(&name)
}

/// Renders `op` over `value`; `Err` names what is wrong.
pub(crate) fn derive(op: &str, value: &Value, now: DateTime<Utc>) -> Result<Value, String> {
    if let Some(floor) = op.strip_prefix("at_least=") {
        let floor: u64 = floor
            .parse()
            .map_err(|_| format!("@{op} needs a whole number"))?;
        return match value.as_u64() {
            Some(n) => Ok(Value::from(n.max(floor))),
            None => Err(format!("@{op} cannot render {value}")),
        };
    }
    match (op, value) {
        ("hours_ago" | "days_ago", Value::Null) => Ok(Value::Null),
        ("hours_ago", Value::Number(n)) => ago(now, n.as_f64(), 3600.0),
        ("days_ago", Value::Number(n)) => ago(now, n.as_f64(), 86_400.0),
        ("days_ago_each", Value::Array(items)) => items
            .iter()
            .map(|item| ago(now, item.as_f64(), 86_400.0))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        ("string", Value::Bool(true)) => Ok(Value::String("True".into())),
        ("string", Value::Bool(false)) => Ok(Value::String("False".into())),
        ("string", Value::Null) => Ok(Value::String(String::new())),
        ("string", Value::String(s)) => Ok(Value::String(s.clone())),
        ("string", Value::Number(n)) => Ok(Value::String(n.to_string())),
        ("not", Value::Bool(b)) => Ok(Value::Bool(!b)),
        ("parse_bool", Value::Bool(b)) => Ok(Value::Bool(*b)),
        ("parse_bool", Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        ("parse_bool", Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Value::Bool(false))
        }
        ("kbs", Value::Array(updates)) => Ok(Value::Array(kb_numbers(updates))),
        ("hotfix_ids", Value::Array(updates)) => Ok(Value::Array(
            kb_numbers(updates)
                .into_iter()
                .map(|kb| Value::String(format!("KB{}", kb.as_str().unwrap_or_default())))
                .collect(),
        )),
        ("audit_success", Value::String(s)) => Ok(Value::String(
            match s.as_str() {
                "No Auditing" => "Success",
                "Failure" => "Success and Failure",
                other => other,
            }
            .to_owned(),
        )),
        _ => Err(format!("@{op} cannot render {value}")),
    }
}

/// The `kb` lists of update objects, flattened; items without one add nothing.
fn kb_numbers(updates: &[Value]) -> Vec<Value> {
    updates
        .iter()
        .filter_map(|u| u.get("kb").and_then(Value::as_array))
        .flatten()
        .filter(|kb| kb.is_string())
        .cloned()
        .collect()
}

fn ago(now: DateTime<Utc>, amount: Option<f64>, seconds_per_unit: f64) -> Result<Value, String> {
    let millis = amount
        .map(|a| a * seconds_per_unit * 1000.0)
        .filter(|m| m.is_finite() && m.abs() < 1e15)
        .ok_or_else(|| "a time offset must be a finite number".to_owned())?;
    // Bounded above, so the cast is exact to the millisecond.
    let delta = TimeDelta::try_milliseconds(millis.round() as i64)
        .ok_or_else(|| "time offset out of range".to_owned())?;
    now.checked_sub_signed(delta)
        .map(|t| Value::String(round_trip(t)))
        .ok_or_else(|| "time offset out of range".to_owned())
}

/// .NET's round-trip (`'o'`) format of a UTC time: seven fractional digits.
#[must_use]
pub(crate) fn round_trip(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-06-15T12:00:00.5Z".parse().unwrap()
    }

    #[test]
    fn ages_become_round_trip_times_before_now() {
        assert_eq!(
            derive("hours_ago", &serde_json::json!(6), now()).unwrap(),
            "2024-06-15T06:00:00.5000000Z"
        );
        assert_eq!(
            derive("days_ago_each", &serde_json::json!([1, -1]), now()).unwrap(),
            serde_json::json!([
                "2024-06-14T12:00:00.5000000Z",
                "2024-06-16T12:00:00.5000000Z"
            ])
        );
        assert_eq!(
            derive("days_ago", &Value::Null, now()).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn string_casts_print_like_powershell() {
        assert_eq!(derive("string", &Value::Bool(true), now()).unwrap(), "True");
        assert_eq!(derive("not", &Value::Bool(true), now()).unwrap(), false);
    }

    #[test]
    fn remediation_ops_render_what_the_runbooks_print() {
        let pending = serde_json::json!([{ "kb": ["5037765"] }, { "title": "no kb" }]);
        assert_eq!(
            derive("kbs", &pending, now()).unwrap(),
            serde_json::json!(["5037765"])
        );
        assert_eq!(
            derive("hotfix_ids", &pending, now()).unwrap(),
            serde_json::json!(["KB5037765"])
        );
        assert_eq!(
            derive("parse_bool", &serde_json::json!("False"), now()).unwrap(),
            false
        );
        assert_eq!(
            derive("audit_success", &serde_json::json!("Failure"), now()).unwrap(),
            "Success and Failure"
        );
        assert_eq!(
            derive("at_least=100", &serde_json::json!(20), now()).unwrap(),
            100
        );
        assert_eq!(
            derive("at_least=100", &serde_json::json!(200), now()).unwrap(),
            200
        );
        assert!(known_op("at_least=5") && !known_op("at_most=5"));
    }

    #[test]
    fn mismatched_values_are_errors_not_panics() {
        assert!(derive("parse_bool", &serde_json::json!("yes"), now()).is_err());
        assert!(derive("at_least=x", &serde_json::json!(1), now()).is_err());
        assert!(derive("hours_ago", &serde_json::json!("x"), now()).is_err());
        assert!(derive("hours_ago", &serde_json::json!(1e300), now()).is_err());
        assert!(derive("not", &serde_json::json!(1), now()).is_err());
        assert!(derive("frobnicate", &Value::Null, now()).is_err());
    }
}
