//! The learning loop: samples recorded once per bundle and grouped into
//! patterns per partner; promotions in force until demoted, one per
//! pattern; every read scoped to the partner.

use crate::testkit::world::World;
use crate::testkit::{assert_conflict, assert_illegal, assert_not_found, at};
use crate::{
    LearningTier, NewLearningSample, NewPromotion, NewShadowComparison, Platform, PromotionState,
    ShadowFigures, Store, constraint,
};

fn sample(
    tenant: &crate::testkit::world::Tenant,
    seq: u64,
    key: &str,
    tier: LearningTier,
    success: bool,
    minute: i64,
) -> NewLearningSample {
    NewLearningSample {
        site_id: tenant.site.id,
        appliance_id: tenant.appliance.id,
        seq,
        check_id: "win.av.defender".to_owned(),
        platform: Platform::Windows,
        pattern_key: key.to_owned(),
        runbook_id: "RB-WIN-AV-001".to_owned(),
        tier,
        rule_id: (tier == LearningTier::L1).then(|| "L1-LRN-AAAAAAAAAAAA".to_owned()),
        success,
        at: at(minute),
    }
}

pub(super) async fn story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    // Tenant a: pattern p1 four of five verified, pattern p2 once; tenant b: p1 twice.
    for (seq, success) in (9001..).zip([true, true, false, true, true]) {
        let new = sample(a, seq, "p1", LearningTier::L2, success, 600);
        assert!(
            store
                .record_learning_sample(&a.appliance_scope, &new)
                .await
                .unwrap()
        );
    }
    let again = sample(a, 9001, "p1", LearningTier::L2, true, 600);
    assert!(
        !store
            .record_learning_sample(&a.appliance_scope, &again)
            .await
            .unwrap(),
        "a bundle's sample is recorded once"
    );
    let p2 = sample(a, 9010, "p2", LearningTier::L2, true, 610);
    assert!(
        store
            .record_learning_sample(&a.appliance_scope, &p2)
            .await
            .unwrap()
    );
    for seq in [9001, 9002] {
        let new = sample(b, seq, "p1", LearningTier::L2, true, 620);
        assert!(
            store
                .record_learning_sample(&b.appliance_scope, &new)
                .await
                .unwrap()
        );
    }
    let foreign = sample(b, 9003, "p1", LearningTier::L2, true, 620);
    assert_not_found(
        store
            .record_learning_sample(&a.appliance_scope, &foreign)
            .await,
        "site",
        "a sample for another tenant's site",
    );

    let mine = store.learning_patterns(&a.partner_scope).await.unwrap();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let p1 = mine.iter().find(|p| p.pattern_key == "p1").unwrap();
    assert_eq!(
        (p1.partner_id, p1.samples, p1.successes, p1.sites),
        (a.partner.id, 5, 4, 1)
    );
    assert_eq!(p1.last_at, at(600));
    assert_eq!(
        store
            .learning_patterns(&world.platform)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        store
            .learning_patterns(&a.client_scope)
            .await
            .unwrap()
            .is_empty()
    );

    // Promotion: one in force per partner and pattern.
    let new = NewPromotion {
        partner_id: a.partner.id,
        pattern_key: "p1".to_owned(),
        rule_id: "L1-LRN-AAAAAAAAAAAA".to_owned(),
        rule: serde_json::json!({"id": "L1-LRN-AAAAAAAAAAAA"}),
        samples: 5,
        successes: 4,
        approved_by: Some(a.partner_user.id),
        shadow_samples: 0,
    };
    let promoted = store
        .promote(&a.partner_scope, &new, at(630))
        .await
        .unwrap();
    assert_eq!(promoted.state, PromotionState::Active);
    assert_eq!(promoted.promoted_at, at(630));
    assert_eq!(promoted.rule, new.rule);
    assert_eq!(promoted.approved_by, Some(a.partner_user.id));
    assert_eq!(
        promoted.live_at,
        Some(at(630)),
        "without shadow mode it acts at once"
    );
    assert!(!promoted.in_shadow());
    assert_conflict(
        store.promote(&world.platform, &new, at(631)).await,
        constraint::PROMOTION_ACTIVE,
        "a second promotion of a pattern in force",
    );
    assert_not_found(
        store.promote(&b.partner_scope, &new, at(631)).await,
        "partner",
        "promoting into another partner's fleet",
    );
    let theirs = NewPromotion {
        partner_id: b.partner.id,
        ..new.clone()
    };
    let other = store
        .promote(&world.platform, &theirs, at(632))
        .await
        .unwrap();

    assert_eq!(
        store.list_promotions(&a.partner_scope).await.unwrap(),
        std::slice::from_ref(&promoted)
    );
    assert_eq!(
        store.list_promotions(&world.platform).await.unwrap().len(),
        2
    );
    assert!(
        store
            .list_promotions(&a.client_scope)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .site_promotions(&a.appliance_scope, a.site.id)
            .await
            .unwrap(),
        std::slice::from_ref(&promoted),
        "the appliance's site gets its partner's promotions only"
    );
    assert_not_found(
        store.site_promotions(&a.appliance_scope, b.site.id).await,
        "site",
        "another tenant's site's promotions",
    );

    // Demotion figures: L1 runs of the rule within the window.
    for (seq, (success, minute)) in (9020..).zip([(true, 640), (false, 641), (false, 700)]) {
        let new = sample(a, seq, "p1", LearningTier::L1, success, minute);
        assert!(
            store
                .record_learning_sample(&a.appliance_scope, &new)
                .await
                .unwrap()
        );
    }
    let figures = |since| {
        store.promoted_rule_figures(
            &world.platform,
            a.partner.id,
            "L1-LRN-AAAAAAAAAAAA",
            at(since),
        )
    };
    assert_eq!(figures(600).await.unwrap(), (3, 1));
    assert_eq!(
        figures(641).await.unwrap(),
        (2, 0),
        "runs before the window do not count"
    );
    assert_eq!(
        store
            .promoted_rule_figures(&b.partner_scope, a.partner.id, "L1-LRN-AAAAAAAAAAAA", at(0))
            .await
            .unwrap(),
        (0, 0),
        "another partner's runs are invisible"
    );
    assert_eq!(
        store
            .learning_patterns(&a.partner_scope)
            .await
            .unwrap()
            .len(),
        2,
        "L1 runs are not pattern samples"
    );

    assert_not_found(
        store
            .demote(&b.partner_scope, promoted.id, None, "x", at(650))
            .await,
        "promotion",
        "demoting another tenant's promotion",
    );
    let demoted = store
        .demote(
            &a.partner_scope,
            promoted.id,
            Some(a.partner_user.id),
            "too many failures",
            at(650),
        )
        .await
        .unwrap();
    assert_eq!(demoted.state, PromotionState::Demoted);
    assert_eq!(demoted.demoted_at, Some(at(650)));
    assert_eq!(demoted.demoted_by, Some(a.partner_user.id));
    assert_eq!(demoted.demote_reason.as_deref(), Some("too many failures"));
    assert_illegal(
        store
            .demote(&world.platform, promoted.id, None, "again", at(651))
            .await,
        "demoted",
        "demoting twice",
    );
    // Once demoted, the pattern may be promoted again.
    let again = store
        .promote(&a.partner_scope, &new, at(660))
        .await
        .unwrap();
    assert!(again.id > other.id);
    assert_eq!(
        store
            .site_promotions(&a.appliance_scope, a.site.id)
            .await
            .unwrap()
            .len(),
        2
    );

    shadow_story(store, world).await;
    site_opt_in_story(store, world).await;
}

