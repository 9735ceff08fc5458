//! Progress, computed from plain data: adherence and streaks over occurrences, weekly pain,
//! left/right asymmetry of measurements, and remote-monitoring windows. No database here, so
//! every rule has unit and property tests.

use crate::assignments::schedule::Schedule;
use chrono::{Datelike, Duration, NaiveDate};
use std::collections::{BTreeMap, BTreeSet};

/// One scheduled occurrence up to today, oldest first, and whether it was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub date: NaiveDate,
    pub slot: u8,
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adherence {
    /// Occurrences that count: every one before today, and today's that are done.
    pub scheduled: u32,
    pub done: u32,
    /// done / scheduled; `None` when nothing was scheduled.
    pub ratio: Option<f64>,
    pub current_streak: u32,
    pub longest_streak: u32,
}

/// The occurrences of `schedule` in `[from, to]`, oldest first; `logs_on(date)` says how many
/// live logs that date has, and the first that many slots are done (as the agenda shows them).
pub fn occurrences(
    schedule: &Schedule,
    from: NaiveDate,
    to: NaiveDate,
    logs_on: impl Fn(NaiveDate) -> u32,
) -> Vec<Occurrence> {
    schedule
        .dates(from, to)
        .flat_map(|date| {
            let logs = logs_on(date);
            (1..=schedule.times_per_day).map(move |slot| Occurrence {
                date,
                slot,
                done: u32::from(slot) <= logs,
            })
        })
        .collect()
}

