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

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

/// The operations, for validating a model when it loads.
pub(crate) const OPS: [&str; 5] = ["hours_ago", "days_ago", "days_ago_each", "string", "not"];

/// Renders `op` over `value`; `Err` names what is wrong.
pub(crate) fn derive(op: &str, value: &Value, now: DateTime<Utc>) -> Result<Value, String> {
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
        _ => Err(format!("@{op} cannot render {value}")),
    }
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
    fn mismatched_values_are_errors_not_panics() {
        assert!(derive("hours_ago", &serde_json::json!("x"), now()).is_err());
        assert!(derive("hours_ago", &serde_json::json!(1e300), now()).is_err());
        assert!(derive("not", &serde_json::json!(1), now()).is_err());
        assert!(derive("frobnicate", &Value::Null, now()).is_err());
    }
}
