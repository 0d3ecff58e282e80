//! Charts drawn on the server as SVG: the fleet's 30-day sparkline of the
//! daily pass rate, and the incidents page's stacked bars of incidents
//! opened per day by tier. The templates write the markup; this computes
//! the coordinates, the labels and the text alternatives (`<title>`,
//! `<desc>` and one `<title>` per bar). Colours come from the stylesheet
//! (`tier-l1`…`tier-l3`, each at least 4.5:1 on white) and the bars carry
//! text, so no information is in colour alone.

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

/// Incidents opened on one day, by tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TierDay {
    /// `2026-11-24`.
    pub date: String,
    /// Opened at L1.
    pub l1: u64,
    /// Opened at L2.
    pub l2: u64,
    /// Opened at L3.
    pub l3: u64,
}

impl TierDay {
    fn total(&self) -> u64 {
        self.l1.saturating_add(self.l2).saturating_add(self.l3)
    }
}

/// One tier's part of a day's bar.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// `l1`, `l2` or `l3` (the stylesheet's `tier-…` class).
    pub tier: &'static str,
    /// Top edge.
    pub y: String,
    /// Height.
    pub height: String,
}

/// One day's bar.
#[derive(Debug, Clone)]
pub(crate) struct TierBar {
    /// Left edge.
    pub x: String,
    /// Width.
    pub width: String,
    /// `2026-11-24: 3 incidents (L1 2, L2 0, L3 1)`.
    pub title: String,
    /// Bottom-up L1, L2, L3; tiers without incidents left out.
    pub segments: Vec<Segment>,
}

/// A label under the bars.
#[derive(Debug, Clone)]
pub(crate) struct AxisLabel {
    /// Its centre.
    pub x: String,
    /// `11-24`.
    pub text: String,
}

/// Stacked bars of incidents per day by tier, oldest day left.
#[derive(Debug, Clone)]
pub(crate) struct TierChart {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The baseline's y.
    pub baseline: u32,
    /// The y of the top gridline, at [`TierChart::max`].
    pub top: u32,
    /// The largest day's total (the scale), at least 1.
    pub max: u64,
    /// The text alternative's title.
    pub title: String,
    /// The text alternative's description: totals per tier and the
    /// busiest day.
    pub desc: String,
    /// One bar per day.
    pub bars: Vec<TierBar>,
    /// Dates under the bars (the first, every seventh, the last).
    pub labels: Vec<AxisLabel>,
}

