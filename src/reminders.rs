//! Reminders as events (issue 17, DESIGN.md "Reminders as events"): a scheduler in every
//! instance emits `occurrence.due` at a slot's reminder time (client's local time) when the slot
//! is not yet done, and `occurrence.missed` once per undone slot after the client's local day has
//! ended, through the outbox like every other event.
//!
//! Exactly once however many instances run: each emission first claims its key
//! `(assignment, date, slot, kind)` in `reminder_emissions` (a primary key), in the same
//! transaction as the event; the instance whose insert finds the key taken emits nothing. Every
//! run plans the whole last 24 hours, so after downtime every instant of that window counts,
//! including occurrences of homework created or back-dated since; older ones are never emitted.
//! Only active assignments of clients who are not archived are planned; paused days, days after
//! an end date and days before the start have no occurrence (the agenda's own `Schedule`).

use crate::assignments::queries::{AssignmentRow, PauseRow};
use crate::assignments::schedule::{Schedule, local_date};
use crate::calendar::ics::local_instant;
use crate::db::schema::{assignment_pauses, assignments, clients, reminder_emissions};
use crate::events::{self, EventType};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use std::collections::HashSet;
use uuid::Uuid;

/// How often the scheduler looks for reminders that became due.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(20);
/// How far back a run looks: after downtime, the last 24 hours still count.
pub const CATCH_UP_HOURS: i64 = 24;

/// Which event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Due,
    Missed,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Due => "due",
            Kind::Missed => "missed",
        }
    }

    fn event_type(self) -> EventType {
        match self {
            Kind::Due => EventType::OccurrenceDue,
            Kind::Missed => EventType::OccurrenceMissed,
        }
    }
}

/// One reminder the plan says is owed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub kind: Kind,
    pub date: NaiveDate,
    pub slot: u8,
    /// When it becomes owed.
    pub at: DateTime<Utc>,
}

