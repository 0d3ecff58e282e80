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
//! - Shadow mode (`learning.shadow_samples` > 0): a new promotion is
//!   delivered with `shadow: true`, so the appliance's L1 engine records
//!   what the rule would run in the L2 bundle (`detail.shadow`) but never
//!   acts. Each such L2 run is compared with the rule ([`observe`]:
//!   agreement is the same runbook and parameters and L2's run verified);
//!   after enough agreements and no disagreement the promotion goes live
//!   (audit `learning.activate`) and the next rule set carries the rule
//!   without the flag. A disagreement holds it in shadow, in the figures
//!   and the alerts, until a person demotes it.
//! - Demotion: every live learned rule of the partner is evaluated at each
//!   check-in that stored evidence and every
//!   `learning.evaluate_interval_minutes` ([`evaluate_all`]), on the
//!   server's clock, over the runs since it went live within the window.
//!   An automatic demotion is an alert: an audit entry, a warning, a
//!   metric and an entry in `/api/learning/status`'s `alerts`.
//! - Each promotion, activation and demotion is an audit-log entry and a
//!   metric, and reaches the appliances as a rule-set change their
//!   `rule_change` bundle records.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, SiteId, UserId};
use osiris_learning::{
    DemotionPolicy, Figures, PROMOTED_RULES_PATH, Pattern, ShadowPolicy, ShadowVerdict, Thresholds,
    Tier,
};
use osiris_store::{
    ApplianceIdentity, LearningTier, NewLearningSample, NewPromotion, NewShadowComparison,
    Promotion, PromotionState, TenantScope,
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
    /// How many agreements with L2 a new promotion needs before it acts.
    pub shadow: ShadowPolicy,
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
            shadow: ShadowPolicy::new(u64::from(config.shadow_samples)).unwrap_or_default(),
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
                shadow_samples: state.policy.learning.shadow.samples(),
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
                "shadow_samples": promotion.shadow_samples,
            }),
        },
        now,
    )
    .await?;
    metrics::counter!("osiris_learning_promotions_total", "trigger" => trigger).increment(1);
    tracing::info!(rule_id = %promotion.rule_id, promotion_id = promotion.id, partner_id = %promotion.partner_id, trigger, shadow_samples = promotion.shadow_samples, "pattern promoted to an L1 rule");
    Ok(promotion)
}

/// Ends a promotion's shadow mode after enough agreements, audited: the
/// next rule set carries the rule without the flag.
///
/// # Errors
/// 404 when invisible, 409 when demoted or already live.
pub async fn activate(
    state: &AppState,
    scope: &TenantScope,
    id: u64,
    agreements: u64,
    now: DateTime<Utc>,
) -> ApiResult<Promotion> {
    let live = state.store.activate_promotion(scope, id, now).await?;
    crate::audit::record(
        state.store.as_ref(),
        crate::audit::Action {
            actor: None,
            partner_id: Some(live.partner_id),
            action: "learning.activate",
            target: live.rule_id.clone(),
            detail: json!({
                "promotion_id": live.id,
                "shadow_samples": live.shadow_samples,
                "agreements": agreements,
                "disagreements": 0,
            }),
        },
        now,
    )
    .await?;
    metrics::counter!("osiris_learning_activations_total").increment(1);
    tracing::info!(rule_id = %live.rule_id, promotion_id = live.id, agreements, "learned rule agreed with L2 in shadow mode and now acts");
    Ok(live)
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
    let mut compared = BTreeSet::new();
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
        if let Some(comparison) = seen.comparison() {
            let new = NewShadowComparison {
                site_id: identity.site_id,
                appliance_id: identity.id,
                seq,
                rule_id: comparison.rule_id.clone(),
                agreed: comparison.agreed,
                reason: comparison.reason.clone(),
                at: seen.at,
            };
            if state.store.record_shadow_comparison(scope, &new).await? {
                let verdict = if comparison.agreed {
                    "agreed"
                } else {
                    "disagreed"
                };
                metrics::counter!("osiris_learning_shadow_comparisons_total", "verdict" => verdict)
                    .increment(1);
                if let Some(reason) = &comparison.reason {
                    tracing::warn!(rule_id = %comparison.rule_id, appliance_id = %identity.id, seq, reason, "learned rule in shadow mode disagreed with L2: it stays in shadow");
                }
                compared.insert(comparison.rule_id);
            }
        }
        if state.store.record_learning_sample(scope, &sample).await? {
            metrics::counter!("osiris_learning_samples_total", "tier" => tier.as_str())
                .increment(1);
            if seen.rule_id.is_none() {
                learned_l2 = true;
            }
        }
    }
    let promotions = state.store.site_promotions(scope, identity.site_id).await?;
    if !compared.is_empty() {
        judge_shadows(state, &promotions, &compared, now).await?;
    }
    // Every live learned rule of the fleet, not only those that just ran:
    // the window moves with the clock, and a rule whose successes aged out
    // of it is judged on what is left.
    demote_failing(state, &promotions, now).await?;
    if learned_l2 && auto_promotes(state, scope, identity.site_id).await? {
        auto_promote(state, scope, identity.site_id, now).await?;
    }
    Ok(())
}

