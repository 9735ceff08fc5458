//! The remote-monitoring ledger, computed: per 30-day period of an episode the data days and the
//! codes they support (98975 set-up once per episode, 98985, 98977), per calendar month the
//! management minutes and their codes (98979, 98980, 98981). Pure: dates in, ledger out. The
//! rules and their sources: docs/monitoring.md.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// Days in a monitoring period.
pub const PERIOD_DAYS: i64 = 30;
/// A period is frozen once it ended more than this many days ago: later data no longer counts.
pub const FREEZE_AFTER_DAYS: i64 = 30;

pub const SETUP: &str = "98975";
pub const DEVICE_2_TO_15: &str = "98985";
pub const DEVICE_16_TO_30: &str = "98977";
pub const MANAGEMENT_10_TO_19: &str = "98979";
pub const MANAGEMENT_FIRST_20: &str = "98980";
pub const MANAGEMENT_EACH_FURTHER_20: &str = "98981";

/// A billing code and how many units of it the data supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Code {
    /// The CPT code.
    #[schema(example = "98980")]
    pub code: String,
    /// How many units.
    #[schema(example = 1)]
    pub units: i32,
}

fn code(c: &str, units: i32) -> Code {
    Code {
        code: c.to_string(),
        units,
    }
}

/// The local date of an instant in the client's timezone: what a data day is counted on.
pub fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// One piece of client-entered data: a session log the client logged, or a response the client
/// made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataPoint {
    /// The client's local date it counts on.
    pub date: NaiveDate,
    /// The local date it reached the service (late offline data arrives after `date`).
    pub arrived: NaiveDate,
    /// The local date it was deleted, if it was.
    pub deleted: Option<NaiveDate>,
}

/// One interaction of the clinic with the client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    /// The client's local date it happened on.
    pub date: NaiveDate,
    pub minutes: i32,
    /// Real-time and interactive (a call or video), as opposed to messages and reviews.
    pub interactive: bool,
}

/// One 30-day period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Period {
    /// The first day.
    pub start: NaiveDate,
    /// The last day (inclusive); earlier than `start + 29` when the episode ends sooner.
    pub end: NaiveDate,
    /// Local dates with client-entered data in the period.
    pub data_days: i32,
    /// The codes the period supports (98975 appears in the first period reaching 2 data days).
    pub codes: Vec<Code>,
    /// Ended more than 30 days ago: data arriving now no longer counts.
    pub frozen: bool,
}

/// One calendar month of management time.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Month {
    /// `YYYY-MM`.
    #[schema(example = "2026-11")]
    pub month: String,
    /// Management minutes.
    pub minutes: i32,
    /// Whether the month had at least one real-time interactive contact.
    pub interactive_contact: bool,
    /// The codes the month supports.
    pub codes: Vec<Code>,
}

/// An episode's ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    /// The start of the period that first reached 2 data days (where 98975 is billed).
    pub setup_period: Option<NaiveDate>,
    pub periods: Vec<Period>,
    pub months: Vec<Month>,
}

/// The device-supply code of a period with `data_days`.
pub fn period_codes(data_days: i32) -> Vec<Code> {
    match data_days {
        2..=15 => vec![code(DEVICE_2_TO_15, 1)],
        16.. => vec![code(DEVICE_16_TO_30, 1)],
        _ => vec![],
    }
}

