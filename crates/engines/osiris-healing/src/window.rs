//! The site's maintenance window: when disruptive runbooks may run.
//!
//! The window is wall-clock time in the site's zone, so it follows daylight
//! saving time: an instant is inside when its local time is. On the night
//! clocks spring forward, local times in the gap never occur, so a window
//! reaching into the gap is shorter; on the night they fall back, the
//! repeated hour is inside twice, so such a window is longer. `days` name
//! the day a window *opens*: an overnight window (end before start) opened
//! on Saturday closes on Sunday morning.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::{Error, Result};

/// A daily window in the site's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    tz: Tz,
    days: Vec<Weekday>,
    start: NaiveTime,
    end: NaiveTime,
}

/// How far ahead [`MaintenanceWindow::next_opening`] looks: two weeks, so a
/// weekly window that one DST night swallows whole still has a next one.
const LOOKAHEAD_DAYS: i64 = 15;

impl MaintenanceWindow {
    /// A window opening at `start` and closing at `end` (local time in
    /// `tz`) on each of `days`, or every day when `days` is empty. `end`
    /// before `start` means the window runs overnight.
    ///
    /// # Errors
    /// [`Error::EmptyWindow`] when `start` equals `end`.
    pub fn new(tz: Tz, days: Vec<Weekday>, start: NaiveTime, end: NaiveTime) -> Result<Self> {
        if start == end {
            return Err(Error::EmptyWindow { at: start });
        }
        Ok(Self {
            tz,
            days,
            start,
            end,
        })
    }

    /// The site's time zone.
    #[must_use]
    pub const fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether `instant` falls inside the window.
    #[must_use]
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        let local = instant.with_timezone(&self.tz).naive_local();
        self.contains_local(local)
    }

    /// The first instant strictly after `after` at which the window opens
    /// (the start of its next stretch of inside instants), or `None` when
    /// it does not open within two weeks (no allowed day, or a window the
    /// daylight-saving night swallows whole).
    #[must_use]
    pub fn next_opening(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // The window can only be entered where the local clock reaches
        // `start`, or where it jumps (a daylight-saving transition lands
        // inside it): those instants are the candidates.
        let today = after.with_timezone(&self.tz).date_naive();
        let mut candidates: Vec<DateTime<Utc>> = (-1..=LOOKAHEAD_DAYS)
            .filter_map(|offset| today.checked_add_signed(Duration::days(offset)))
            .filter(|date| self.opens_on(*date))
            .flat_map(|date| self.instants_at(date.and_time(self.start)))
            .chain(transitions(
                self.tz,
                after,
                after + Duration::days(LOOKAHEAD_DAYS),
            ))
            .filter(|at| *at > after)
            .collect();
        candidates.sort();
        candidates
            .into_iter()
            .find(|at| self.contains(*at) && !self.contains(*at - Duration::seconds(1)))
    }

    fn opens_on(&self, date: NaiveDate) -> bool {
        self.days.is_empty() || self.days.contains(&date.weekday())
    }

    fn overnight(&self) -> bool {
        self.end < self.start
    }

    fn contains_local(&self, local: NaiveDateTime) -> bool {
        let (date, time) = (local.date(), local.time());
        if self.overnight() {
            (time >= self.start && self.opens_on(date))
                || (time < self.end && date.pred_opt().is_some_and(|d| self.opens_on(d)))
        } else {
            time >= self.start && time < self.end && self.opens_on(date)
        }
    }

    /// The instants whose local time is `local`: one, two in the repeated
    /// fall-back hour, none in the spring-forward gap.
    fn instants_at(&self, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(at) => vec![at.with_timezone(&Utc)],
            LocalResult::Ambiguous(first, second) => {
                vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
            }
            LocalResult::None => Vec::new(),
        }
    }
}