fn comparison(
    tenant: &crate::testkit::world::Tenant,
    seq: u64,
    agreed: bool,
    minute: i64,
) -> NewShadowComparison {
    NewShadowComparison {
        site_id: tenant.site.id,
        appliance_id: tenant.appliance.id,
        seq,
        rule_id: "L1-LRN-BBBBBBBBBBBB".to_owned(),
        agreed,
        reason: (!agreed).then(|| format!("L2 ran another runbook at {minute}")),
        at: at(minute),
    }
}

/// A site's opt-in to automatic promotion: off until set, scoped.
async fn site_opt_in_story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    assert!(
        !store
            .site_auto_promote(&a.appliance_scope, a.site.id)
            .await
            .unwrap()
    );
    store
        .set_site_auto_promote(&a.partner_scope, a.site.id, true, at(800))
        .await
        .unwrap();
    assert!(
        store
            .site_auto_promote(&a.appliance_scope, a.site.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .site_auto_promote(&world.platform, b.site.id)
            .await
            .unwrap(),
        "another site is not opted in"
    );
    store
        .set_site_auto_promote(&world.platform, a.site.id, false, at(801))
        .await
        .unwrap();
    assert!(
        !store
            .site_auto_promote(&a.partner_scope, a.site.id)
            .await
            .unwrap()
    );
    assert_not_found(
        store
            .set_site_auto_promote(&b.partner_scope, a.site.id, true, at(802))
            .await,
        "site",
        "opting another tenant's site in",
    );
    assert_not_found(
        store.site_auto_promote(&b.appliance_scope, a.site.id).await,
        "site",
        "reading another tenant's site",
    );
}

