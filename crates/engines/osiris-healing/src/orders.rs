//! Signed orders from Central Command: [`verify_order`] is the only way to
//! a [`VerifiedOrder`], and it refuses with the reason unless all of these
//! hold, in this order:
//!
//! 1. the signature is present, well-formed, and verifies under the server
//!    key kept at enrolment (Ed25519 over the RFC 8785 bytes of the order
//!    without `signature`);
//! 2. the order is for this appliance;
//! 3. `issued_at` is at most five minutes ahead of now (clock skew), now is
//!    before `expires_at`, and `expires_at` is after `issued_at` by at most
//!    fifteen minutes;
//! 4. the nonce was never accepted before;
//! 5. the runbook is in the catalog; the order's `target` is an inventory
//!    target whose platform the runbook suits, or, without a `target`, at
//!    least one inventory target's platform suits it;
//! 6. the parameters satisfy the runbook's schema;
//! 7. the nonce is remembered, atomically: only now, when everything else
//!    holds, so a refused order never burns its nonce, and of two copies
//!    racing each other only one is accepted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use osiris_catalog::{Catalog, Platform};
use osiris_core::{ApplianceId, OrderId, RunbookId};
use osiris_evidence::PublicKey;
use osiris_proto::orders::SignedOrder;
use serde_json::{Map, Value};

use crate::gates::{self, Gate};
use crate::ports::NonceLog;

/// How far ahead of this appliance's clock an order may claim to be issued.
pub const MAX_SKEW: Duration = Duration::minutes(5);

/// The longest an order may live, from issue to expiry.
pub const MAX_LIFETIME: Duration = Duration::minutes(15);

/// One target of this appliance's inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryTarget {
    /// The inventory name (what the [`crate::Connector`] opens).
    pub name: String,
    /// Its platform.
    pub platform: Platform,
}

/// What an order is checked against.
#[derive(Debug, Clone, Copy)]
pub struct OrderContext<'a> {
    /// Central Command's key, kept at enrolment.
    pub server_key: &'a PublicKey,
    /// This appliance.
    pub appliance_id: ApplianceId,
    /// The whitelist.
    pub catalog: &'a Catalog,
    /// The targets orders may run on.
    pub inventory: &'a [InventoryTarget],
    /// This appliance's time.
    pub now: DateTime<Utc>,
    /// Nonces accepted before.
    pub nonces: &'a dyn NonceLog,
}

/// An order that passed every check. Only [`verify_order`] makes one.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct VerifiedOrder {
    order_id: OrderId,
    runbook_id: RunbookId,
    params: Map<String, Value>,
    expires_at: DateTime<Utc>,
    targets: Vec<InventoryTarget>,
}

impl VerifiedOrder {
    /// The order's id.
    #[must_use]
    pub const fn order_id(&self) -> OrderId {
        self.order_id
    }

    /// The whitelisted runbook.
    #[must_use]
    pub const fn runbook_id(&self) -> &RunbookId {
        &self.runbook_id
    }

    /// The schema-valid parameters.
    #[must_use]
    pub const fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The targets it runs on: the one it names, or every inventory target
    /// whose platform the runbook suits.
    #[must_use]
    pub fn targets(&self) -> &[InventoryTarget] {
        &self.targets
    }

    /// When it expires.
    #[must_use]
    pub const fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
}

