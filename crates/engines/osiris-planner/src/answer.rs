//! Reading the model's answer text into its parts, every problem named.

use serde_json::{Map, Value};

/// The answer's fields, read but not yet judged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawPlan {
    /// `None`: the model left it to a person.
    pub(crate) runbook_id: Option<String>,
    pub(crate) params: Map<String, Value>,
    pub(crate) confidence: f64,
    pub(crate) reasoning: String,
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unreadable {
    Empty,
    Malformed(String),
}

/// Reads one JSON object; a Markdown code fence around it is tolerated,
/// since small models add one even when asked not to.
pub(crate) fn read(text: &str) -> Result<RawPlan, Unreadable> {
    let text = unfence(text.trim());
    if text.is_empty() {
        return Err(Unreadable::Empty);
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Unreadable::Malformed(format!("the answer is not JSON ({e})")))?;
    let Value::Object(mut object) = value else {
        return Err(Unreadable::Malformed(
            "the answer is not a JSON object".to_owned(),
        ));
    };
    let malformed = |what: &str| Unreadable::Malformed(what.to_owned());
    let runbook_id = match object.remove("runbook_id") {
        Some(Value::String(id)) => Some(id),
        Some(Value::Null) => None,
        Some(_) => return Err(malformed("runbook_id is neither a string nor null")),
        None => return Err(malformed("runbook_id is missing")),
    };
    let params = match object.remove("params") {
        Some(Value::Object(params)) => params,
        // A model that chose nothing may leave the parameters out.
        None | Some(Value::Null) if runbook_id.is_none() => Map::new(),
        Some(_) => return Err(malformed("params is not an object")),
        None => return Err(malformed("params is missing")),
    };
    let confidence = match object.remove("confidence") {
        Some(Value::Number(number)) => number
            .as_f64()
            .filter(|c| (0.0..=1.0).contains(c))
            .ok_or_else(|| malformed("confidence is not between 0 and 1"))?,
        Some(_) => return Err(malformed("confidence is not a number")),
        None => return Err(malformed("confidence is missing")),
    };
    let reasoning = match object.remove("reasoning") {
        Some(Value::String(reasoning)) => reasoning,
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(malformed("reasoning is not a string")),
    };
    if let Some(extra) = object.keys().next() {
        return Err(Unreadable::Malformed(format!(
            "the answer has an unknown field {extra:?}"
        )));
    }
    Ok(RawPlan {
        runbook_id,
        params,
        confidence,
        reasoning,
    })
}

fn unfence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_plan_and_a_fenced_plan() {
        let text =
            r#"{"runbook_id":"RB-WIN-AV-001","params":{},"confidence":0.9,"reasoning":"av off"}"#;
        let plan = read(text).unwrap();
        assert_eq!(plan.runbook_id.as_deref(), Some("RB-WIN-AV-001"));
        assert_eq!(read(&format!("```json\n{text}\n```")).unwrap(), plan);
    }

    #[test]
    fn names_what_is_wrong() {
        for (text, words) in [
            ("", "empty"),
            ("   ", "empty"),
            ("{", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"params":{},"confidence":1}"#, "runbook_id is missing"),
            (
                r#"{"runbook_id":"RB-WIN-AV-001","confidence":1}"#,
                "params is missing",
            ),
            (
                r#"{"runbook_id":"RB-WIN-AV-001","params":{},"confidence":"high"}"#,
                "confidence is not a number",
            ),
            (
                r#"{"runbook_id":"RB-WIN-AV-001","params":{},"confidence":1.5}"#,
                "between 0 and 1",
            ),
            (
                r#"{"runbook_id":"RB-WIN-AV-001","params":{},"confidence":1,"run":"rm"}"#,
                "unknown field",
            ),
        ] {
            let error = read(text).unwrap_err();
            let said = match &error {
                Unreadable::Empty => "empty".to_owned(),
                Unreadable::Malformed(reason) => reason.clone(),
            };
            assert!(said.contains(words), "{text:?}: {said}");
        }
    }
}
