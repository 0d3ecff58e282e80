//! The peak memory of a child process, for the benches whose figure is a
//! resident set (the appliance's sweep, an export of a million bundles).
//!
//! Linux keeps the high-water mark of a process's resident set (`VmHWM` in
//! `/proc/<pid>/status`); it only grows, so the last reading before the
//! process exits is its peak. The file disappears once the child is
//! reaped, so it is read every 2 ms while the child runs, before each
//! check for its exit.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// The peak of one child process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peak {
    /// `VmHWM`: the resident set's high-water mark.
    pub hwm: u64,
    /// The largest `RssAnon` seen (heap, stacks).
    pub anon: u64,
    /// The largest `RssFile` seen (the binary and other mapped files).
    pub file: u64,
    /// The most threads seen.
    pub threads: u64,
    /// Wall time to exit.
    pub elapsed: Duration,
}

impl Peak {
    /// The high-water mark in MiB.
    #[must_use]
    #[expect(clippy::cast_precision_loss, reason = "a figure to print")]
    pub fn hwm_mib(&self) -> f64 {
        self.hwm as f64 / 1024.0
    }

    /// The heap's peak in MiB.
    #[must_use]
    #[expect(clippy::cast_precision_loss, reason = "a figure to print")]
    pub fn anon_mib(&self) -> f64 {
        self.anon as f64 / 1024.0
    }

    /// The mapped files' peak in MiB.
    #[must_use]
    #[expect(clippy::cast_precision_loss, reason = "a figure to print")]
    pub fn file_mib(&self) -> f64 {
        self.file as f64 / 1024.0
    }

    /// This peak's high-water mark over `other`'s.
    #[must_use]
    #[expect(clippy::cast_precision_loss, reason = "a ratio to print")]
    pub fn ratio(&self, other: &Self) -> f64 {
        self.hwm as f64 / other.hwm as f64
    }
}

/// Runs `command` to the end, polling its memory; it must succeed (its
/// stderr is shown when it does not). Its stdout is discarded.
pub async fn peak(mut command: tokio::process::Command) -> Peak {
    let started = tokio::time::Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let status_file = PathBuf::from(format!("/proc/{pid}/status"));
    let mut peak = Peak::default();
    let status = loop {
        // Read before checking for exit: once reaped, the file is gone.
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            record(&mut peak, &text);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    peak.elapsed = started.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use tokio::io::AsyncReadExt as _;
        pipe.read_to_string(&mut stderr).await.unwrap();
    }
    assert!(status.success(), "{command:?}: {status}: {stderr}");
    peak
}

/// The process whose `VmHWM` is the median of `peaks`.
///
/// # Panics
/// When `peaks` is empty.
#[must_use]
pub fn median(peaks: &[Peak]) -> Peak {
    let mut sorted = peaks.to_vec();
    sorted.sort_by_key(|p| p.hwm);
    sorted[sorted.len() / 2]
}

/// Folds one reading of `/proc/<pid>/status` into `peak`.
fn record(peak: &mut Peak, status: &str) {
    for line in status.lines() {
        let mut words = line.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "VmHWM:" => peak.hwm = peak.hwm.max(value),
            "RssAnon:" => peak.anon = peak.anon.max(value),
            "RssFile:" => peak.file = peak.file.max(value),
            "Threads:" => peak.threads = peak.threads.max(value),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_keep_the_largest_value_of_each_line() {
        let mut peak = Peak::default();
        record(
            &mut peak,
            "Name:\tosiris\nVmHWM:\t  2048 kB\nRssAnon:\t 1000 kB\nRssFile:\t 900 kB\nThreads:\t3\n",
        );
        record(
            &mut peak,
            "VmHWM:\t  4096 kB\nRssAnon:\t 500 kB\nRssFile:\t 1200 kB\nThreads:\t2\n",
        );
        assert_eq!(
            (peak.hwm, peak.anon, peak.file, peak.threads),
            (4096, 1000, 1200, 3)
        );
        assert!((peak.hwm_mib() - 4.0).abs() < f64::EPSILON);
    }

    #[tokio::test]
    async fn a_child_process_has_a_peak() {
        let mut command = tokio::process::Command::new("sh");
        command.args(["-c", "sleep 0.05"]);
        let peak = peak(command).await;
        assert!(peak.hwm > 0, "{peak:?}");
        assert!(peak.elapsed >= Duration::from_millis(50), "{peak:?}");
    }
}
