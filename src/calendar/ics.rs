//! The calendar feed as RFC 5545 text: one `VEVENT` per assignment slot, whose recurrence
//! expands to exactly the agenda's occurrences, and a `VTIMEZONE` for the client's zone.
//!
//! Pure: the handler loads the rows and passes them in, so every rule here is unit-tested.
//! The recurrence is derived from the same [`Schedule`] the agenda uses: the rule names the
//! schedule's weekdays from its first date; dates the rule would give but the schedule does not
//! (closed pauses) become `EXDATE`s; an open pause, an end date, or the day homework was
//! completed or cancelled ends the rule with `UNTIL` (in UTC, as RFC 5545 §3.3.10 requires when
//! `DTSTART` names a timezone).

use crate::assignments::schedule::{DayOfWeek, Schedule};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use std::fmt::Write;

/// Where a slot without a reminder time sits in the calendar: 09:00 local.
const DEFAULT_TIME: (u32, u32) = (9, 0);
/// How long each calendar entry lasts.
const DURATION: &str = "PT30M";
/// How far past today (or the last date) the zone's transitions are listed.
const ZONE_YEARS_AHEAD: i64 = 3;

/// One assignment as the feed shows it: no client name, notes, instructions or pain.
pub struct FeedAssignment {
    pub id: uuid::Uuid,
    /// The homework's (routine's) name.
    pub name: String,
    /// Its exercises' names, in order.
    pub exercises: Vec<String>,
    pub schedule: Schedule,
    /// `reminder_times[i]` for slot i+1.
    pub reminders: Vec<NaiveTime>,
    /// When it last changed: the events' `DTSTAMP`, so an unchanged feed is byte for byte the same.
    pub changed_at: DateTime<Utc>,
}

/// The instant a local wall-clock time stands for: a time that does not exist (in a
/// spring-forward gap) moves forward by the gap, as RFC 5545 §3.3.5 says; one that occurs twice
/// is the first.
pub fn local_instant(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    if let Some(at) = tz.from_local_datetime(&local).earliest() {
        return at.with_timezone(&Utc);
    }
    // In a gap: read the time with the offset in force just before it.
    let before = tz.offset_from_utc_datetime(&(local - Duration::days(1))).fix();
    DateTime::<Utc>::from_naive_utc_and_offset(local - Duration::seconds(i64::from(before.local_minus_utc())), Utc)
}

/// The first date of the rule (the schedule's first calendar day, paused or not) and its last
/// (`None`: open-ended).
fn rule_span(s: &Schedule) -> Option<(NaiveDate, Option<NaiveDate>)> {
    let open_pause = s.paused.iter().filter(|p| p.until.is_none()).map(|p| p.from).min();
    let last = match (s.end_date, open_pause.and_then(|d| d.pred_opt())) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let first = s.start_date.iter_days().take(7).find(|d| s.on_calendar(*d))?;
    if last.is_some_and(|l| l < first) {
        return None;
    }
    Some((first, last))
}

/// The dates the rule gives in `[first, until]` that the schedule does not (closed pauses).
fn excluded(s: &Schedule, first: NaiveDate, last: Option<NaiveDate>) -> Vec<NaiveDate> {
    let Some(until) = s.paused.iter().filter_map(|p| p.until).max() else {
        return Vec::new();
    };
    let until = last.map_or(until, |l| l.min(until));
    first
        .iter_days()
        .take_while(|d| *d <= until)
        .filter(|d| s.on_calendar(*d) && !s.is_due_on(*d))
        .collect()
}

fn byday(d: DayOfWeek) -> &'static str {
    match d {
        DayOfWeek::Mon => "MO",
        DayOfWeek::Tue => "TU",
        DayOfWeek::Wed => "WE",
        DayOfWeek::Thu => "TH",
        DayOfWeek::Fri => "FR",
        DayOfWeek::Sat => "SA",
        DayOfWeek::Sun => "SU",
    }
}

/// TEXT escaping (RFC 5545 §3.3.11).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets (never inside a UTF-8 character), with CRLF.
pub fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local(at: NaiveDateTime) -> String {
    at.format("%Y%m%dT%H%M%S").to_string()
}