/// The management codes of a month with `minutes`: none without an interactive contact.
pub fn month_codes(minutes: i32, interactive_contact: bool) -> Vec<Code> {
    if !interactive_contact {
        return vec![];
    }
    match minutes {
        10..=19 => vec![code(MANAGEMENT_10_TO_19, 1)],
        20..=39 => vec![code(MANAGEMENT_FIRST_20, 1)],
        40.. => vec![
            code(MANAGEMENT_FIRST_20, 1),
            code(MANAGEMENT_EACH_FURTHER_20, (minutes - 20) / 20),
        ],
        _ => vec![],
    }
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// The ledger of an episode from `start` to `end` (open: up to `today`), on the client's `today`.
pub fn ledger(
    start: NaiveDate,
    end: Option<NaiveDate>,
    today: NaiveDate,
    data: &[DataPoint],
    contacts: &[Contact],
) -> Ledger {
    let last = end.map_or(today, |e| e.min(today));
    let mut periods = Vec::new();
    let mut setup_period = None;
    let mut p_start = start;
    while p_start <= last {
        let p_end = (p_start + Duration::days(PERIOD_DAYS - 1)).min(end.unwrap_or(NaiveDate::MAX));
        let freeze = p_end + Duration::days(FREEZE_AFTER_DAYS);
        let days: BTreeSet<NaiveDate> = data
            .iter()
            .filter(|d| d.date >= p_start && d.date <= p_end && d.date <= today)
            .filter(|d| d.arrived <= freeze && d.deleted.is_none_or(|x| x > freeze))
            .map(|d| d.date)
            .collect();
        let data_days = i32::try_from(days.len()).unwrap_or(i32::MAX);
        let mut codes = period_codes(data_days);
        if setup_period.is_none() && data_days >= 2 {
            setup_period = Some(p_start);
            codes.insert(0, code(SETUP, 1));
        }
        periods.push(Period {
            start: p_start,
            end: p_end,
            data_days,
            codes,
            frozen: today > freeze,
        });
        p_start += Duration::days(PERIOD_DAYS);
    }
    let mut months = Vec::new();
    let mut m = month_start(start);
    while m <= last {
        let (from, to) = (m.max(start), (next_month(m) - Duration::days(1)).min(last));
        let inside = || contacts.iter().filter(move |c| c.date >= from && c.date <= to);
        let minutes = inside().map(|c| c.minutes).sum();
        let interactive_contact = inside().any(|c| c.interactive);
        months.push(Month {
            month: m.format("%Y-%m").to_string(),
            minutes,
            interactive_contact,
            codes: month_codes(minutes, interactive_contact),
        });
        m = next_month(m);
    }
    Ledger {
        setup_period,
        periods,
        months,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    /// Client data on `n` consecutive days from `from`, each arriving the same day.
    fn days(from: &str, n: i64) -> Vec<DataPoint> {
        (0..n)
            .map(|i| {
                let date = d(from) + Duration::days(i);
                DataPoint {
                    date,
                    arrived: date,
                    deleted: None,
                }
            })
            .collect()
    }

    fn codes(list: &[Code]) -> Vec<(&str, i32)> {
        list.iter().map(|c| (c.code.as_str(), c.units)).collect()
    }

    fn contact(date: &str, minutes: i32, interactive: bool) -> Contact {
        Contact {
            date: d(date),
            minutes,
            interactive,
        }
    }

    #[test]
    fn data_day_boundaries_1_2_15_16() {
        assert!(period_codes(0).is_empty());
        assert!(period_codes(1).is_empty(), "1 data day supports nothing");
        assert_eq!(codes(&period_codes(2)), [("98985", 1)]);
        assert_eq!(codes(&period_codes(15)), [("98985", 1)]);
        assert_eq!(codes(&period_codes(16)), [("98977", 1)]);
        assert_eq!(codes(&period_codes(30)), [("98977", 1)]);
        let today = d("2026-12-31");
        for (n, expected) in [
            (1, vec![]),
            (2, vec![("98975", 1), ("98985", 1)]),
            (15, vec![("98975", 1), ("98985", 1)]),
            (16, vec![("98975", 1), ("98977", 1)]),
        ] {
            let l = ledger(
                d("2026-09-01"),
                Some(d("2026-09-30")),
                today,
                &days("2026-09-01", n),
                &[],
            );
            assert_eq!(l.periods.len(), 1);
            assert_eq!(l.periods[0].data_days, n as i32);
            assert_eq!(codes(&l.periods[0].codes), expected, "{n} days");
        }
    }

    #[test]
    fn minute_boundaries_9_10_19_20_39_40() {
        assert!(month_codes(9, true).is_empty());
        assert_eq!(codes(&month_codes(10, true)), [("98979", 1)]);
        assert_eq!(codes(&month_codes(19, true)), [("98979", 1)]);
        assert_eq!(codes(&month_codes(20, true)), [("98980", 1)]);
        assert_eq!(codes(&month_codes(39, true)), [("98980", 1)]);
        assert_eq!(codes(&month_codes(40, true)), [("98980", 1), ("98981", 1)]);
        assert_eq!(codes(&month_codes(45, true)), [("98980", 1), ("98981", 1)]);
        assert_eq!(codes(&month_codes(60, true)), [("98980", 1), ("98981", 2)]);
    }

    #[test]
    fn a_month_without_an_interactive_contact_supports_no_management_code() {
        let contacts = [
            contact("2026-10-03", 25, false),
            contact("2026-10-20", 20, false),
            contact("2026-11-02", 5, true),
            contact("2026-11-09", 20, false),
        ];
        let l = ledger(d("2026-10-01"), None, d("2026-11-20"), &[], &contacts);
        assert_eq!(l.months.len(), 2);
        assert_eq!((l.months[0].minutes, l.months[0].interactive_contact), (45, false));
        assert!(l.months[0].codes.is_empty());
        assert_eq!(l.months[1].month, "2026-11");
        assert_eq!(codes(&l.months[1].codes), [("98980", 1)]);
    }

    #[test]
    fn set_up_is_billed_once_in_the_first_period_reaching_two_days() {
        let mut data = days("2026-09-10", 1);
        data.extend(days("2026-10-05", 3));
        data.extend(days("2026-11-01", 20));
        let l = ledger(d("2026-09-01"), None, d("2026-11-25"), &data, &[]);
        assert_eq!(
            l.periods.iter().map(|p| p.start).collect::<Vec<_>>(),
            [d("2026-09-01"), d("2026-10-01"), d("2026-10-31")]
        );
        assert_eq!(l.setup_period, Some(d("2026-10-01")));
        assert!(codes(&l.periods[0].codes).is_empty());
        assert_eq!(codes(&l.periods[1].codes), [("98975", 1), ("98985", 1)]);
        assert_eq!(codes(&l.periods[2].codes), [("98977", 1)]);
    }

    #[test]
    fn late_data_counts_until_the_period_freezes() {
        let late = |arrived: &str| DataPoint {
            date: d("2026-09-05"),
            arrived: d(arrived),
            deleted: None,
        };
        let mut data = days("2026-09-01", 1);
        // The period ends 2026-09-30 and freezes after 2026-10-30.
        data.push(late("2026-10-30"));
        let l = ledger(d("2026-09-01"), None, d("2026-12-01"), &data, &[]);
        assert_eq!((l.periods[0].data_days, l.periods[0].frozen), (2, true));
        data.pop();
        data.push(late("2026-10-31"));
        let l = ledger(d("2026-09-01"), None, d("2026-12-01"), &data, &[]);
        assert_eq!(l.periods[0].data_days, 1, "arrived after the period froze");
        let l = ledger(d("2026-09-01"), None, d("2026-10-30"), &data, &[]);
        assert!(!l.periods[0].frozen);
        // A log deleted after the freeze stays counted; one deleted before does not.
        let mut kept = days("2026-09-01", 2);
        kept[1].deleted = Some(d("2026-11-15"));
        assert_eq!(
            ledger(d("2026-09-01"), None, d("2026-12-01"), &kept, &[]).periods[0].data_days,
            2
        );
        kept[1].deleted = Some(d("2026-09-03"));
        assert_eq!(
            ledger(d("2026-09-01"), None, d("2026-12-01"), &kept, &[]).periods[0].data_days,
            1
        );
    }

    #[test]
    fn a_log_at_23_30_local_counts_on_the_local_date_not_the_utc_one() {
        let tz: Tz = "America/New_York".parse().expect("tz");
        // 23:30 on 14 Oct in New York is 03:30 on 15 Oct in UTC.
        let at: DateTime<Utc> = "2026-10-15T03:30:00Z".parse().expect("instant");
        assert_eq!(local_date(at, tz), d("2026-10-14"));
        let point = DataPoint {
            date: local_date(at, tz),
            arrived: local_date(at, tz),
            deleted: None,
        };
        let other = DataPoint {
            date: d("2026-10-15"),
            arrived: d("2026-10-15"),
            deleted: None,
        };
        let l = ledger(d("2026-10-15"), None, d("2026-10-20"), &[point, other], &[]);
        assert_eq!(l.periods[0].data_days, 1, "the 14th is before the episode");
        let l = ledger(d("2026-10-14"), None, d("2026-10-20"), &[point, other], &[]);
        assert_eq!(l.periods[0].data_days, 2);
    }

    #[test]
    fn months_follow_the_calendar_within_the_episode() {
        let contacts = [
            contact("2026-09-30", 30, true),
            contact("2026-10-01", 12, true),
            contact("2026-10-20", 15, true),
        ];
        let l = ledger(d("2026-09-15"), Some(d("2026-10-10")), d("2026-12-01"), &[], &contacts);
        assert_eq!(
            l.months
                .iter()
                .map(|m| (m.month.as_str(), m.minutes))
                .collect::<Vec<_>>(),
            [("2026-09", 30), ("2026-10", 12)]
        );
        assert_eq!(codes(&l.months[1].codes), [("98979", 1)]);
        assert_eq!(l.periods.len(), 1);
        assert_eq!(l.periods[0].end, d("2026-10-10"));
    }
}
