//! The planner over the client over the wire: a plan, and a malformed
//! answer refused.

use std::sync::Arc;

use osiris_catalog::{Catalog, Platform};
use osiris_limits::InProcessLimiter;
use osiris_llm::AnswerMode;
use osiris_planner::{IncidentContext, Outcome, Planner, PlannerConfig, RefusalCode};

use crate::peer::{Peer, completion, tool_call};
use crate::{PLAN, client, endpoint, scrubber};

async fn decide(peer: &Peer, mode: AnswerMode) -> osiris_planner::Decision {
    let catalog = Arc::new(Catalog::embedded().unwrap());
    let planner = Planner::new(
        catalog.clone(),
        Arc::new(client(vec![endpoint("local", &peer.url, mode)])),
        Arc::new(InProcessLimiter::new()),
        PlannerConfig {
            min_confidence: 0.7,
            calls_per_hour: 10,
            dry_run: false,
        },
    )
    .unwrap();
    let scrubber = scrubber();
    let output = scrubber.scrub_text(r#"{"ok":true,"facts":{"ufw_active":false}}"#);
    let facts = scrubber.scrub_json(&serde_json::json!({"os": "Debian 12"}));
    let history = scrubber.scrub_json(&serde_json::json!([]));
    let context = IncidentContext {
        site_id: "5f0c8a2e-1c1d-4b8e-9a51-0d3c6f1b2a77".parse().unwrap(),
        platform: Platform::Debian,
        check: catalog.check("deb.firewall.ufw").unwrap(),
        check_output: &output,
        host_facts: &facts,
        history: &history,
    };
    planner
        .decide(&context, "2026-06-17T16:00:00Z".parse().unwrap())
        .await
}

#[tokio::test]
async fn the_planner_gets_a_plan_through_the_wire_in_both_modes() {
    let peer = Peer::start(vec![completion(PLAN)]).await;
    let decision = decide(&peer, AnswerMode::JsonSchema).await;
    assert!(
        matches!(decision.outcome, Outcome::Plan(_)),
        "{:?}",
        decision.outcome
    );
    assert_eq!(decision.record.model.as_deref(), Some("peer-model"));

    let peer = Peer::start(vec![tool_call("osiris_plan", PLAN)]).await;
    let decision = decide(&peer, AnswerMode::ToolCall).await;
    let Outcome::Plan(plan) = decision.outcome else {
        panic!("{:?}", decision.outcome)
    };
    assert_eq!(plan.runbook_id().as_str(), "RB-DEB-FIREWALL-001");
}

#[tokio::test]
async fn a_malformed_answer_over_the_wire_is_refused() {
    let peer = Peer::start(vec![completion("Sure! I'd enable ufw.")]).await;
    let decision = decide(&peer, AnswerMode::JsonSchema).await;
    let Outcome::Refused(refusal) = decision.outcome else {
        panic!("{:?}", decision.outcome)
    };
    assert_eq!(refusal.code, RefusalCode::MalformedAnswer);
}
