//! The learning loop on Central Command: samples from accepted evidence,
//! patterns and candidates, promotion and demotion, and the rule set each
//! appliance receives.
//!
//! - [`observe`] runs after intake on the bundles a check-in newly stored:
//!   every executed L2 remediation is a pattern sample, every executed L1
//!   run of a promoted rule a demotion sample. Learning never fails a
//!   check-in (the evidence is already stored); a store fault is logged.
//! - A promotion applies to the **partner's fleet**: every site of the
//!   partner whose sites produced the samples, never another partner's
//!   (patterns are counted per partner). Clients and auditors see none of
//!   it: a pattern mixes the partner's practices.
//! - [`rule_set_for`]: the built-in rule files plus `rules/promoted.yaml`
//!   with the partner's promotions in force, versioned over all files,
//!   carrying the promotions and demotions as `changes` so the appliance's
//!   `rule_change` bundle records them. An unapproved candidate is in no
//!   set.
//! - Each promotion and demotion is an audit-log entry and a metric;
//!   automatic demotion also logs a warning.
//!
//! Shadow mode (the rule decides, L2 still acts, the two compared) is not
//! implemented: a promotion takes effect at the next check-in.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, SiteId, UserId};
use osiris_learning::{DemotionPolicy, Figures, PROMOTED_RULES_PATH, Pattern, Thresholds, Tier};
use osiris_store::{
    ApplianceIdentity, LearningTier, NewLearningSample, NewPromotion, Promotion, PromotionState,
    TenantScope,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::LearningConfig;
use crate::error::{ApiError, ApiResult};
use crate::rule_set::{RuleChange, RuleSet, RuleSetFile};
use crate::state::AppState;

/// The learning loop's thresholds, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct LearningPolicy {
    /// When a pattern is a candidate.
    pub thresholds: Thresholds,
    /// When a promoted rule is demoted.
    pub demotion: DemotionPolicy,
    /// Promote candidates without an operator.
    pub auto_promote: bool,
}

impl LearningPolicy {
    /// The policy a (validated) configuration sets.
    #[must_use]
    pub fn from_config(config: &LearningConfig) -> Self {
        Self {
            thresholds: Thresholds::new(u64::from(config.min_samples), config.min_lower_bound)
                .unwrap_or_default(),
            demotion: DemotionPolicy::new(
                config.demote_failure_rate,
                u64::from(config.demote_min_samples),
                chrono::Duration::days(i64::from(config.demote_window_days)),
            )
            .unwrap_or_default(),
            auto_promote: config.auto_promote,
        }
    }
}

/// One pattern of one partner's fleet with its figures.
#[derive(Debug, Clone)]
pub struct PatternView {
    /// Stable id: the partner and the pattern key, hashed.
    pub id: String,
    /// The fleet.
    pub partner_id: PartnerId,
    /// The pattern.
    pub pattern: Pattern,
    /// Its L2 figures.
    pub figures: Figures,
    /// Sites its samples came from.
    pub sites: u64,
    /// The latest sample.
    pub last_at: DateTime<Utc>,
    /// The promotion in force for it, if any.
    pub promoted: Option<u64>,
}

/// The id of a pattern in a partner's fleet.
fn pattern_id(partner: PartnerId, key: &str) -> String {
    let digest = Sha256::digest(format!("{partner}\n{key}").as_bytes());
    crate::hex(digest.get(..12).unwrap_or_default())
}

/// Every pattern visible to `scope`.
///
/// # Errors
/// Store faults; a stored key that does not read back.
pub async fn patterns(state: &AppState, scope: &TenantScope) -> ApiResult<Vec<PatternView>> {
    let stats = state.store.learning_patterns(scope).await?;
    let active: BTreeMap<(PartnerId, String), u64> = state
        .store
        .list_promotions(scope)
        .await?
        .into_iter()
        .filter(|p| p.state == PromotionState::Active)
        .map(|p| ((p.partner_id, p.pattern_key), p.id))
        .collect();
    stats
        .into_iter()
        .map(|row| {
            let pattern =
                Pattern::from_key(&row.pattern_key).map_err(|error| ApiError::internal(&error))?;
            Ok(PatternView {
                id: pattern_id(row.partner_id, &row.pattern_key),
                partner_id: row.partner_id,
                figures: Figures::new(row.samples, row.successes),
                sites: row.sites,
                last_at: row.last_at,
                promoted: active.get(&(row.partner_id, row.pattern_key)).copied(),
                pattern,
            })
        })
        .collect()
}

/// The L1 rule a promotion of `view` would deliver (the catalog's
/// rule-file schema, as JSON), or why the catalog refuses it.
///
/// # Errors
/// The refusal's reason, as [`promote`] would name it.
pub fn generated_rule(state: &AppState, view: &PatternView) -> Result<Value, String> {
    osiris_learning::generate(&view.pattern, &view.figures, &state.catalog)
        .map_err(|error| error.to_string())
        .and_then(|rule| serde_json::to_value(&rule).map_err(|error| error.to_string()))
}

