//! Entry points for `osiris rules …`, so the binary's glue is a few lines.
//! Each returns the exit code: 0 success, 1 a finding, 2 unusable input.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use osiris_catalog::rules::RuleFile;
use serde_json::{Value, json};

use crate::{Error, Ledger, RuleSetBuilder, RuleSource};

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn load(files: &[PathBuf]) -> Result<Vec<(String, RuleFile)>, Error> {
    files
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let text = read(path)?;
            Ok((name.clone(), osiris_catalog::parse_rule_file(&name, &text)?))
        })
        .collect()
}

fn build(files: &[(String, RuleFile)]) -> Result<crate::Matcher, Error> {
    files
        .iter()
        .fold(RuleSetBuilder::new(), |builder, (name, file)| {
            builder.add(RuleSource::Builtin, name, file)
        })
        .build()
}

/// `osiris rules validate F…`: parses and compiles every file (either format).
/// Runbook ids absent from the embedded catalog are reported as warnings.
/// Exit 0 valid, 1 invalid rules, 2 a file cannot be read.
pub fn validate(files: &[PathBuf], json: bool, out: &mut dyn Write) -> u8 {
    let (code, report) = match load(files)
        .and_then(|loaded| build(&loaded).map(|matcher| (loaded, matcher)))
    {
        Ok((loaded, matcher)) => {
            let catalog = osiris_catalog::Catalog::embedded().ok();
            let warnings: Vec<String> = matcher
                .rules()
                .iter()
                .filter_map(|rule| {
                    let runbook = rule.runbook_id()?;
                    let known = catalog.as_ref().is_some_and(|c| {
                        runbook.parse().ok().and_then(|id| c.runbook(&id)).is_some()
                    });
                    (!known).then(|| {
                        format!(
                            "{}: rule {}: runbook {runbook} is not in the catalog",
                            rule.file(),
                            rule.id()
                        )
                    })
                })
                .collect();
            let count: usize = loaded.iter().map(|(_, f)| f.rules.len()).sum();
            (
                0,
                json!({ "valid": true, "files": loaded.len(), "rules": count, "warnings": warnings }),
            )
        }
        Err(Error::Io { path, source }) => (
            2,
            json!({ "valid": false, "error": format!("cannot read {}: {source}", path.display()) }),
        ),
        Err(err) => (
            1,
            json!({ "valid": false, "problems": err.to_string().lines().collect::<Vec<_>>() }),
        ),
    };
    let written = if json {
        writeln!(out, "{report}")
    } else if code == 0 {
        let warnings = report
            .get("warnings")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        warnings
            .iter()
            .try_for_each(|w| writeln!(out, "warning: {}", w.as_str().unwrap_or_default()))
            .and_then(|()| {
                writeln!(
                    out,
                    "{} rules in {} files valid",
                    report.get("rules").cloned().unwrap_or_default(),
                    report.get("files").cloned().unwrap_or_default()
                )
            })
    } else {
        let lines = report
            .get("problems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| vec![report.get("error").cloned().unwrap_or_default().clone()]);
        lines
            .iter()
            .try_for_each(|line| writeln!(out, "{}", line.as_str().unwrap_or_default()))
    };
    if written.is_err() { 2 } else { code }
}

/// `osiris rules match --rules F… --incident F|-`: prints the explained
/// decision as JSON (`matched`, `runbook_id`, `action`, `explain`, …). The
/// incident is read from `stdin` when its path is `-`. With no history, `now`
/// only matters for cooldowns recorded in later versions of this command.
/// Exit 0 when a decision was printed (matched or not), 2 on unusable input.
pub fn match_incident(
    rules: &[PathBuf],
    incident: &Path,
    stdin: &mut dyn Read,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> u8 {
    let text = if incident == Path::new("-") {
        let mut text = String::new();
        match stdin.read_to_string(&mut text) {
            Ok(_) => Ok(text),
            Err(source) => Err(Error::Io {
                path: PathBuf::from("-"),
                source,
            }),
        }
    } else {
        read(incident)
    };
    let result = text.and_then(|text| {
        let matcher = build(&load(rules)?)?;
        Ok((matcher, text))
    });
    let (matcher, text) = match result {
        Ok(loaded) => loaded,
        Err(err) => return report_error(out, &err.to_string()),
    };
    let incident: Value = match serde_json::from_str(&text) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) => return report_error(out, "the incident must be a JSON object"),
        Err(err) => return report_error(out, &format!("the incident is not JSON: {err}")),
    };
    let explained = matcher.explain(&incident, &Ledger::new(), now);
    match serde_json::to_string_pretty(&explained).map(|text| writeln!(out, "{text}")) {
        Ok(Ok(())) => 0,
        _ => 2,
    }
}

fn report_error(out: &mut dyn Write, message: &str) -> u8 {
    let _ = writeln!(out, "{}", json!({ "error": message }));
    2
}
