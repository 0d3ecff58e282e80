//! The labelled corpus: recall per family, overall precision, and IT
//! evidence that must survive byte for byte.

use std::collections::BTreeMap;

use crate::{mask_tokens, scrubber};

const CORPUS: &str = include_str!("../data/corpus.txt");
const SURVIVE: &str = include_str!("../data/survive.txt");

struct Labelled {
    input: String,
    expected: String,
    spans: Vec<(String, String)>,
}

/// `{{FAMILY:value}}` marks become the value in the input and `{{FAMILY}}`
/// in the expected masked output.
fn parse(line: &str) -> Labelled {
    let mark = regex::Regex::new(r"\{\{([A-Z_]+):(.*?)\}\}").unwrap();
    let input = mark.replace_all(line, "$2").into_owned();
    let expected = mark.replace_all(line, "{{$1}}").into_owned();
    let spans = mark
        .captures_iter(line)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect();
    Labelled {
        input,
        expected,
        spans,
    }
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
}

#[derive(Default)]
struct Score {
    found: usize,
    total: usize,
}

#[test]
fn corpus_meets_recall_per_family_and_overall_precision() {
    let scrubber = scrubber();
    let mut recall: BTreeMap<String, Score> = BTreeMap::new();
    let (mut true_positives, mut false_positives) = (0_usize, 0_usize);
    let mut mismatches = Vec::new();
    for line in lines(CORPUS) {
        let labelled = parse(line);
        let output = scrubber.scrub_text(&labelled.input).into_inner();
        let masked = mask_tokens(&output);
        if masked != labelled.expected {
            mismatches.push(format!(
                "  expected {}\n  actual   {masked}",
                labelled.expected
            ));
        }
        let mut found_here = 0;
        for (family, value) in &labelled.spans {
            let score = recall.entry(family.clone()).or_default();
            score.total += 1;
            // Found when the output holds fewer copies than the input had
            // outside labels (a timestamp may share a labelled date's text).
            let unlabelled = labelled.input.matches(value.as_str()).count()
                - labelled.spans.iter().filter(|(_, v)| v == value).count();
            if output.matches(value.as_str()).count() <= unlabelled {
                score.found += 1;
                found_here += 1;
            }
        }
        true_positives += found_here;
        let tokens = masked.matches("{{").count();
        false_positives += tokens.saturating_sub(labelled.spans.len());
    }
    let mut report = String::new();
    let mut failures = Vec::new();
    for (family, score) in &recall {
        let r = score.found as f64 / score.total as f64;
        report.push_str(&format!(
            "{family}: {}/{} = {r:.3}\n",
            score.found, score.total
        ));
        let floor = if matches!(family.as_str(), "NAME" | "ADDRESS") {
            0.95
        } else {
            0.99
        };
        if r < floor {
            failures.push(format!("{family} recall {r:.3} < {floor}"));
        }
    }
    let precision = true_positives as f64 / (true_positives + false_positives) as f64;
    report.push_str(&format!("precision {precision:.3}\n"));
    if precision < 0.95 {
        failures.push(format!("precision {precision:.3} < 0.95"));
    }
    println!("{report}");
    assert!(
        failures.is_empty() && mismatches.is_empty(),
        "{failures:?}\n{report}\nlines not scrubbed exactly as labelled:\n{}",
        mismatches.join("\n")
    );
    assert!(
        recall.len() >= 18,
        "the corpus covers {} families",
        recall.len()
    );
}

#[test]
fn it_evidence_survives_byte_for_byte() {
    let scrubber = scrubber();
    let mut changed = Vec::new();
    for line in lines(SURVIVE) {
        let scrubbed = scrubber.scrub_text(line);
        if scrubbed.as_str() != line || scrubbed.report().total() != 0 {
            changed.push(format!("  in  {line}\n  out {}", scrubbed.as_str()));
        }
    }
    assert!(changed.is_empty(), "over-redacted:\n{}", changed.join("\n"));
}

#[test]
fn the_whole_corpus_scrubbed_as_one_text_equals_line_by_line() {
    let scrubber = scrubber();
    let inputs: Vec<String> = lines(CORPUS).map(|l| parse(l).input).collect();
    let whole = scrubber.scrub_text(&inputs.join("\n")).into_inner();
    let by_line: Vec<String> = inputs
        .iter()
        .map(|l| scrubber.scrub_text(l).into_inner())
        .collect();
    assert_eq!(whole, by_line.join("\n"));
}
