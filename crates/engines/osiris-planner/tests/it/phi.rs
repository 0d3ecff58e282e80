//! A prompt never carries a value of the scrubber's PHI corpus, even when
//! the incident's context was full of them: the context is scrubbed first,
//! and the planner accepts nothing else.

use osiris_catalog::Platform;
use serde_json::{Map, Value, json};

use crate::{CONFIG, Inputs, Scripted, catalog, now, planner};

const CORPUS: &str = include_str!("../../../osiris-scrub/tests/data/corpus.txt");

/// The corpus lines with their `{{FAMILY:value}}` marks removed, and the
/// marked values.
fn corpus() -> (Vec<String>, Vec<String>) {
    let mark = regex::Regex::new(r"\{\{([A-Z_]+):(.*?)\}\}").unwrap();
    let mut lines = Vec::new();
    let mut values = Vec::new();
    for line in CORPUS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        lines.push(mark.replace_all(line, "$2").into_owned());
        values.extend(mark.captures_iter(line).map(|c| c[2].to_owned()));
    }
    (lines, values)
}

/// Whether `value` occurs in `text` as itself, not inside a longer word or
/// number (short values such as an age would otherwise match inside ids).
fn occurs(text: &str, value: &str) -> bool {
    text.match_indices(value).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + value.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        value.len() >= 8 || (!word(before) && !word(after))
    })
}

#[tokio::test]
async fn a_prompt_never_contains_a_value_of_the_phi_corpus() {
    let (lines, values) = corpus();
    let (output, rest) = lines.split_at(lines.len() / 3);
    let (facts, history) = rest.split_at(rest.len() / 2);
    let output = output.join("\n");
    let mut fact_map = Map::new();
    for (i, line) in facts.iter().enumerate() {
        fact_map.insert(format!("event_{i}"), Value::String(line.clone()));
    }
    // Fields whose names say PHI are redacted whatever their values look like.
    fact_map.insert("PatientName".to_owned(), json!("Maria Gonzalez"));
    fact_map.insert("dob".to_owned(), json!("04/17/1962"));
    let history = Value::Array(
        history
            .iter()
            .map(|line| json!({"at": "2026-06-17T15:00:00Z", "note": line}))
            .collect(),
    );
    // What the context carried, as plain text (JSON would escape backslashes).
    let raw = format!("{}\nMaria Gonzalez 04/17/1962", lines.join("\n"));

    let inputs = Inputs::new(&output, &Value::Object(fact_map), &history);
    let model =
        Scripted::answering(&[r#"{"runbook_id":null,"params":{},"confidence":0,"reasoning":"x"}"#]);
    let planner = planner(model.clone(), CONFIG);
    let catalog = catalog();
    let _ = planner
        .decide(
            &inputs.context(&catalog, "win.av.defender", Platform::Windows),
            now(),
        )
        .await;
    let prompt = model.prompts.lock().unwrap()[0].clone();
    let text = format!(
        "{}\n{}\n{}",
        prompt.system(),
        prompt.user(),
        prompt.response_schema()
    );
    // Nothing was cut: the last history line made it in (as its scrubbed form).
    assert!(prompt.user().contains("Recent history"), "{text}");
    assert!(!prompt.user().contains("…"), "prompt was cut");
    assert!(text.contains("[PHI:SSN:"), "{text}");
    assert!(text.contains("[PHI:NAME:"), "{text}");
    let token = regex::Regex::new(r"\[PHI:[A-Z_]+:[0-9a-f]{4}:[0-9a-f]{12}\]").unwrap();
    let without_tokens = token.replace_all(&text, " ").into_owned();
    let unlabelled = regex::Regex::new(r"\{\{[A-Z_]+:.*?\}\}")
        .unwrap()
        .replace_all(CORPUS, " ")
        .into_owned();
    let mut checked = 0;
    let mut leaked = Vec::new();
    for value in &values {
        // A labelled date may equal a log line's own timestamp, which is
        // not PHI and rightly stays.
        if unlabelled.contains(value.as_str()) {
            continue;
        }
        assert!(
            raw.contains(value.as_str()),
            "the context did not carry {value:?}"
        );
        checked += 1;
        if occurs(&without_tokens, value) {
            leaked.push(value.clone());
        }
    }
    assert!(checked >= 60, "only {checked} corpus values were checked");
    assert!(
        leaked.is_empty(),
        "PHI reached the prompt: {leaked:?}\n{text}"
    );
}
