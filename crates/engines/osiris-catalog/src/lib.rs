//! The Osiris catalog: checks, runbooks and built-in L1 rules as data files,
//! loaded into typed values with precise errors and validated as a whole.
//!
//! - [`Catalog`] loads the catalog embedded at build time (`catalog/` at the
//!   repository root) or an override directory, and checks every
//!   cross-reference: a check's runbook exists and suits its platform, a
//!   rule's runbook exists and suits its platform, ids are unique, HIPAA
//!   citations parse, runbook parameter schemas are valid JSON Schemas.
//! - [`Criteria::evaluate`] judges a detect script's JSON: pass, fail or
//!   unknown, where unknown is never pass.
//! - [`rules`] holds the rule-file types shared with `osiris-rules`, which
//!   compiles them.
//!
//! This crate reads files only when asked to load a directory, never reads
//! the clock (time is an argument), and depends on no Osiris crate but
//! `osiris-core`.

mod catalog;
pub mod cli;
mod criteria;
mod duration;
mod embedded;
mod model;
mod parse;
pub mod rules;
pub mod schema;

use std::path::PathBuf;

pub use catalog::{Catalog, SourceFile};
pub use criteria::{Criteria, Criterion, Evaluation, Finding, Missing, Op, Outcome, Predicate};
pub use duration::{Span, SpanError};
pub use model::{
    Check, CitationKind, Disruptive, HipaaRef, Platform, Runbook, Script, Severity, Shell, Steps,
    VerifyStep,
};
pub use parse::Problem;

/// Why a catalog or rule file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more files are invalid; each problem names file, line, column and field.
    #[error("{}", list(.0))]
    Invalid(Vec<Problem>),
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is not UTF-8 text.
    #[error("{} is not UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses one rule file (either format) and reports every static problem.
///
/// # Errors
/// [`Error::Invalid`] with the problems, each located in the file.
pub fn parse_rule_file(name: &str, text: &str) -> Result<rules::RuleFile, Error> {
    let file: rules::RuleFile =
        parse::parse_yaml(name, text).map_err(|p| Error::Invalid(vec![p]))?;
    let problems: Vec<Problem> = file
        .problems()
        .into_iter()
        .map(|(path, message)| parse::problem_at(name, text, &path, message))
        .collect();
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(Error::Invalid(problems))
    }
}
