//! Decisions: a valid plan, every refusal with its reason, dry-run, the
//! budget and the record.

use chrono::Duration;
use osiris_catalog::Platform;
use osiris_planner::{ModelError, Outcome, Planner, PlannerConfig, RefusalCode};

use crate::{CONFIG, Inputs, Scripted, catalog, now, planner};

const FIREWALL_PLAN: &str = r#"{"runbook_id":"RB-DEB-FIREWALL-001","params":{"osiris_ip":"10.0.0.5"},"confidence":0.92,"reasoning":"ufw is inactive"}"#;

#[tokio::test]
async fn a_whitelisted_schema_valid_confident_answer_is_a_plan() {
    let model = Scripted::answering(&[FIREWALL_PLAN]);
    let planner = planner(model.clone(), CONFIG);
    let catalog = catalog();
    let inputs = Inputs::plain();
    let decision = planner
        .decide(
            &inputs.context(&catalog, "deb.firewall.ufw", Platform::Debian),
            now(),
        )
        .await;
    let Outcome::Plan(plan) = &decision.outcome else {
        panic!("{:?}", decision.outcome)
    };
    assert_eq!(plan.runbook_id().as_str(), "RB-DEB-FIREWALL-001");
    assert_eq!(plan.params()["osiris_ip"], "10.0.0.5");
    assert!((plan.confidence() - 0.92).abs() < f64::EPSILON);
    let record = &decision.record;
    assert!(record.validation.accepted);
    assert_eq!(record.outcome, "planned");
    assert_eq!(record.model.as_deref(), Some("scripted"));
    assert_eq!(record.answer.as_deref(), Some(FIREWALL_PLAN));
    let asked = model.prompts.lock().unwrap()[0].clone();
    assert_eq!(record.prompt_sha256, asked.sha256());
    assert_eq!(record.prompt_sha256.len(), 64);
    let detail = record.to_detail();
    assert_eq!(detail["tier"], "L2");
    assert_eq!(detail["validation"]["accepted"], true);
    assert_eq!(detail["runbook_id"], "RB-DEB-FIREWALL-001");
    assert_eq!(detail["decided_at"], "2026-06-17T16:00:00Z");
}

/// One refusal case: what the model does, the refusal code and words its
/// reason must contain.
async fn refused(model: std::sync::Arc<Scripted>, code: RefusalCode, words: &str) {
    let planner = planner(model, CONFIG);
    let catalog = catalog();
    let inputs = Inputs::plain();
    let decision = planner
        .decide(
            &inputs.context(&catalog, "deb.firewall.ufw", Platform::Debian),
            now(),
        )
        .await;
    let Outcome::Refused(refusal) = &decision.outcome else {
        panic!("{code:?}: not refused: {:?}", decision.outcome)
    };
    assert_eq!(refusal.code, code, "{}", refusal.reason);
    assert!(
        refusal.reason.contains(words),
        "{code:?}: {:?} lacks {words:?}",
        refusal.reason
    );
    let record = &decision.record;
    assert!(!record.validation.accepted);
    assert_eq!(record.validation.code, Some(code));
    assert_eq!(
        record.validation.reason.as_deref(),
        Some(refusal.reason.as_str())
    );
    assert_eq!(record.outcome, "escalated");
    assert_eq!(record.to_detail()["validation"]["code"], code.as_str());
}

#[tokio::test]
async fn a_runbook_outside_the_whitelist_is_refused() {
    let answer =
        r#"{"runbook_id":"RB-DEB-WIPE-001","params":{},"confidence":0.99,"reasoning":"x"}"#;
    refused(
        Scripted::answering(&[answer]),
        RefusalCode::NotWhitelisted,
        "RB-DEB-WIPE-001 is not in the catalog",
    )
    .await;
    let answer = r#"{"runbook_id":"rm -rf /","params":{},"confidence":0.99,"reasoning":"x"}"#;
    refused(
        Scripted::answering(&[answer]),
        RefusalCode::NotWhitelisted,
        "is not a runbook id",
    )
    .await;
}

