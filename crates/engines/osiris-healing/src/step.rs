//! One script run on a target and what it left: exit code or transport
//! error, and its output, which evidence keeps twice: as artifacts (digest
//! and size of the raw bytes) and, bounded, as text in `detail` (which the
//! scrubber cleans before it is recorded).

use osiris_evidence::Artifact;
use osiris_transport::{Script, Transport};
use serde_json::{Value, json};

use crate::script;

/// The most of one stream kept as text in evidence; the artifact digest
/// always covers all of it.
pub const DETAIL_TEXT_LIMIT: usize = 8 * 1024;

/// One script run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRun {
    name: &'static str,
    script_sha256: String,
    result: Result<Finished, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Finished {
    exit_code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl StepRun {
    /// Runs `script` as the step called `name` (`detect`, `remediate`,
    /// `verify`, `confirm`, `rollback`).
    pub async fn run(session: &mut dyn Transport, name: &'static str, script: &Script) -> Self {
        let script_sha256 = script::digest(script);
        let result = match session.run(script).await {
            Ok(output) => Ok(Finished {
                exit_code: output.exit_code,
                stdout: output.stdout,
                stderr: output.stderr,
            }),
            Err(error) => Err(error.to_string()),
        };
        tracing::debug!(
            step = name,
            target = session.target(),
            ok = result.as_ref().is_ok_and(|f| f.exit_code == 0),
            "script ran"
        );
        Self {
            name,
            script_sha256,
            result,
        }
    }

    /// A step that could not start (no session), with why.
    #[must_use]
    pub fn not_run(name: &'static str, script: &Script, reason: String) -> Self {
        Self {
            name,
            script_sha256: script::digest(script),
            result: Err(reason),
        }
    }

    /// The step's name.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Whether the script ran and exited 0.
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.result.as_ref().is_ok_and(|f| f.exit_code == 0)
    }

    /// The exit code, when the script ran to its end.
    #[must_use]
    pub fn exit_code(&self) -> Option<i32> {
        self.result.as_ref().ok().map(|f| f.exit_code)
    }

    /// Standard output (empty when the script did not run).
    #[must_use]
    pub fn stdout(&self) -> &[u8] {
        self.result.as_ref().map_or(&[], |f| f.stdout.as_slice())
    }

    /// Why the step did not succeed, in words; `None` when it did.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        match &self.result {
            Err(error) => Some(error.clone()),
            Ok(f) if f.exit_code != 0 => Some(format!(
                "{} exited {}{}",
                self.name,
                f.exit_code,
                first_line(&f.stderr).map_or_else(String::new, |line| format!(": {line}"))
            )),
            Ok(_) => None,
        }
    }

    /// Lowercase hex SHA-256 of the exact script text sent.
    #[must_use]
    pub fn script_sha256(&self) -> &str {
        &self.script_sha256
    }

    /// Digests of the raw output streams, named `<step>.stdout` and
    /// `<step>.stderr`.
    #[must_use]
    pub fn artifacts(&self) -> Vec<Artifact> {
        self.artifacts_named(None)
    }

    /// The same, named `<prefix>/<step>.stdout` when a prefix (a target,
    /// when one bundle covers several) is given.
    #[must_use]
    pub fn artifacts_named(&self, prefix: Option<&str>) -> Vec<Artifact> {
        let name = |stream: &str| match prefix {
            Some(prefix) => format!("{prefix}/{}.{stream}", self.name),
            None => format!("{}.{stream}", self.name),
        };
        match &self.result {
            Ok(f) => vec![
                Artifact::of(name("stdout"), &f.stdout),
                Artifact::of(name("stderr"), &f.stderr),
            ],
            Err(_) => Vec::new(),
        }
    }

    /// The step for `detail`: name, script digest, exit code or error, and
    /// the output as bounded text.
    #[must_use]
    pub fn detail(&self) -> Value {
        match &self.result {
            Ok(f) => json!({
                "step": self.name,
                "script_sha256": self.script_sha256,
                "exit_code": f.exit_code,
                "stdout": bounded_text(&f.stdout),
                "stderr": bounded_text(&f.stderr),
            }),
            Err(error) => json!({
                "step": self.name,
                "script_sha256": self.script_sha256,
                "error": error,
            }),
        }
    }
}

/// Up to [`DETAIL_TEXT_LIMIT`] bytes of `bytes` as text (invalid UTF-8
/// replaced), cut at a character boundary, marked when cut.
pub(crate) fn bounded_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= DETAIL_TEXT_LIMIT {
        return text.into_owned();
    }
    let mut cut = DETAIL_TEXT_LIMIT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… [{} more bytes]",
        text.get(..cut).unwrap_or_default(),
        text.len() - cut
    )
}

fn first_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(|line| bounded_line(line, 200))
}

fn bounded_line(line: &str, limit: usize) -> String {
    let mut cut = line.len().min(limit);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line.get(..cut).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_is_cut_at_a_character_boundary_and_marked() {
        let long = "é".repeat(DETAIL_TEXT_LIMIT);
        let text = bounded_text(long.as_bytes());
        assert!(text.len() < DETAIL_TEXT_LIMIT + 40, "{}", text.len());
        assert!(text.ends_with(&format!("… [{} more bytes]", DETAIL_TEXT_LIMIT)));
        assert_eq!(bounded_text(b"short"), "short");
    }

    #[test]
    fn a_failure_names_the_step_exit_code_and_first_stderr_line() {
        let run = StepRun {
            name: "remediate",
            script_sha256: String::new(),
            result: Ok(Finished {
                exit_code: 2,
                stdout: Vec::new(),
                stderr: b"\n  osiris_ip is required\nmore".to_vec(),
            }),
        };
        assert_eq!(
            run.failure().as_deref(),
            Some("remediate exited 2: osiris_ip is required")
        );
        assert!(!run.succeeded());
        assert_eq!(run.artifacts().len(), 2);
    }
}