/// Adherence over occurrences sorted by (date, slot). Today's occurrences that are not done
/// yet are still due: they neither count as scheduled nor break a streak.
pub fn adherence(occurrences: &[Occurrence], today: NaiveDate) -> Adherence {
    let counted: Vec<&Occurrence> = occurrences
        .iter()
        .filter(|o| o.date < today || (o.date == today && o.done))
        .collect();
    let scheduled = u32::try_from(counted.len()).unwrap_or(u32::MAX);
    let done = u32::try_from(counted.iter().filter(|o| o.done).count()).unwrap_or(u32::MAX);
    let (mut run, mut longest) = (0u32, 0u32);
    for o in &counted {
        run = if o.done { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    Adherence {
        scheduled,
        done,
        ratio: (scheduled > 0).then(|| f64::from(done) / f64::from(scheduled)),
        current_streak: run,
        longest_streak: longest,
    }
}

/// Pain reported by one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PainPoint {
    pub date: NaiveDate,
    pub before: Option<u8>,
    pub after: Option<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PainWeek {
    /// The Monday the week starts on.
    pub week_start: NaiveDate,
    pub sessions: u32,
    pub before_avg: Option<f64>,
    pub after_avg: Option<f64>,
}

fn mean(values: &[u8]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().map(|v| f64::from(*v)).sum::<f64>() / values.len() as f64)
}

/// Weekly averages (Monday-based weeks), oldest first; weeks without sessions are left out.
pub fn pain_weeks(points: &[PainPoint]) -> Vec<PainWeek> {
    let mut weeks: BTreeMap<NaiveDate, (u32, Vec<u8>, Vec<u8>)> = BTreeMap::new();
    for p in points {
        let monday = p.date - Duration::days(i64::from(p.date.weekday().num_days_from_monday()));
        let w = weeks.entry(monday).or_default();
        w.0 += 1;
        w.1.extend(p.before);
        w.2.extend(p.after);
    }
    weeks
        .into_iter()
        .map(|(week_start, (sessions, before, after))| PainWeek {
            week_start,
            sessions,
            before_avg: mean(&before),
            after_avg: mean(&after),
        })
        .collect()
}

/// The change of a weekly average from the first week that has one to the last (negative:
/// less pain); `None` with fewer than two such weeks.
pub fn weekly_change(weeks: &[PainWeek], pick: impl Fn(&PainWeek) -> Option<f64>) -> Option<f64> {
    let values: Vec<f64> = weeks.iter().filter_map(pick).collect();
    match values.as_slice() {
        [first, .., last] => Some(last - first),
        _ => None,
    }
}

/// One measured value on one side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SideValue {
    pub date: NaiveDate,
    pub value: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Asymmetry {
    /// |left − right| of the latest values.
    pub difference: f64,
    /// The difference as a percentage of the larger side.
    pub percent: Option<f64>,
    /// The difference now minus the difference at the start of the range (negative: the gap
    /// closes); `None` without an earlier pair.
    pub change: Option<f64>,
}

fn gap(left: f64, right: f64) -> (f64, Option<f64>) {
    let difference = (left - right).abs();
    let larger = left.abs().max(right.abs());
    (difference, (larger > 0.0).then(|| difference / larger * 100.0))
}

/// Asymmetry of series sorted by date: the latest value of each side against each other, and
/// how the gap changed since the first date on which both sides had a value.
pub fn asymmetry(left: &[SideValue], right: &[SideValue]) -> Option<Asymmetry> {
    let (l, r) = (left.last()?, right.last()?);
    let (difference, percent) = gap(l.value, r.value);
    // The first pair: the earliest value of each side, once both exist.
    let first_pair = match (left.first(), right.first()) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let change = first_pair
        .filter(|(a, b)| (a.date, b.date) != (l.date, r.date))
        .map(|(a, b)| difference - gap(a.value, b.value).0);
    Some(Asymmetry {
        difference,
        percent,
        change,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitoringWindow {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub days_with_data: u32,
    pub reaches_threshold: bool,
}

/// Days with data needed in a 30-day window (the threshold US clinics bill remote therapeutic
/// monitoring on).
pub const MONITORING_THRESHOLD: u32 = 16;
pub const MONITORING_WINDOW_DAYS: i64 = 30;

/// Consecutive 30-day windows from `start` up to the one containing `today`, each with the
/// number of distinct days that have at least one log.
pub fn monitoring_windows(start: NaiveDate, today: NaiveDate, log_days: &BTreeSet<NaiveDate>) -> Vec<MonitoringWindow> {
    let mut windows = Vec::new();
    let mut window_start = start;
    while window_start <= today {
        let end = window_start + Duration::days(MONITORING_WINDOW_DAYS - 1);
        let days = u32::try_from(log_days.range(window_start..=end).count()).unwrap_or(u32::MAX);
        windows.push(MonitoringWindow {
            start: window_start,
            end,
            days_with_data: days,
            reaches_threshold: days >= MONITORING_THRESHOLD,
        });
        window_start = end + Duration::days(1);
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn occ(date: &str, done: bool) -> Occurrence {
        Occurrence {
            date: d(date),
            slot: 1,
            done,
        }
    }

    #[test]
    fn streaks_count_consecutive_done_occurrences() {
        let today = d("2026-11-26");
        let o = [
            occ("2026-11-20", true),
            occ("2026-11-21", true),
            occ("2026-11-22", true),
            occ("2026-11-23", false),
            occ("2026-11-24", true),
            occ("2026-11-25", true),
            occ("2026-11-26", false), // today, still due: does not break the streak
        ];
        let a = adherence(&o, today);
        assert_eq!((a.scheduled, a.done, a.current_streak, a.longest_streak), (6, 5, 2, 3));
        assert!((a.ratio.expect("ratio") - 5.0 / 6.0).abs() < 1e-9);
        // Done today extends it.
        let mut o2 = o;
        o2[6].done = true;
        let a = adherence(&o2, today);
        assert_eq!((a.scheduled, a.current_streak), (7, 3));
        assert_eq!(adherence(&[], today).ratio, None);
    }

    #[test]
    fn pain_is_averaged_per_week() {
        let p = |date: &str, b, a| PainPoint {
            date: d(date),
            before: Some(b),
            after: Some(a),
        };
        // 2026-11-16 and 2026-11-23 are Mondays.
        let weeks = pain_weeks(&[p("2026-11-16", 6, 4), p("2026-11-18", 4, 2), p("2026-11-24", 3, 1)]);
        assert_eq!(weeks.len(), 2);
        assert_eq!(
            (weeks[0].week_start, weeks[0].sessions, weeks[0].before_avg),
            (d("2026-11-16"), 2, Some(5.0))
        );
        assert_eq!(weekly_change(&weeks, |w| w.before_avg), Some(-2.0));
        assert_eq!(weekly_change(&weeks, |w| w.after_avg), Some(-2.0));
        assert_eq!(weekly_change(&weeks[..1], |w| w.after_avg), None);
    }

    #[test]
    fn the_gap_between_hips_and_how_it_closes() {
        let s = |date: &str, value| SideValue { date: d(date), value };
        let left = [s("2026-11-01", 20.0), s("2026-11-20", 28.0)];
        let right = [s("2026-11-01", 35.0), s("2026-11-20", 34.0)];
        let a = asymmetry(&left, &right).expect("both sides");
        assert!((a.difference - 6.0).abs() < 1e-9);
        assert!((a.percent.expect("percent") - 6.0 / 34.0 * 100.0).abs() < 1e-9);
        assert!((a.change.expect("change") - (6.0 - 15.0)).abs() < 1e-9);
        assert_eq!(asymmetry(&left, &[]), None);
        let one = asymmetry(&left[..1], &right[..1]).expect("pair");
        assert_eq!(one.change, None, "a single pair has nothing to compare with");
    }

    #[test]
    fn monitoring_windows_count_days_not_logs() {
        let start = d("2026-10-01");
        let mut days = BTreeSet::new();
        for i in 0..16 {
            days.insert(start + Duration::days(i * 2 - (i % 2)));
        }
        let w = monitoring_windows(start, d("2026-11-05"), &days);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].start, w[0].end), (d("2026-10-01"), d("2026-10-30")));
        assert_eq!(w[1].start, d("2026-10-31"));
        assert_eq!(w[0].days_with_data + w[1].days_with_data, 16);
        let full: BTreeSet<NaiveDate> = (0..16).map(|i| start + Duration::days(i)).collect();
        assert!(monitoring_windows(start, start, &full)[0].reaches_threshold);
        let short: BTreeSet<NaiveDate> = (0..15).map(|i| start + Duration::days(i)).collect();
        assert!(!monitoring_windows(start, start, &short)[0].reaches_threshold);
    }

    #[test]
    fn occurrences_follow_the_schedule_and_the_logs() {
        let schedule = Schedule {
            start_date: d("2026-11-23"), // a Monday
            end_date: None,
            days_of_week: vec![
                crate::assignments::schedule::DayOfWeek::Mon,
                crate::assignments::schedule::DayOfWeek::Wed,
            ],
            times_per_day: 2,
            paused: vec![],
        };
        let o = occurrences(&schedule, d("2026-11-20"), d("2026-11-30"), |date| {
            if date == d("2026-11-23") {
                1
            } else if date == d("2026-11-25") {
                5
            } else {
                0
            }
        });
        let seen: Vec<(NaiveDate, u8, bool)> = o.iter().map(|x| (x.date, x.slot, x.done)).collect();
        assert_eq!(
            seen,
            vec![
                (d("2026-11-23"), 1, true),
                (d("2026-11-23"), 2, false),
                (d("2026-11-25"), 1, true),
                (d("2026-11-25"), 2, true),
                (d("2026-11-30"), 1, false),
                (d("2026-11-30"), 2, false),
            ]
        );
    }

    proptest! {
        #[test]
        fn adherence_is_consistent(done in proptest::collection::vec(any::<bool>(), 0..60), today_offset in 0i64..70) {
            let start = d("2026-01-01");
            let today = start + Duration::days(today_offset);
            let o: Vec<Occurrence> = done.iter().enumerate()
                .map(|(i, done)| Occurrence { date: start + Duration::days(i64::try_from(i).unwrap_or(0)), slot: 1, done: *done })
                .collect();
            let a = adherence(&o, today);
            prop_assert!(a.done <= a.scheduled);
            prop_assert!(a.current_streak <= a.longest_streak);
            prop_assert!(a.longest_streak <= a.done);
            if let Some(r) = a.ratio { prop_assert!((0.0..=1.0).contains(&r)); }
            // Removing today's not-yet-done occurrence changes nothing.
            let without_today: Vec<Occurrence> = o.iter().copied().filter(|x| x.date != today || x.done).collect();
            prop_assert_eq!(adherence(&without_today, today), a);
        }

        #[test]
        fn windows_tile_the_time_since_start(offset in 0i64..400, days in proptest::collection::btree_set(0i64..400, 0..120)) {
            let start = d("2026-01-01");
            let today = start + Duration::days(offset);
            let log_days: BTreeSet<NaiveDate> = days.iter().map(|x| start + Duration::days(*x)).collect();
            let w = monitoring_windows(start, today, &log_days);
            prop_assert_eq!(w.first().map(|x| x.start), Some(start));
            prop_assert!(w.last().is_some_and(|x| x.start <= today && today <= x.end));
            for pair in w.windows(2) {
                prop_assert_eq!(pair[0].end + Duration::days(1), pair[1].start);
            }
            let counted: u32 = w.iter().map(|x| x.days_with_data).sum();
            let expected = log_days.iter().filter(|x| **x <= w.last().map_or(start, |l| l.end)).count();
            prop_assert_eq!(counted as usize, expected);
        }
    }
}
