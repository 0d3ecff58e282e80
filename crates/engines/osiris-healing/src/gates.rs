//! The guardrail gates, each a function that allows or refuses with a
//! reason. The healer runs them in the order of the design note (whitelist,
//! parameters, mode, approval, maintenance window, cooldown and retries,
//! host and site rate) and records every decision as evidence; a refusal
//! names its [`Gate`] and what happens instead ([`Disposition`]).

use chrono::{DateTime, Duration, Utc};
use osiris_catalog::{Catalog, Disruptive, Platform, Runbook};
use osiris_core::{RunbookId, SiteId};
use osiris_limits::{Bucket, Decision, LimitKey, Quota, RateLimiter};
use osiris_rules::Reason;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::policy::Mode;
use crate::window::MaintenanceWindow;

/// A guardrail, as named in evidence (`detail.gate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// The incident keeps reopening after being healed.
    Flapping,
    /// No L1 rule matched, or the matching rule escalates.
    Rule,
    /// The runbook is not in the catalog or does not suit the platform.
    Whitelist,
    /// The parameters do not satisfy the runbook's schema.
    Params,
    /// The signature of an order.
    Signature,
    /// An order is for another appliance, from the future, expired, too
    /// long-lived or replayed.
    Order,
    /// An order names a target this appliance does not have.
    Target,
    /// Observe or dry-run mode.
    Mode,
    /// The runbook needs a human's approval for each run.
    Approval,
    /// A disruptive runbook outside the site's maintenance window.
    MaintenanceWindow,
    /// The rule ran on this host too recently.
    Cooldown,
    /// The rule failed too often on this host.
    Retries,
    /// Too many runbook runs on this host.
    HostRate,
    /// Too many runbook runs at this site.
    SiteRate,
}

impl Gate {
    /// The name used in evidence.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Flapping => "flapping",
            Self::Rule => "rule",
            Self::Whitelist => "whitelist",
            Self::Params => "params",
            Self::Signature => "signature",
            Self::Order => "order",
            Self::Target => "target",
            Self::Mode => "mode",
            Self::Approval => "approval",
            Self::MaintenanceWindow => "maintenance_window",
            Self::Cooldown => "cooldown",
            Self::Retries => "retries",
            Self::HostRate => "host_rate",
            Self::SiteRate => "site_rate",
        }
    }
}

/// What happens instead of running, after a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Not run, and not by waiting: a human must look.
    Refused,
    /// Not now; the gate opens again at `until`.
    Deferred {
        /// When trying again can succeed.
        until: DateTime<Utc>,
    },
    /// Sent to a human (L3; L2 arrives later).
    Escalated,
    /// Observe mode: recorded only.
    Observed,
    /// Dry-run mode: the plan is recorded.
    DryRun,
}

/// A gate's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Refusal {
    /// The refusing gate.
    pub gate: Gate,
    /// Why, in words.
    pub reason: String,
    /// What happens instead.
    pub disposition: Disposition,
}

impl Refusal {
    fn new(gate: Gate, disposition: Disposition, reason: impl Into<String>) -> Self {
        Self {
            gate,
            reason: reason.into(),
            disposition,
        }
    }
}

/// A gate's answer: `Ok` allows.
pub type Verdict<T = ()> = Result<T, Refusal>;

/// Only runbooks of the catalog run, and only on a platform they suit.
///
/// # Errors
/// A [`Gate::Whitelist`] refusal naming the runbook.
pub fn whitelist<'c>(
    catalog: &'c Catalog,
    runbook_id: &str,
    platform: Platform,
) -> Verdict<&'c Runbook> {
    let refuse = |reason: String| Refusal::new(Gate::Whitelist, Disposition::Refused, reason);
    let id: RunbookId = runbook_id
        .parse()
        .map_err(|_| refuse(format!("{runbook_id:?} is not a runbook id")))?;
    let runbook = catalog
        .runbook(&id)
        .ok_or_else(|| refuse(format!("runbook {id} is not in the catalog")))?;
    if !runbook.platforms.contains(&platform) {
        let suits: Vec<&str> = runbook.platforms.iter().map(|p| p.as_str()).collect();
        return Err(refuse(format!(
            "runbook {id} is for {}, not {platform}",
            suits.join(" or ")
        )));
    }
    Ok(runbook)
}

