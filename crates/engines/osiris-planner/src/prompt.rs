//! [`Prompt`]: the messages and response schema sent to the model, built
//! only from an [`IncidentContext`] and the catalog.

use std::fmt::Write as _;

use osiris_catalog::{Catalog, Disruptive, Runbook};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::context::IncidentContext;

/// The name of the structured-output schema (and of the tool).
pub const RESPONSE_SCHEMA_NAME: &str = "osiris_plan";

/// At most this many bytes of check output go into a prompt (cut on a
/// character boundary; the output is already scrubbed, so a cut token
/// reveals nothing).
pub const CHECK_OUTPUT_LIMIT: usize = 8 * 1024;

/// At most this many bytes of the model's answer are kept in a record.
pub const ANSWER_TEXT_LIMIT: usize = 8 * 1024;

const SYSTEM: &str = "You are the L2 remediation planner of Osiris, a HIPAA compliance \
appliance. A compliance check failed on a host. Choose at most one runbook from the \
candidates listed, with parameters that satisfy that runbook's JSON Schema, or choose none \
(runbook_id null) when no candidate fits or you are unsure: a person will then decide. \
Never invent a runbook id or a parameter. Values such as [PHI:SSN:…] are redaction tokens; \
never try to reconstruct them. Answer with exactly one JSON object matching the response \
schema, and nothing else.";

/// The request put to a [`crate::LanguageModel`].
///
/// **Invariant:** built only by [`Prompt::build`] from scrubbed context, so
/// a model adapter can be handed nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    system: String,
    user: String,
    response_schema: Value,
    sha256: String,
}

impl Prompt {
    /// The prompt for `context`: the check, its scrubbed output, host facts
    /// and history, and every runbook of the catalog that suits the target's
    /// platform with its parameter schema.
    #[must_use]
    pub fn build(catalog: &Catalog, context: &IncidentContext<'_>) -> Self {
        let candidates: Vec<&Runbook> = catalog
            .runbooks()
            .values()
            .filter(|runbook| runbook.platforms.contains(&context.platform))
            .collect();
        let check = context.check;
        let mut user = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = writeln!(
            user,
            "Check {} ({}) failed on a {} host. Category: {}. Severity: {}.",
            check.id,
            check.title,
            context.platform,
            check.check_type,
            severity(check),
        );
        for cite in &check.hipaa {
            let _ = writeln!(user, "HIPAA {}: {}", cite.cite, cite.name);
        }
        let _ = writeln!(
            user,
            "The catalog's own remediation for this check is {}.",
            check.runbook
        );
        user.push_str("\nCheck output (scrubbed):\n");
        user.push_str(cut(context.check_output.as_str(), CHECK_OUTPUT_LIMIT));
        user.push_str("\n\nHost facts (scrubbed JSON):\n");
        user.push_str(&context.host_facts.as_inner().to_string());
        user.push_str("\n\nRecent history (scrubbed JSON):\n");
        user.push_str(&context.history.as_inner().to_string());
        let _ = writeln!(
            user,
            "\n\nCandidate runbooks for {} ({}):",
            context.platform,
            candidates.len()
        );
        for runbook in &candidates {
            let _ = writeln!(
                user,
                "- {}: {}. {} Disruptive: {}. Parameters JSON Schema: {}",
                runbook.id,
                runbook.title,
                runbook.description.trim(),
                disruptive(runbook.disruptive),
                runbook.parameters,
            );
        }
        let ids: Vec<Value> = candidates
            .iter()
            .map(|runbook| Value::String(runbook.id.to_string()))
            .chain(std::iter::once(Value::Null))
            .collect();
        let response_schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["runbook_id", "params", "confidence", "reasoning"],
            "properties": {
                "runbook_id": {
                    "description": "the chosen candidate runbook, or null to leave it to a person",
                    "enum": ids,
                },
                "params": {
                    "type": "object",
                    "description": "parameters satisfying the chosen runbook's JSON Schema",
                },
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "reasoning": {"type": "string", "description": "one or two sentences"},
            },
        });
        let sha256 = digest(SYSTEM, &user, &response_schema);
        Self {
            system: SYSTEM.to_owned(),
            user,
            response_schema,
            sha256,
        }
    }

    /// The system message.
    #[must_use]
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The user message: the incident and the candidates.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The JSON Schema of the answer (named [`RESPONSE_SCHEMA_NAME`]).
    #[must_use]
    pub const fn response_schema(&self) -> &Value {
        &self.response_schema
    }

    /// Lowercase hex SHA-256 of the system message, a zero byte, the user
    /// message, a zero byte and the compact JSON of the response schema
    /// (keys sorted): the prompt's identity in evidence.
    #[must_use]
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

fn digest(system: &str, user: &str, schema: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(system.as_bytes());
    hasher.update([0]);
    hasher.update(user.as_bytes());
    hasher.update([0]);
    hasher.update(schema.to_string().as_bytes());
    hex(&hasher.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// `text` cut to at most `limit` bytes on a character boundary.
pub(crate) fn cut(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

fn severity(check: &osiris_catalog::Check) -> &'static str {
    use osiris_catalog::Severity;
    match check.severity {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

const fn disruptive(disruptive: Disruptive) -> &'static str {
    match disruptive {
        Disruptive::No => "no",
        Disruptive::Yes => "yes, only in the maintenance window",
        Disruptive::Approval => "needs a person's approval for each run",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
    }
}
