//! The figures: throughput and latency percentiles per phase, and the load
//! phase against the baseline of the same run.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

/// One phase's raw measurements, pooled over the rounds.
pub(crate) struct Phase {
    pub(crate) name: String,
    bundles_per_checkin: usize,
    pub(crate) checkins: usize,
    pub(crate) wall: Duration,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) failures: Vec<String>,
}

impl Phase {
    pub(crate) fn new(name: &str, bundles_per_checkin: usize) -> Self {
        Self {
            name: name.to_owned(),
            bundles_per_checkin,
            checkins: 0,
            wall: Duration::ZERO,
            latencies: Vec::new(),
            failures: Vec::new(),
        }
    }

    fn figures(mut self) -> Figures {
        self.latencies.sort_unstable();
        let seconds = self.wall.as_secs_f64();
        let rate = if seconds > 0.0 {
            self.checkins as f64 / seconds
        } else {
            0.0
        };
        Figures {
            name: self.name,
            checkins: self.checkins,
            bundles: self.checkins * self.bundles_per_checkin,
            seconds,
            checkins_per_second: rate,
            bundles_per_second: rate * self.bundles_per_checkin as f64,
            p50_ms: percentile(&self.latencies, 50.0),
            p95_ms: percentile(&self.latencies, 95.0),
            p99_ms: percentile(&self.latencies, 99.0),
            max_ms: self.latencies.last().map_or(0.0, millis),
            failures: self.failures.len(),
            first_failure: self.failures.into_iter().next(),
        }
    }
}

fn millis(duration: &Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The nearest-rank percentile of sorted `values`, in milliseconds.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .map_or(0.0, millis)
}

/// One phase's figures.
#[derive(Debug, Serialize)]
pub(crate) struct Figures {
    name: String,
    checkins: usize,
    bundles: usize,
    seconds: f64,
    checkins_per_second: f64,
    bundles_per_second: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    failures: usize,
    first_failure: Option<String>,
}

/// The run's report.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    appliances: usize,
    baseline: Figures,
    load: Figures,
    /// Load check-ins per second over baseline check-ins per second.
    throughput_ratio: f64,
}

impl Report {
    pub(crate) fn new(appliances: usize, baseline: Phase, load: Phase) -> Self {
        let (baseline, load) = (baseline.figures(), load.figures());
        let throughput_ratio = if baseline.checkins_per_second > 0.0 {
            load.checkins_per_second / baseline.checkins_per_second
        } else {
            0.0
        };
        Self {
            appliances,
            baseline,
            load,
            throughput_ratio,
        }
    }

    /// Whether every check-in was answered as expected.
    pub(crate) const fn failures(&self) -> usize {
        self.baseline.failures + self.load.failures
    }

    /// A Markdown table, as BENCHMARKS.md shows it.
    pub(crate) fn table(&self) -> String {
        let mut out = format!(
            "{} appliances at once\n\n| phase | check-ins | check-ins/s | bundles/s | p50 | p95 | p99 | max | failures |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
            self.appliances
        );
        for figures in [&self.baseline, &self.load] {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} |",
                figures.name,
                figures.checkins,
                figures.checkins_per_second,
                figures.bundles_per_second,
                figures.p50_ms,
                figures.p95_ms,
                figures.p99_ms,
                figures.max_ms,
                figures.failures
            );
        }
        let _ = writeln!(
            out,
            "\nload / baseline throughput: {:.2}×",
            self.throughput_ratio
        );
        for figures in [&self.baseline, &self.load] {
            if let Some(failure) = &figures.first_failure {
                let _ = writeln!(out, "first failure ({}): {failure}", figures.name);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert!((percentile(&values, 50.0) - 50.0).abs() < 1e-9);
        assert!((percentile(&values, 99.0) - 99.0).abs() < 1e-9);
        assert!((percentile(&values, 100.0) - 100.0).abs() < 1e-9);
        assert!((percentile(&[Duration::from_millis(7)], 99.0) - 7.0).abs() < 1e-9);
        assert!(percentile(&[], 99.0).abs() < 1e-9);
    }

    #[test]
    fn the_ratio_compares_throughput_of_the_same_run() {
        let mut baseline = Phase::new("b", 0);
        baseline.checkins = 100;
        baseline.wall = Duration::from_secs(1);
        let mut load = Phase::new("l", 10);
        load.checkins = 50;
        load.wall = Duration::from_secs(1);
        load.failures.push("x".to_owned());
        let report = Report::new(4, baseline, load);
        assert!((report.throughput_ratio - 0.5).abs() < 1e-9);
        assert!((report.load.bundles_per_second - 500.0).abs() < 1e-9);
        assert_eq!(report.failures(), 1);
        assert!(report.table().contains("first failure (l): x"));
    }
}
