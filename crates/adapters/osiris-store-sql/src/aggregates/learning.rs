//! The learning loop's samples and promotions.

use chrono::{DateTime, Utc};
use osiris_core::{PartnerId, SiteId, UserId};
use osiris_store::{
    BoxFuture, Error, LearningStore, NewLearningSample, NewPromotion, PatternStats, Promotion,
    PromotionState, TenantScope,
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
                     approved_by, promoted_at, state)
                 SELECT p.id, $4, $5, $6, $7, $8, $9, $10, 'active' FROM partners p
                 WHERE p.id = $3 AND ",
                partner_visible!("p.id"),
                " RETURNING id, partner_id, pattern_key, rule_id, rule, samples, successes,
                     approved_by, promoted_at, state, demoted_at, demoted_by, demote_reason"
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
                "SELECT id, partner_id, pattern_key, rule_id, rule, samples, successes,
                     approved_by, promoted_at, state, demoted_at, demoted_by, demote_reason
                 FROM promotions WHERE ",
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
            sqlx::query_as::<_, PromotionRow>(
                "SELECT id, partner_id, pattern_key, rule_id, rule, samples, successes,
                     approved_by, promoted_at, state, demoted_at, demoted_by, demote_reason
                 FROM promotions WHERE partner_id =
                     (SELECT c.partner_id FROM sites s JOIN clients c ON c.id = s.client_id
                      WHERE s.id = $1)
                 ORDER BY id",
            )
            .bind(site.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(backend("listing a site's promotions"))?
            .into_iter()
            .map(Promotion::try_from)
            .collect()
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
                " RETURNING id, partner_id, pattern_key, rule_id, rule, samples, successes,
                     approved_by, promoted_at, state, demoted_at, demoted_by, demote_reason"
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
