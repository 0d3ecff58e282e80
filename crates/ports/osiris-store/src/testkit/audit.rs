//! The audit log: append order, paging, visibility.

use crate::testkit::at;
use crate::testkit::world::World;
use crate::{AuditEntry, NewAuditEntry, Store};

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let mut appended: Vec<AuditEntry> = Vec::new();
    for (minute, partner, action) in [
        (500, None, "user.create"),
        (501, Some(a.partner.id), "site.update"),
        (502, Some(b.partner.id), "site.update"),
        (503, Some(a.partner.id), "order.create"),
    ] {
        let entry = store
            .append_audit(
                &NewAuditEntry {
                    actor: Some(a.partner_user.id),
                    partner_id: partner,
                    action: action.to_owned(),
                    target: a.site.id.to_string(),
                    detail: serde_json::json!({"minute": minute}),
                },
                at(minute),
            )
            .await
            .unwrap();
        assert_eq!(entry.at, at(minute));
        assert_eq!(entry.action, action);
        appended.push(entry);
    }
    assert!(
        appended.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq increases"
    );

    let all = store.list_audit(&world.platform, 0, 100).await.unwrap();
    assert_eq!(all, appended);
    let page = store
        .list_audit(&world.platform, appended[0].seq, 2)
        .await
        .unwrap();
    assert_eq!(page, appended[1..3]);
    let own = store.list_audit(&a.partner_scope, 0, 100).await.unwrap();
    assert_eq!(own, [appended[1].clone(), appended[3].clone()]);
    assert!(
        store
            .list_audit(&a.client_scope, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_audit(&b.appliance_scope, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
}
