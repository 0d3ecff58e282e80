//! The L1 rule engine: deterministic rules (conditions → action → runbook)
//! compiled once into a [`Matcher`] that decides an incident in microseconds
//! and can explain why every other rule did not match.
//!
//! Rule files come in two formats that share one vocabulary (see
//! [`osiris_catalog::rules`]): Osiris's strict `osiris.rules.v1` and the
//! reference system's files, which load unchanged. Rules from Central
//! Command (`synced`) and the learning loop (`promoted`) replace built-in
//! rules with the same id ([`RuleSetBuilder`]).
//!
//! Cooldown and max retries are counted per (rule, host) in a [`Ledger`]
//! the caller owns; time is always an argument, never read here. This crate
//! depends on `osiris-core` and `osiris-catalog` only.

pub mod cli;
mod compile;
mod ledger;
mod matcher;

use std::fmt;
use std::path::PathBuf;

pub use compile::Rule;
pub use ledger::{Entry, Ledger};
pub use matcher::{Decision, Explained, Matcher, Reason, RuleSetBuilder, RuleVerdict};
pub use osiris_catalog::rules::RuleSource;

/// A rule that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file it came from.
    pub file: String,
    /// The rule id.
    pub rule: String,
    /// The field inside the rule, such as `conditions[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: rule {}: {}: {}",
            self.file, self.rule, self.path, self.message
        )
    }
}

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule file does not parse or validate.
    #[error(transparent)]
    File(#[from] osiris_catalog::Error),
    /// Rules parse but do not compile (or collide).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Rules(Vec<Problem>),
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The built-in rules of the catalog, compiled.
///
/// # Errors
/// Only if the catalog's rules do not compile, which the tests rule out.
pub fn builtin(catalog: &osiris_catalog::Catalog) -> Result<Matcher, Error> {
    catalog
        .rule_files()
        .iter()
        .fold(RuleSetBuilder::new(), |builder, (file, rules)| {
            builder.add(RuleSource::Builtin, file, rules)
        })
        .build()
}
