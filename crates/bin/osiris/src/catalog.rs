//! `osiris catalog …` and `osiris rules …`: the libraries print their own
//! reports; this only wires standard streams and the clock.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use osiris_core::{Clock, SystemClock};

pub(crate) fn validate(dir: Option<&Path>, json: bool) -> Result<ExitCode> {
    Ok(ExitCode::from(osiris_catalog::cli::validate(
        dir,
        json,
        &mut std::io::stdout().lock(),
    )))
}

pub(crate) fn validate_rules(files: &[PathBuf], json: bool) -> Result<ExitCode> {
    Ok(ExitCode::from(osiris_rules::cli::validate(
        files,
        json,
        &mut std::io::stdout().lock(),
    )))
}

pub(crate) fn match_incident(rules: &[PathBuf], incident: &Path) -> Result<ExitCode> {
    let code = osiris_rules::cli::match_incident(
        rules,
        incident,
        &mut std::io::stdin().lock(),
        SystemClock.now(),
        &mut std::io::stdout().lock(),
    );
    Ok(ExitCode::from(code))
}