/// The parameters satisfy the runbook's JSON Schema.
///
/// # Errors
/// A [`Gate::Params`] refusal listing each violation with its path.
pub fn params(runbook: &Runbook, params: &Map<String, Value>) -> Verdict {
    let refuse = |reason: String| Refusal::new(Gate::Params, Disposition::Refused, reason);
    let validator = jsonschema::validator_for(&runbook.parameters).map_err(|e| {
        refuse(format!(
            "parameter schema of runbook {} does not compile: {e}",
            runbook.id
        ))
    })?;
    let instance = Value::Object(params.clone());
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .map(|error| {
            let path = error.instance_path().to_string();
            if path.is_empty() {
                error.to_string()
            } else {
                format!("{path}: {error}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(refuse(format!(
            "parameters for runbook {} are invalid: {}",
            runbook.id,
            problems.join("; ")
        )))
    }
}

/// Observe records only; dry run records the plan; heal goes on.
///
/// # Errors
/// A [`Gate::Mode`] refusal, observed or dry run.
pub fn mode(mode: Mode) -> Verdict {
    match mode {
        Mode::Heal => Ok(()),
        Mode::Observe => Err(Refusal::new(
            Gate::Mode,
            Disposition::Observed,
            "observe mode: recorded, nothing runs",
        )),
        Mode::DryRun => Err(Refusal::new(
            Gate::Mode,
            Disposition::DryRun,
            "dry-run mode: the plan is recorded, nothing runs",
        )),
    }
}

/// A runbook marked `disruptive: approval` never runs unattended.
///
/// # Errors
/// A [`Gate::Approval`] refusal, escalated.
pub fn approval(runbook: &Runbook) -> Verdict {
    match runbook.disruptive {
        Disruptive::Approval => Err(Refusal::new(
            Gate::Approval,
            Disposition::Escalated,
            format!(
                "runbook {} needs a human's approval for each run",
                runbook.id
            ),
        )),
        Disruptive::No | Disruptive::Yes => Ok(()),
    }
}

/// A disruptive runbook runs only inside the maintenance window.
///
/// # Errors
/// A [`Gate::MaintenanceWindow`] refusal, deferred to the next opening (or
/// refused when the window never opens).
pub fn maintenance_window(
    runbook: &Runbook,
    window: &MaintenanceWindow,
    now: DateTime<Utc>,
) -> Verdict {
    if runbook.disruptive != Disruptive::Yes || window.contains(now) {
        return Ok(());
    }
    Err(match window.next_opening(now) {
        Some(until) => Refusal::new(
            Gate::MaintenanceWindow,
            Disposition::Deferred { until },
            format!(
                "runbook {} is disruptive and the maintenance window is closed; it opens at {}",
                runbook.id,
                until.with_timezone(&window.tz()).to_rfc3339()
            ),
        ),
        None => Refusal::new(
            Gate::MaintenanceWindow,
            Disposition::Refused,
            format!(
                "runbook {} is disruptive and the maintenance window never opens",
                runbook.id
            ),
        ),
    })
}

/// The rules ledger's cooldown and retry limits, from the reason the
/// matcher gave for not firing the rule on this host (`None`: it may fire).
///
/// # Errors
/// [`Gate::Cooldown`] deferred until the cooldown ends, or
/// [`Gate::Retries`] escalated.
pub fn history(rule_id: &str, blocked: Option<&Reason>, now: DateTime<Utc>) -> Verdict {
    match blocked {
        None => Ok(()),
        Some(Reason::RetriesExhausted { failures }) => Err(Refusal::new(
            Gate::Retries,
            Disposition::Escalated,
            format!("rule {rule_id} failed {failures} times on this host since its last success"),
        )),
        Some(Reason::Cooldown { remaining_seconds }) => Err(Refusal::new(
            Gate::Cooldown,
            Disposition::Deferred {
                until: now + Duration::seconds(*remaining_seconds),
            },
            format!("rule {rule_id} ran on this host {remaining_seconds} s too recently"),
        )),
        Some(other) => Err(Refusal::new(
            Gate::Rule,
            Disposition::Refused,
            format!("rule {rule_id} does not fire: {other:?}"),
        )),
    }
}

