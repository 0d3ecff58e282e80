//! Target credentials: stored sealed, listed as metadata, re-sealed for
//! key rotation, deleted; never across tenants.

use osiris_core::{CredentialId, HostId, SEALED_NONCE_LEN, SealedCredential};

use crate::testkit::world::World;
use crate::testkit::{assert_illegal, assert_not_found, at};
use crate::{CredentialKind, NewCredential, NewHost, Platform, Store, StoredCredential};

/// A stand-in for the vault's output: the store never opens it.
fn sealed(key_version: u32, fill: u8) -> SealedCredential {
    SealedCredential {
        key_version,
        nonce: [fill; SEALED_NONCE_LEN],
        ciphertext: vec![fill; 40],
    }
}

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let dc01 = store
        .list_hosts(&a.partner_scope, a.site.id)
        .await
        .unwrap()
        .into_iter()
        .find(|host| host.hostname == "dc01")
        .expect("the appliances story added dc01");
    let b_host = store
        .create_host(
            &b.partner_scope,
            &NewHost {
                id: HostId::random(),
                site_id: b.site.id,
                hostname: "bravo-dc".to_owned(),
                platform: Platform::Windows,
                address: "10.1.0.10".to_owned(),
            },
            at(60),
        )
        .await
        .unwrap();

    let domain_admin = NewCredential {
        id: CredentialId::random(),
        site_id: a.site.id,
        host_id: Some(dc01.id),
        kind: CredentialKind::WinrmPassword,
        username: "ALPHA\\osiris".to_owned(),
        sealed: sealed(1, 1),
    };
    let created = store
        .create_credential(&a.partner_scope, &domain_admin, at(61))
        .await
        .unwrap();
    assert_eq!(created.id, domain_admin.id);
    assert_eq!(created.host_id, Some(dc01.id));
    assert_eq!(created.kind, CredentialKind::WinrmPassword);
    assert_eq!(created.key_version, 1);
    assert_eq!((created.created_at, created.rotated_at), (at(61), None));
    let site_wide = NewCredential {
        id: CredentialId::random(),
        host_id: None,
        kind: CredentialKind::SshKey,
        username: "deploy".to_owned(),
        sealed: sealed(1, 2),
        ..domain_admin.clone()
    };
    store
        .create_credential(&a.client_scope, &site_wide, at(62))
        .await
        .unwrap();
    let bravo = NewCredential {
        id: CredentialId::random(),
        site_id: b.site.id,
        host_id: Some(b_host.id),
        kind: CredentialKind::SshPassword,
        username: "root".to_owned(),
        sealed: sealed(1, 3),
    };
    store
        .create_credential(&b.partner_scope, &bravo, at(62))
        .await
        .unwrap();

    assert_not_found(
        store
            .create_credential(
                &b.partner_scope,
                &NewCredential {
                    id: CredentialId::random(),
                    ..domain_admin.clone()
                },
                at(63),
            )
            .await,
        "site",
        "a partner storing a credential at another partner's site",
    );
    assert_not_found(
        store
            .create_credential(
                &a.partner_scope,
                &NewCredential {
                    id: CredentialId::random(),
                    host_id: Some(b_host.id),
                    ..domain_admin.clone()
                },
                at(63),
            )
            .await,
        "host",
        "a credential at one's own site for another tenant's host",
    );

    let listed = store
        .list_credentials(&a.client_scope, a.site.id)
        .await
        .unwrap();
    let names: Vec<&str> = listed.iter().map(|c| c.username.as_str()).collect();
    assert_eq!(names, ["ALPHA\\osiris", "deploy"], "by username");
    assert_eq!(listed[0], created);
    assert_not_found(
        store.list_credentials(&b.client_scope, a.site.id).await,
        "site",
        "another client listing a site's credentials",
    );

    let stored = store
        .sealed_credential(&a.appliance_scope, domain_admin.id)
        .await
        .unwrap();
    assert_eq!(
        stored,
        StoredCredential {
            credential: created.clone(),
            sealed: domain_admin.sealed.clone(),
        },
        "the sealed form comes back byte for byte"
    );
    assert_not_found(
        store
            .sealed_credential(&b.appliance_scope, domain_admin.id)
            .await,
        "credential",
        "another site's appliance reading a credential",
    );

    rotation(store, world, &domain_admin, &site_wide, &bravo).await;

    assert_not_found(
        store
            .delete_credential(&b.partner_scope, domain_admin.id)
            .await,
        "credential",
        "another partner deleting a credential",
    );
    store
        .delete_credential(&a.partner_scope, domain_admin.id)
        .await
        .unwrap();
    assert_not_found(
        store
            .sealed_credential(&world.platform, domain_admin.id)
            .await,
        "credential",
        "a deleted credential",
    );
    assert_not_found(
        store
            .delete_credential(&a.partner_scope, domain_admin.id)
            .await,
        "credential",
        "deleting a credential twice",
    );
    let left = store
        .list_credentials(&a.partner_scope, a.site.id)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
}

/// Walks the stale credentials page by page and re-seals them, as the key
/// rotation command does.
async fn rotation(
    store: &dyn Store,
    world: &World,
    domain_admin: &NewCredential,
    site_wide: &NewCredential,
    bravo: &NewCredential,
) {
    let (a, b) = (&world.a, &world.b);
    let mut all = vec![domain_admin.id, site_wide.id, bravo.id];
    all.sort();
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .stale_credentials(&world.platform, 2, after, 2)
            .await
            .unwrap();
        assert!(page.len() <= 2, "a page holds at most the limit");
        let Some(last) = page.last() else { break };
        after = Some(last.credential.id);
        paged.extend(page.iter().map(|c| c.credential.id));
    }
    assert_eq!(paged, all, "pages walk every stale credential by id");
    let theirs = store
        .stale_credentials(&a.partner_scope, 2, None, 100)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 2, "a partner's walk stays within its sites");
    assert!(
        store
            .stale_credentials(&a.partner_scope, 1, None, 100)
            .await
            .unwrap()
            .is_empty(),
        "nothing is stale under the version everything is sealed with"
    );

    let resealed = sealed(2, 9);
    assert_illegal(
        store
            .reseal_credential(
                &a.partner_scope,
                domain_admin.id,
                &[0xee; SEALED_NONCE_LEN],
                &resealed,
                at(70),
            )
            .await,
        "re-sealed",
        "re-sealing a credential that changed since it was read",
    );
    assert_not_found(
        store
            .reseal_credential(
                &b.partner_scope,
                domain_admin.id,
                &domain_admin.sealed.nonce,
                &resealed,
                at(70),
            )
            .await,
        "credential",
        "another partner re-sealing a credential",
    );
    let rotated = store
        .reseal_credential(
            &world.platform,
            domain_admin.id,
            &domain_admin.sealed.nonce,
            &resealed,
            at(70),
        )
        .await
        .unwrap();
    assert_eq!(rotated.key_version, 2);
    assert_eq!(rotated.rotated_at, Some(at(70)));
    assert_eq!(rotated.created_at, at(61));
    let stored = store
        .sealed_credential(&a.partner_scope, domain_admin.id)
        .await
        .unwrap();
    assert_eq!(stored.sealed, resealed);
    let stale: Vec<CredentialId> = store
        .stale_credentials(&world.platform, 2, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.credential.id)
        .collect();
    assert!(!stale.contains(&domain_admin.id), "re-sealed is not stale");
    assert_eq!(stale.len(), 2);
}
