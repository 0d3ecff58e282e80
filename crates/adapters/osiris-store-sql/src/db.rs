//! Driver errors to store errors, and stored text to domain values.

use osiris_store::{Error, constraint};

/// Wraps a driver error as `Backend`, or as `Conflict` naming the store's
/// constraint when a unique index refused the write (same names on every
/// backend: see [`unique_violation`]).
pub(crate) fn backend<E>(context: &'static str) -> impl FnOnce(E) -> Error
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    move |error| {
        let source = error.into();
        if let Some(constraint) = source
            .downcast_ref::<sqlx::Error>()
            .and_then(unique_violation)
        {
            return Error::Conflict { constraint };
        }
        Error::Backend {
            context: context.to_owned(),
            source,
        }
    }
}

/// The constraint a unique violation names. PostgreSQL reports it (its
/// migrations name every unique constraint as `osiris_store::constraint`
/// does); SQLite reports only the columns ("UNIQUE constraint failed:
/// orders.nonce"), which are mapped to the shared names.
fn unique_violation(error: &sqlx::Error) -> Option<String> {
    let database = error.as_database_error()?;
    if !database.is_unique_violation() {
        return None;
    }
    if let Some(name) = database.constraint() {
        return Some(name.to_owned());
    }
    let columns = database
        .message()
        .strip_prefix("UNIQUE constraint failed: ")?;
    let name = match columns {
        "partners.name" => constraint::PARTNER_NAME,
        "clients.partner_id, clients.name" => constraint::CLIENT_NAME,
        "sites.client_id, sites.name" => constraint::SITE_NAME,
        "appliances.public_key" => constraint::APPLIANCE_PUBLIC_KEY,
        "appliances.claim_code_hash" => constraint::APPLIANCE_CLAIM_CODE,
        "appliances.mac" => constraint::APPLIANCE_UNCLAIMED_MAC,
        "hosts.site_id, hosts.hostname" => constraint::HOST_NAME,
        "evidence.appliance_id, evidence.seq" => constraint::EVIDENCE_SEQ,
        "evidence.bundle_id" => constraint::EVIDENCE_BUNDLE,
        "checkpoints.appliance_id, checkpoints.seq" => constraint::CHECKPOINT_SEQ,
        "orders.nonce" => constraint::ORDER_NONCE,
        "users.username" => constraint::USERNAME,
        "sessions.token_hash" => constraint::SESSION,
        "api_tokens.token_hash" => constraint::TOKEN_HASH,
        "promotions.partner_id, promotions.pattern_key" => constraint::PROMOTION_ACTIVE,
        // A reused primary key: `<table>.id` becomes `<table>_pkey`.
        other => {
            return Some(match other.strip_suffix(".id") {
                Some(table) => format!("{table}_pkey"),
                None => other.to_owned(),
            });
        }
    };
    Some(name.to_owned())
}

/// Parses a stored enum spelling, or reports the column as corrupt.
pub(crate) fn parse<T>(
    parsed: Option<T>,
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<T, Error> {
    parsed.ok_or_else(|| Error::corrupt(table, column, format!("unknown value {text:?}")))
}

/// Converts a stored integer that must fit the domain type.
pub(crate) fn count<T: TryFrom<i64>>(
    value: i64,
    table: &'static str,
    column: &'static str,
) -> Result<T, Error> {
    T::try_from(value)
        .map_err(|_| Error::corrupt(table, column, format!("{value} is out of range")))
}

/// A domain count as a stored integer (saturating: no count reaches 2^63).
pub(crate) fn int<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}