#[tokio::test]
async fn a_runbook_for_another_platform_is_refused() {
    let answer = r#"{"runbook_id":"RB-WIN-AV-001","params":{},"confidence":0.99,"reasoning":"x"}"#;
    refused(
        Scripted::answering(&[answer]),
        RefusalCode::WrongPlatform,
        "runbook RB-WIN-AV-001 is for windows, not debian",
    )
    .await;
}

#[tokio::test]
async fn parameters_failing_the_runbook_schema_are_refused() {
    let answer = r#"{"runbook_id":"RB-DEB-FIREWALL-001","params":{"revert_after_minutes":99},"confidence":0.99,"reasoning":"x"}"#;
    refused(
        Scripted::answering(&[answer]),
        RefusalCode::InvalidParams,
        "osiris_ip",
    )
    .await;
    let answer = r#"{"runbook_id":"RB-DEB-FIREWALL-001","params":{"osiris_ip":"10.0.0.5; reboot"},"confidence":0.99,"reasoning":"x"}"#;
    refused(
        Scripted::answering(&[answer]),
        RefusalCode::InvalidParams,
        "/osiris_ip",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_is_refused() {
    refused(
        Scripted::answering(&["{\"runbook_id\": \"RB-DEB"]),
        RefusalCode::MalformedAnswer,
        "not JSON",
    )
    .await;
    refused(
        Scripted::answering(&["I would enable the firewall."]),
        RefusalCode::MalformedAnswer,
        "not JSON",
    )
    .await;
    refused(
        Scripted::answering(&[r#"{"runbook_id":"RB-DEB-FIREWALL-001","params":{"osiris_ip":"10.0.0.5"},"confidence":0.9,"script":"ufw disable"}"#]),
        RefusalCode::MalformedAnswer,
        "unknown field \"script\"",
    )
    .await;
}

#[tokio::test]
async fn an_empty_answer_is_refused() {
    refused(
        Scripted::answering(&[""]),
        RefusalCode::EmptyAnswer,
        "empty",
    )
    .await;
    refused(
        Scripted::answering(&["  \n"]),
        RefusalCode::EmptyAnswer,
        "empty",
    )
    .await;
}

#[tokio::test]
async fn a_timeout_is_refused() {
    refused(
        Scripted::failing(ModelError::Timeout { seconds: 30 }),
        RefusalCode::Timeout,
        "did not answer within 30 s",
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_model_is_refused() {
    refused(
        Scripted::failing(ModelError::Unavailable {
            reason: "connection refused".to_owned(),
        }),
        RefusalCode::ModelUnavailable,
        "connection refused",
    )
    .await;
}

#[tokio::test]
async fn a_low_confidence_plan_is_refused() {
    let answer = r#"{"runbook_id":"RB-DEB-FIREWALL-001","params":{"osiris_ip":"10.0.0.5"},"confidence":0.4,"reasoning":"maybe"}"#;
    refused(
        Scripted::answering(&[answer]),
        RefusalCode::LowConfidence,
        "confidence 0.40 in RB-DEB-FIREWALL-001 is below the threshold 0.70",
    )
    .await;
}

#[tokio::test]
async fn no_runbook_chosen_is_refused_with_the_models_reason() {
    let answer =
        r#"{"runbook_id":null,"params":{},"confidence":0.2,"reasoning":"the output is ambiguous"}"#;
    refused(
        Scripted::answering(&[answer]),
        RefusalCode::NoRunbook,
        "the model chose no runbook: the output is ambiguous",
    )
    .await;
}

#[tokio::test]
async fn an_exceeded_budget_is_refused_without_asking_the_model() {
    let model = Scripted::answering(&[FIREWALL_PLAN, FIREWALL_PLAN, FIREWALL_PLAN]);
    let planner = planner(
        model.clone(),
        PlannerConfig {
            calls_per_hour: 2,
            ..CONFIG
        },
    );
    let catalog = catalog();
    let inputs = Inputs::plain();
    let context = inputs.context(&catalog, "deb.firewall.ufw", Platform::Debian);
    for _ in 0..2 {
        let decision = planner.decide(&context, now()).await;
        assert!(
            matches!(decision.outcome, Outcome::Plan(_)),
            "{:?}",
            decision.outcome
        );
    }
    let decision = planner.decide(&context, now()).await;
    let Outcome::Refused(refusal) = &decision.outcome else {
        panic!("{:?}", decision.outcome)
    };
    assert_eq!(refusal.code, RefusalCode::BudgetExceeded);
    assert!(
        refusal
            .reason
            .contains("budget of 2 model calls per hour is spent"),
        "{}",
        refusal.reason
    );
    assert!(refusal.reason.contains("in 1800 s"), "{}", refusal.reason);
    assert_eq!(model.calls(), 2, "a refused budget never reaches the model");
    assert!(decision.record.model.is_none());
    assert_eq!(decision.record.prompt_sha256.len(), 64);
    // Half an hour later one call's worth has come back.
    let decision = planner
        .decide(&context, now() + Duration::minutes(30))
        .await;
    assert!(
        matches!(decision.outcome, Outcome::Plan(_)),
        "{:?}",
        decision.outcome
    );
}

#[tokio::test]
async fn dry_run_validates_and_records_a_plan_that_does_not_run() {
    let planner = planner(
        Scripted::answering(&[FIREWALL_PLAN]),
        PlannerConfig {
            dry_run: true,
            ..CONFIG
        },
    );
    let catalog = catalog();
    let inputs = Inputs::plain();
    let decision = planner
        .decide(
            &inputs.context(&catalog, "deb.firewall.ufw", Platform::Debian),
            now(),
        )
        .await;
    let Outcome::DryRun(plan) = &decision.outcome else {
        panic!("{:?}", decision.outcome)
    };
    assert_eq!(plan.runbook_id().as_str(), "RB-DEB-FIREWALL-001");
    assert_eq!(decision.record.outcome, "dry_run");
    assert!(decision.record.dry_run);
    assert!(decision.record.validation.accepted);
}

#[tokio::test]
async fn the_prompt_offers_only_the_platforms_runbooks_with_their_schemas() {
    let model = Scripted::answering(&[FIREWALL_PLAN]);
    let planner = planner(model.clone(), CONFIG);
    let catalog = catalog();
    let inputs = Inputs::plain();
    let _ = planner
        .decide(
            &inputs.context(&catalog, "deb.firewall.ufw", Platform::Debian),
            now(),
        )
        .await;
    let prompt = model.prompts.lock().unwrap()[0].clone();
    let user = prompt.user();
    assert!(user.contains("Check deb.firewall.ufw"), "{user}");
    assert!(user.contains("HIPAA 164."), "{user}");
    assert!(user.contains("- RB-DEB-FIREWALL-001: "), "{user}");
    assert!(user.contains(r#""osiris_ip":{"pattern""#), "{user}");
    assert!(!user.contains("RB-WIN-"), "{user}");
    assert!(!user.contains("RB-RHEL-"), "{user}");
    let ids = prompt.response_schema()["properties"]["runbook_id"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    assert!(ids.contains(&serde_json::json!("RB-DEB-FIREWALL-001")));
    assert!(ids.contains(&serde_json::Value::Null));
    assert!(!ids.contains(&serde_json::json!("RB-WIN-AV-001")));
    for runbook in catalog.runbooks().values() {
        let offered = ids.contains(&serde_json::json!(runbook.id.as_str()));
        assert_eq!(
            offered,
            runbook.platforms.contains(&Platform::Debian),
            "{}",
            runbook.id
        );
    }
    // The same context gives the same prompt, hash included.
    let again = osiris_planner::Prompt::build(
        &catalog,
        &inputs.context(&catalog, "deb.firewall.ufw", Platform::Debian),
    );
    assert_eq!(again, prompt);
}

#[test]
fn a_planner_refuses_an_impossible_threshold_or_budget() {
    for config in [
        PlannerConfig {
            min_confidence: 1.5,
            ..CONFIG
        },
        PlannerConfig {
            min_confidence: f64::NAN,
            ..CONFIG
        },
        PlannerConfig {
            calls_per_hour: 0,
            ..CONFIG
        },
    ] {
        let built = Planner::new(
            catalog(),
            Scripted::answering(&[]),
            std::sync::Arc::new(osiris_limits::InProcessLimiter::new()),
            config,
        );
        assert!(built.is_err(), "{config:?}");
    }
}
