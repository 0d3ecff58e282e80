//! The maintenance window against brute force: `contains` agrees with a
//! minute-by-minute walk of each opening in local wall-clock time, and
//! `next_opening` with a minute-by-minute walk forward in real time,
//! around daylight-saving transitions of zones that have them (including
//! Lord Howe's half-hour shift) and zones that do not.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use osiris_healing::MaintenanceWindow;
use proptest::prelude::*;

const ZONES: [Tz; 6] = [
    chrono_tz::America::New_York,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Sydney,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kolkata,
    chrono_tz::UTC,
];

/// Instants near the 2024 transitions of the zones above, and one far from any.
const NEAR: [&str; 9] = [
    "2024-03-10T07:00:00Z",
    "2024-11-03T06:00:00Z",
    "2024-03-31T01:00:00Z",
    "2024-10-27T01:00:00Z",
    "2024-04-06T16:00:00Z",
    "2024-10-05T16:00:00Z",
    "2024-04-06T15:00:00Z",
    "2024-10-05T15:30:00Z",
    "2024-06-15T12:00:00Z",
];

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

#[derive(Debug, Clone)]
struct Case {
    tz: Tz,
    days: Vec<Weekday>,
    start: NaiveTime,
    end: NaiveTime,
    instant: DateTime<Utc>,
}

fn minute_of_day(minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap()
}

fn cases() -> impl Strategy<Value = Case> {
    (
        0..ZONES.len(),
        0_u8..128,
        0_u32..1440,
        1_u32..1440,
        0..NEAR.len(),
        -3 * 1440_i64..3 * 1440,
    )
        .prop_map(|(zone, mask, start, length, near, offset)| Case {
            tz: ZONES[zone],
            days: WEEK
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, d)| *d)
                .collect(),
            start: minute_of_day(start),
            end: minute_of_day((start + length) % 1440),
            instant: NEAR[near].parse::<DateTime<Utc>>().unwrap() + Duration::minutes(offset),
        })
}

impl Case {
    fn window(&self) -> MaintenanceWindow {
        MaintenanceWindow::new(self.tz, self.days.clone(), self.start, self.end).unwrap()
    }

    fn opens_on(&self, day: Weekday) -> bool {
        self.days.is_empty() || self.days.contains(&day)
    }

    /// Walks every opening that could cover `instant` minute by minute in
    /// local time and looks for its local minute.
    fn brute_contains(&self, instant: DateTime<Utc>) -> bool {
        let local: NaiveDateTime = instant.with_timezone(&self.tz).naive_local();
        (0..=2).any(|back| {
            let date = local.date() - Duration::days(back);
            if !self.opens_on(date.weekday()) {
                return false;
            }
            let mut minute = date.and_time(self.start);
            let close = if self.end > self.start {
                date.and_time(self.end)
            } else {
                (date + Duration::days(1)).and_time(self.end)
            };
            while minute < close {
                if minute == local {
                    return true;
                }
                minute += Duration::minutes(1);
            }
            false
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn contains_agrees_with_a_minute_walk_in_local_time(case in cases()) {
        let window = case.window();
        prop_assert_eq!(window.contains(case.instant), case.brute_contains(case.instant), "{:?}", case);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn next_opening_is_the_first_minute_the_window_is_entered(case in cases()) {
        let window = case.window();
        let mut minute = case.instant;
        let mut walked = None;
        for _ in 0..15 * 1440 {
            minute += Duration::minutes(1);
            if window.contains(minute) && !window.contains(minute - Duration::minutes(1)) {
                walked = Some(minute);
                break;
            }
        }
        prop_assert_eq!(window.next_opening(case.instant), walked, "{:?}", case);
    }
}
