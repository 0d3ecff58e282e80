//! Validated object keys and key prefixes.
//!
//! A key names a file on the local store and an object in S3, so it accepts
//! only what is safe and identical in both: `/`-separated segments of ASCII
//! letters, digits, `-`, `_`, `.` and `=`, none empty and none starting with
//! `.` (so `.`, `..`, hidden files and the local store's temporary files can
//! never be named).

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// The longest key S3 accepts, in bytes.
const MAX_KEY_LEN: usize = 1024;
/// The longest file name common filesystems accept, in bytes.
const MAX_SEGMENT_LEN: usize = 255;

/// A validated relative object key such as
/// `evidence/<site>/<appliance>/00000000000000000042.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

/// A validated listing prefix: a key, the start of one, or empty for
/// everything. A trailing `/` is allowed (`evidence/site/`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPrefix(String);

impl ObjectKey {
    /// Parses `key`, refusing anything that is not a safe relative key.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] naming the rule that failed.
    pub fn parse(key: &str) -> Result<Self> {
        if key.is_empty() {
            return Err(invalid(key, "key is empty"));
        }
        check_segments(key, key.split('/'))?;
        Ok(Self(key.to_owned()))
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's segments, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl KeyPrefix {
    /// Parses `prefix`: empty, or a key whose last segment may be empty or
    /// partial.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] naming the rule that failed.
    pub fn parse(prefix: &str) -> Result<Self> {
        if prefix.is_empty() {
            return Ok(Self::default());
        }
        let complete = prefix.strip_suffix('/').unwrap_or(prefix);
        if complete.is_empty() {
            return Err(invalid(prefix, "prefix is only a slash"));
        }
        check_segments(prefix, complete.split('/'))?;
        Ok(Self(prefix.to_owned()))
    }

    /// The prefix as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `key` starts with this prefix.
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        key.starts_with(&self.0)
    }
}

fn check_segments<'a>(whole: &str, segments: impl Iterator<Item = &'a str>) -> Result<()> {
    if whole.len() > MAX_KEY_LEN {
        return Err(invalid(whole, "key is longer than 1024 bytes"));
    }
    for segment in segments {
        if segment.is_empty() {
            return Err(invalid(
                whole,
                "key has an empty segment (leading, trailing or double slash)",
            ));
        }
        if segment.starts_with('.') {
            return Err(invalid(whole, "key segment starts with a dot"));
        }
        if segment.len() > MAX_SEGMENT_LEN {
            return Err(invalid(whole, "key segment is longer than 255 bytes"));
        }
        if let Some(bad) = segment.chars().find(|c| !is_key_char(*c)) {
            let reason = if bad.is_control() {
                "key contains a control character".to_owned()
            } else {
                format!("key contains {bad:?}; allowed are ASCII letters, digits and - _ . =")
            };
            return Err(invalid(whole, &reason));
        }
    }
    Ok(())
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=')
}

fn invalid(key: &str, reason: &str) -> Error {
    // Control characters are escaped so the error can be logged safely.
    Error::InvalidKey {
        key: key.escape_debug().to_string(),
        reason: reason.to_owned(),
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ObjectKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyPrefix {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_keys_parse() {
        let key = ObjectKey::parse("evidence/site-1/app_2/00000000000000000042.json").unwrap();
        assert_eq!(key.segments().count(), 4);
    }

    #[test]
    fn unsafe_keys_are_refused() {
        for bad in [
            "", "/abs", "a//b", "a/", "../x", "a/../b", "a/./b", ".hidden", "a/.tmp-1", "a\\b",
            "a\nb", "a\u{0}b", "a b", "é",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(ObjectKey::parse(&"a".repeat(256)).is_err());
        assert!(ObjectKey::parse(&"a/".repeat(600)).is_err());
    }

    #[test]
    fn prefixes_may_end_with_a_slash_or_be_empty() {
        assert!(KeyPrefix::parse("").is_ok());
        assert!(KeyPrefix::parse("evidence/").is_ok());
        assert!(KeyPrefix::parse("evidence/si").is_ok());
        assert!(KeyPrefix::parse("/").is_err());
        assert!(KeyPrefix::parse("evidence//").is_err());
        assert!(KeyPrefix::parse("../").is_err());
    }
}