/// Action rate limits: one runbook run counted against the host's quota,
/// then the site's. A limiter that fails refuses (fail closed).
///
/// # Errors
/// [`Gate::HostRate`] or [`Gate::SiteRate`] deferred until capacity
/// returns; refused when the limiter cannot decide.
pub async fn rate(
    limiter: &dyn RateLimiter,
    site: SiteId,
    host: &str,
    quotas: (Quota, Quota),
    now: DateTime<Utc>,
) -> Verdict {
    let (host_quota, site_quota) = quotas;
    for (gate, bucket, subject, quota) in [
        (
            Gate::HostRate,
            HOST_BUCKET,
            format!("{site}:{host}"),
            host_quota,
        ),
        (Gate::SiteRate, SITE_BUCKET, site.to_string(), site_quota),
    ] {
        let refuse = |reason: String| Refusal::new(gate, Disposition::Refused, reason);
        let bucket = Bucket::new(bucket).map_err(|e| refuse(e.to_string()))?;
        let key = LimitKey::new(bucket, subject).map_err(|e| refuse(e.to_string()))?;
        match limiter.check(&key, quota, now).await {
            Ok(Decision::Allowed { .. }) => {}
            Ok(Decision::Limited { retry_after }) => {
                let scope = if gate == Gate::HostRate {
                    "this host"
                } else {
                    "this site"
                };
                return Err(Refusal::new(
                    gate,
                    Disposition::Deferred {
                        until: now + retry_after,
                    },
                    format!(
                        "{} runbook runs per {} s on {scope} already ran",
                        quota.max(),
                        quota.per().num_seconds()
                    ),
                ));
            }
            Err(error) => {
                return Err(refuse(format!("the action rate limiter failed: {error}")));
            }
        }
    }
    Ok(())
}

