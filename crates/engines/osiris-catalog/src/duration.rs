//! Durations as written in catalog files: `"30s"`, `"5m"`, `"2h"`, `"14d"`.
//!
//! A bare number is refused on purpose: `timeout: 30` could mean seconds or
//! minutes, and a misread timeout on a production host is a real outage.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number of seconds written with a unit suffix.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    seconds: u64,
    unit: Unit,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Unit {
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl Unit {
    const fn factor(self) -> u64 {
        match self {
            Self::Seconds => 1,
            Self::Minutes => 60,
            Self::Hours => 3_600,
            Self::Days => 86_400,
        }
    }

    const fn suffix(self) -> char {
        match self {
            Self::Seconds => 's',
            Self::Minutes => 'm',
            Self::Hours => 'h',
            Self::Days => 'd',
        }
    }
}

/// The message every malformed duration produces, so file errors read the same everywhere.
pub(crate) const EXPECTED: &str = "expected a duration like \"30s\", \"5m\", \"2h\" or \"14d\"";

/// Durations longer than this are refused: no check or runbook step should wait a year.
const MAX_SECONDS: u64 = 366 * 86_400;

impl Span {
    /// The duration in seconds.
    #[must_use]
    pub const fn as_secs(self) -> u64 {
        self.seconds
    }

    /// The duration as a [`std::time::Duration`].
    #[must_use]
    pub const fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }

    /// The duration as a [`chrono::Duration`].
    #[must_use]
    pub fn as_chrono(self) -> chrono::Duration {
        // MAX_SECONDS keeps this far inside chrono's range.
        chrono::Duration::seconds(i64::try_from(self.seconds).unwrap_or(i64::MAX / 1_000))
    }
}

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{EXPECTED}, got {0:?}")]
pub struct SpanError(String);

impl FromStr for Span {
    type Err = SpanError;

    fn from_str(text: &str) -> Result<Self, SpanError> {
        let fail = || SpanError(text.chars().take(32).collect());
        let unit = match text.chars().last() {
            Some('s') => Unit::Seconds,
            Some('m') => Unit::Minutes,
            Some('h') => Unit::Hours,
            Some('d') => Unit::Days,
            _ => return Err(fail()),
        };
        let digits = text.get(..text.len() - 1).ok_or_else(fail)?;
        if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail());
        }
        let amount: u64 = digits.parse().map_err(|_| fail())?;
        let seconds = amount.checked_mul(unit.factor()).ok_or_else(fail)?;
        if seconds == 0 || seconds > MAX_SECONDS {
            return Err(fail());
        }
        Ok(Self { seconds, unit })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            self.seconds / self.unit.factor(),
            self.unit.suffix()
        )
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Span({self})")
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Accept only a string: a bare YAML number gets the same precise message.
        let text = StringOnly::deserialize(deserializer)?.0;
        text.parse().map_err(|_| serde::de::Error::custom(EXPECTED))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for Span {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{1,8}[smhd]$",
            "description": "a duration with a unit: 30s, 5m, 2h, 14d"
        })
    }
}

/// A string, or the duration message for anything else.
struct StringOnly(String);

impl<'de> Deserialize<'de> for StringOnly {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = StringOnly;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringOnly, E> {
                Ok(StringOnly(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<StringOnly, E> {
                Err(E::custom(EXPECTED))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<StringOnly, E> {
                Err(E::custom(EXPECTED))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<StringOnly, E> {
                Err(E::custom(EXPECTED))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<StringOnly, E> {
                Err(E::custom(EXPECTED))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn durations_with_units_parse_to_seconds_and_print_back() {
        for (text, seconds) in [("30s", 30), ("5m", 300), ("2h", 7_200), ("14d", 1_209_600)] {
            let span: Span = text.parse().unwrap();
            assert_eq!(span.as_secs(), seconds);
            assert_eq!(span.to_string(), text);
        }
    }

    #[test]
    fn durations_without_unit_or_zero_or_huge_are_refused() {
        for bad in [
            "",
            "30",
            "s",
            "0s",
            "-5s",
            "1.5m",
            "30 s",
            "367d",
            "999999999s",
            "5M",
        ] {
            assert!(bad.parse::<Span>().is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,12}") {
            let _ = text.parse::<Span>();
        }
    }
}
