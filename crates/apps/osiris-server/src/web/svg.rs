//! Charts drawn on the server as SVG: the fleet's 30-day sparkline of the
//! daily pass rate. The template writes the markup; this computes the
//! coordinates and the text alternative (`<title>`).

use std::fmt::Write as _;

/// A sparkline: a polyline of daily values from 0 to 100, left to right,
/// with days without data left out.
#[derive(Debug, Clone)]
pub(crate) struct Sparkline {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `x,y x,y …`, empty when no day has data.
    pub points: String,
    /// The text alternative.
    pub title: String,
}

/// Plots `days` (oldest first; `None` for a day without data) as rates
/// from 0 to 100.
pub(crate) fn daily_pass_rate(days: &[Option<f64>]) -> Sparkline {
    const WIDTH: u32 = 120;
    const HEIGHT: u32 = 28;
    let slots = days.len().max(2) - 1;
    let mut points = String::new();
    for (day, rate) in days.iter().enumerate() {
        let Some(rate) = rate else { continue };
        #[expect(clippy::cast_precision_loss, reason = "at most a few dozen days")]
        let x = f64::from(WIDTH) * day as f64 / slots as f64;
        let y = f64::from(HEIGHT - 2) * (1.0 - rate.clamp(0.0, 100.0) / 100.0) + 1.0;
        if !points.is_empty() {
            points.push(' ');
        }
        let _ = write!(points, "{x:.1},{y:.1}");
    }
    let measured: Vec<f64> = days.iter().flatten().copied().collect();
    let title = match (measured.first(), measured.last()) {
        (Some(first), Some(last)) => format!(
            "Daily pass rate over the last {} days: {first:.0}% on the first day with results, {last:.0}% on the last ({} days with results)",
            days.len(),
            measured.len()
        ),
        _ => format!("No check results in the last {} days", days.len()),
    };
    Sparkline {
        width: WIDTH,
        height: HEIGHT,
        points,
        title,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_without_data_are_left_out_and_rates_map_to_height() {
        let line = daily_pass_rate(&[Some(100.0), None, Some(0.0)]);
        assert_eq!(line.points, "0.0,1.0 120.0,27.0");
        assert!(
            line.title.contains("100% on the first day"),
            "{}",
            line.title
        );
        assert!(line.title.contains("0% on the last"), "{}", line.title);
    }

    #[test]
    fn no_data_says_so() {
        let line = daily_pass_rate(&[None; 30]);
        assert!(line.points.is_empty());
        assert_eq!(line.title, "No check results in the last 30 days");
    }
}
