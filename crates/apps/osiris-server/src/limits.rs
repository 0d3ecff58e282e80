//! Rate limits: per username on logins, per site on sensitive appliance
//! endpoints. The limiter is in process by default and in Redis when
//! configured, so every replica counts against one quota.

use std::sync::Arc;

use chrono::Duration;
use osiris_core::{Secret, SiteId};
use osiris_limits::{Bucket, Decision, InProcessLimiter, LimitKey, Quota, RateLimiter};
use osiris_limits_redis::RedisLimiter;
use osiris_store::Username;

use crate::config::LimitsConfig;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The quotas from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    /// Login attempts per username.
    pub login: Quota,
    /// Sensitive appliance requests per site.
    pub appliance: Quota,
}

impl Quotas {
    /// The quotas `config` sets.
    ///
    /// # Errors
    /// The setting whose value the limiter refuses.
    pub fn from_config(config: &LimitsConfig) -> Result<Self, crate::ConfigError> {
        let quota = |name: &str, max: u32, secs: u32| {
            Quota::new(max, Duration::seconds(i64::from(secs)))
                .map_err(|e| crate::ConfigError::Invalid(vec![format!("limits.{name}: {e}")]))
        };
        Ok(Self {
            login: quota(
                "login_attempts",
                config.login_attempts,
                config.login_window_secs,
            )?,
            appliance: quota(
                "appliance_requests",
                config.appliance_requests,
                config.appliance_window_secs,
            )?,
        })
    }
}

/// The limiter the configuration asks for.
///
/// # Errors
/// Redis unreachable or its URL invalid.
pub async fn limiter(config: &LimitsConfig) -> Result<Arc<dyn RateLimiter>, crate::Error> {
    Ok(match &config.redis_url {
        Some(url) => Arc::new(connect(url).await?),
        None => Arc::new(InProcessLimiter::new()),
    })
}

async fn connect(url: &Secret<String>) -> Result<RedisLimiter, crate::Error> {
    RedisLimiter::connect(url)
        .await
        .map_err(|e| crate::Error::Limits(e.to_string()))
}

async fn check(state: &AppState, key: &LimitKey, quota: Quota) -> ApiResult<()> {
    match state.limiter.check(key, quota, state.clock.now()).await {
        Ok(Decision::Allowed { .. }) => Ok(()),
        Ok(decision) => Err(ApiError::rate_limited(
            decision.retry_after_secs().unwrap_or(1),
        )),
        // Fail closed: an unreachable limiter must not become a way around
        // the limit.
        Err(error) => {
            tracing::error!(error = %error, bucket = key.bucket().as_str(), "rate limiter failed");
            Err(ApiError::unavailable(
                "rate limiter unavailable; try again shortly",
            ))
        }
    }
}

/// Counts one login attempt for `username`.
///
/// # Errors
/// 429 over the quota, 503 if the limiter fails.
pub async fn check_login(state: &AppState, username: &Username) -> ApiResult<()> {
    let key = LimitKey::new(Bucket::LOGIN, username.as_str())
        .map_err(|e| ApiError::invalid("username", e.to_string()))?;
    check(state, &key, state.quotas.login).await
}

/// Claims by MAC address across the whole server: a MAC is not a secret
/// and the claim is unauthenticated, so guessing the device half of an
/// armed appliance's MAC (24 bits once the vendor prefix is known) must be
/// slow. 30 a minute leaves about 43,000 guesses in a 24-hour arming
/// window, a chance of about 1 in 390 of hitting one given address; an
/// appliance's one legitimate claim retries when refused.
const MAC_CLAIMS: (u32, i64) = (30, 60);

/// Counts one claim by MAC address (any caller, any MAC).
///
/// # Errors
/// 429 over the quota, 503 if the limiter fails.
pub async fn check_mac_claim(state: &AppState) -> ApiResult<()> {
    let (max, secs) = MAC_CLAIMS;
    let quota = Quota::new(max, Duration::seconds(secs)).map_err(|e| ApiError::internal(&e))?;
    let bucket = Bucket::new("claim-mac").map_err(|e| ApiError::internal(&e))?;
    let key = LimitKey::new(bucket, "server").map_err(|e| ApiError::internal(&e))?;
    check(state, &key, quota).await
}

/// Counts one sensitive appliance request for `site`.
///
/// # Errors
/// 429 over the quota, 503 if the limiter fails.
pub async fn check_appliance(state: &AppState, site: SiteId) -> ApiResult<()> {
    check(
        state,
        &LimitKey::site(Bucket::APPLIANCE_SENSITIVE, site),
        state.quotas.appliance,
    )
    .await
}
