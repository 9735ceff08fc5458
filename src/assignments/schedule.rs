//! When homework is due: the pure occurrence computation behind the agenda and adherence.
//!
//! Everything here works in the client's local calendar. Instants (a pause, a resume, "now", a
//! logged session) become local dates through the client's IANA timezone with [`local_date`],
//! so daylight-saving changes never move homework to another day.

use crate::text_enum;
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

text_enum! {
    /// A day of the week.
    pub enum DayOfWeek {
        Mon => "mon",
        Tue => "tue",
        Wed => "wed",
        Thu => "thu",
        Fri => "fri",
        Sat => "sat",
        Sun => "sun",
    }
}

impl DayOfWeek {
    pub fn weekday(self) -> Weekday {
        match self {
            DayOfWeek::Mon => Weekday::Mon,
            DayOfWeek::Tue => Weekday::Tue,
            DayOfWeek::Wed => Weekday::Wed,
            DayOfWeek::Thu => Weekday::Thu,
            DayOfWeek::Fri => Weekday::Fri,
            DayOfWeek::Sat => Weekday::Sat,
            DayOfWeek::Sun => Weekday::Sun,
        }
    }
}

text_enum! {
    /// Where an occurrence stands.
    pub enum OccurrenceStatus {
        /// A later date.
        Upcoming => "upcoming",
        /// Today, not yet logged.
        Due => "due",
        /// Logged on its date.
        Done => "done",
        /// A past date without a log.
        Missed => "missed",
    }
}

/// The calendar date an instant falls on for the client.
pub fn local_date(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// A stretch of local dates `[from, until)` on which an assignment was paused; `until = None`
/// means it is still paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PausedDays {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl PausedDays {
    /// The dates a pause from `paused_at` to `resumed_at` takes out: from the day it was paused
    /// up to, not including, the day it was resumed (a pause and resume on one day takes none).
    pub fn from_instants(paused_at: DateTime<Utc>, resumed_at: Option<DateTime<Utc>>, tz: Tz) -> Self {
        PausedDays {
            from: local_date(paused_at, tz),
            until: resumed_at.map(|r| local_date(r, tz)),
        }
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        date >= self.from && self.until.is_none_or(|u| date < u)
    }
}

/// An assignment's schedule in the client's calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub start_date: NaiveDate,
    /// Last date (inclusive); `None` = open-ended.
    pub end_date: Option<NaiveDate>,
    /// Empty = every day.
    pub days_of_week: Vec<DayOfWeek>,
    /// 1–6.
    pub times_per_day: u8,
    /// Dates on which it was paused.
    pub paused: Vec<PausedDays>,
}

impl Schedule {
    /// Whether homework is due on `date` (before pauses are considered: see [`Self::is_due_on`]).
    pub fn on_calendar(&self, date: NaiveDate) -> bool {
        date >= self.start_date
            && self.end_date.is_none_or(|end| date <= end)
            && (self.days_of_week.is_empty() || self.days_of_week.iter().any(|d| d.weekday() == date.weekday()))
    }

    /// Whether homework is due on `date`.
    pub fn is_due_on(&self, date: NaiveDate) -> bool {
        self.on_calendar(date) && !self.paused.iter().any(|p| p.contains(date))
    }

    /// The dates in `[from, to]` on which homework is due, in order.
    pub fn dates(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        let first = from.max(self.start_date);
        let last = self.end_date.map_or(to, |end| end.min(to));
        first
            .iter_days()
            .take_while(move |d| *d <= last)
            .filter(move |d| self.is_due_on(*d))
    }
}

