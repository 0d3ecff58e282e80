//! Users: creation rights, uniqueness, visibility, lockout counters.

use chrono::Duration;
use osiris_core::UserId;

use crate::testkit::world::{World, password, username};
use crate::testkit::{assert_conflict, assert_not_found, at};
use crate::{
    Error, LockoutPolicy, Membership, NewUser, Role, Store, TenantScope, Username, constraint,
};

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);

    let admin = store
        .create_user(
            &world.platform,
            &NewUser {
                id: UserId::random(),
                username: username("Admin"),
                membership: Membership::Admin,
                password_hash: password("admin"),
            },
            at(200),
        )
        .await
        .unwrap();
    assert_eq!(
        admin.username.as_str(),
        "admin",
        "usernames are kept lowercased"
    );
    assert_eq!(admin.membership.role(), Role::Admin);
    assert_eq!(admin.failed_logins, 0);
    assert_eq!(admin.locked_until, None);
    assert!(TenantScope::for_user(&admin).is_platform());
    assert_conflict(
        store
            .create_user(
                &world.platform,
                &NewUser {
                    id: UserId::random(),
                    username: username("ADMIN"),
                    membership: Membership::Operator,
                    password_hash: password("x"),
                },
                at(200),
            )
            .await,
        constraint::USERNAME,
        "a username differing only in case",
    );
    match store
        .create_user(
            &a.partner_scope,
            &NewUser {
                id: UserId::random(),
                username: username("sneaky"),
                membership: Membership::Admin,
                password_hash: password("x"),
            },
            at(200),
        )
        .await
    {
        Err(Error::OutOfScope { .. }) => {}
        other => panic!("a partner creating an admin: expected OutOfScope, got {other:?}"),
    }
    assert_not_found(
        store
            .create_user(
                &a.partner_scope,
                &NewUser {
                    id: UserId::random(),
                    username: username("planted"),
                    membership: Membership::Client(b.client.id),
                    password_hash: password("x"),
                },
                at(200),
            )
            .await,
        "client",
        "a partner creating a user for another partner's client",
    );
    assert_not_found(
        store
            .create_user(
                &a.partner_scope,
                &NewUser {
                    id: UserId::random(),
                    username: username("planted"),
                    membership: Membership::Partner(b.partner.id),
                    password_hash: password("x"),
                },
                at(200),
            )
            .await,
        "partner",
        "a partner creating a user for another partner",
    );

    let names = |users: Vec<crate::User>| {
        users
            .into_iter()
            .map(|u| u.username.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.list_users(&a.partner_scope).await.unwrap()),
        ["alpha-manager", "alpha-tech"]
    );
    assert_eq!(
        names(store.list_users(&b.client_scope).await.unwrap()),
        ["bravo-manager"]
    );
    assert!(
        store
            .list_users(&a.appliance_scope)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_users(&world.platform).await.unwrap().len(), 6);
    assert_eq!(
        store
            .get_user(&a.partner_scope, a.client_user.id)
            .await
            .unwrap(),
        a.client_user
    );
    for (scope, user) in [
        (&a.partner_scope, b.partner_user.id),
        (&a.partner_scope, admin.id),
        (&a.client_scope, a.partner_user.id),
    ] {
        assert_not_found(
            store.get_user(scope, user).await,
            "user",
            "reading a user out of scope",
        );
    }

    let found = store
        .user_by_username(&username("ALPHA-TECH"))
        .await
        .unwrap();
    assert_eq!(found, a.partner_user);
    assert_not_found(
        store
            .user_by_username(&Username::parse("nobody").unwrap())
            .await,
        "user",
        "logging in as nobody",
    );

    lockout(store, world).await;
}

async fn lockout(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let policy = LockoutPolicy {
        max_failures: 5,
        lock_for: Duration::minutes(15),
    };
    let user = a.client_user.id;
    for attempt in 1..=4 {
        let throttle = store
            .record_failed_login(user, policy, at(300))
            .await
            .unwrap();
        assert_eq!(throttle.failed_logins, attempt);
        assert_eq!(
            throttle.locked_until, None,
            "attempt {attempt} does not lock"
        );
    }
    store.record_successful_login(user, at(301)).await.unwrap();
    let reset = store.get_user(&world.platform, user).await.unwrap();
    assert_eq!(reset.failed_logins, 0, "a success clears the count");
    assert_eq!(reset.last_login_at, Some(at(301)));

    for _ in 1..=4 {
        store
            .record_failed_login(user, policy, at(302))
            .await
            .unwrap();
    }
    let locked = store
        .record_failed_login(user, policy, at(303))
        .await
        .unwrap();
    assert_eq!(
        locked.locked_until,
        Some(at(318)),
        "the fifth failure locks for 15 minutes"
    );
    assert_eq!(locked.failed_logins, 0, "the count restarts with the lock");
    let stored = store
        .user_by_username(&a.client_user.username)
        .await
        .unwrap();
    assert!(stored.is_locked(at(317)));
    assert!(!stored.is_locked(at(318)));
    let during = store
        .record_failed_login(user, policy, at(304))
        .await
        .unwrap();
    assert_eq!(
        during.locked_until,
        Some(at(318)),
        "failures during a lock keep it"
    );

    assert_not_found(
        store
            .set_password(&b.partner_scope, user, &password("new"))
            .await,
        "user",
        "another partner resetting a password",
    );
    store
        .set_password(&a.partner_scope, user, &password("new"))
        .await
        .unwrap();
    let after = store.get_user(&a.partner_scope, user).await.unwrap();
    assert_eq!(after.password_hash, password("new"));
    assert_eq!(after.locked_until, None, "a password reset clears the lock");
    assert_eq!(after.failed_logins, 0);
    assert_not_found(
        store
            .record_failed_login(UserId::random(), policy, at(305))
            .await,
        "user",
        "counting a failure for nobody",
    );
}
