//! Adherence over the last days, from the JSON rows the client list reads in its own query
//! (`clients::queries::RECENT_HOMEWORK`): the same schedule and adherence rules as the full
//! progress report.

use crate::assignments::queries::{AssignmentRow, PauseRow};
use crate::progress::compute::{self, Occurrence};
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct RecentAssignment {
    assignment: AssignmentRow,
    pauses: Vec<PauseRow>,
    logged: Vec<(NaiveDate, u32)>,
}

/// done ÷ due over the `days` days up to `today` (today counts once done); `None` when nothing
/// was due.
pub fn adherence(homework: &serde_json::Value, tz: Tz, today: NaiveDate, days: i64) -> serde_json::Result<Option<f64>> {
    let recent = Vec::<RecentAssignment>::deserialize(homework)?;
    let from = today - Duration::days(days - 1);
    let mut all: Vec<Occurrence> = Vec::new();
    for r in &recent {
        let schedule = r.assignment.schedule(&r.pauses, tz);
        let logs_on = |date: NaiveDate| r.logged.iter().find(|(d, _)| *d == date).map_or(0, |(_, n)| *n);
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
    fn reads_the_rows_the_list_query_builds() {
        let today: NaiveDate = "2026-11-26".parse().expect("date");
        let homework = json!([{
            "assignment": {
                "id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d01",
                "clinic_id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d02",
                "client_id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d03",
                "routine_id": null, "assigned_by": null, "name": "Hip mobility", "instructions": null,
                "start_date": "2026-11-20", "end_date": null, "days_of_week": [], "times_per_day": 1,
                "status": "active", "ended_at": null, "version": 1,
                "created_at": "2026-11-20T09:00:00.123456+00:00", "updated_at": "2026-11-20T09:00:00+00:00"
            },
            "pauses": [{
                "id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d04",
                "clinic_id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d02",
                "assignment_id": "0195f2a0-3c1e-7a4b-9d2e-5f6a7b8c9d01",
                "paused_at": "2026-11-22T12:00:00+00:00", "resumed_at": "2026-11-23T08:00:00+00:00"
            }],
            "logged": [["2026-11-20", 1], ["2026-11-21", 2], ["2026-11-24", 1]]
        }]);
        // Due: 20, 21, 23, 24, 25 (22 paused; 26 still due) → 3 of 5 done.
        let ratio = adherence(&homework, chrono_tz::Europe::London, today, 14).expect("parses");
        assert_eq!(ratio, Some(0.6));
        assert_eq!(adherence(&json!([]), chrono_tz::UTC, today, 14).expect("parses"), None);
        assert!(adherence(&json!({"not": "rows"}), chrono_tz::UTC, today, 14).is_err());
    }
}
