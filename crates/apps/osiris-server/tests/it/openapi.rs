//! The OpenAPI document is generated from the code, served, and committed.

use std::path::PathBuf;

use reqwest::StatusCode;

use crate::support::TestServer;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

#[test]
fn the_committed_openapi_document_is_current() {
    let generated = osiris_server::api::openapi_json();
    let path = committed_path();
    if std::env::var_os("OSIRIS_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `OSIRIS_UPDATE_OPENAPI=1 cargo test -p osiris-server` and commit it",
        path.display()
    );
}

#[tokio::test]
async fn the_server_serves_its_openapi_document() {
    let server = TestServer::start().await;
    let (status, document) = server.anonymous().get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/health",
        "/api/auth/login",
        "/api/sites",
        "/api/sites/{site_id}",
        "/api/appliances/checkin",
        "/api/appliances/claim",
        "/api/orders",
        "/api/evidence/{bundle_id}/raw",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} missing");
    }
}

#[tokio::test]
async fn health_reports_the_database_and_metrics_count_requests() {
    let server = TestServer::start().await;
    let (status, health) = server.anonymous().get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");
    assert_eq!(health["evidence"], "ok");
    let metrics = server
        .anonymous()
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("osiris_http_requests_total"), "{metrics}");
}

/// schemathesis, an independent client, generates requests from the
/// served document: no 5xx, and every answer matches the document.
#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_undocumented_answer() {
    let python = std::env::var("OSIRIS_TEST_PYTHON").expect(
        "OSIRIS_TEST_PYTHON must name the venv with schemathesis (cargo xtask ci sets it); this test never skips",
    );
    let schemathesis = PathBuf::from(&python).with_file_name("schemathesis");
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let output = tokio::process::Command::new(&schemathesis)
        .current_dir(server.dir.path())
        .args([
            "run",
            &format!("{}/openapi.json", server.base),
            "--header",
            &format!("Authorization: Bearer {}", admin.token.clone().unwrap()),
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples",
            "25",
            "--generation-deterministic",
            // Ending the session or changing the password would log the
            // fuzzer itself out halfway.
            "--exclude-path",
            "/api/auth/logout",
            "--exclude-path-regex",
            "/password$",
        ])
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", schemathesis.display()));
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("generated"), "{report}");
}
