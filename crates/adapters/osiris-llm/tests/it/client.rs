//! The client's side of the wire: what it sends, what it reads, retries,
//! fallback and failures.

use std::time::Duration;

use osiris_core::Secret;
use osiris_llm::{AnswerMode, ChatModel, LlmConfig};
use osiris_planner::{AnswerForm, LanguageModel, ModelError, RESPONSE_SCHEMA_NAME};

use crate::peer::{Peer, Reply, completion, error, tool_call};
use crate::{PLAN, client, endpoint, prompt};

#[tokio::test]
async fn a_json_schema_request_is_answered_by_the_message_content() {
    let peer = Peer::start(vec![completion(PLAN)]).await;
    let mut local = endpoint("local", &peer.url, AnswerMode::JsonSchema);
    local.api_key = Some(Secret::new("sk-test-key-123".to_owned()));
    let model = client(vec![local]);
    let prompt = prompt();
    let answer = model.complete(&prompt).await.unwrap();
    assert_eq!(answer.text, PLAN);
    assert_eq!(answer.form, AnswerForm::Content);
    assert_eq!(answer.model, "peer-model");

    let received = peer.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.headers["authorization"], "Bearer sk-test-key-123");
    assert_eq!(request.headers["content-type"], "application/json");
    let body = &request.body;
    assert_eq!(body["model"], "local-model");
    assert_eq!(body["stream"], false);
    assert_eq!(body["max_tokens"], 1024);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][0]["content"], prompt.system());
    assert_eq!(body["messages"][1]["role"], "user");
    assert_eq!(body["messages"][1]["content"], prompt.user());
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["name"],
        RESPONSE_SCHEMA_NAME
    );
    assert_eq!(
        &body["response_format"]["json_schema"]["schema"],
        prompt.response_schema()
    );
    assert!(body.get("tools").is_none());
}