/// Whether `site` accepts automatic promotion: the server-wide setting or
/// the site's own opt-in.
async fn auto_promotes(state: &AppState, scope: &TenantScope, site: SiteId) -> ApiResult<bool> {
    if state.policy.learning.auto_promote {
        return Ok(true);
    }
    Ok(state.store.site_auto_promote(scope, site).await?)
}

/// Activates each promotion in shadow mode among `promotions` whose rule
/// is in `compared` and has agreed often enough with no disagreement.
async fn judge_shadows(
    state: &AppState,
    promotions: &[Promotion],
    compared: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let platform = TenantScope::platform();
    for promotion in promotions {
        if !promotion.in_shadow() || !compared.contains(&promotion.rule_id) {
            continue;
        }
        let figures = state
            .store
            .shadow_figures(
                &platform,
                promotion.partner_id,
                &promotion.rule_id,
                promotion.promoted_at,
            )
            .await?;
        if osiris_learning::shadow_verdict(
            promotion.shadow_samples,
            figures.agreements,
            figures.disagreements,
        ) == ShadowVerdict::Activate
        {
            activate(state, &platform, promotion.id, figures.agreements, now).await?;
        }
    }
    Ok(())
}

/// Demotes each live learned rule among `promotions` whose failure rate
/// over the window ending `now` is above the threshold.
async fn demote_failing(
    state: &AppState,
    promotions: &[Promotion],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let policy = state.policy.learning.demotion;
    let platform = TenantScope::platform();
    for promotion in promotions {
        let Some(live_at) = promotion.live_at else {
            continue;
        };
        if promotion.state != PromotionState::Active {
            continue;
        }
        // Only runs since it acts count: not those of an earlier
        // promotion of the same pattern.
        let since = policy.since(now).max(live_at);
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

/// Evaluates every live learned rule of every fleet at `now` (the
/// schedule's work): demotes those over the threshold in their window.
/// Returns how many were demoted.
///
/// # Errors
/// Store faults.
pub async fn evaluate_all(state: &AppState, now: DateTime<Utc>) -> ApiResult<usize> {
    let platform = TenantScope::platform();
    let promotions = state.store.list_promotions(&platform).await?;
    let before = promotions
        .iter()
        .filter(|p| p.state == PromotionState::Active)
        .count();
    demote_failing(state, &promotions, now).await?;
    let after = state
        .store
        .list_promotions(&platform)
        .await?
        .iter()
        .filter(|p| p.state == PromotionState::Active)
        .count();
    Ok(before.saturating_sub(after))
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
/// partner's promoted rules in force. A promotion made automatically
/// reaches only sites that accept automatic promotion (the server-wide
/// setting, or the site's own opt-in); one an operator approved reaches
/// the whole fleet.
///
/// # Errors
/// Store faults; a rule with no canonical form.
pub async fn rule_set_for(
    state: &AppState,
    scope: &TenantScope,
    site: SiteId,
) -> ApiResult<Arc<RuleSet>> {
    let promotions = state.store.site_promotions(scope, site).await?;
    if promotions.is_empty() {
        return Ok(Arc::clone(&state.rule_set));
    }
    let reaching = reaching(promotions, auto_promotes(state, scope, site).await?);
    fleet_rule_set(state, &reaching)
}

/// The promotions that reach a site: all when it accepts automatic
/// promotion, otherwise only those an operator approved.
#[must_use]
pub fn reaching(promotions: Vec<Promotion>, accepts_automatic: bool) -> Vec<Promotion> {
    promotions
        .into_iter()
        .filter(|p| accepts_automatic || p.approved_by.is_some())
        .collect()
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
                "rules": active.iter().map(|p| delivered_rule(p)).collect::<Vec<_>>(),
            }),
        }]
    };
    let changes = promotions.iter().map(change_of).collect();
    crate::rule_set::extend(&state.rule_set, extra, changes)
        .map(Arc::new)
        .map_err(|error| ApiError::internal(&error))
}

/// The rule as appliances receive it: flagged `shadow` while in shadow
/// mode, so it records what it would do and never acts.
fn delivered_rule(promotion: &Promotion) -> Value {
    let mut rule = promotion.rule.clone();
    if promotion.in_shadow()
        && let Some(object) = rule.as_object_mut()
    {
        object.insert("shadow".to_owned(), Value::Bool(true));
    }
    rule
}

fn who(user: Option<UserId>) -> String {
    user.map_or_else(|| "automatic".to_owned(), |id| id.to_string())
}

fn change_of(promotion: &Promotion) -> RuleChange {
    let demoted = promotion.state == PromotionState::Demoted;
    let change = if demoted {
        "demoted"
    } else if promotion.in_shadow() {
        "shadow"
    } else {
        "promoted"
    };
    RuleChange {
        change: change.to_owned(),
        rule_id: promotion.rule_id.clone(),
        promotion_id: promotion.id,
        samples: promotion.samples,
        successes: promotion.successes,
        approved_by: who(promotion.approved_by),
        promoted_at: promotion.promoted_at,
        demoted_at: promotion.demoted_at,
        demoted_by: demoted.then(|| who(promotion.demoted_by)),
        reason: promotion.demote_reason.clone(),
        shadow_samples: (promotion.shadow_samples > 0).then_some(promotion.shadow_samples),
        live_at: promotion.live_at,
    }
}
