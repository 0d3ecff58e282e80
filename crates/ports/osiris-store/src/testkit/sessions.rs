//! Sessions and API tokens: lookup by hash, expiry, revocation, visibility.

use osiris_core::{Secret, TokenId};

use crate::testkit::world::World;
use crate::testkit::{assert_conflict, assert_not_found, at};
use crate::{NewSession, NewToken, Store, TokenHash, constraint};

fn hash(label: &str) -> TokenHash {
    TokenHash::of(&Secret::new(label.to_owned()))
}

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);

    let session = NewSession {
        hash: hash("cookie-1"),
        user_id: a.partner_user.id,
        expires_at: at(430),
    };
    let created = store.create_session(&session, at(400)).await.unwrap();
    assert_eq!(created.created_at, at(400));
    assert_conflict(
        store.create_session(&session, at(400)).await,
        constraint::SESSION,
        "two sessions with one hash",
    );
    let (live, user) = store.session_user(&session.hash, at(429)).await.unwrap();
    assert_eq!(live, created);
    assert_eq!(user.id, a.partner_user.id);
    assert_not_found(
        store.session_user(&session.hash, at(430)).await,
        "session",
        "a session at its expiry instant",
    );
    let extended = store
        .extend_session(&session.hash, at(460), at(429))
        .await
        .unwrap();
    assert_eq!(extended.expires_at, at(460));
    assert!(store.session_user(&session.hash, at(459)).await.is_ok());
    assert_not_found(
        store.extend_session(&session.hash, at(999), at(460)).await,
        "session",
        "extending an expired session",
    );
    store.end_session(&session.hash).await.unwrap();
    store.end_session(&session.hash).await.unwrap();
    assert_not_found(
        store.session_user(&session.hash, at(431)).await,
        "session",
        "a session after logout",
    );

    for label in ["cookie-2", "cookie-3"] {
        store
            .create_session(
                &NewSession {
                    hash: hash(label),
                    user_id: a.client_user.id,
                    expires_at: at(500),
                },
                at(400),
            )
            .await
            .unwrap();
    }
    assert_not_found(
        store
            .end_user_sessions(&b.partner_scope, a.client_user.id)
            .await,
        "user",
        "another partner ending a user's sessions",
    );
    assert!(store.session_user(&hash("cookie-2"), at(401)).await.is_ok());
    assert_eq!(
        store
            .end_user_sessions(&a.partner_scope, a.client_user.id)
            .await
            .unwrap(),
        2
    );
    assert!(
        store
            .session_user(&hash("cookie-3"), at(401))
            .await
            .is_err()
    );

    tokens(store, world).await;
}

async fn tokens(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let script = NewToken {
        id: TokenId::random(),
        user_id: a.partner_user.id,
        name: "backup script".to_owned(),
        hash: hash("token-1"),
        expires_at: None,
    };
    let token = store
        .create_token(&a.partner_scope, &script, at(410))
        .await
        .unwrap();
    assert_eq!(token.name, "backup script");
    assert_eq!(token.revoked_at, None);
    assert_conflict(
        store
            .create_token(
                &a.partner_scope,
                &NewToken {
                    id: TokenId::random(),
                    ..script.clone()
                },
                at(410),
            )
            .await,
        constraint::TOKEN_HASH,
        "two tokens with one hash",
    );
    assert_not_found(
        store
            .create_token(
                &a.partner_scope,
                &NewToken {
                    id: TokenId::random(),
                    user_id: b.partner_user.id,
                    hash: hash("token-planted"),
                    ..script.clone()
                },
                at(410),
            )
            .await,
        "user",
        "a partner minting a token for another partner's user",
    );
    let (found, user) = store.token_user(&script.hash, at(411)).await.unwrap();
    assert_eq!(found, token);
    assert_eq!(user.id, a.partner_user.id);

    let short = NewToken {
        id: TokenId::random(),
        name: "one hour".to_owned(),
        hash: hash("token-2"),
        expires_at: Some(at(470)),
        ..script.clone()
    };
    store
        .create_token(&a.partner_scope, &short, at(420))
        .await
        .unwrap();
    assert!(store.token_user(&short.hash, at(469)).await.is_ok());
    assert_not_found(
        store.token_user(&short.hash, at(470)).await,
        "token",
        "a token at its expiry instant",
    );
    let listed = store
        .list_tokens(&a.partner_scope, a.partner_user.id)
        .await
        .unwrap();
    let ids: Vec<TokenId> = listed.iter().map(|t| t.id).collect();
    assert_eq!(ids, [short.id, script.id], "newest first");
    assert_not_found(
        store.list_tokens(&b.partner_scope, a.partner_user.id).await,
        "user",
        "another partner listing a user's tokens",
    );

    assert_not_found(
        store
            .revoke_token(&b.partner_scope, script.id, at(430))
            .await,
        "token",
        "another partner revoking a token",
    );
    assert!(store.token_user(&script.hash, at(431)).await.is_ok());
    let revoked = store
        .revoke_token(&a.partner_scope, script.id, at(432))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(432)));
    assert_not_found(
        store.token_user(&script.hash, at(433)).await,
        "token",
        "a revoked token",
    );
    let again = store
        .revoke_token(&world.platform, script.id, at(440))
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at(432)),
        "revoking again keeps the first time"
    );
    assert_not_found(
        store
            .revoke_token(&world.platform, TokenId::random(), at(440))
            .await,
        "token",
        "revoking an unknown token",
    );
}