/// The limiter bucket of runbook runs per host.
pub const HOST_BUCKET: &str = "heal-host";
/// The limiter bucket of runbook runs per site.
pub const SITE_BUCKET: &str = "heal-site";

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, Weekday};
    use osiris_limits::InProcessLimiter;
    use serde_json::json;

    use super::*;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap()
    }

    fn runbook<'c>(catalog: &'c Catalog, id: &str) -> &'c Runbook {
        catalog.runbook(&id.parse().unwrap()).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2024-06-17T16:00:00Z".parse().unwrap() // Monday 12:00 EDT
    }

    #[test]
    fn whitelist_allows_a_catalog_runbook_on_its_platform() {
        let catalog = catalog();
        let runbook = whitelist(&catalog, "RB-WIN-AV-001", Platform::Windows).unwrap();
        assert_eq!(runbook.id.as_str(), "RB-WIN-AV-001");
    }

    #[test]
    fn whitelist_refuses_unknown_malformed_and_other_platform_runbooks() {
        let catalog = catalog();
        for (id, platform, words) in [
            ("RB-WIN-NOPE-001", Platform::Windows, "not in the catalog"),
            ("rm -rf /", Platform::Windows, "not a runbook id"),
            (
                "RB-WIN-AV-001",
                Platform::Debian,
                "is for windows, not debian",
            ),
        ] {
            let refusal = whitelist(&catalog, id, platform).unwrap_err();
            assert_eq!(refusal.gate, Gate::Whitelist);
            assert_eq!(refusal.disposition, Disposition::Refused);
            assert!(refusal.reason.contains(words), "{}", refusal.reason);
        }
    }

    #[test]
    fn params_are_checked_against_the_runbook_schema_with_paths() {
        let catalog = catalog();
        let firewall = runbook(&catalog, "RB-DEB-FIREWALL-001");
        let ok = json!({"osiris_ip": "10.0.0.5", "revert_after_minutes": 10});
        assert!(params(firewall, ok.as_object().unwrap()).is_ok());
        let bad = json!({"revert_after_minutes": 99, "extra": true});
        let refusal = params(firewall, bad.as_object().unwrap()).unwrap_err();
        assert_eq!(refusal.gate, Gate::Params);
        assert!(refusal.reason.contains("osiris_ip"), "{}", refusal.reason);
        assert!(
            refusal.reason.contains("/revert_after_minutes"),
            "{}",
            refusal.reason
        );
    }

    #[test]
    fn mode_lets_only_heal_through() {
        assert!(mode(Mode::Heal).is_ok());
        assert_eq!(
            mode(Mode::Observe).unwrap_err().disposition,
            Disposition::Observed
        );
        assert_eq!(
            mode(Mode::DryRun).unwrap_err().disposition,
            Disposition::DryRun
        );
    }

    #[test]
    fn approval_only_runbooks_escalate() {
        let catalog = catalog();
        assert!(approval(runbook(&catalog, "RB-WIN-AV-001")).is_ok());
        assert!(approval(runbook(&catalog, "RB-WIN-BACKUP-001")).is_ok());
        let refusal = approval(runbook(&catalog, "RB-WIN-FIREWALL-001")).unwrap_err();
        assert_eq!(
            (refusal.gate, refusal.disposition),
            (Gate::Approval, Disposition::Escalated)
        );
    }

    #[test]
    fn a_disruptive_runbook_outside_the_window_is_deferred_to_its_opening() {
        let catalog = catalog();
        let window = MaintenanceWindow::new(
            chrono_tz::America::New_York,
            vec![Weekday::Sat],
            NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
        )
        .unwrap();
        let backup = runbook(&catalog, "RB-WIN-BACKUP-001");
        let refusal = maintenance_window(backup, &window, now()).unwrap_err();
        let opening: DateTime<Utc> = "2024-06-23T02:00:00Z".parse().unwrap();
        assert_eq!(refusal.gate, Gate::MaintenanceWindow);
        assert_eq!(
            refusal.disposition,
            Disposition::Deferred { until: opening }
        );
        assert!(
            refusal.reason.contains("2024-06-22T22:00:00-04:00"),
            "{}",
            refusal.reason
        );
        // Inside the window it runs; a non-disruptive runbook runs any time.
        assert!(maintenance_window(backup, &window, opening).is_ok());
        assert!(maintenance_window(runbook(&catalog, "RB-WIN-AV-001"), &window, now()).is_ok());
    }

    #[test]
    fn cooldown_defers_and_exhausted_retries_escalate() {
        assert!(history("L1-X", None, now()).is_ok());
        let cooling = history(
            "L1-X",
            Some(&Reason::Cooldown {
                remaining_seconds: 120,
            }),
            now(),
        )
        .unwrap_err();
        assert_eq!(cooling.gate, Gate::Cooldown);
        assert_eq!(
            cooling.disposition,
            Disposition::Deferred {
                until: now() + Duration::seconds(120)
            }
        );
        let exhausted = history(
            "L1-X",
            Some(&Reason::RetriesExhausted { failures: 2 }),
            now(),
        )
        .unwrap_err();
        assert_eq!(
            (exhausted.gate, exhausted.disposition),
            (Gate::Retries, Disposition::Escalated)
        );
    }

    #[tokio::test]
    async fn rate_limits_count_per_host_then_per_site() {
        let limiter = InProcessLimiter::new();
        let site = SiteId::random();
        let per_hour = Duration::hours(1);
        let quotas = (
            Quota::new(2, per_hour).unwrap(),
            Quota::new(3, per_hour).unwrap(),
        );
        for _ in 0..2 {
            assert!(rate(&limiter, site, "dc01", quotas, now()).await.is_ok());
        }
        let host = rate(&limiter, site, "dc01", quotas, now())
            .await
            .unwrap_err();
        assert_eq!(host.gate, Gate::HostRate);
        assert!(matches!(host.disposition, Disposition::Deferred { until } if until > now()));
        // Another host still has its own quota, until the site's runs out.
        assert!(rate(&limiter, site, "fs01", quotas, now()).await.is_ok());
        let site_refusal = rate(&limiter, site, "web01", quotas, now())
            .await
            .unwrap_err();
        assert_eq!(site_refusal.gate, Gate::SiteRate);
    }
}
