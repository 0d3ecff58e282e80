#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Integration tests of the L1 engine.

mod cli;
mod engine;
mod operators;
mod properties;
mod reference;

use chrono::{DateTime, Utc};
use osiris_rules::{Matcher, RuleSetBuilder, RuleSource};
use serde_json::Value;

/// A matcher from Osiris-format rules written inline.
pub(crate) fn matcher(rules_yaml: &str) -> Matcher {
    let text = format!("format: osiris.rules.v1\nrules:\n{rules_yaml}");
    let file =
        osiris_catalog::parse_rule_file("inline.yaml", &text).unwrap_or_else(|err| panic!("{err}"));
    RuleSetBuilder::new()
        .add(RuleSource::Builtin, "inline.yaml", &file)
        .build()
        .unwrap()
}

pub(crate) fn t0() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

pub(crate) fn incident(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}
