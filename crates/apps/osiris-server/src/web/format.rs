//! How pages show values.

use chrono::{DateTime, Utc};

/// `2026-12-03 09:15 UTC`.
pub(super) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A share of `part` in `whole` as a percentage with one decimal, or
/// `None` when `whole` is 0.
pub(super) fn percent(part: usize, whole: usize) -> Option<f64> {
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let share = (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0);
    share
}