fn offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    if s.is_multiple_of(60) {
        format!("{sign}{:02}{:02}", s / 3600, s / 60 % 60)
    } else {
        format!("{sign}{:02}{:02}{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

/// One change of the zone's offset.
struct Transition {
    at: DateTime<Utc>,
    from: i32,
    to: i32,
    daylight: bool,
    name: Option<String>,
}

fn offset_at(tz: Tz, at: DateTime<Utc>) -> (i32, bool, Option<String>) {
    let o = tz.offset_from_utc_datetime(&at.naive_utc());
    (
        o.fix().local_minus_utc(),
        !o.dst_offset().is_zero(),
        o.abbreviation().map(str::to_string),
    )
}

/// The zone's offset changes in `[from, to)`, found day by day and then to the second.
fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
    let mut found = Vec::new();
    let mut at = from;
    let mut current = offset_at(tz, at);
    while at < to {
        let next = at + Duration::hours(12);
        let there = offset_at(tz, next);
        if there.0 != current.0 || there.1 != current.1 {
            // The change lies in (at, next]: halve the interval down to one second.
            let (mut lo, mut hi) = (at, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                let o = offset_at(tz, mid);
                if o.0 == current.0 && o.1 == current.1 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            found.push(Transition {
                at: hi,
                from: current.0,
                to: there.0,
                daylight: there.1,
                name: there.2.clone(),
            });
        }
        current = there;
        at = next;
    }
    found
}

/// The `VTIMEZONE` for `tz` covering `[from, to)`: the offset in force at `from`, then each
/// change with its exact onset (local time in the offset before it).
fn vtimezone(out: &mut String, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) {
    line(out, "BEGIN:VTIMEZONE");
    line(out, &format!("TZID:{}", tz.name()));
    let (start_offset, start_daylight, start_name) = offset_at(tz, from);
    let observance =
        |out: &mut String, daylight: bool, onset: NaiveDateTime, from: i32, to: i32, name: Option<&str>| {
            let kind = if daylight { "DAYLIGHT" } else { "STANDARD" };
            line(out, &format!("BEGIN:{kind}"));
            line(out, &format!("DTSTART:{}", local(onset)));
            line(out, &format!("TZOFFSETFROM:{}", offset(from)));
            line(out, &format!("TZOFFSETTO:{}", offset(to)));
            if let Some(n) = name {
                line(out, &format!("TZNAME:{}", text(n)));
            }
            line(out, &format!("END:{kind}"));
        };
    let onset = (from + Duration::seconds(i64::from(start_offset))).naive_utc();
    observance(
        out,
        start_daylight,
        onset,
        start_offset,
        start_offset,
        start_name.as_deref(),
    );
    for t in transitions(tz, from, to) {
        let onset = (t.at + Duration::seconds(i64::from(t.from))).naive_utc();
        observance(out, t.daylight, onset, t.from, t.to, t.name.as_deref());
    }
    line(out, "END:VTIMEZONE");
}

/// The whole feed for a client in `tz`, as of `today` (the client's date).
pub fn calendar(tz: Tz, today: NaiveDate, assignments: &[FeedAssignment]) -> String {
    let mut events = String::new();
    let mut earliest = today;
    let mut latest = today;
    for a in assignments {
        let Some((first, last)) = rule_span(&a.schedule) else {
            continue;
        };
        // An assignment whose every date was paused has no occurrences: no event.
        let horizon = last.unwrap_or(first.max(today) + Duration::days(366 * 2));
        if a.schedule.dates(first, horizon).next().is_none() {
            continue;
        }
        earliest = earliest.min(first);
        latest = latest.max(last.unwrap_or(today));
        let exdates = excluded(&a.schedule, first, last);
        let rule = {
            let mut r = if a.schedule.days_of_week.is_empty() {
                "FREQ=DAILY".to_string()
            } else {
                let days: Vec<&str> = a.schedule.days_of_week.iter().map(|d| byday(*d)).collect();
                format!("FREQ=WEEKLY;BYDAY={}", days.join(","))
            };
            if let Some(last) = last {
                let end = local_instant(tz, last.and_hms_opt(23, 59, 59).unwrap_or_default());
                let _ = write!(r, ";UNTIL={}", stamp(end));
            }
            r
        };
        let slots = a.schedule.times_per_day.max(1);
        for slot in 1..=slots {
            let reminder = a.reminders.get(usize::from(slot) - 1).copied();
            let time = reminder
                .unwrap_or_else(|| NaiveTime::from_hms_opt(DEFAULT_TIME.0, DEFAULT_TIME.1, 0).unwrap_or_default());
            line(&mut events, "BEGIN:VEVENT");
            line(&mut events, &format!("UID:{}-{slot}@rehabit", a.id));
            line(&mut events, &format!("DTSTAMP:{}", stamp(a.changed_at)));
            line(
                &mut events,
                &format!("DTSTART;TZID={}:{}", tz.name(), local(first.and_time(time))),
            );
            line(&mut events, &format!("DURATION:{DURATION}"));
            line(&mut events, &format!("RRULE:{rule}"));
            for d in &exdates {
                line(
                    &mut events,
                    &format!("EXDATE;TZID={}:{}", tz.name(), local(d.and_time(time))),
                );
            }
            let summary = if slots > 1 {
                format!("{} ({slot} of {slots})", a.name)
            } else {
                a.name.clone()
            };
            line(&mut events, &format!("SUMMARY:{}", text(&summary)));
            if !a.exercises.is_empty() {
                line(&mut events, &format!("DESCRIPTION:{}", text(&a.exercises.join("\n"))));
            }
            line(&mut events, "TRANSP:TRANSPARENT");
            if reminder.is_some() {
                line(&mut events, "BEGIN:VALARM");
                line(&mut events, "ACTION:DISPLAY");
                line(&mut events, &format!("DESCRIPTION:{}", text(&summary)));
                line(&mut events, "TRIGGER:PT0S");
                line(&mut events, "END:VALARM");
            }
            line(&mut events, "END:VEVENT");
        }
    }
    let mut out = String::with_capacity(events.len() + 2048);
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Rehabit//Homework calendar//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, "X-WR-CALNAME:Home exercises");
    line(&mut out, &format!("X-WR-TIMEZONE:{}", tz.name()));
    let from = local_instant(
        tz,
        (earliest - Duration::days(7)).and_hms_opt(0, 0, 0).unwrap_or_default(),
    );
    let to = local_instant(
        tz,
        (latest + Duration::days(366 * ZONE_YEARS_AHEAD))
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default(),
    );
    vtimezone(&mut out, tz, from, to);
    out.push_str(&events);
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignments::schedule::PausedDays;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn schedule(days: &[DayOfWeek], start: &str, end: Option<&str>, paused: Vec<PausedDays>) -> Schedule {
        Schedule {
            start_date: d(start),
            end_date: end.map(d),
            days_of_week: days.to_vec(),
            times_per_day: 1,
            paused,
        }
    }

    fn feed(tz: Tz, s: Schedule, reminders: &[&str]) -> String {
        calendar(
            tz,
            d("2026-12-01"),
            &[FeedAssignment {
                id: uuid::Uuid::nil(),
                name: "Hip mobility, gently; daily".into(),
                exercises: vec!["Legs up the wall".into(), "The clam".into()],
                schedule: s,
                reminders: reminders.iter().map(|t| t.parse().expect("time")).collect(),
                changed_at: DateTime::from_timestamp(1_764_000_000, 0).expect("time"),
            }],
        )
    }

    #[test]
    fn lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        let long = format!("DESCRIPTION:{}", "é".repeat(100));
        line(&mut out, &long);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, long);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    #[test]
    fn a_weekly_schedule_with_an_end_and_a_closed_pause() {
        let tz: Tz = "Europe/London".parse().expect("tz");
        let pause = PausedDays {
            from: d("2026-12-07"),
            until: Some(d("2026-12-10")),
        };
        let ics = feed(
            tz,
            schedule(
                &[DayOfWeek::Mon, DayOfWeek::Wed, DayOfWeek::Fri],
                "2026-12-01",
                Some("2026-12-31"),
                vec![pause],
            ),
            &["18:30"],
        );
        // The first calendar day after the start is Wednesday 2 December.
        assert!(ics.contains("DTSTART;TZID=Europe/London:20261202T183000\r\n"), "{ics}");
        assert!(
            ics.contains("RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20261231T235959Z\r\n"),
            "{ics}"
        );
        // Monday 7 and Wednesday 9 were paused; Thursday 10 (the resume) is not a calendar day.
        assert!(ics.contains("EXDATE;TZID=Europe/London:20261207T183000\r\n"));
        assert!(ics.contains("EXDATE;TZID=Europe/London:20261209T183000\r\n"));
        assert_eq!(ics.matches("EXDATE").count(), 2);
        assert!(ics.contains("BEGIN:VALARM"));
        assert!(ics.contains("SUMMARY:Hip mobility\\, gently\\; daily\r\n"));
        assert!(ics.contains("DESCRIPTION:Legs up the wall\\nThe clam\r\n"));
        assert!(ics.contains("UID:00000000-0000-0000-0000-000000000000-1@rehabit\r\n"));
    }

    #[test]
    fn an_open_pause_ends_the_rule_the_day_before_it_began() {
        let tz: Tz = "America/New_York".parse().expect("tz");
        let pause = PausedDays {
            from: d("2026-12-10"),
            until: None,
        };
        let ics = feed(tz, schedule(&[], "2026-12-01", None, vec![pause]), &[]);
        // 9 December 23:59:59 in New York (UTC-5) is 04:59:59 UTC on the 10th.
        assert!(ics.contains("RRULE:FREQ=DAILY;UNTIL=20261210T045959Z\r\n"), "{ics}");
        assert!(ics.contains("DTSTART;TZID=America/New_York:20261201T090000\r\n"));
        assert!(!ics.contains("VALARM"), "no reminder time, no alarm");
    }

    #[test]
    fn an_assignment_paused_before_its_first_day_has_no_event() {
        let tz: Tz = "Europe/London".parse().expect("tz");
        let pause = PausedDays {
            from: d("2026-11-20"),
            until: None,
        };
        let ics = feed(tz, schedule(&[], "2026-12-01", None, vec![pause]), &[]);
        assert!(!ics.contains("BEGIN:VEVENT"));
    }

    #[test]
    fn the_zone_lists_its_changes_with_onsets_in_local_time() {
        let tz: Tz = "Australia/Sydney".parse().expect("tz");
        let ics = feed(tz, schedule(&[], "2026-12-01", Some("2027-06-30"), vec![]), &[]);
        // Sydney leaves daylight time on 4 April 2027 at 03:00 local (+11:00) and enters it on
        // 3 October 2027 at 02:00 local (+10:00).
        assert!(
            ics.contains("BEGIN:STANDARD\r\nDTSTART:20270404T030000\r\nTZOFFSETFROM:+1100\r\nTZOFFSETTO:+1000\r\n"),
            "{ics}"
        );
        assert!(
            ics.contains("BEGIN:DAYLIGHT\r\nDTSTART:20271003T020000\r\nTZOFFSETFROM:+1000\r\nTZOFFSETTO:+1100\r\n")
        );
        let utc = feed(Tz::UTC, schedule(&[], "2026-12-01", None, vec![]), &[]);
        assert_eq!(utc.matches("BEGIN:STANDARD").count(), 1, "no changes in UTC");
    }

    #[test]
    fn a_time_in_the_spring_forward_gap_is_read_forward() {
        let tz: Tz = "Europe/London".parse().expect("tz");
        let gap = d("2027-03-28").and_hms_opt(1, 30, 0).expect("time");
        assert_eq!(
            local_instant(tz, gap),
            Utc.with_ymd_and_hms(2027, 3, 28, 1, 30, 0).single().expect("instant")
        );
        let twice = d("2026-10-25").and_hms_opt(1, 30, 0).expect("time");
        assert_eq!(
            local_instant(tz, twice),
            Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).single().expect("instant")
        );
    }
}