#[tokio::test]
async fn a_tool_call_request_is_answered_by_the_calls_arguments() {
    let peer = Peer::start(vec![tool_call(RESPONSE_SCHEMA_NAME, PLAN)]).await;
    let model = client(vec![endpoint("local", &peer.url, AnswerMode::ToolCall)]);
    let prompt = prompt();
    let answer = model.complete(&prompt).await.unwrap();
    assert_eq!(answer.text, PLAN);
    assert_eq!(answer.form, AnswerForm::ToolCall);
    let body = &peer.received()[0].body;
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], RESPONSE_SCHEMA_NAME);
    assert_eq!(
        &body["tools"][0]["function"]["parameters"],
        prompt.response_schema()
    );
    assert_eq!(
        body["tool_choice"]["function"]["name"],
        RESPONSE_SCHEMA_NAME
    );
    assert!(body.get("response_format").is_none());
    assert!(peer.received()[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_call_to_another_tool_is_a_protocol_error() {
    let peer = Peer::start(vec![tool_call("run_shell", r#"{"cmd":"reboot"}"#)]).await;
    let model = client(vec![endpoint("local", &peer.url, AnswerMode::ToolCall)]);
    let error = model.complete(&prompt()).await.unwrap_err();
    assert!(error.to_string().contains("\"run_shell\""), "{error}");
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_then_answered() {
    let peer = Peer::start(vec![
        Reply::Json(503, error("loading model")),
        Reply::Json(429, error("slow down")),
        completion(PLAN),
    ])
    .await;
    let mut local = endpoint("local", &peer.url, AnswerMode::JsonSchema);
    local.retries = 2;
    let answer = client(vec![local]).complete(&prompt()).await.unwrap();
    assert_eq!(answer.text, PLAN);
    assert_eq!(peer.received().len(), 3);
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_the_hosted_fallback_answers() {
    let local = Peer::start(vec![Reply::Json(
        400,
        error("response_format is not supported"),
    )])
    .await;
    let hosted = Peer::start(vec![completion(PLAN)]).await;
    let mut first = endpoint("local", &local.url, AnswerMode::JsonSchema);
    first.retries = 3;
    let model = client(vec![
        first,
        endpoint("hosted", &hosted.url, AnswerMode::JsonSchema),
    ]);
    let answer = model.complete(&prompt()).await.unwrap();
    assert_eq!(answer.text, PLAN);
    assert_eq!(local.received().len(), 1, "a 400 is never retried");
    assert_eq!(hosted.received()[0].body["model"], "hosted-model");
}

#[tokio::test]
async fn an_unreachable_local_endpoint_falls_back_to_the_hosted_one() {
    // A port that was free a moment ago: nothing listens there.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/v1", listener.local_addr().unwrap())
    };
    let hosted = Peer::start(vec![completion(PLAN)]).await;
    let mut local = endpoint("local", &closed, AnswerMode::JsonSchema);
    local.retries = 1;
    let model = client(vec![
        local,
        endpoint("hosted", &hosted.url, AnswerMode::JsonSchema),
    ]);
    assert_eq!(model.complete(&prompt()).await.unwrap().text, PLAN);
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let peer = Peer::start(vec![Reply::Slow(
        Duration::from_secs(3),
        Box::new(completion(PLAN)),
    )])
    .await;
    let mut local = endpoint("local", &peer.url, AnswerMode::JsonSchema);
    local.timeout = Duration::from_millis(300);
    let error = client(vec![local]).complete(&prompt()).await.unwrap_err();
    assert!(
        matches!(error, ModelError::Timeout { seconds: 1 }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_slow_local_model_falls_back_to_the_hosted_one() {
    let local = Peer::start(vec![Reply::Slow(
        Duration::from_secs(3),
        Box::new(completion("{}")),
    )])
    .await;
    let hosted = Peer::start(vec![completion(PLAN)]).await;
    let mut first = endpoint("local", &local.url, AnswerMode::JsonSchema);
    first.timeout = Duration::from_millis(300);
    let model = client(vec![
        first,
        endpoint("hosted", &hosted.url, AnswerMode::JsonSchema),
    ]);
    assert_eq!(model.complete(&prompt()).await.unwrap().text, PLAN);
}

#[tokio::test]
async fn malformed_completions_are_protocol_failures_naming_every_endpoint() {
    let local = Peer::start(vec![Reply::Text(200, "<html>gateway</html>")]).await;
    let hosted = Peer::start(vec![Reply::Json(
        200,
        serde_json::json!({"object": "chat.completion", "choices": []}),
    )])
    .await;
    let model = client(vec![
        endpoint("local", &local.url, AnswerMode::JsonSchema),
        endpoint("hosted", &hosted.url, AnswerMode::JsonSchema),
    ]);
    let error = model.complete(&prompt()).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, ModelError::Unavailable { .. }), "{error:?}");
    assert!(
        text.contains("local: ") && text.contains("not a chat completion"),
        "{text}"
    );
    assert!(
        text.contains("hosted: ") && text.contains("no choices"),
        "{text}"
    );
}

#[tokio::test]
async fn an_error_answer_is_reported_with_the_servers_message() {
    let peer = Peer::start(vec![Reply::Json(401, error("invalid api key"))]).await;
    let mut local = endpoint("local", &peer.url, AnswerMode::JsonSchema);
    local.api_key = Some(Secret::new("sk-wrong-key-456".to_owned()));
    let model = client(vec![local]);
    let error = model.complete(&prompt()).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("HTTP 401 Unauthorized: invalid api key"),
        "{text}"
    );
    assert!(!text.contains("sk-wrong-key-456"), "{text}");
    assert!(!format!("{model:?}").contains("sk-wrong-key-456"));
    assert!(format!("{model:?}").contains("key: set"));
}

#[test]
fn unusable_endpoints_are_refused_at_start() {
    let build = |url: &str, key: bool| {
        let mut config = endpoint("hosted", url, AnswerMode::JsonSchema);
        if key {
            config.api_key = Some(Secret::new("sk-x".to_owned()));
        }
        ChatModel::new(LlmConfig {
            endpoints: vec![config],
            retry_pause: Duration::from_millis(10),
        })
    };
    assert!(build("ftp://models.example/v1", false).is_err());
    assert!(build("https://user:pw@models.example/v1", false).is_err());
    let clear = build("http://models.example/v1", true)
        .unwrap_err()
        .to_string();
    assert!(clear.contains("api key in clear"), "{clear}");
    assert!(build("http://127.0.0.1:8080/v1", true).is_ok());
    assert!(build("https://models.example/v1", true).is_ok());
    assert!(
        ChatModel::new(LlmConfig {
            endpoints: vec![],
            retry_pause: Duration::ZERO
        })
        .is_err()
    );
}