/// A promotion in shadow mode: comparisons once per bundle, counted per
/// partner from a time on, then live once.
async fn shadow_story(store: &dyn Store, world: &World) {
    let (a, b) = (&world.a, &world.b);
    let new = NewPromotion {
        partner_id: a.partner.id,
        pattern_key: "p3".to_owned(),
        rule_id: "L1-LRN-BBBBBBBBBBBB".to_owned(),
        rule: serde_json::json!({"id": "L1-LRN-BBBBBBBBBBBB"}),
        samples: 5,
        successes: 5,
        approved_by: None,
        shadow_samples: 2,
    };
    let shadow = store.promote(&world.platform, &new, at(700)).await.unwrap();
    assert_eq!(shadow.shadow_samples, 2);
    assert_eq!(shadow.live_at, None);
    assert!(shadow.in_shadow());
    assert_eq!(shadow.state, PromotionState::Active);

    for (seq, agreed, minute) in [(9101, true, 699), (9102, true, 710), (9103, false, 711)] {
        assert!(
            store
                .record_shadow_comparison(&a.appliance_scope, &comparison(a, seq, agreed, minute))
                .await
                .unwrap()
        );
    }
    assert!(
        !store
            .record_shadow_comparison(&a.appliance_scope, &comparison(a, 9102, true, 710))
            .await
            .unwrap(),
        "a bundle's comparison is recorded once"
    );
    assert_not_found(
        store
            .record_shadow_comparison(&a.appliance_scope, &comparison(b, 9104, true, 712))
            .await,
        "site",
        "a comparison for another tenant's site",
    );
    let figures = store
        .shadow_figures(
            &world.platform,
            a.partner.id,
            "L1-LRN-BBBBBBBBBBBB",
            at(700),
        )
        .await
        .unwrap();
    assert_eq!(
        figures,
        ShadowFigures {
            agreements: 1,
            disagreements: 1,
            last_disagreement: Some(("L2 ran another runbook at 711".to_owned(), at(711))),
        },
        "comparisons before the promotion do not count"
    );
    assert_eq!(
        store
            .shadow_figures(&b.partner_scope, a.partner.id, "L1-LRN-BBBBBBBBBBBB", at(0))
            .await
            .unwrap(),
        ShadowFigures::default(),
        "another partner's comparisons are invisible"
    );

    assert_not_found(
        store
            .activate_promotion(&b.partner_scope, shadow.id, at(720))
            .await,
        "promotion",
        "activating another tenant's promotion",
    );
    let live = store
        .activate_promotion(&a.partner_scope, shadow.id, at(720))
        .await
        .unwrap();
    assert_eq!(live.live_at, Some(at(720)));
    assert!(!live.in_shadow());
    assert_illegal(
        store
            .activate_promotion(&world.platform, shadow.id, at(721))
            .await,
        "live",
        "activating twice",
    );
    let demoted = store
        .demote(&world.platform, shadow.id, None, "failing", at(730))
        .await
        .unwrap();
    assert!(!demoted.in_shadow());
    assert_illegal(
        store
            .activate_promotion(&world.platform, shadow.id, at(731))
            .await,
        "live",
        "activating a demoted promotion",
    );
}
