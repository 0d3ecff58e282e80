//! Driver errors to store errors, and stored text to domain values.

use osiris_store::Error;

/// The database this crate speaks.
pub(crate) type Db = sqlx::Postgres;

/// Wraps a driver error as `Backend`, or as `Conflict` naming the
/// constraint when a unique index refused the write. The migrations name
/// every unique constraint as `osiris_store::constraint` does.
pub(crate) fn backend<E>(context: &'static str) -> impl FnOnce(E) -> Error
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    move |error| {
        let source = error.into();
        let conflict = source
            .downcast_ref::<sqlx::Error>()
            .and_then(sqlx::Error::as_database_error)
            .filter(|database| database.is_unique_violation())
            .and_then(|database| database.constraint().map(str::to_owned));
        if let Some(constraint) = conflict {
            return Error::Conflict { constraint };
        }
        Error::Backend {
            context: context.to_owned(),
            source,
        }
    }
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
