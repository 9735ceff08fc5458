//! Adherence over the last days, from the JSON the client list reads in its own query
//! (`clients::queries::RECENT_ASSIGNMENTS` and `RECENT_LOGS`): the same schedule and
//! adherence rules as the full progress report.

use crate::assignments::queries::{ScheduleColumns, schedule_of};
use crate::assignments::schedule::DayOfWeek;
use crate::progress::compute::{self, Occurrence};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

type Pauses = Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>;

/// One element of `RECENT_ASSIGNMENTS`.
#[derive(Debug, Deserialize)]
struct RecentAssignment(
    Uuid,
    NaiveDate,
    Option<NaiveDate>,
    Vec<DayOfWeek>,
    i16,
    Option<DateTime<Utc>>,
    Option<Pauses>,
);

/// done ÷ due over the `days` days up to `today` (today counts once done); `None` when nothing
/// was due. `null` JSON (no rows) reads as empty.
pub fn adherence(
    assignments: Option<&serde_json::Value>,
    logs: Option<&serde_json::Value>,
    tz: Tz,
    today: NaiveDate,
    days: i64,
) -> serde_json::Result<Option<f64>> {
    let assignments = match assignments {
        Some(v) => Vec::<RecentAssignment>::deserialize(v)?,
        None => Vec::new(),
    };
    let mut per_day: HashMap<(Uuid, NaiveDate), u32> = HashMap::new();
    if let Some(v) = logs {
        for key in Vec::<(Uuid, NaiveDate)>::deserialize(v)? {
            *per_day.entry(key).or_default() += 1;
        }
    }
    let from = today - Duration::days(days - 1);
    let mut all: Vec<Occurrence> = Vec::new();
    for RecentAssignment(id, start_date, end_date, days_of_week, times_per_day, ended_at, pauses) in assignments {
        let schedule = schedule_of(
            ScheduleColumns {
                start_date,
                end_date,
                days_of_week,
                times_per_day,
                ended_at,
            },
            pauses.unwrap_or_default().into_iter(),
            tz,
        );
        let logs_on = |date: NaiveDate| per_day.get(&(id, date)).copied().unwrap_or(0);
        all.extend(compute::occurrences(&schedule, from, today, logs_on));
    }
    all.sort_by_key(|o| o.date);
    Ok(compute::adherence(&all, today).ratio)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_the_list_query_builds() {
        let today: NaiveDate = "2026-11-26".parse().expect("date");
        let a = "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d01";
        let other = "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d02";
        // As PostgreSQL's json_build_array writes them.
        let assignments = json!([
            [
                a,
                "2026-11-20",
                null,
                [],
                1,
                null,
                [["2026-11-22T12:00:00.123456+00:00", "2026-11-23T08:00:00+00:00"]]
            ],
            [other, "2026-11-01", "2026-11-10", ["mon"], 2, null, null]
        ]);
        let logs = json!([
            [a, "2026-11-20"],
            [a, "2026-11-21"],
            [a, "2026-11-21"],
            [a, "2026-11-24"]
        ]);
        // Due: 20, 21, 23, 24, 25 (22 paused; 26 still due) → 3 of 5; the other one ended before.
        let ratio = adherence(Some(&assignments), Some(&logs), chrono_tz::Europe::London, today, 14);
        assert_eq!(ratio.expect("parses"), Some(0.6));
        assert_eq!(adherence(None, None, chrono_tz::UTC, today, 14).expect("parses"), None);
        assert!(adherence(Some(&json!({"not": "rows"})), None, chrono_tz::UTC, today, 14).is_err());
    }
}
