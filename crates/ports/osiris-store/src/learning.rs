//! The learning loop's rows: one sample per executed remediation the loop
//! learns from (an L2 fix, or an L1 run of a promoted rule), grouped into
//! patterns per partner; and the promotions of patterns to L1 rules, each
//! active until demoted.
//!
//! A promotion may start in shadow mode (`shadow_samples` > 0, `live_at`
//! unset): its rule is delivered flagged `shadow`, so appliances record
//! what it would do while L2 still acts, and each L2 run it is compared
//! with is a shadow comparison, recorded once per bundle. It goes live
//! when the server sets `live_at`.
//!
//! Scope: samples and promotions belong to the partner of the site they
//! came from; a promotion applies to that partner's whole fleet, never to
//! another partner's. Partners read their own, the platform reads all,
//! clients and auditors read none (patterns mix their partner's practices).

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, PartnerId, SiteId, UserId};

use crate::{BoxFuture, Platform, TenantScope};

text_enum!(
    /// The tier that ran a sampled remediation.
    LearningTier {
        /// A promoted L1 rule (a demotion sample).
        L1 = "L1",
        /// The L2 planner (a pattern sample).
        L2 = "L2",
    }
);

text_enum!(
    /// Whether a promotion is in force.
    PromotionState {
        /// Delivered to the partner's appliances.
        Active = "active",
        /// Taken back, by a person or by its failure rate.
        Demoted = "demoted",
    }
);

/// A sample to record, from an accepted evidence bundle.
#[derive(Debug, Clone)]
pub struct NewLearningSample {
    /// The site whose appliance sent it.
    pub site_id: SiteId,
    /// The appliance.
    pub appliance_id: ApplianceId,
    /// The bundle's seq in the appliance's chain (a sample per bundle).
    pub seq: u64,
    /// The check that failed.
    pub check_id: String,
    /// The host's platform.
    pub platform: Platform,
    /// The pattern's canonical key.
    pub pattern_key: String,
    /// The runbook that ran.
    pub runbook_id: String,
    /// Who decided.
    pub tier: LearningTier,
    /// The promoted rule (L1 only).
    pub rule_id: Option<String>,
    /// Verified.
    pub success: bool,
    /// When the bundle was made.
    pub at: DateTime<Utc>,
}

/// The L2 samples of one pattern within one partner's fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternStats {
    /// The partner.
    pub partner_id: PartnerId,
    /// The pattern's canonical key.
    pub pattern_key: String,
    /// Executed runs.
    pub samples: u64,
    /// Verified runs.
    pub successes: u64,
    /// Sites they came from.
    pub sites: u64,
    /// The latest run.
    pub last_at: DateTime<Utc>,
}

/// A promotion to record.
#[derive(Debug, Clone)]
pub struct NewPromotion {
    /// Whose fleet it applies to.
    pub partner_id: PartnerId,
    /// The pattern.
    pub pattern_key: String,
    /// The generated rule's id.
    pub rule_id: String,
    /// The generated rule, in the catalog's rule-file schema.
    pub rule: serde_json::Value,
    /// Samples behind it.
    pub samples: u64,
    /// Verified samples behind it.
    pub successes: u64,
    /// Who approved (none when promoted automatically).
    pub approved_by: Option<UserId>,
    /// Agreeing comparisons with L2 it needs before it acts; 0 goes live
    /// at once.
    pub shadow_samples: u64,
}

/// A promotion as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotion {
    /// Increasing id.
    pub id: u64,
    /// Whose fleet it applies to.
    pub partner_id: PartnerId,
    /// The pattern.
    pub pattern_key: String,
    /// The rule's id.
    pub rule_id: String,
    /// The rule.
    pub rule: serde_json::Value,
    /// Samples behind it when promoted.
    pub samples: u64,
    /// Verified samples behind it when promoted.
    pub successes: u64,
    /// Who approved (none: automatic).
    pub approved_by: Option<UserId>,
    /// When.
    pub promoted_at: DateTime<Utc>,
    /// In force or not.
    pub state: PromotionState,
    /// When it was demoted.
    pub demoted_at: Option<DateTime<Utc>>,
    /// Who demoted it (none: automatically).
    pub demoted_by: Option<UserId>,
    /// Why.
    pub demote_reason: Option<String>,
    /// Agreeing comparisons it needed in shadow mode (0: none).
    pub shadow_samples: u64,
    /// When it began to act; `None` while in shadow mode.
    pub live_at: Option<DateTime<Utc>>,
}