/// Promotes `view`'s pattern for its partner's fleet: eligible, the rule
/// generated and valid against the catalog, then stored and audited.
///
/// # Errors
/// 422 `not_eligible` or `invalid_rule` naming the reason; 409 when the
/// pattern already has a promotion in force.
pub async fn promote(
    state: &AppState,
    scope: &TenantScope,
    view: &PatternView,
    approved_by: Option<UserId>,
    now: DateTime<Utc>,
) -> ApiResult<Promotion> {
    if let Some(reason) = state.policy.learning.thresholds.why_not(&view.figures) {
        return Err(
            ApiError::invalid("id", format!("not a promotion candidate: {reason}"))
                .with_code("not_eligible"),
        );
    }
    let rule = osiris_learning::generate(&view.pattern, &view.figures, &state.catalog).map_err(
        |error| {
            ApiError::invalid("rule", format!("the generated rule is refused: {error}"))
                .with_code("invalid_rule")
        },
    )?;
    let rule = serde_json::to_value(&rule).map_err(|error| ApiError::internal(&error))?;
    let promotion = state
        .store
        .promote(
            scope,
            &NewPromotion {
                partner_id: view.partner_id,
                pattern_key: view.pattern.key(),
                rule_id: view.pattern.rule_id(),
                rule,
                samples: view.figures.samples,
                successes: view.figures.successes,
                approved_by,
            },
            now,
        )
        .await?;
    let trigger = if approved_by.is_some() {
        "operator"
    } else {
        "automatic"
    };
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: approved_by,
            partner_id: Some(promotion.partner_id),
            action: "learning.promote",
            target: promotion.rule_id.clone(),
            detail: json!({
                "promotion_id": promotion.id,
                "pattern": view.pattern.to_value(),
                "samples": promotion.samples,
                "successes": promotion.successes,
                "lower_bound": view.figures.lower_bound(),
                "trigger": trigger,
            }),
        },
        now,
    )
    .await?;
    metrics::counter!("osiris_learning_promotions_total", "trigger" => trigger).increment(1);
    tracing::info!(rule_id = %promotion.rule_id, promotion_id = promotion.id, partner_id = %promotion.partner_id, trigger, "pattern promoted to an L1 rule");
    Ok(promotion)
}

/// Takes a promotion out of force, audited; `by` none is automatic.
///
/// # Errors
/// 404 when invisible, 409 when already demoted.
pub async fn demote(
    state: &AppState,
    scope: &TenantScope,
    id: u64,
    by: Option<UserId>,
    reason: &str,
    now: DateTime<Utc>,
) -> ApiResult<Promotion> {
    let demoted = state.store.demote(scope, id, by, reason, now).await?;
    let trigger = if by.is_some() {
        "operator"
    } else {
        "automatic"
    };
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: by,
            partner_id: Some(demoted.partner_id),
            action: "learning.demote",
            target: demoted.rule_id.clone(),
            detail: json!({"promotion_id": demoted.id, "reason": reason, "trigger": trigger}),
        },
        now,
    )
    .await?;
    metrics::counter!("osiris_learning_demotions_total", "trigger" => trigger).increment(1);
    if by.is_none() {
        tracing::warn!(rule_id = %demoted.rule_id, promotion_id = demoted.id, partner_id = %demoted.partner_id, reason, "promoted rule demoted: its incidents return to L2");
    } else {
        tracing::info!(rule_id = %demoted.rule_id, promotion_id = demoted.id, reason, "promoted rule demoted by an operator");
    }
    Ok(demoted)
}

/// Records the learning samples among the bundles a check-in newly stored,
/// then demotes failing rules and (if configured) promotes candidates.
/// Never fails the check-in: a fault is logged.
pub async fn observe(
    state: &AppState,
    identity: &ApplianceIdentity,
    scope: &TenantScope,
    bundles: &[String],
    intake: &crate::intake::Outcome,
    now: DateTime<Utc>,
) {
    if intake.stored == 0 {
        return;
    }
    if let Err(error) = observe_stored(state, identity, scope, bundles, intake, now).await {
        tracing::warn!(?error, appliance_id = %identity.id, "learning samples not recorded");
    }
}

