//! The learning loop's samples and promotions.

use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, SiteId, UserId};
use osiris_store::{
    BoxFuture, Error, LearningStore, NewLearningSample, NewPromotion, NewShadowComparison,
    PatternStats, Promotion, PromotionState, ShadowFigures, TenantScope,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_partners, bind_sites, partner_visible, require_site, site_visible};
use crate::db::{backend, count, int, parse};

#[derive(sqlx::FromRow)]
struct PatternRow {
    partner_id: Uuid,
    pattern_key: String,
    samples: i64,
    successes: i64,
    sites: i64,
    last_at: DateTime<Utc>,
}

impl TryFrom<PatternRow> for PatternStats {
    type Error = Error;
    fn try_from(row: PatternRow) -> Result<Self, Error> {
        Ok(Self {
            partner_id: PartnerId::from_uuid(row.partner_id),
            pattern_key: row.pattern_key,
            samples: count(row.samples, "learning_samples", "samples")?,
            successes: count(row.successes, "learning_samples", "success")?,
            sites: count(row.sites, "learning_samples", "site_id")?,
            last_at: row.last_at,
        })
    }
}

/// The columns [`PromotionRow`] reads, in every statement that returns
/// promotions.
macro_rules! promotion_columns {
    () => {
        "id, partner_id, pattern_key, rule_id, rule, samples, successes, approved_by,
         promoted_at, state, demoted_at, demoted_by, demote_reason, shadow_samples, live_at"
    };
}

#[derive(sqlx::FromRow)]
struct PromotionRow {
    id: i64,
    partner_id: Uuid,
    pattern_key: String,
    rule_id: String,
    rule: String,
    samples: i64,
    successes: i64,
    approved_by: Option<Uuid>,
    promoted_at: DateTime<Utc>,
    state: String,
    demoted_at: Option<DateTime<Utc>>,
    demoted_by: Option<Uuid>,
    demote_reason: Option<String>,
    shadow_samples: i64,
    live_at: Option<DateTime<Utc>>,
}

impl TryFrom<PromotionRow> for Promotion {
    type Error = Error;
    fn try_from(row: PromotionRow) -> Result<Self, Error> {
        Ok(Self {
            id: count(row.id, "promotions", "id")?,
            partner_id: PartnerId::from_uuid(row.partner_id),
            pattern_key: row.pattern_key,
            rule_id: row.rule_id,
            rule: serde_json::from_str(&row.rule)
                .map_err(|error| Error::corrupt("promotions", "rule", error))?,
            samples: count(row.samples, "promotions", "samples")?,
            successes: count(row.successes, "promotions", "successes")?,
            approved_by: row.approved_by.map(UserId::from_uuid),
            promoted_at: row.promoted_at,
            state: parse(
                PromotionState::parse(&row.state),
                "promotions",
                "state",
                &row.state,
            )?,
            demoted_at: row.demoted_at,
            demoted_by: row.demoted_by.map(UserId::from_uuid),
            demote_reason: row.demote_reason,
            shadow_samples: count(row.shadow_samples, "promotions", "shadow_samples")?,
            live_at: row.live_at,
        })
    }
}

