//! Logins, lockout, sessions, tokens and CSRF.

use chrono::Duration;
use reqwest::{Method, StatusCode, header};
use serde_json::json;

use crate::support::{TestServer, config_for, http_client};

#[tokio::test]
async fn first_start_creates_the_admin_once_and_there_is_no_default_password() {
    let server = TestServer::start().await;
    assert!(server.admin_password.len() >= 20);
    let (status, _) = server
        .anonymous()
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let config = config_for(server.dir.path(), &[]);
    let again = osiris_server::start(&config, std::sync::Arc::new(server.clock.clone()), async {})
        .await
        .unwrap();
    assert!(
        again.first_admin_password.is_none(),
        "the password is shown only on first start"
    );
}

#[tokio::test]
async fn login_returns_a_bearer_token_and_a_secure_session_cookie() {
    let server = TestServer::start().await;
    let response = server
        .anonymous()
        .request(Method::POST, "/api/auth/login")
        .json(&json!({"username": "ADMIN", "password": server.admin_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let body: serde_json::Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert!(cookie.starts_with(&format!("osiris_session={token};")));
    assert_eq!(body["user"]["role"], "admin");
    let mut api = server.anonymous();
    api.token = Some(token.to_owned());
    let (status, me) = api.get("/api/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "admin");
}

#[tokio::test]
async fn five_failed_logins_lock_the_account_for_fifteen_minutes() {
    let server = TestServer::start().await;
    let anonymous = server.anonymous();
    let wrong = json!({"username": "admin", "password": "not the password"});
    for attempt in 1..=4 {
        let (status, body) = anonymous.post("/api/auth/login", wrong.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {body}"
        );
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }
    let (status, body) = anonymous.post("/api/auth/login", wrong.clone()).await;
    assert_eq!(status, StatusCode::LOCKED, "{body}");
    let right = json!({"username": "admin", "password": server.admin_password});
    let (status, body) = anonymous.post("/api/auth/login", right.clone()).await;
    assert_eq!(
        status,
        StatusCode::LOCKED,
        "the right password is refused while locked: {body}"
    );
    server.clock.advance(Duration::minutes(14));
    assert_eq!(
        anonymous.post("/api/auth/login", right.clone()).await.0,
        StatusCode::LOCKED
    );
    server.clock.advance(Duration::minutes(2));
    let (status, body) = anonymous.post("/api/auth/login", right).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn unknown_users_get_the_same_answer_as_wrong_passwords() {
    let server = TestServer::start().await;
    let (status, body) = server
        .anonymous()
        .post(
            "/api/auth/login",
            json!({"username": "nobody", "password": "whatever it is"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "invalid_credentials");
    let (status, _) = server
        .anonymous()
        .post(
            "/api/auth/login",
            json!({"username": "Not A Name!", "password": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_idle_session_expires_and_an_active_one_slides() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server.clock.advance(Duration::minutes(25));
    assert_eq!(admin.get("/api/auth/me").await.0, StatusCode::OK);
    server.clock.advance(Duration::minutes(25));
    assert_eq!(
        admin.get("/api/auth/me").await.0,
        StatusCode::OK,
        "use extended the session"
    );
    server.clock.advance(Duration::minutes(31));
    let (status, body) = admin.get("/api/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    assert_eq!(
        admin.send(Method::POST, "/api/auth/logout", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(admin.get("/api/auth/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_tokens_work_until_revoked_or_expired() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (status, created) = admin
        .post(
            "/api/auth/tokens",
            json!({"name": "backup script", "expires_in_days": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mut script = server.anonymous();
    script.token = Some(created["token"].as_str().unwrap().to_owned());
    assert!(script.token.as_deref().unwrap().starts_with("osk_"));
    assert_eq!(script.get("/api/sites").await.0, StatusCode::OK);
    let (_, listed) = admin.get("/api/auth/tokens").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        listed[0].get("token").is_none(),
        "the secret is never listed"
    );

    let id = created["id"].as_str().unwrap();
    let (status, revoked) = admin
        .send(Method::DELETE, &format!("/api/auth/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(script.get("/api/sites").await.0, StatusCode::UNAUTHORIZED);

    let (_, second) = admin
        .post(
            "/api/auth/tokens",
            json!({"name": "short", "expires_in_days": 1}),
        )
        .await;
    script.token = Some(second["token"].as_str().unwrap().to_owned());
    server
        .clock
        .advance(Duration::days(1) + Duration::seconds(1));
    assert_eq!(script.get("/api/sites").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cookie_authenticated_writes_need_the_csrf_token() {
    let server = TestServer::start().await;
    let (_, login) = server
        .anonymous()
        .post(
            "/api/auth/login",
            json!({"username": "admin", "password": server.admin_password}),
        )
        .await;
    let cookie = format!("osiris_session={}", login["token"].as_str().unwrap());
    let http = http_client(None);
    let url = format!("{}/api/partners", server.base);
    let read = http
        .get(&url)
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK, "reads need no CSRF token");
    let forged = http
        .post(&url)
        .header(header::COOKIE, &cookie)
        .json(&json!({"name": "Forged IT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf_failed");
    let wrong = http
        .post(&url)
        .header(header::COOKIE, &cookie)
        .header("X-CSRF-Token", "guess")
        .json(&json!({"name": "Forged IT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let genuine = http
        .post(&url)
        .header(header::COOKIE, &cookie)
        .header("X-CSRF-Token", login["csrf_token"].as_str().unwrap())
        .json(&json!({"name": "Genuine IT"}))
        .send()
        .await
        .unwrap();
    assert_eq!(genuine.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_password_change_ends_the_users_sessions() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let (_, me) = admin.get("/api/auth/me").await;
    let id = me["id"].as_str().unwrap();
    let (status, body) = admin
        .put(
            &format!("/api/users/{id}/password"),
            json!({"password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "password");
    let (status, _) = admin
        .put(
            &format!("/api/users/{id}/password"),
            json!({"password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(admin.get("/api/auth/me").await.0, StatusCode::UNAUTHORIZED);
    server.login("admin", "a brand new passphrase").await;
}
