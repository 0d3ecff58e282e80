//! Properties: parsers never panic, matching is deterministic and order-independent.

use osiris_rules::{Ledger, RuleSetBuilder, RuleSource};
use proptest::prelude::*;
use serde_json::json;

use crate::t0;

fn rule_yaml(id: usize, priority: u32, check_type: &str, op: &str, value: i64) -> String {
    format!(
        "  - id: R{id}\n    conditions: [{{field: check_type, operator: eq, value: {check_type}}}, {{field: details.n, operator: {op}, value: {value}}}]\n    action: escalate\n    priority: {priority}\n"
    )
}

proptest! {
    #[test]
    fn parsing_arbitrary_text_as_a_rule_file_never_panics(text in "\\PC{0,200}") {
        let _ = osiris_catalog::parse_rule_file("fuzz.yaml", &text);
    }

    #[test]
    fn parsing_yaml_shaped_text_never_panics(text in "(rules:|  - id: x|    conditions:|      - \\{field: a, operator: (eq|gt|regex|in), value: [a-z0-9\\[\\]\\(]{0,6}\\}|    action: e|    priority: -?[0-9]{1,3}|\n|: |- ){0,24}") {
        let _ = osiris_catalog::parse_rule_file("fuzz.yaml", &text);
    }

    #[test]
    fn matching_is_deterministic_and_independent_of_load_order(
        rules in prop::collection::vec((0u32..5, prop::sample::select(vec!["a", "b", "c"]), prop::sample::select(vec!["gt", "lt", "eq", "ne"]), -3i64..3), 1..20),
        check_type in prop::sample::select(vec!["a", "b", "c", "d"]),
        n in -4i64..4,
    ) {
        let texts: Vec<String> = rules.iter().enumerate().map(|(i, (p, c, o, v))| rule_yaml(i, *p, c, o, *v)).collect();
        let build = |order: &mut dyn Iterator<Item = &String>| {
            let builder = order.enumerate().fold(RuleSetBuilder::new(), |builder, (i, text)| {
                let file = osiris_catalog::parse_rule_file("p.yaml", &format!("rules:\n{text}")).unwrap();
                builder.add(RuleSource::Builtin, &format!("f{i}"), &file)
            });
            builder.build().unwrap()
        };
        let forward = build(&mut texts.iter());
        let backward = build(&mut texts.iter().rev());
        let incident = json!({"check_type": check_type, "details": {"n": n}});
        let first = forward.decide(&incident, &Ledger::new(), t0()).rule_id().map(str::to_owned);
        prop_assert_eq!(&first, &forward.decide(&incident, &Ledger::new(), t0()).rule_id().map(str::to_owned));
        prop_assert_eq!(&first, &backward.decide(&incident, &Ledger::new(), t0()).rule_id().map(str::to_owned));
        // The indexed decision equals the first rule in priority order whose explanation says it matched.
        let explained = forward.explain(&incident, &Ledger::new(), t0());
        prop_assert_eq!(first, explained.explain.iter().find(|v| v.matched).map(|v| v.rule.clone()));
    }
}
