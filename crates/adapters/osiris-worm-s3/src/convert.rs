//! Conversions between the SDK's types and the port's.

use std::fmt::Display;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::DateTime as SdkDateTime;
use chrono::{DateTime, Utc};
use osiris_worm::{Error, ObjectKey};

/// A retention date as the SDK's date, rounded up to a whole second: S3
/// keeps whole seconds, and rounding down would shorten the retention.
pub(crate) fn retention_to_sdk(instant: DateTime<Utc>) -> SdkDateTime {
    let whole = instant.timestamp();
    let secs = if instant.timestamp_subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    SdkDateTime::from_secs(secs)
}

/// The SDK's date as a chrono instant.
pub(crate) fn from_sdk(
    key: &ObjectKey,
    instant: &SdkDateTime,
) -> osiris_worm::Result<DateTime<Utc>> {
    DateTime::from_timestamp(instant.secs(), instant.subsec_nanos())
        .ok_or_else(|| Error::corrupt(key, "retain-until date is out of range"))
}

/// The S3 error code of a failed call (`AccessDenied`,
/// `PreconditionFailed`…), if S3 answered at all.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
}

/// A failed SDK call as the port's backend error: S3's code and message
/// when it answered, the SDK's error chain otherwise (its own `Display`
/// is terse, and its `Debug` carries the raw response).
pub(crate) fn backend<E, R>(action: &str, key: impl Display, error: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or("no message")
        ),
        None => DisplayErrorContext(&error).to_string(),
    };
    Error::backend(format!("{action} {key}: {detail}"), error)
}