/// Draws `days` (oldest first) as stacked bars, L1 at the bottom.
pub(crate) fn incidents_by_tier(days: &[TierDay]) -> TierChart {
    const WIDTH: u32 = 640;
    const HEIGHT: u32 = 200;
    const LEFT: f64 = 36.0;
    const RIGHT: f64 = 8.0;
    const TOP: u32 = 28;
    const BASELINE: u32 = 172;
    let max = days.iter().map(TierDay::total).max().unwrap_or(0).max(1);
    let slots = days.len().max(1);
    #[expect(
        clippy::cast_precision_loss,
        reason = "a few dozen days and small counts"
    )]
    let (slot, scale) = (
        (f64::from(WIDTH) - LEFT - RIGHT) / slots as f64,
        f64::from(BASELINE - TOP) / max as f64,
    );
    let bar_width = (slot * 0.7).max(1.0);
    let mut bars = Vec::with_capacity(days.len());
    let mut labels = Vec::new();
    for (index, day) in days.iter().enumerate() {
        #[expect(clippy::cast_precision_loss, reason = "a few dozen days")]
        let left = LEFT + slot * index as f64;
        let x = left + (slot - bar_width) / 2.0;
        let mut bottom = f64::from(BASELINE);
        let mut segments = Vec::new();
        for (tier, count) in [("l1", day.l1), ("l2", day.l2), ("l3", day.l3)] {
            if count == 0 {
                continue;
            }
            #[expect(clippy::cast_precision_loss, reason = "small counts")]
            let height = count as f64 * scale;
            bottom -= height;
            segments.push(Segment {
                tier,
                y: format!("{bottom:.1}"),
                height: format!("{height:.1}"),
            });
        }
        bars.push(TierBar {
            x: format!("{x:.1}"),
            width: format!("{bar_width:.1}"),
            title: format!(
                "{}: {} incident{} (L1 {}, L2 {}, L3 {})",
                day.date,
                day.total(),
                if day.total() == 1 { "" } else { "s" },
                day.l1,
                day.l2,
                day.l3
            ),
            segments,
        });
        if index % 7 == 0 || index + 1 == days.len() {
            labels.push(AxisLabel {
                x: format!("{:.1}", left + slot / 2.0),
                text: day.date.get(5..).unwrap_or(day.date.as_str()).to_owned(),
            });
        }
    }
    let sum = |tier: fn(&TierDay) -> u64| days.iter().map(tier).sum::<u64>();
    let (l1, l2, l3) = (sum(|d| d.l1), sum(|d| d.l2), sum(|d| d.l3));
    let busiest = days
        .iter()
        .filter(|d| d.total() > 0)
        .max_by(|a, b| a.total().cmp(&b.total()).then_with(|| b.date.cmp(&a.date)));
    let desc = match busiest {
        Some(day) => format!(
            "{} incidents opened: {l1} at L1, {l2} at L2, {l3} at L3; the busiest day was {} with {}",
            l1 + l2 + l3,
            day.date,
            day.total()
        ),
        None => "No incidents were opened in this period".to_owned(),
    };
    TierChart {
        width: WIDTH,
        height: HEIGHT,
        baseline: BASELINE,
        top: TOP,
        max,
        title: format!(
            "Incidents opened per day by tier over the last {} days",
            days.len()
        ),
        desc,
        bars,
        labels,
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

    fn day(date: &str, l1: u64, l2: u64, l3: u64) -> TierDay {
        TierDay {
            date: date.to_owned(),
            l1,
            l2,
            l3,
        }
    }

    #[test]
    fn tiers_stack_bottom_up_scaled_to_the_busiest_day() {
        let chart = incidents_by_tier(&[
            day("2026-11-23", 2, 1, 1),
            day("2026-11-24", 0, 0, 0),
            day("2026-11-25", 1, 0, 1),
        ]);
        assert_eq!(chart.max, 4);
        assert_eq!(chart.bars.len(), 3);
        let first = &chart.bars[0];
        let tiers: Vec<&str> = first.segments.iter().map(|s| s.tier).collect();
        assert_eq!(tiers, ["l1", "l2", "l3"]);
        // 144 pixels for 4 incidents: 36 each, L1 from the baseline (172) up.
        assert_eq!(first.segments[0].y, "100.0");
        assert_eq!(first.segments[0].height, "72.0");
        assert_eq!(first.segments[1].y, "64.0");
        assert_eq!(first.segments[2].y, "28.0");
        assert_eq!(first.title, "2026-11-23: 4 incidents (L1 2, L2 1, L3 1)");
        assert!(
            chart.bars[1].segments.is_empty(),
            "an empty day has no segment"
        );
        assert_eq!(
            chart.bars[1].title,
            "2026-11-24: 0 incidents (L1 0, L2 0, L3 0)"
        );
        assert_eq!(
            chart.bars[2].title,
            "2026-11-25: 2 incidents (L1 1, L2 0, L3 1)"
        );
        assert_eq!(
            chart.desc,
            "6 incidents opened: 3 at L1, 1 at L2, 2 at L3; the busiest day was 2026-11-23 with 4"
        );
        assert_eq!(
            chart.title,
            "Incidents opened per day by tier over the last 3 days"
        );
        let labels: Vec<&str> = chart.labels.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(labels, ["11-23", "11-25"], "the first and the last day");
    }

    #[test]
    fn a_quiet_period_says_so_and_keeps_a_scale() {
        let days: Vec<TierDay> = (1..=30)
            .map(|d| day(&format!("2026-11-{d:02}"), 0, 0, 0))
            .collect();
        let chart = incidents_by_tier(&days);
        assert_eq!(chart.max, 1);
        assert_eq!(chart.desc, "No incidents were opened in this period");
        assert!(chart.bars.iter().all(|b| b.segments.is_empty()));
        let labels: Vec<&str> = chart.labels.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            labels,
            ["11-01", "11-08", "11-15", "11-22", "11-29", "11-30"]
        );
    }
}
