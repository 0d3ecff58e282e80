//! Bad input gets a 4xx in the one JSON error shape, naming the field.

use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::support::{TestServer, settings};

#[tokio::test]
async fn malformed_bodies_name_the_field_and_never_500() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let cases = [
        (
            json!({"name": "x", "extra": 1}),
            "extra",
            StatusCode::BAD_REQUEST,
        ),
        (json!({}), "name", StatusCode::BAD_REQUEST),
        (json!({"name": 7}), "name", StatusCode::BAD_REQUEST),
        (
            json!({"name": ""}),
            "name",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, field, expected) in cases {
        let (status, error) = admin.post("/api/partners", body.clone()).await;
        assert_eq!(status, expected, "{body}: {error}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
        assert!(error["error"]["code"].is_string());
        assert!(error["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn nested_fields_are_named_with_their_path() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let partner = admin.create("/api/partners", json!({"name": "P"})).await;
    let client = admin
        .create("/api/clients", json!({"partner_id": partner, "name": "C"}))
        .await;
    let mut bad = settings();
    bad["maintenance_window"]["time_zone"] = json!("Mars/Olympus");
    let (status, error) = admin
        .post(
            "/api/sites",
            json!({"client_id": client, "name": "S", "settings": bad}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(
        error["error"]["field"],
        "settings.maintenance_window.time_zone"
    );
    let mut bad = settings();
    bad["maintenance_window"]["duration_minutes"] = json!("long");
    let (status, error) = admin
        .post(
            "/api/sites",
            json!({"client_id": client, "name": "S", "settings": bad}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        error["error"]["field"],
        "settings.maintenance_window.duration_minutes"
    );
}

#[tokio::test]
async fn syntax_errors_media_types_and_sizes_are_client_errors() {
    let server = TestServer::start_with(&[("OSIRIS_BODY_LIMIT_BYTES", "4096")]).await;
    let admin = server.admin().await;
    let send = |body: Vec<u8>, content_type: &'static str| {
        admin
            .request(Method::POST, "/api/partners")
            .header(header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
    };
    let response = send(b"{\"name\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = send(b"{\"name\": \"x\"} trailing".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = send(b"name=x".to_vec(), "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(10_000));
    let response = send(huge.into_bytes(), "application/json").await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");
    let response = send(vec![0xff, 0xfe, 0x00], "application/json")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_path_parameters_and_unknown_routes_answer_in_json() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (status, error) = admin.get("/api/sites/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["field"], "site_id");
    let (status, error) = admin.get("/api/nothing/here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"]["code"], "not_found");
    let (status, error) = server.anonymous().get("/api/sites").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"]["code"], "unauthorized");
}