/// The status of slot `slot` (1-based) on `date`, given how many logs that date has.
pub fn occurrence_status(date: NaiveDate, slot: u8, logs_on_date: u32, today: NaiveDate) -> OccurrenceStatus {
    if u32::from(slot) <= logs_on_date {
        OccurrenceStatus::Done
    } else if date < today {
        OccurrenceStatus::Missed
    } else if date == today {
        OccurrenceStatus::Due
    } else {
        OccurrenceStatus::Upcoming
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn every_day(start: &str) -> Schedule {
        Schedule {
            start_date: d(start),
            end_date: None,
            days_of_week: vec![],
            times_per_day: 1,
            paused: vec![],
        }
    }

    #[test]
    fn weekdays_start_and_end_bound_the_dates() {
        let s = Schedule {
            start_date: d("2026-11-23"),
            end_date: Some(d("2026-12-04")),
            days_of_week: vec![DayOfWeek::Mon, DayOfWeek::Wed, DayOfWeek::Fri],
            times_per_day: 1,
            paused: vec![],
        };
        let got: Vec<_> = s.dates(d("2026-11-01"), d("2026-12-31")).collect();
        let want: Vec<_> = [
            "2026-11-23",
            "2026-11-25",
            "2026-11-27",
            "2026-11-30",
            "2026-12-02",
            "2026-12-04",
        ]
        .map(d)
        .to_vec();
        assert_eq!(got, want);
    }

    #[test]
    fn paused_days_have_no_homework() {
        let mut s = every_day("2026-11-01");
        s.paused.push(PausedDays {
            from: d("2026-11-03"),
            until: Some(d("2026-11-05")),
        });
        s.paused.push(PausedDays {
            from: d("2026-11-08"),
            until: None,
        });
        let got: Vec<_> = s.dates(d("2026-11-01"), d("2026-11-10")).collect();
        assert_eq!(
            got,
            ["2026-11-01", "2026-11-02", "2026-11-05", "2026-11-06", "2026-11-07"]
                .map(d)
                .to_vec()
        );
    }

    #[test]
    fn pauses_use_the_clients_calendar() {
        let ny: Tz = "America/New_York".parse().expect("tz");
        // 02:00 UTC on the 10th is still the evening of the 9th in New York.
        let paused = Utc.with_ymd_and_hms(2026, 11, 10, 2, 0, 0).single().expect("instant");
        let resumed = Utc.with_ymd_and_hms(2026, 11, 12, 3, 0, 0).single().expect("instant");
        let p = PausedDays::from_instants(paused, Some(resumed), ny);
        assert_eq!((p.from, p.until), (d("2026-11-09"), Some(d("2026-11-11"))));
        // Paused and resumed the same day: nothing is taken out.
        let p = PausedDays::from_instants(paused, Some(paused + Duration::hours(1)), ny);
        assert!(!p.contains(d("2026-11-09")));
    }

    #[test]
    fn local_dates_hold_across_daylight_saving_changes() {
        let london: Tz = "Europe/London".parse().expect("tz");
        let ny: Tz = "America/New_York".parse().expect("tz");
        // London springs forward at 01:00 UTC on 2026-03-29; 23:30 UTC the day before is still the 28th.
        assert_eq!(
            local_date(
                Utc.with_ymd_and_hms(2026, 3, 28, 23, 30, 0).single().expect("instant"),
                london
            ),
            d("2026-03-28")
        );
        // After the change (BST, UTC+1) 23:30 UTC is already the next day.
        assert_eq!(
            local_date(
                Utc.with_ymd_and_hms(2026, 3, 29, 23, 30, 0).single().expect("instant"),
                london
            ),
            d("2026-03-30")
        );
        // New York falls back at 06:00 UTC on 2026-11-01: 04:30 UTC is 00:30 EDT on the 1st,
        // 05:30 UTC is 01:30 (first pass, EDT), 06:30 UTC is 01:30 (second pass, EST): all the 1st.
        for h in [4, 5, 6] {
            assert_eq!(
                local_date(
                    Utc.with_ymd_and_hms(2026, 11, 1, h, 30, 0).single().expect("instant"),
                    ny
                ),
                d("2026-11-01")
            );
        }
        assert_eq!(
            local_date(
                Utc.with_ymd_and_hms(2026, 11, 2, 4, 59, 0).single().expect("instant"),
                ny
            ),
            d("2026-11-01")
        );
        assert_eq!(
            local_date(
                Utc.with_ymd_and_hms(2026, 11, 2, 5, 0, 0).single().expect("instant"),
                ny
            ),
            d("2026-11-02")
        );
        // The schedule itself is in dates: a DST week has its seven days like any other.
        let s = every_day("2026-10-28");
        assert_eq!(s.dates(d("2026-10-29"), d("2026-11-04")).count(), 7);
    }

    #[test]
    fn statuses() {
        let today = d("2026-11-26");
        assert_eq!(
            occurrence_status(d("2026-11-25"), 1, 0, today),
            OccurrenceStatus::Missed
        );
        assert_eq!(occurrence_status(d("2026-11-25"), 1, 1, today), OccurrenceStatus::Done);
        assert_eq!(occurrence_status(today, 2, 1, today), OccurrenceStatus::Due);
        assert_eq!(occurrence_status(today, 1, 1, today), OccurrenceStatus::Done);
        assert_eq!(
            occurrence_status(d("2026-11-27"), 1, 0, today),
            OccurrenceStatus::Upcoming
        );
    }

    fn arb_schedule() -> impl Strategy<Value = Schedule> {
        let base = d("2026-01-01");
        (
            0i64..400,
            proptest::option::of(0i64..200),
            proptest::collection::vec(0usize..7, 0..7),
            1u8..=6,
            proptest::collection::vec((0i64..500, proptest::option::of(0i64..60)), 0..4),
        )
            .prop_map(move |(start, len, days, times, pauses)| {
                let start_date = base + Duration::days(start);
                let mut days: Vec<DayOfWeek> = days.into_iter().map(|i| DayOfWeek::ALL[i]).collect();
                days.sort();
                days.dedup();
                Schedule {
                    start_date,
                    end_date: len.map(|l| start_date + Duration::days(l)),
                    days_of_week: days,
                    times_per_day: times,
                    paused: pauses
                        .into_iter()
                        .map(|(from, len)| PausedDays {
                            from: base + Duration::days(from),
                            until: len.map(|l| base + Duration::days(from + l)),
                        })
                        .collect(),
                }
            })
    }

    proptest! {
        #[test]
        fn dates_are_exactly_the_scheduled_unpaused_days(s in arb_schedule(), from in 0i64..600, len in 0i64..120) {
            let from = d("2026-01-01") + Duration::days(from);
            let to = from + Duration::days(len);
            let got: Vec<NaiveDate> = s.dates(from, to).collect();
            // Independent check, day by day over the range.
            let mut want = Vec::new();
            let mut day = from;
            while day <= to {
                let weekday_ok = s.days_of_week.is_empty() || s.days_of_week.iter().any(|w| w.weekday() == day.weekday());
                let in_span = day >= s.start_date && s.end_date.is_none_or(|e| day <= e);
                let paused = s.paused.iter().any(|p| day >= p.from && p.until.is_none_or(|u| day < u));
                if weekday_ok && in_span && !paused {
                    want.push(day);
                }
                day += Duration::days(1);
            }
            prop_assert_eq!(&got, &want);
            for day in &got {
                prop_assert!(*day >= s.start_date && *day >= from && *day <= to);
                prop_assert!(!s.paused.iter().any(|p| p.contains(*day)));
            }
        }

        #[test]
        fn every_instant_maps_to_its_local_calendar_day(secs in 1_735_689_600i64..1_798_761_600i64, zone in 0usize..2) {
            // 2025-01-01 .. 2027-01-01, covering both DST changes of each zone.
            let tz: Tz = ["Europe/London", "America/New_York"][zone].parse().expect("tz");
            let instant = DateTime::<Utc>::from_timestamp(secs, 0).expect("instant");
            let date = local_date(instant, tz);
            // The local midnight that starts that date is at or before the instant, and the next
            // local midnight is after it (midnight exists in both zones: changes are at 01:00/02:00).
            let start = tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight")).earliest().expect("midnight exists");
            let next = tz.from_local_datetime(&(date + Duration::days(1)).and_hms_opt(0, 0, 0).expect("midnight")).earliest().expect("midnight exists");
            prop_assert!(start.with_timezone(&Utc) <= instant && instant < next.with_timezone(&Utc));
            // A local day lasts 23, 24 or 25 hours.
            let hours = (next - start).num_hours();
            prop_assert!((23..=25).contains(&hours));
        }
    }
}