/// Why an order was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderRefusal {
    /// The signature is empty.
    #[error("the order is unsigned")]
    Unsigned,
    /// The signature is not base64 of 64 bytes.
    #[error("the order's signature is malformed: {reason}")]
    MalformedSignature {
        /// What is wrong with it.
        reason: String,
    },
    /// The signature does not verify under the server key.
    #[error("the order's signature does not verify under the server key")]
    BadSignature,
    /// The order is for another appliance.
    #[error("the order is for appliance {addressed}, not this one ({this})")]
    WrongAppliance {
        /// The appliance it names.
        addressed: ApplianceId,
        /// This appliance.
        this: ApplianceId,
    },
    /// A time field is not RFC 3339.
    #[error("the order's {field} {value:?} is not an RFC 3339 time")]
    MalformedTime {
        /// `issued_at` or `expires_at`.
        field: &'static str,
        /// What it holds.
        value: String,
    },
    /// Issued further ahead of this appliance's clock than the allowed skew.
    #[error("the order is issued at {issued_at}, more than 5 minutes after now ({now})")]
    IssuedInFuture {
        /// When it claims to be issued.
        issued_at: DateTime<Utc>,
        /// This appliance's time.
        now: DateTime<Utc>,
    },
    /// Now is at or after its expiry.
    #[error("the order expired at {expires_at} (now {now})")]
    Expired {
        /// Its expiry.
        expires_at: DateTime<Utc>,
        /// This appliance's time.
        now: DateTime<Utc>,
    },
    /// It expires before it is issued, or lives longer than 15 minutes.
    #[error(
        "the order lives {seconds} s from issue to expiry; orders live more than 0 and at most 900 s"
    )]
    BadLifetime {
        /// `expires_at - issued_at` in seconds.
        seconds: i64,
    },
    /// The nonce was accepted before.
    #[error("the order's nonce was already used: a replay")]
    Replayed,
    /// The nonce log could not answer, so a replay cannot be ruled out.
    #[error("the nonce log failed, so a replay cannot be ruled out: {reason}")]
    NonceLogFailed {
        /// What failed.
        reason: String,
    },
    /// The runbook is not whitelisted.
    #[error("runbook {runbook_id} is not in the catalog")]
    NotWhitelisted {
        /// The runbook named.
        runbook_id: RunbookId,
    },
    /// The order's target is not in this appliance's inventory.
    #[error("target {target:?} is not in this appliance's inventory")]
    UnknownTarget {
        /// The target named.
        target: String,
    },
    /// The order's target has a platform the runbook does not suit.
    #[error("runbook {runbook_id} is for {platforms}, not {target} ({platform})")]
    WrongPlatform {
        /// The runbook.
        runbook_id: RunbookId,
        /// The platforms it suits.
        platforms: String,
        /// The target named.
        target: String,
        /// Its platform.
        platform: Platform,
    },
    /// No inventory target has a platform the runbook suits.
    #[error("runbook {runbook_id} is for {platforms}; this appliance has no such target")]
    NoTarget {
        /// The runbook.
        runbook_id: RunbookId,
        /// The platforms it suits.
        platforms: String,
    },
    /// The parameters do not satisfy the runbook's schema.
    #[error("{reason}")]
    InvalidParams {
        /// Each violation with its path.
        reason: String,
    },
}

impl OrderRefusal {
    /// The gate named in evidence.
    #[must_use]
    pub const fn gate(&self) -> Gate {
        match self {
            Self::Unsigned | Self::MalformedSignature { .. } | Self::BadSignature => {
                Gate::Signature
            }
            Self::WrongAppliance { .. }
            | Self::MalformedTime { .. }
            | Self::IssuedInFuture { .. }
            | Self::Expired { .. }
            | Self::BadLifetime { .. }
            | Self::Replayed
            | Self::NonceLogFailed { .. } => Gate::Order,
            Self::NotWhitelisted { .. } | Self::WrongPlatform { .. } => Gate::Whitelist,
            Self::UnknownTarget { .. } | Self::NoTarget { .. } => Gate::Target,
            Self::InvalidParams { .. } => Gate::Params,
        }
    }

    /// A stable code for evidence and results.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::MalformedSignature { .. } => "malformed_signature",
            Self::BadSignature => "bad_signature",
            Self::WrongAppliance { .. } => "wrong_appliance",
            Self::MalformedTime { .. } => "malformed_time",
            Self::IssuedInFuture { .. } => "issued_in_future",
            Self::Expired { .. } => "expired",
            Self::BadLifetime { .. } => "bad_lifetime",
            Self::Replayed => "replayed",
            Self::NonceLogFailed { .. } => "nonce_log_failed",
            Self::NotWhitelisted { .. } => "not_whitelisted",
            Self::UnknownTarget { .. } => "unknown_target",
            Self::WrongPlatform { .. } => "wrong_platform",
            Self::NoTarget { .. } => "no_target",
            Self::InvalidParams { .. } => "invalid_params",
        }
    }
}