impl Promotion {
    /// In force but only in shadow mode: evaluated, never acting.
    #[must_use]
    pub fn in_shadow(&self) -> bool {
        self.state == PromotionState::Active && self.live_at.is_none()
    }
}

/// One L2 run compared with what a shadow rule would have done, from an
/// accepted evidence bundle.
#[derive(Debug, Clone)]
pub struct NewShadowComparison {
    /// The site whose appliance sent it.
    pub site_id: SiteId,
    /// The appliance.
    pub appliance_id: ApplianceId,
    /// The bundle's seq (a comparison per bundle).
    pub seq: u64,
    /// The shadow rule.
    pub rule_id: String,
    /// Same runbook and parameters as L2, and L2's run verified.
    pub agreed: bool,
    /// Why they disagree (none when they agree).
    pub reason: Option<String>,
    /// When the bundle was made.
    pub at: DateTime<Utc>,
}

/// A shadow rule's comparisons with L2 in one partner's fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShadowFigures {
    /// Agreeing comparisons.
    pub agreements: u64,
    /// Disagreeing comparisons.
    pub disagreements: u64,
    /// The latest disagreement: its reason and when its bundle was made.
    pub last_disagreement: Option<(String, DateTime<Utc>)>,
}

/// The learning loop's storage.
pub trait LearningStore {
    /// Records a sample once per bundle (`false` when that bundle's sample
    /// was already recorded). The site must be visible.
    fn record_learning_sample<'a>(
        &'a self,
        scope: &'a TenantScope,
        sample: &'a NewLearningSample,
    ) -> BoxFuture<'a, bool>;

    /// Every visible pattern with its L2 figures, by partner and key.
    fn learning_patterns<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<PatternStats>>;

    /// (samples, successes) of L1 runs of `rule_id` in `partner`'s fleet at
    /// or after `since`.
    fn promoted_rule_figures<'a>(
        &'a self,
        scope: &'a TenantScope,
        partner: PartnerId,
        rule_id: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, (u64, u64)>;

    /// Records a promotion. `Conflict` (`constraint::PROMOTION_ACTIVE`) when
    /// the pattern already has one in force for the partner; `NotFound`
    /// when the partner is not visible.
    fn promote<'a>(
        &'a self,
        scope: &'a TenantScope,
        promotion: &'a NewPromotion,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Promotion>;

    /// Every visible promotion, in force or not, by id.
    fn list_promotions<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Promotion>>;

    /// The promotions (in force or not) of the partner `site` belongs to.
    fn site_promotions<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: SiteId,
    ) -> BoxFuture<'a, Vec<Promotion>>;

    /// Records a shadow comparison once per bundle (`false` when that
    /// bundle's was already recorded). The site must be visible.
    fn record_shadow_comparison<'a>(
        &'a self,
        scope: &'a TenantScope,
        comparison: &'a NewShadowComparison,
    ) -> BoxFuture<'a, bool>;

    /// The comparisons of shadow rule `rule_id` in `partner`'s fleet at or
    /// after `since`.
    fn shadow_figures<'a>(
        &'a self,
        scope: &'a TenantScope,
        partner: PartnerId,
        rule_id: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, ShadowFigures>;

    /// Ends a promotion's shadow mode: it acts from `now`. `NotFound` when
    /// invisible or missing; `IllegalTransition` when demoted or already
    /// live.
    fn activate_promotion<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: u64,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Promotion>;

    /// Whether `site` opted into automatic promotion (false until set).
    /// `NotFound` when the site is not visible.
    fn site_auto_promote<'a>(&'a self, scope: &'a TenantScope, site: SiteId)
    -> BoxFuture<'a, bool>;

    /// Sets `site`'s opt-in to automatic promotion. `NotFound` when the
    /// site is not visible.
    fn set_site_auto_promote<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: SiteId,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ()>;

    /// Takes a promotion out of force. `NotFound` when invisible or
    /// missing; `IllegalTransition` when already demoted.
    fn demote<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: u64,
        by: Option<UserId>,
        reason: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Promotion>;
}
