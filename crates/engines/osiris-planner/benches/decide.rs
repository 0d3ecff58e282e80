#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The planner's own cost per decision, with a model that answers at once:
//! prompt building (every candidate runbook and its schema), the budget
//! check, reading and validating the answer (whitelist, parameter schema,
//! confidence) and the record. Issue 11 bounds it at 5 ms. Beside it, in
//! the same run, the prompt alone.

use std::hint::black_box;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use osiris_catalog::{Catalog, Platform};
use osiris_limits::InProcessLimiter;
use osiris_planner::{
    AnswerForm, BoxFuture, IncidentContext, LanguageModel, ModelAnswer, ModelError, Outcome,
    Planner, PlannerConfig, Prompt,
};
use osiris_scrub::{IpPolicy, ScrubConfig, ScrubKey, Scrubber, ZipPolicy};
use serde_json::json;

/// Answers every prompt at once with the same valid plan.
#[derive(Debug)]
struct Instant;

impl LanguageModel for Instant {
    fn complete<'a>(&'a self, _: &'a Prompt) -> BoxFuture<'a, Result<ModelAnswer, ModelError>> {
        Box::pin(async {
            Ok(ModelAnswer {
                model: "instant".to_owned(),
                text: r#"{"runbook_id":"RB-DEB-FIREWALL-001","params":{"osiris_ip":"10.0.0.5","revert_after_minutes":10},"confidence":0.92,"reasoning":"ufw is inactive"}"#.to_owned(),
                form: AnswerForm::Content,
            })
        })
    }
}

fn bench(c: &mut Criterion) {
    let catalog = Arc::new(Catalog::embedded().unwrap());
    let scrubber = Scrubber::new(
        &ScrubKey::from_bytes([7; osiris_scrub::KEY_LEN]),
        &ScrubConfig {
            ip: IpPolicy {
                keep_loopback: true,
                keep_private: true,
                keep_link_local: true,
                inventory: Vec::new(),
            },
            zip: ZipPolicy::Redact,
            allowlist: Vec::new(),
            keep_email_domains: Vec::new(),
            keep_url_hosts: Vec::new(),
            patient_document_roots: Vec::new(),
            mrn_patterns: Vec::new(),
            other_patterns: Vec::new(),
        },
    )
    .unwrap();
    let output = scrubber.scrub_text(
        &r#"{"ok":true,"facts":{"ufw_active":false,"default_incoming":"allow","rules":["22/tcp ALLOW Anywhere"]}}"#.repeat(20),
    );
    let facts = scrubber
        .scrub_json(&json!({"os": "Debian 12", "role": "ehr-db", "kernel": "6.1.0-18-amd64"}));
    let history = scrubber.scrub_json(&json!([{"at": "2026-06-17T15:00:00Z", "outcome": "rolled_back", "runbook": "RB-DEB-FIREWALL-001"}]));
    let context = IncidentContext {
        site_id: "5f0c8a2e-1c1d-4b8e-9a51-0d3c6f1b2a77".parse().unwrap(),
        platform: Platform::Debian,
        check: catalog.check("deb.firewall.ufw").unwrap(),
        check_output: &output,
        host_facts: &facts,
        history: &history,
    };
    let planner = Planner::new(
        catalog.clone(),
        Arc::new(Instant),
        Arc::new(InProcessLimiter::new()),
        PlannerConfig {
            min_confidence: 0.7,
            calls_per_hour: 1_000_000,
            dry_run: false,
        },
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let start: DateTime<Utc> = "2026-06-17T16:00:00Z".parse().unwrap();
    let mut tick = 0_i64;

    let mut group = c.benchmark_group("planner");
    group.bench_function("prompt_only", |b| {
        b.iter(|| black_box(Prompt::build(&catalog, black_box(&context))));
    });
    group.bench_function("decide_instant_model", |b| {
        b.iter(|| {
            // A second apart, so the budget never runs out.
            tick += 1;
            let decision =
                runtime.block_on(planner.decide(&context, start + Duration::seconds(tick)));
            assert!(matches!(decision.outcome, Outcome::Plan(_)));
            black_box(decision)
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
