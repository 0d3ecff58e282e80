//! Entry points for `osiris catalog …`, so the binary's glue is a few lines.

use std::io::Write;
use std::path::Path;

use crate::{Catalog, Error};

/// `osiris catalog validate [DIR]`: validates `DIR` (or the embedded catalog),
/// writes a report to `out` (JSON with `json`), and returns the exit code:
/// 0 valid, 1 problems found, 2 the directory cannot be read.
pub fn validate(dir: Option<&Path>, json: bool, out: &mut dyn Write) -> u8 {
    let result = dir.map_or_else(Catalog::embedded, Catalog::load_dir);
    let (code, report) = match &result {
        Ok(catalog) => (
            0,
            serde_json::json!({
                "valid": true,
                "checks": catalog.checks().len(),
                "runbooks": catalog.runbooks().len(),
                "rules": catalog.rule_files().iter().map(|(_, file)| file.rules.len()).sum::<usize>(),
            }),
        ),
        Err(Error::Invalid(problems)) => (
            1,
            serde_json::json!({
                "valid": false,
                "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }),
        ),
        Err(other) => (
            2,
            serde_json::json!({ "valid": false, "error": other.to_string() }),
        ),
    };
    let written = if json {
        writeln!(out, "{report}")
    } else {
        match &result {
            Ok(catalog) => writeln!(
                out,
                "catalog valid: {} checks, {} runbooks, {} rules",
                catalog.checks().len(),
                catalog.runbooks().len(),
                report.get("rules").cloned().unwrap_or_default()
            ),
            Err(err) => writeln!(out, "{err}"),
        }
    };
    if written.is_err() { 2 } else { code }
}