async fn observe_stored(
    state: &AppState,
    identity: &ApplianceIdentity,
    scope: &TenantScope,
    bundles: &[String],
    intake: &crate::intake::Outcome,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    // The chain has no gaps, so the newly stored bundles are exactly the
    // last `stored` seqs acknowledged; earlier ones were re-uploads.
    let last = intake.acknowledged_through_seq;
    let first = last.saturating_sub(intake.stored).saturating_add(1);
    let mut learned_l2 = false;
    let mut rules = BTreeSet::new();
    for line in bundles {
        // Cheap filter first: only remediations can be samples.
        if !line.contains("\"remediation\"") {
            continue;
        }
        let Ok(bundle) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(seq) = bundle.get("seq").and_then(Value::as_u64) else {
            continue;
        };
        if seq < first || seq > last {
            continue;
        }
        let Some(seen) = osiris_learning::observe(&bundle) else {
            continue;
        };
        let Some(platform) = osiris_store::Platform::parse(seen.pattern.platform().as_str()) else {
            continue;
        };
        let tier = match seen.tier {
            Tier::L1 => LearningTier::L1,
            Tier::L2 => LearningTier::L2,
        };
        let sample = NewLearningSample {
            site_id: identity.site_id,
            appliance_id: identity.id,
            seq,
            check_id: seen.pattern.check_id().to_owned(),
            platform,
            pattern_key: seen.pattern.key(),
            runbook_id: seen.pattern.runbook_id().to_string(),
            tier,
            rule_id: seen.rule_id.clone(),
            success: seen.success,
            at: seen.at,
        };
        if state.store.record_learning_sample(scope, &sample).await? {
            metrics::counter!("osiris_learning_samples_total", "tier" => tier.as_str())
                .increment(1);
            match seen.rule_id {
                Some(rule) => {
                    rules.insert(rule);
                }
                None => learned_l2 = true,
            }
        }
    }
    if !rules.is_empty() {
        demote_failing(state, scope, identity.site_id, &rules, now).await?;
    }
    if learned_l2 && state.policy.learning.auto_promote {
        auto_promote(state, scope, identity.site_id, now).await?;
    }
    Ok(())
}

/// Demotes each promoted rule in `rules` (of `site`'s partner) whose
/// failure rate over the window is above the threshold.
async fn demote_failing(
    state: &AppState,
    scope: &TenantScope,
    site: SiteId,
    rules: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let policy = state.policy.learning.demotion;
    let platform = TenantScope::platform();
    for promotion in state.store.site_promotions(scope, site).await? {
        if promotion.state != PromotionState::Active || !rules.contains(&promotion.rule_id) {
            continue;
        }
        // Runs of an earlier promotion of the same pattern do not count.
        let since = policy.since(now).max(promotion.promoted_at);
        let (samples, successes) = state
            .store
            .promoted_rule_figures(&platform, promotion.partner_id, &promotion.rule_id, since)
            .await?;
        if let Some(reason) = policy.evaluate(&Figures::new(samples, successes)) {
            demote(state, &platform, promotion.id, None, &reason, now).await?;
        }
    }
    Ok(())
}

/// Promotes every candidate of `site`'s partner that has none in force.
async fn auto_promote(
    state: &AppState,
    scope: &TenantScope,
    site: SiteId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let partner = state.store.get_site(scope, site).await?.partner_id;
    let platform = TenantScope::platform();
    for view in patterns(state, &platform).await? {
        if view.partner_id != partner
            || view.promoted.is_some()
            || !state.policy.learning.thresholds.eligible(&view.figures)
        {
            continue;
        }
        match promote(state, &platform, &view, None, now).await {
            Ok(_) => {}
            // A rule the catalog refuses stays a candidate for a person.
            Err(error) if error.status() == axum::http::StatusCode::UNPROCESSABLE_ENTITY => {
                tracing::warn!(?error, pattern = %view.id, "candidate not promoted automatically");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// The rule set `site`'s appliances receive: the built-in set, plus the
/// partner's promoted rules in force.
///
/// # Errors
/// Store faults; a rule with no canonical form.
pub async fn rule_set_for(
    state: &AppState,
    scope: &TenantScope,
    site: SiteId,
) -> ApiResult<Arc<RuleSet>> {
    let promotions = state.store.site_promotions(scope, site).await?;
    fleet_rule_set(state, &promotions)
}

/// The rule set of a fleet with `promotions` (all of one partner).
///
/// # Errors
/// A rule with no canonical form.
pub fn fleet_rule_set(state: &AppState, promotions: &[Promotion]) -> ApiResult<Arc<RuleSet>> {
    if promotions.is_empty() {
        return Ok(Arc::clone(&state.rule_set));
    }
    let mut active: Vec<&Promotion> = promotions
        .iter()
        .filter(|p| p.state == PromotionState::Active)
        .collect();
    active.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
    let extra = if active.is_empty() {
        Vec::new()
    } else {
        vec![RuleSetFile {
            path: PROMOTED_RULES_PATH.to_owned(),
            content: json!({
                "format": "osiris.rules.v1",
                "rules": active.iter().map(|p| p.rule.clone()).collect::<Vec<_>>(),
            }),
        }]
    };
    let changes = promotions.iter().map(change_of).collect();
    crate::rule_set::extend(&state.rule_set, extra, changes)
        .map(Arc::new)
        .map_err(|error| ApiError::internal(&error))
}

fn who(user: Option<UserId>) -> String {
    user.map_or_else(|| "automatic".to_owned(), |id| id.to_string())
}

fn change_of(promotion: &Promotion) -> RuleChange {
    let demoted = promotion.state == PromotionState::Demoted;
    RuleChange {
        change: if demoted { "demoted" } else { "promoted" }.to_owned(),
        rule_id: promotion.rule_id.clone(),
        promotion_id: promotion.id,
        samples: promotion.samples,
        successes: promotion.successes,
        approved_by: who(promotion.approved_by),
        promoted_at: promotion.promoted_at,
        demoted_at: promotion.demoted_at,
        demoted_by: demoted.then(|| who(promotion.demoted_by)),
        reason: promotion.demote_reason.clone(),
    }
}
