//! Table tests: every operator against matching, non-matching, mistyped, missing and null values.

use osiris_rules::Ledger;

use crate::{incident, matcher, t0};

fn check(condition: &str, incident_json: &str, expected: bool) {
    let rules = format!(
        "  - id: R\n    platform: debian\n    conditions:\n      - {condition}\n    action: escalate\n"
    );
    let matcher = matcher(&rules);
    let mut value = incident(incident_json);
    value["platform"] = "debian".into();
    let matched = matcher
        .decide(&value, &Ledger::new(), t0())
        .rule_id()
        .is_some();
    assert_eq!(matched, expected, "{condition} on {incident_json}");
}

#[test]
fn eq_compares_numbers_by_value_and_never_across_types() {
    check("{field: a, operator: eq, value: 5}", r#"{"a":5}"#, true);
    check("{field: a, operator: eq, value: 5}", r#"{"a":5.0}"#, true);
    check("{field: a, operator: eq, value: 5}", r#"{"a":"5"}"#, false);
    check(
        "{field: a, operator: eq, value: true}",
        r#"{"a":"true"}"#,
        false,
    );
    check(
        "{field: a, operator: eq, value: fail}",
        r#"{"a":"fail"}"#,
        true,
    );
    check("{field: a, operator: eq, value: fail}", r#"{}"#, false);
    check(
        "{field: a, operator: eq, value: fail}",
        r#"{"a":null}"#,
        false,
    );
    check(
        "{field: a.b.c, operator: eq, value: x}",
        r#"{"a":{"b":{"c":"x"}}}"#,
        true,
    );
    check(
        "{field: a.1, operator: eq, value: y}",
        r#"{"a":["x","y"]}"#,
        true,
    );
    // YAML 1.2: `yes` and `on` are words, not booleans.
    check(
        "{field: a, operator: eq, value: yes}",
        r#"{"a":"yes"}"#,
        true,
    );
    check(
        "{field: a, operator: eq, value: on}",
        r#"{"a":true}"#,
        false,
    );
}

#[test]
fn ne_and_not_in_hold_for_absent_fields() {
    check(
        "{field: a, operator: ne, value: ok}",
        r#"{"a":"bad"}"#,
        true,
    );
    check(
        "{field: a, operator: ne, value: ok}",
        r#"{"a":"ok"}"#,
        false,
    );
    check("{field: a, operator: ne, value: ok}", r#"{}"#, true);
    check(
        "{field: a, operator: not_in, value: [x, y]}",
        r#"{"a":"z"}"#,
        true,
    );
    check(
        "{field: a, operator: not_in, value: [x, y]}",
        r#"{"a":"x"}"#,
        false,
    );
    check("{field: a, operator: not_in, value: [x, y]}", r#"{}"#, true);
}

#[test]
fn in_matches_any_listed_value() {
    check(
        "{field: a, operator: in, value: [1, two]}",
        r#"{"a":1.0}"#,
        true,
    );
    check(
        "{field: a, operator: in, value: [1, two]}",
        r#"{"a":"two"}"#,
        true,
    );
    check(
        "{field: a, operator: in, value: [1, two]}",
        r#"{"a":"1"}"#,
        false,
    );
    check("{field: a, operator: in, value: [1, two]}", r#"{}"#, false);
}

#[test]
fn contains_looks_in_strings_and_lists() {
    check(
        "{field: a, operator: contains, value: err}",
        r#"{"a":"disk error"}"#,
        true,
    );
    check(
        "{field: a, operator: contains, value: err}",
        r#"{"a":"fine"}"#,
        false,
    );
    check(
        "{field: a, operator: contains, value: SYSVOL}",
        r#"{"a":["NETLOGON","SYSVOL"]}"#,
        true,
    );
    check(
        "{field: a, operator: contains, value: 3}",
        r#"{"a":[1,3.0]}"#,
        true,
    );
    check(
        "{field: a, operator: contains, value: err}",
        r#"{"a":42}"#,
        false,
    );
    check("{field: a, operator: contains, value: err}", r#"{}"#, false);
}

#[test]
fn regex_searches_strings_only() {
    check(
        r#"{field: a, operator: regex, value: '^srv\d+$'}"#,
        r#"{"a":"srv01"}"#,
        true,
    );
    check(
        r#"{field: a, operator: regex, value: '^srv\d+$'}"#,
        r#"{"a":"ws01"}"#,
        false,
    );
    check(
        r#"{field: a, operator: regex, value: 'dc'}"#,
        r#"{"a":"my-dc-02"}"#,
        true,
    );
    check(
        r#"{field: a, operator: regex, value: '1'}"#,
        r#"{"a":1}"#,
        false,
    );
    check(
        r#"{field: a, operator: regex, value: '.*'}"#,
        r#"{}"#,
        false,
    );
}

#[test]
fn gt_and_lt_compare_numbers_only() {
    check("{field: a, operator: gt, value: 90}", r#"{"a":95}"#, true);
    check("{field: a, operator: gt, value: 90}", r#"{"a":90}"#, false);
    check(
        "{field: a, operator: gt, value: 90}",
        r#"{"a":"95"}"#,
        false,
    );
    check(
        "{field: a, operator: gt, value: 90}",
        r#"{"a":null}"#,
        false,
    );
    check("{field: a, operator: lt, value: 10}", r#"{"a":9.5}"#, true);
    check("{field: a, operator: lt, value: 10}", r#"{"a":10}"#, false);
    check("{field: a, operator: lt, value: 10}", r#"{}"#, false);
}

#[test]
fn exists_means_present_and_not_null() {
    check(
        "{field: a, operator: exists, value: true}",
        r#"{"a":[]}"#,
        true,
    );
    check(
        "{field: a, operator: exists, value: true}",
        r#"{"a":false}"#,
        true,
    );
    check(
        "{field: a, operator: exists, value: true}",
        r#"{"a":null}"#,
        false,
    );
    check("{field: a, operator: exists}", r#"{}"#, false);
    check("{field: a, operator: exists, value: false}", r#"{}"#, true);
    check(
        "{field: a, operator: exists, value: false}",
        r#"{"a":1}"#,
        false,
    );
}
