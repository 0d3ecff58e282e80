#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! One L1 decision against 1,000 rules, against a baseline measured in the same
//! run: a single HashMap lookup of the incident's check_type (the least any
//! matcher must do).

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use osiris_rules::{Ledger, RuleSetBuilder, RuleSource};
use serde_json::json;

fn thousand_rules() -> String {
    let mut text = String::from("format: osiris.rules.v1\nrules:\n");
    for i in 0..1_000 {
        text.push_str(&format!(
            "  - id: L1-BENCH-{i:04}\n    platform: windows\n    conditions:\n      - {{field: check_type, operator: eq, value: type_{}}}\n      - {{field: status, operator: eq, value: fail}}\n      - {{field: details.count, operator: gt, value: {}}}\n      - {{field: host, operator: regex, value: '^srv[0-9]+$'}}\n    action: escalate\n    severity_filter: [high, critical]\n    priority: {}\n    cooldown_seconds: 300\n",
            i % 100,
            i % 7,
            i % 50
        ));
    }
    text
}

fn bench(c: &mut Criterion) {
    let file = osiris_catalog::parse_rule_file("bench.yaml", &thousand_rules()).unwrap();
    let matcher = RuleSetBuilder::new()
        .add(RuleSource::Builtin, "bench.yaml", &file)
        .build()
        .unwrap();
    let ledger = Ledger::new();
    let now = "2026-01-01T00:00:00Z".parse().unwrap();
    let incident = json!({"check_type": "type_42", "status": "fail", "severity": "high", "platform": "windows",
                          "host": "srv01", "details": {"count": 5}});
    assert!(matcher.decide(&incident, &ledger, now).rule_id().is_some());
    let baseline: HashMap<String, usize> = (0..100).map(|i| (format!("type_{i}"), i)).collect();

    let mut group = c.benchmark_group("l1_decision_1000_rules");
    group.bench_function("baseline_hashmap_lookup", |b| {
        b.iter(|| {
            baseline
                .get(black_box(&incident)["check_type"].as_str().unwrap())
                .copied()
        })
    });
    group.bench_function("decide", |b| {
        b.iter(|| {
            matcher
                .decide(black_box(&incident), &ledger, now)
                .rule_id()
                .map(str::len)
        })
    });
    let miss = json!({"check_type": "type_999", "status": "fail", "severity": "high", "platform": "windows", "host": "srv01"});
    group.bench_function("decide_no_match", |b| {
        b.iter(|| {
            matcher
                .decide(black_box(&miss), &ledger, now)
                .rule_id()
                .map(str::len)
        })
    });
    group.finish();

    c.bench_function("compile_1000_rules", |b| {
        b.iter(|| {
            RuleSetBuilder::new()
                .add(RuleSource::Builtin, "bench.yaml", black_box(&file))
                .build()
                .unwrap()
                .rules()
                .len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