/// The instants in `[from, to)` at which `tz`'s offset from UTC changes, to
/// the second: sampled hourly (zones change at most a few times a year),
/// then bisected.
fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let offset = |seconds: i64| {
        DateTime::from_timestamp(seconds, 0).map(|at| at.with_timezone(&tz).offset().fix())
    };
    let mut found = Vec::new();
    let mut at = from.timestamp();
    let end = to.timestamp();
    while at < end {
        let next = at + 3600;
        let before = offset(at);
        if before != offset(next) {
            let (mut same, mut changed) = (at, next);
            while changed - same > 1 {
                let middle = same + (changed - same) / 2;
                if offset(middle) == before {
                    same = middle;
                } else {
                    changed = middle;
                }
            }
            found.extend(DateTime::from_timestamp(changed, 0));
        }
        at = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::London;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn window(days: Vec<Weekday>, start: NaiveTime, end: NaiveTime) -> MaintenanceWindow {
        MaintenanceWindow::new(New_York, days, start, end).unwrap()
    }

    #[test]
    fn a_window_opening_and_closing_at_once_is_refused() {
        assert!(matches!(
            MaintenanceWindow::new(New_York, vec![], hm(2, 0), hm(2, 0)),
            Err(Error::EmptyWindow { .. })
        ));
    }

    #[test]
    fn a_same_day_window_holds_its_start_but_not_its_end() {
        let w = window(vec![], hm(1, 0), hm(5, 0));
        // 2024-06-15 is EDT (UTC-4).
        assert!(!w.contains(at("2024-06-15T04:59:59Z")));
        assert!(w.contains(at("2024-06-15T05:00:00Z")));
        assert!(w.contains(at("2024-06-15T08:59:59Z")));
        assert!(!w.contains(at("2024-06-15T09:00:00Z")));
    }

    #[test]
    fn an_overnight_window_belongs_to_the_day_it_opens() {
        // Saturday 22:00 to Sunday 02:00 only.
        let w = window(vec![Weekday::Sat], hm(22, 0), hm(2, 0));
        assert!(w.contains(at("2024-06-16T02:30:00Z"))); // Sat 22:30 EDT
        assert!(w.contains(at("2024-06-16T05:59:00Z"))); // Sun 01:59 EDT
        assert!(!w.contains(at("2024-06-16T06:00:00Z"))); // Sun 02:00 EDT
        assert!(!w.contains(at("2024-06-17T02:30:00Z"))); // Sun 22:30 EDT
        assert!(!w.contains(at("2024-06-15T05:30:00Z"))); // Sat 01:30 EDT (Friday's night)
    }

    #[test]
    fn spring_forward_shortens_a_window_reaching_into_the_gap() {
        // 2024-03-10: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
        let w = window(vec![], hm(1, 30), hm(2, 30));
        assert!(w.contains(at("2024-03-10T06:30:00Z"))); // 01:30 EST
        assert!(w.contains(at("2024-03-10T06:59:59Z"))); // 01:59:59 EST
        assert!(!w.contains(at("2024-03-10T07:00:00Z"))); // 03:00 EDT
        // The same window the day before lasts the full hour.
        assert!(w.contains(at("2024-03-09T07:15:00Z"))); // 02:15 EST
    }

    #[test]
    fn a_window_opening_inside_the_gap_opens_when_the_gap_ends() {
        let w = window(vec![], hm(2, 15), hm(4, 0));
        let opening = w.next_opening(at("2024-03-10T05:00:00Z")).unwrap();
        assert_eq!(opening, at("2024-03-10T07:00:00Z")); // 03:00 EDT
        assert!(w.contains(opening));
        assert!(!w.contains(opening - Duration::seconds(1)));
    }

    #[test]
    fn fall_back_keeps_the_repeated_hour_inside_twice() {
        // 2024-11-03: 02:00 EDT falls back to 01:00 EST (06:00 UTC).
        let w = window(vec![], hm(1, 0), hm(2, 0));
        assert!(w.contains(at("2024-11-03T05:30:00Z"))); // 01:30 EDT
        assert!(w.contains(at("2024-11-03T06:30:00Z"))); // 01:30 EST
        assert!(!w.contains(at("2024-11-03T07:00:00Z"))); // 02:00 EST
    }

    #[test]
    fn fall_back_reopens_a_short_window_in_the_repeated_hour() {
        let w = window(vec![], hm(1, 10), hm(1, 20));
        let first = w.next_opening(at("2024-11-03T04:00:00Z")).unwrap();
        assert_eq!(first, at("2024-11-03T05:10:00Z")); // 01:10 EDT
        let second = w.next_opening(first).unwrap();
        assert_eq!(second, at("2024-11-03T06:10:00Z")); // 01:10 EST
    }

    #[test]
    fn fall_back_reenters_a_window_when_the_clock_jumps_back_into_it() {
        // 00:30 to 01:30: at 02:00 EDT the clock falls back to 01:00 EST,
        // inside the window again, although 01:00 is not its start.
        let w = window(vec![], hm(0, 30), hm(1, 30));
        assert!(!w.contains(at("2024-11-03T05:45:00Z"))); // 01:45 EDT
        assert_eq!(
            w.next_opening(at("2024-11-03T05:45:00Z")),
            Some(at("2024-11-03T06:00:00Z")) // 01:00 EST
        );
    }

    #[test]
    fn next_opening_skips_to_the_next_allowed_day_in_local_time() {
        let w = window(vec![Weekday::Sun], hm(3, 0), hm(5, 0));
        // Monday 2024-06-17 12:00 EDT: the next Sunday is 2024-06-23.
        assert_eq!(
            w.next_opening(at("2024-06-17T16:00:00Z")),
            Some(at("2024-06-23T07:00:00Z"))
        );
        let london = MaintenanceWindow::new(London, vec![], hm(23, 0), hm(1, 0)).unwrap();
        assert_eq!(
            london.next_opening(at("2024-06-17T12:00:00Z")),
            Some(at("2024-06-17T22:00:00Z"))
        );
    }

    #[test]
    fn next_opening_inside_a_window_is_the_following_one() {
        let w = window(vec![], hm(1, 0), hm(5, 0));
        assert_eq!(
            w.next_opening(at("2024-06-15T06:00:00Z")),
            Some(at("2024-06-16T05:00:00Z"))
        );
    }
}