/// Checks a signed order against `context`; see the module documentation
/// for the checks and their order.
///
/// # Errors
/// The first [`OrderRefusal`] that applies.
pub async fn verify_order(
    signed: &SignedOrder,
    context: &OrderContext<'_>,
) -> Result<VerifiedOrder, OrderRefusal> {
    verify_signature(signed, context.server_key)?;
    let body = &signed.body;
    if body.appliance_id != context.appliance_id {
        return Err(OrderRefusal::WrongAppliance {
            addressed: body.appliance_id,
            this: context.appliance_id,
        });
    }
    let issued_at = parse_time("issued_at", &body.issued_at)?;
    let expires_at = parse_time("expires_at", &body.expires_at)?;
    let now = context.now;
    if issued_at > now + MAX_SKEW {
        return Err(OrderRefusal::IssuedInFuture { issued_at, now });
    }
    let lifetime = expires_at - issued_at;
    if lifetime <= Duration::zero() || lifetime > MAX_LIFETIME {
        return Err(OrderRefusal::BadLifetime {
            seconds: lifetime.num_seconds(),
        });
    }
    if now >= expires_at {
        return Err(OrderRefusal::Expired { expires_at, now });
    }
    let nonce_failed = |e: crate::BoxError| OrderRefusal::NonceLogFailed {
        reason: e.to_string(),
    };
    if context
        .nonces
        .contains(&body.nonce)
        .await
        .map_err(nonce_failed)?
    {
        return Err(OrderRefusal::Replayed);
    }
    let runbook =
        context
            .catalog
            .runbook(&body.runbook_id)
            .ok_or_else(|| OrderRefusal::NotWhitelisted {
                runbook_id: body.runbook_id.clone(),
            })?;
    let platforms = || {
        runbook
            .platforms
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let targets: Vec<InventoryTarget> = match &body.target {
        Some(name) => {
            let target = context
                .inventory
                .iter()
                .find(|target| target.name == *name)
                .ok_or_else(|| OrderRefusal::UnknownTarget {
                    target: name.chars().take(256).collect(),
                })?;
            if !runbook.platforms.contains(&target.platform) {
                return Err(OrderRefusal::WrongPlatform {
                    runbook_id: runbook.id.clone(),
                    platforms: platforms(),
                    target: target.name.clone(),
                    platform: target.platform,
                });
            }
            vec![target.clone()]
        }
        None => context
            .inventory
            .iter()
            .filter(|target| runbook.platforms.contains(&target.platform))
            .cloned()
            .collect(),
    };
    if targets.is_empty() {
        return Err(OrderRefusal::NoTarget {
            runbook_id: runbook.id.clone(),
            platforms: platforms(),
        });
    }
    let params = match &body.params {
        Value::Object(params) => params.clone(),
        Value::Null => Map::new(),
        other => {
            return Err(OrderRefusal::InvalidParams {
                reason: format!("parameters must be a JSON object, not {other}"),
            });
        }
    };
    gates::params(runbook, &params).map_err(|refusal| OrderRefusal::InvalidParams {
        reason: refusal.reason,
    })?;
    if !context
        .nonces
        .insert(&body.nonce, expires_at)
        .await
        .map_err(nonce_failed)?
    {
        return Err(OrderRefusal::Replayed);
    }
    Ok(VerifiedOrder {
        order_id: body.order_id,
        runbook_id: runbook.id.clone(),
        params,
        expires_at,
        targets,
    })
}

fn verify_signature(signed: &SignedOrder, server_key: &PublicKey) -> Result<(), OrderRefusal> {
    if signed.signature.is_empty() {
        return Err(OrderRefusal::Unsigned);
    }
    let malformed = |reason: String| OrderRefusal::MalformedSignature { reason };
    let raw = STANDARD
        .decode(&signed.signature)
        .map_err(|e| malformed(format!("not standard base64 ({e})")))?;
    let bytes: [u8; 64] = raw
        .as_slice()
        .try_into()
        .map_err(|_| malformed(format!("expected 64 bytes, got {}", raw.len())))?;
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    // The message is the order as received, minus `signature`, in RFC 8785
    // form: the same bytes the server signed, whatever the JSON's layout.
    let message = osiris_evidence::canonical::to_vec("order", &signed.body)
        .map_err(|_| OrderRefusal::BadSignature)?;
    if server_key.verify_strict(&message, &signature) {
        Ok(())
    } else {
        Err(OrderRefusal::BadSignature)
    }
}

fn parse_time(field: &'static str, value: &str) -> Result<DateTime<Utc>, OrderRefusal> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| OrderRefusal::MalformedTime {
            field,
            value: value.chars().take(64).collect(),
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use osiris_evidence::KeyPair;
    use osiris_proto::orders::OrderBody;

    use super::*;
    use crate::ports::BoxFuture;

    #[derive(Debug, Default)]
    struct Seen(Mutex<BTreeSet<String>>);

    impl NonceLog for Seen {
        fn contains<'a>(&'a self, nonce: &'a str) -> BoxFuture<'a, Result<bool, crate::BoxError>> {
            let seen = self.0.lock().unwrap().contains(nonce);
            Box::pin(async move { Ok(seen) })
        }

        fn insert<'a>(
            &'a self,
            nonce: &'a str,
            _: DateTime<Utc>,
        ) -> BoxFuture<'a, Result<bool, crate::BoxError>> {
            let fresh = self.0.lock().unwrap().insert(nonce.to_owned());
            Box::pin(async move { Ok(fresh) })
        }
    }

    fn now() -> DateTime<Utc> {
        "2024-06-17T16:00:00Z".parse().unwrap()
    }

    /// An order for RB-WIN-AV-001 issued and expiring at the given offsets
    /// (seconds) from now, checked at now.
    async fn check(issued: i64, expires: i64) -> Result<VerifiedOrder, OrderRefusal> {
        let key = KeyPair::from_seed([3; 32]);
        let appliance_id = ApplianceId::random();
        let at = |seconds: i64| {
            (now() + Duration::seconds(seconds))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let body = OrderBody {
            order_id: OrderId::random(),
            appliance_id,
            runbook_id: "RB-WIN-AV-001".parse().unwrap(),
            params: Value::Null,
            target: None,
            issued_at: at(issued),
            expires_at: at(expires),
            nonce: "n-1".to_owned(),
            approval: None,
        };
        let signature =
            key.sign_base64(&osiris_evidence::canonical::to_vec("order", &body).unwrap());
        let catalog = Catalog::embedded().unwrap();
        let inventory = [InventoryTarget {
            name: "dc01".to_owned(),
            platform: Platform::Windows,
        }];
        let nonces = Seen::default();
        let context = OrderContext {
            server_key: &key.public_key(),
            appliance_id,
            catalog: &catalog,
            inventory: &inventory,
            now: now(),
            nonces: &nonces,
        };
        verify_order(&SignedOrder { body, signature }, &context).await
    }

    #[tokio::test]
    async fn the_time_limits_hold_exactly_at_their_bounds() {
        // Issued exactly 5 minutes ahead: accepted; a second more: refused.
        assert!(check(300, 900).await.is_ok());
        assert!(matches!(
            check(301, 900).await,
            Err(OrderRefusal::IssuedInFuture { .. })
        ));
        // A lifetime of exactly 15 minutes: accepted; a second more: refused.
        assert!(check(-60, 840).await.is_ok());
        assert!(matches!(
            check(-60, 841).await,
            Err(OrderRefusal::BadLifetime { seconds: 901 })
        ));
        // Expiring now is expired; a second later is not.
        assert!(matches!(
            check(-600, 0).await,
            Err(OrderRefusal::Expired { .. })
        ));
        assert!(check(-600, 1).await.is_ok());
        // Expiring when issued lives 0 s.
        assert!(matches!(
            check(0, 0).await,
            Err(OrderRefusal::BadLifetime { seconds: 0 })
        ));
    }

    #[tokio::test]
    async fn null_params_are_no_params_and_verified_orders_keep_them() {
        let order = check(-60, 600).await.unwrap();
        assert!(order.params().is_empty());
        assert_eq!(order.targets().len(), 1);
    }

    #[test]
    fn every_refusal_names_a_gate_and_a_code() {
        let refusal = OrderRefusal::Unsigned;
        assert_eq!(
            (refusal.gate(), refusal.code()),
            (Gate::Signature, "unsigned")
        );
        let refusal = OrderRefusal::InvalidParams {
            reason: "x".to_owned(),
        };
        assert_eq!(
            (refusal.gate(), refusal.code()),
            (Gate::Params, "invalid_params")
        );
    }
}
