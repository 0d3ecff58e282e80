//! Target credentials are sealed at rest and never come back in plaintext.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestServer, tenant, user};

#[tokio::test]
async fn credentials_are_sealed_at_rest_and_never_returned() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let secret = "Winter2026!-domain-admin";
    let (status, stored) = admin
        .post(
            &format!("/api/sites/{}/credentials", acme.site),
            json!({"kind": "winrm_password", "username": "NVC\\osiris-svc", "secret": secret}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert!(!stored.to_string().contains(secret));
    assert_eq!(stored["key_version"], 1);
    let (_, listed) = admin
        .get(&format!("/api/sites/{}/credentials", acme.site))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(secret));

    // The database file holds only ciphertext; the key lives beside it in
    // its own 0600 file, never in the database.
    let database = std::fs::read(server.dir.path().join("osiris.db")).unwrap();
    let wal = std::fs::read(server.dir.path().join("osiris.db-wal")).unwrap_or_default();
    for bytes in [&database, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
    let key = server.dir.path().join("vault.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let id = stored["id"].as_str().unwrap();
    assert_eq!(
        admin
            .send(Method::DELETE, &format!("/api/credentials/{id}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, listed) = admin
        .get(&format!("/api/sites/{}/credentials", acme.site))
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn another_tenants_site_cannot_receive_or_list_credentials() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let partner = user(
        &server,
        &admin,
        "acme-ops",
        "partner",
        json!({"partner_id": acme.partner}),
    )
    .await;
    let body = json!({"kind": "ssh_password", "username": "root", "secret": "x"});
    let (status, _) = partner
        .post(
            &format!("/api/sites/{}/credentials", other.site),
            body.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = partner
        .get(&format!("/api/sites/{}/credentials", other.site))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = partner
        .post(
            &format!("/api/sites/{}/credentials", acme.site),
            json!({"kind": "telnet", "username": "root", "secret": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["field"], "kind");
    let client = user(
        &server,
        &admin,
        "manager",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;
    let (status, _) = client
        .post(&format!("/api/sites/{}/credentials", acme.site), body)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