impl LearningStore for Store {
    fn record_learning_sample<'a>(
        &'a self,
        scope: &'a TenantScope,
        sample: &'a NewLearningSample,
    ) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            require_site(&self.pool, scope, sample.site_id).await?;
            // The partner is the site's, read in the same statement.
            let query = sqlx::query(concat!(
                "INSERT INTO learning_samples (appliance_id, seq, site_id, partner_id, check_id,
                     platform, pattern_key, runbook_id, tier, rule_id, success, at)
                 SELECT $7, $8, s.id, c.partner_id, $9, $10, $11, $12, $13, $14, $15, $16
                 FROM sites s JOIN clients c ON c.id = s.client_id
                 WHERE s.id = $6 AND ",
                site_visible!("s.id"),
                " ON CONFLICT (appliance_id, seq) DO NOTHING"
            ));
            let done = bind_sites(query, scope)
                .bind(sample.site_id.as_uuid())
                .bind(sample.appliance_id.as_uuid())
                .bind(int(sample.seq))
                .bind(sample.check_id.as_str())
                .bind(sample.platform.as_str())
                .bind(sample.pattern_key.as_str())
                .bind(sample.runbook_id.as_str())
                .bind(sample.tier.as_str())
                .bind(sample.rule_id.as_deref())
                .bind(sample.success)
                .bind(sample.at)
                .execute(&self.pool)
                .await
                .map_err(backend("recording a learning sample"))?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn learning_patterns<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<PatternStats>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, PatternRow>(concat!(
                "SELECT partner_id, pattern_key, COUNT(*) AS samples,
                     SUM(CASE WHEN success THEN 1 ELSE 0 END) AS successes,
                     COUNT(DISTINCT site_id) AS sites, MAX(at) AS last_at
                 FROM learning_samples WHERE tier = 'L2' AND ",
                partner_visible!("partner_id"),
                " GROUP BY partner_id, pattern_key ORDER BY partner_id, pattern_key"
            ));
            bind_partners(query, scope)
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing learning patterns"))?
                .into_iter()
                .map(PatternStats::try_from)
                .collect()
        })
    }

    fn promoted_rule_figures<'a>(
        &'a self,
        scope: &'a TenantScope,
        partner: PartnerId,
        rule_id: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, (u64, u64)> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, (i64, i64)>(concat!(
                "SELECT COUNT(*), COALESCE(SUM(CASE WHEN success THEN 1 ELSE 0 END), 0)
                 FROM learning_samples
                 WHERE tier = 'L1' AND partner_id = $3 AND rule_id = $4 AND at >= $5 AND ",
                partner_visible!("partner_id")
            ));
            let (samples, successes) = bind_partners(query, scope)
                .bind(partner.as_uuid())
                .bind(rule_id)
                .bind(since)
                .fetch_one(&self.pool)
                .await
                .map_err(backend("counting a promoted rule's runs"))?;
            Ok((
                count(samples, "learning_samples", "samples")?,
                count(successes, "learning_samples", "success")?,
            ))
        })
    }

    fn promote<'a>(
        &'a self,
        scope: &'a TenantScope,
        promotion: &'a NewPromotion,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Promotion> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, PromotionRow>(concat!(
                "INSERT INTO promotions (partner_id, pattern_key, rule_id, rule, samples, successes,
                     approved_by, promoted_at, state, shadow_samples, live_at)
                 SELECT p.id, $4, $5, $6, $7, $8, $9, $10, 'active', $11,
                     CASE WHEN $11 = 0 THEN $10 ELSE NULL END
                 FROM partners p
                 WHERE p.id = $3 AND ",
                partner_visible!("p.id"),
                " RETURNING ",
                promotion_columns!()
            ));
            bind_partners(query, scope)
                .bind(promotion.partner_id.as_uuid())
                .bind(promotion.pattern_key.as_str())
                .bind(promotion.rule_id.as_str())
                .bind(promotion.rule.to_string())
                .bind(int(promotion.samples))
                .bind(int(promotion.successes))
                .bind(promotion.approved_by.as_ref().map(|id| *id.as_uuid()))
                .bind(now)
                .bind(int(promotion.shadow_samples))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("recording a promotion"))?
                .ok_or_else(|| Error::not_found("partner", promotion.partner_id))?
                .try_into()
        })
    }

    fn list_promotions<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<Promotion>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, PromotionRow>(concat!(
                "SELECT ",
                promotion_columns!(),
                " FROM promotions WHERE ",
                partner_visible!("partner_id"),
                " ORDER BY id"
            ));
            bind_partners(query, scope)
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing promotions"))?
                .into_iter()
                .map(Promotion::try_from)
                .collect()
        })
    }

    fn site_promotions<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: SiteId,
    ) -> BoxFuture<'a, Vec<Promotion>> {
        Box::pin(async move {
            // A visible site sees its partner's fleet-wide promotions.
            require_site(&self.pool, scope, site).await?;
            sqlx::query_as::<_, PromotionRow>(concat!(
                "SELECT ",
                promotion_columns!(),
                " FROM promotions WHERE partner_id =
                     (SELECT c.partner_id FROM sites s JOIN clients c ON c.id = s.client_id
                      WHERE s.id = $1)
                 ORDER BY id"
            ))
            .bind(site.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(backend("listing a site's promotions"))?
            .into_iter()
            .map(Promotion::try_from)
            .collect()
        })
    }

    fn record_shadow_comparison<'a>(
        &'a self,
        scope: &'a TenantScope,
        comparison: &'a NewShadowComparison,
    ) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            require_site(&self.pool, scope, comparison.site_id).await?;
            let query = sqlx::query(concat!(
                "INSERT INTO shadow_comparisons (appliance_id, seq, site_id, partner_id, rule_id,
                     agreed, reason, at)
                 SELECT $7, $8, s.id, c.partner_id, $9, $10, $11, $12
                 FROM sites s JOIN clients c ON c.id = s.client_id
                 WHERE s.id = $6 AND ",
                site_visible!("s.id"),
                " ON CONFLICT (appliance_id, seq) DO NOTHING"
            ));
            let done = bind_sites(query, scope)
                .bind(comparison.site_id.as_uuid())
                .bind(comparison.appliance_id.as_uuid())
                .bind(int(comparison.seq))
                .bind(comparison.rule_id.as_str())
                .bind(comparison.agreed)
                .bind(comparison.reason.as_deref())
                .bind(comparison.at)
                .execute(&self.pool)
                .await
                .map_err(backend("recording a shadow comparison"))?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn shadow_figures<'a>(
        &'a self,
        scope: &'a TenantScope,
        partner: PartnerId,
        rule_id: &'a str,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, ShadowFigures> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, (i64, i64)>(concat!(
                "SELECT COALESCE(SUM(CASE WHEN agreed THEN 1 ELSE 0 END), 0),
                     COALESCE(SUM(CASE WHEN agreed THEN 0 ELSE 1 END), 0)
                 FROM shadow_comparisons
                 WHERE partner_id = $3 AND rule_id = $4 AND at >= $5 AND ",
                partner_visible!("partner_id")
            ));
            let (agreements, disagreements) = bind_partners(query, scope)
                .bind(partner.as_uuid())
                .bind(rule_id)
                .bind(since)
                .fetch_one(&self.pool)
                .await
                .map_err(backend("counting a shadow rule's comparisons"))?;
            let query = sqlx::query_as::<_, (Option<String>, DateTime<Utc>)>(concat!(
                "SELECT reason, at FROM shadow_comparisons
                 WHERE partner_id = $3 AND rule_id = $4 AND at >= $5 AND NOT agreed AND ",
                partner_visible!("partner_id"),
                " ORDER BY at DESC, seq DESC LIMIT 1"
            ));
            let last_disagreement = bind_partners(query, scope)
                .bind(partner.as_uuid())
                .bind(rule_id)
                .bind(since)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a shadow rule's last disagreement"))?
                .map(|(reason, at)| (reason.unwrap_or_default(), at));
            Ok(ShadowFigures {
                agreements: count(agreements, "shadow_comparisons", "agreed")?,
                disagreements: count(disagreements, "shadow_comparisons", "agreed")?,
                last_disagreement,
            })
        })
    }

    fn activate_promotion<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: u64,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Promotion> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, PromotionRow>(concat!(
                "UPDATE promotions SET live_at = $4
                 WHERE id = $3 AND state = 'active' AND live_at IS NULL AND ",
                partner_visible!("partner_id"),
                " RETURNING ",
                promotion_columns!()
            ));
            let updated = bind_partners(query, scope)
                .bind(int(id))
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("activating a promotion"))?;
            if let Some(row) = updated {
                return row.try_into();
            }
            let query = sqlx::query_as::<_, (String, Option<DateTime<Utc>>)>(concat!(
                "SELECT state, live_at FROM promotions WHERE id = $3 AND ",
                partner_visible!("partner_id")
            ));
            match bind_partners(query, scope)
                .bind(int(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a promotion"))?
            {
                Some((state, live_at)) => Err(Error::IllegalTransition {
                    entity: "promotion",
                    id: id.to_string(),
                    from: if live_at.is_some() && state == PromotionState::Active.as_str() {
                        "live".to_owned()
                    } else {
                        state
                    },
                    to: "live".to_owned(),
                }),
                None => Err(Error::not_found("promotion", id)),
            }
        })
    }

    fn site_auto_promote<'a>(&'a self, scope: &'a TenantScope, site: SiteId) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            require_site(&self.pool, scope, site).await?;
            let enabled = sqlx::query_scalar::<_, bool>(
                "SELECT auto_promote FROM site_learning WHERE site_id = $1",
            )
            .bind(site.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading a site's learning settings"))?;
            Ok(enabled.unwrap_or(false))
        })
    }

    fn set_site_auto_promote<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: SiteId,
        enabled: bool,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let query = sqlx::query(concat!(
                "INSERT INTO site_learning (site_id, auto_promote, updated_at)
                 SELECT s.id, $7, $8 FROM sites s WHERE s.id = $6 AND ",
                site_visible!("s.id"),
                " ON CONFLICT (site_id) DO UPDATE SET auto_promote = excluded.auto_promote,
                     updated_at = excluded.updated_at"
            ));
            let done = bind_sites(query, scope)
                .bind(site.as_uuid())
                .bind(enabled)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(backend("setting a site's learning settings"))?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found("site", site));
            }
            Ok(())
        })
    }

    fn demote<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: u64,
        by: Option<UserId>,
        reason: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Promotion> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, PromotionRow>(concat!(
                "UPDATE promotions SET state = 'demoted', demoted_at = $4, demoted_by = $5,
                     demote_reason = $6
                 WHERE id = $3 AND state = 'active' AND ",
                partner_visible!("partner_id"),
                " RETURNING ",
                promotion_columns!()
            ));
            let updated = bind_partners(query, scope)
                .bind(int(id))
                .bind(now)
                .bind(by.as_ref().map(|id| *id.as_uuid()))
                .bind(reason)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("demoting a promotion"))?;
            if let Some(row) = updated {
                return row.try_into();
            }
            let query = sqlx::query_scalar::<_, String>(concat!(
                "SELECT state FROM promotions WHERE id = $3 AND ",
                partner_visible!("partner_id")
            ));
            match bind_partners(query, scope)
                .bind(int(id))
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a promotion"))?
            {
                Some(state) => Err(Error::IllegalTransition {
                    entity: "promotion",
                    id: id.to_string(),
                    from: state,
                    to: PromotionState::Demoted.as_str().to_owned(),
                }),
                None => Err(Error::not_found("promotion", id)),
            }
        })
    }
}