/// The reminders of one schedule whose instant falls in `(since, now]`, before asking which
/// slots were done: `due` at each slot's reminder time (a time in a spring-forward gap moves
/// forward by the gap; one that occurs twice is the first), `missed` for every slot when the
/// local day ends.
pub fn plan(
    schedule: &Schedule,
    reminders: &[NaiveTime],
    tz: Tz,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Planned> {
    let mut out = Vec::new();
    // Local dates whose reminders or day end may fall in the window.
    let first = local_date(since, tz) - Duration::days(1);
    let last = local_date(now, tz);
    for date in schedule.dates(first, last) {
        for (i, time) in reminders.iter().enumerate().take(usize::from(schedule.times_per_day)) {
            let at = local_instant(tz, date.and_time(*time));
            if at > since && at <= now {
                let slot = u8::try_from(i + 1).unwrap_or(u8::MAX);
                out.push(Planned {
                    kind: Kind::Due,
                    date,
                    slot,
                    at,
                });
            }
        }
        let day_end = local_instant(tz, (date + Duration::days(1)).and_time(NaiveTime::MIN));
        if day_end > since && day_end <= now {
            for slot in 1..=schedule.times_per_day {
                out.push(Planned {
                    kind: Kind::Missed,
                    date,
                    slot,
                    at: day_end,
                });
            }
        }
    }
    out
}

#[derive(Serialize)]
struct OccurrenceData {
    client_id: Uuid,
    assignment_id: Uuid,
    date: NaiveDate,
    slot: u8,
}

/// One run over every clinic: emits what became owed in the last 24 hours and was not emitted
/// yet (by this instance or another); answers how many events it emitted.
pub async fn run_once(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let since = now - Duration::hours(CATCH_UP_HOURS);
    let earliest = since.date_naive() - Duration::days(2);
    let latest = now.date_naive() + Duration::days(2);
    // Active homework of clients who are not archived, that may have dates in the window.
    let rows: Vec<(AssignmentRow, String)> = assignments::table
        .inner_join(clients::table.on(clients::id.eq(assignments::client_id)))
        .filter(assignments::status.eq("active"))
        .filter(clients::archived_at.is_null())
        .filter(assignments::start_date.le(latest))
        .filter(assignments::end_date.is_null().or(assignments::end_date.ge(earliest)))
        .select((AssignmentRow::as_select(), clients::timezone))
        .load(conn)
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = rows.iter().map(|(a, _)| a.id).collect();
    let pauses: Vec<PauseRow> = assignment_pauses::table
        .filter(assignment_pauses::assignment_id.eq_any(&ids))
        .select(PauseRow::as_select())
        .load(conn)
        .await?;
    let emitted: HashSet<(Uuid, NaiveDate, i16, String)> = reminder_emissions::table
        .filter(reminder_emissions::assignment_id.eq_any(&ids))
        .filter(reminder_emissions::date.ge(earliest))
        .select((
            reminder_emissions::assignment_id,
            reminder_emissions::date,
            reminder_emissions::slot,
            reminder_emissions::kind,
        ))
        .load::<(Uuid, NaiveDate, i16, String)>(conn)
        .await?
        .into_iter()
        .collect();
    let mut owed: Vec<(AssignmentRow, Planned)> = Vec::new();
    for (a, timezone) in rows {
        let Ok(tz) = timezone.parse::<Tz>() else { continue };
        let reminders: Vec<NaiveTime> = a
            .reminder_times
            .iter()
            .filter_map(|t| crate::assignments::dto::parse_reminder_time(t))
            .collect();
        let schedule = a.schedule(&pauses, tz);
        for p in plan(&schedule, &reminders, tz, since, now) {
            let key = (a.id, p.date, i16::from(p.slot), p.kind.as_str().to_string());
            if !emitted.contains(&key) {
                owed.push((a.clone(), p));
            }
        }
    }
    if owed.is_empty() {
        return Ok(0);
    }
    // Which slots are done: the agenda's rule (a date's first n logs fill slots 1..n).
    let clinics: HashSet<Uuid> = owed.iter().map(|(a, _)| a.clinic_id).collect();
    let clinics: Vec<Uuid> = clinics.into_iter().collect();
    let owing: Vec<Uuid> = owed.iter().map(|(a, _)| a.id).collect();
    let done = crate::sessions::queries::logged_per_day_in(conn, &clinics, &owing, earliest, latest).await?;
    let mut count = 0;
    for (a, p) in owed {
        if done.get(&(a.id, p.date)).copied().unwrap_or(0) >= u32::from(p.slot) {
            continue;
        }
        let emitted_one = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let claimed = diesel::insert_into(reminder_emissions::table)
                    .values((
                        reminder_emissions::assignment_id.eq(a.id),
                        reminder_emissions::date.eq(p.date),
                        reminder_emissions::slot.eq(i16::from(p.slot)),
                        reminder_emissions::kind.eq(p.kind.as_str()),
                        reminder_emissions::clinic_id.eq(a.clinic_id),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                if claimed == 0 {
                    return Ok(false);
                }
                let data = OccurrenceData {
                    client_id: a.client_id,
                    assignment_id: a.id,
                    date: p.date,
                    slot: p.slot,
                };
                events::emit(conn, a.clinic_id, p.kind.event_type(), &data).await?;
                Ok(true)
            })
            .await?;
        if emitted_one {
            count += 1;
        }
    }
    Ok(count)
}

/// Forgets emissions no run can plan again (older than the catch-up window and a margin).
pub async fn purge(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let before = now.date_naive() - Duration::days(4);
    diesel::delete(reminder_emissions::table.filter(reminder_emissions::date.lt(before)))
        .execute(conn)
        .await
}

/// The scheduler: a run every [`EVERY`] seconds, on the current runtime until the process ends.
pub fn spawn(pool: crate::db::DbPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        let mut runs: u64 = 0;
        loop {
            tick.tick().await;
            let Ok(mut conn) = pool.get().await else { continue };
            match run_once(&mut conn, Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "reminder events emitted"),
                Err(e) => tracing::warn!(error = %e, "reminder scheduler failed"),
            }
            runs += 1;
            if runs % 180 == 1
                && let Err(e) = purge(&mut conn, Utc::now()).await
            {
                tracing::warn!(error = %e, "purging reminder emissions failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignments::schedule::PausedDays;
    use chrono::TimeZone;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn t(s: &str) -> NaiveTime {
        s.parse().expect("time")
    }

    fn every_day(start: &str, times: u8) -> Schedule {
        Schedule {
            start_date: d(start),
            end_date: None,
            days_of_week: vec![],
            times_per_day: times,
            paused: vec![],
        }
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, min, 0).single().expect("instant")
    }

    #[test]
    fn a_reminder_in_the_spring_forward_gap_fires_once_an_hour_later() {
        let tz: Tz = "America/New_York".parse().expect("tz");
        let s = every_day("2027-03-01", 1);
        // 14 March 2027: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist and reads 03:30 EDT = 07:30 UTC.
        let all = plan(&s, &[t("02:30")], tz, utc(2027, 3, 14, 0, 0), utc(2027, 3, 15, 0, 0));
        let due: Vec<_> = all.iter().filter(|p| p.kind == Kind::Due).collect();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].at, utc(2027, 3, 14, 7, 30));
        assert_eq!(due[0].date, d("2027-03-14"));
    }

    #[test]
    fn a_repeated_hour_fires_at_the_first() {
        let tz: Tz = "Europe/London".parse().expect("tz");
        let s = every_day("2026-10-01", 1);
        // 25 October 2026: 01:30 happens at 00:30 UTC (BST) and again at 01:30 UTC (GMT).
        let due: Vec<_> = plan(&s, &[t("01:30")], tz, utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 3, 0))
            .into_iter()
            .filter(|p| p.kind == Kind::Due)
            .collect();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].at, utc(2026, 10, 25, 0, 30));
    }

    #[test]
    fn missed_comes_when_the_local_day_ends_once_per_slot() {
        let tz: Tz = "Australia/Sydney".parse().expect("tz");
        let s = every_day("2026-12-01", 2);
        // Sydney is UTC+11 in December: 3 December ends at 13:00 UTC that day.
        let missed: Vec<_> = plan(&s, &[], tz, utc(2026, 12, 3, 12, 0), utc(2026, 12, 3, 14, 0))
            .into_iter()
            .filter(|p| p.kind == Kind::Missed)
            .collect();
        assert_eq!(missed.len(), 2);
        assert!(
            missed
                .iter()
                .all(|p| p.date == d("2026-12-03") && p.at == utc(2026, 12, 3, 13, 0))
        );
    }

    #[test]
    fn slots_without_a_time_get_no_due_and_paused_days_get_nothing() {
        let tz: Tz = "Europe/London".parse().expect("tz");
        let mut s = every_day("2026-12-01", 2);
        let window = (utc(2026, 12, 5, 0, 0), utc(2026, 12, 6, 0, 0));
        let due: Vec<_> = plan(&s, &[t("08:00")], tz, window.0, window.1)
            .into_iter()
            .filter(|p| p.kind == Kind::Due)
            .collect();
        assert_eq!(due.iter().map(|p| p.slot).collect::<Vec<_>>(), [1]);
        s.paused.push(PausedDays {
            from: d("2026-12-04"),
            until: None,
        });
        assert!(plan(&s, &[t("08:00")], tz, window.0, window.1).is_empty());
    }

    #[test]
    fn the_window_is_open_at_its_start_and_closed_at_its_end() {
        let tz: Tz = "Europe/London".parse().expect("tz");
        let s = every_day("2026-12-01", 1);
        let at = utc(2026, 12, 5, 8, 0);
        let due = |since, now| {
            plan(&s, &[t("08:00")], tz, since, now)
                .into_iter()
                .filter(|p| p.kind == Kind::Due)
                .count()
        };
        assert_eq!(due(at - Duration::minutes(1), at), 1);
        assert_eq!(due(at, at + Duration::minutes(1)), 0, "the previous run had it");
    }
}
