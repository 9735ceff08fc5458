use crate::assignments::queries::{self as assignment_queries, AssignmentRow, PauseRow};
use crate::assignments::schedule::local_date;
use crate::auth::{Caller, Permission};
use crate::clients::queries as client_queries;
use crate::error::{ApiError, Problem};
use crate::progress::compute::{self, Adherence, Occurrence, PainPoint, SideValue};
use crate::progress::dto::*;
use crate::progress::queries::{self, MeasurementRow, PainRow};
use crate::sessions::dto::{MeasurementKind, MeasurementSide};
use crate::sessions::queries::logged_per_day;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use chrono::{Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// The default range: 28 days up to today.
const DEFAULT_DAYS: i64 = 28;
/// The longest range, in days.
pub const MAX_PROGRESS_DAYS: i64 = 366;

fn adherence_response(a: Adherence) -> AdherenceResponse {
    AdherenceResponse {
        scheduled: a.scheduled,
        done: a.done,
        ratio: a.ratio,
        current_streak: a.current_streak,
        longest_streak: a.longest_streak,
    }
}

/// The range asked for, with its defaults; 422 when it is backwards or too long.
fn range(q: &ProgressQuery, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = q.to.unwrap_or(today);
    let from = q.from.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
    if to < from {
        return Err(ApiError::validation(
            "to",
            "must not be before `from` (without `to`, the range ends today)",
        ));
    }
    if (to - from).num_days() >= MAX_PROGRESS_DAYS {
        return Err(ApiError::validation(
            "to",
            format!(
                "must be less than {MAX_PROGRESS_DAYS} days after `from`: a report covers at most {MAX_PROGRESS_DAYS} days"
            ),
        ));
    }
    Ok((from, to))
}

/// The start of the 30-day monitoring window of an assignment starting on `start` that holds
/// `date`.
fn window_start(start: NaiveDate, date: NaiveDate) -> NaiveDate {
    let days = (date - start).num_days().max(0);
    start + Duration::days(days - days % compute::MONITORING_WINDOW_DAYS)
}

/// What a report is computed from, already loaded.
struct Inputs<'a> {
    tz: Tz,
    today: NaiveDate,
    from: NaiveDate,
    to: NaiveDate,
    assignments: &'a [AssignmentRow],
    pauses: &'a [PauseRow],
    logged: &'a HashMap<(Uuid, NaiveDate), u32>,
    pain: &'a [PainRow],
    measurements: &'a [MeasurementRow],
}

fn build_report(client_id: Uuid, i: &Inputs<'_>) -> ProgressResponse {
    // Occurrences count up to today: later ones are not due yet.
    let last_counted = i.to.min(i.today);
    let mut log_days: HashMap<Uuid, BTreeSet<NaiveDate>> = HashMap::new();
    for ((id, date), count) in i.logged {
        if *count > 0 {
            log_days.entry(*id).or_default().insert(*date);
        }
    }
    let no_days = BTreeSet::new();
    let mut all: Vec<Occurrence> = Vec::new();
    let mut assignments = Vec::new();
    for a in i.assignments {
        let schedule = a.schedule(i.pauses, i.tz);
        if schedule.end_date.is_some_and(|end| end < i.from) {
            continue;
        }
        let logs_on = |date: NaiveDate| i.logged.get(&(a.id, date)).copied().unwrap_or(0);
        let occurrences = compute::occurrences(&schedule, i.from, last_counted, logs_on);
        all.extend_from_slice(&occurrences);
        let window_end = schedule.end_date.map_or(i.today, |end| end.min(i.today));
        let days = log_days.get(&a.id).unwrap_or(&no_days);
        let windows = compute::monitoring_windows(a.start_date, window_end, days)
            .into_iter()
            .filter(|w| w.end >= i.from && w.start <= i.to)
            .map(|w| MonitoringWindowResponse {
                start: w.start,
                end: w.end,
                days_with_data: w.days_with_data,
                reaches_threshold: w.reaches_threshold,
            })
            .collect();
        assignments.push(AssignmentProgress {
            assignment_id: a.id,
            name: a.name.clone(),
            status: a.status,
            adherence: adherence_response(compute::adherence(&occurrences, i.today)),
            monitoring_windows: windows,
        });
    }
    // All assignments together, in calendar order (the sort is stable: each date keeps the
    // assignments' order and their slots').
    all.sort_by_key(|o| o.date);

    let points: Vec<PainPoint> = i
        .pain
        .iter()
        .map(|p| PainPoint {
            date: p.local_date,
            before: p.pain_before.and_then(|v| u8::try_from(v).ok()),
            after: p.pain_after.and_then(|v| u8::try_from(v).ok()),
        })
        .collect();
    let weeks = compute::pain_weeks(&points);
    let pain = PainResponse {
        change_before: compute::weekly_change(&weeks, |w| w.before_avg),
        change_after: compute::weekly_change(&weeks, |w| w.after_avg),
        weekly: weeks
            .into_iter()
            .map(|w| PainWeekResponse {
                week_start: w.week_start,
                sessions: w.sessions,
                before_avg: w.before_avg,
                after_avg: w.after_avg,
            })
            .collect(),
    };

    ProgressResponse {
        client_id,
        timezone: i.tz.name().to_string(),
        from: i.from,
        to: i.to,
        today: i.today,
        adherence: adherence_response(compute::adherence(&all, i.today)),
        pain,
        measurements: measurement_progress(i.measurements),
        assignments,
        outcomes: Vec::new(),
    }
}

/// Measurements grouped by kind (in the vocabulary's order) and side, with the asymmetry.
fn measurement_progress(rows: &[MeasurementRow]) -> Vec<MeasurementProgress> {
    let mut by_kind: BTreeMap<MeasurementKind, MeasurementSeries> = BTreeMap::new();
    for r in rows {
        let series = by_kind.entry(r.kind).or_default();
        let point = MeasurementPoint {
            date: r.local_date,
            performed_at: r.performed_at,
            session_id: r.session_id,
            value: r.value,
        };
        match r.side {
            MeasurementSide::Left => series.left.push(point),
            MeasurementSide::Right => series.right.push(point),
            MeasurementSide::None => series.none.push(point),
        }
    }
    by_kind
        .into_iter()
        .map(|(kind, series)| {
            let values = |points: &[MeasurementPoint]| -> Vec<SideValue> {
                points
                    .iter()
                    .map(|p| SideValue {
                        date: p.date,
                        value: p.value,
                    })
                    .collect()
            };
            let asymmetry =
                compute::asymmetry(&values(&series.left), &values(&series.right)).map(|a| AsymmetryResponse {
                    difference: a.difference,
                    percent: a.percent,
                    change: a.change,
                });
            MeasurementProgress {
                kind,
                unit: kind.spec().unit.to_string(),
                latest: LatestValues {
                    left: series.left.last().map(|p| p.value),
                    right: series.right.last().map(|p| p.value),
                    none: series.none.last().map(|p| p.value),
                },
                asymmetry,
                series,
            }
        })
        .collect()
}

/// Loads what the report needs in eight queries, whatever the range: the client, assignments,
/// pauses, logs per day, pain, measurements, scores and their questionnaires.
/// `outcomes`: whether the caller may read the client's outcomes (else the section is empty).
async fn progress_for(
    state: &AppState,
    clinic_id: Uuid,
    client_id: Uuid,
    q: &ProgressQuery,
    outcomes: bool,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let (_, tz) = client_queries::find_with_tz(&mut conn, clinic_id, client_id).await?;
    let today = local_date(Utc::now(), tz);
    let (from, to) = range(q, today)?;
    let mut report = report(&mut conn, clinic_id, client_id, tz, from, to).await?;
    if !outcomes {
        report.outcomes.clear();
    }
    Ok(HttpResponse::Ok().json(report))
}

/// The progress report of a client over `[from, to]` (any length: the export covers all time).
pub async fn report(
    conn: &mut diesel_async::AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ProgressResponse, ApiError> {
    let today = local_date(Utc::now(), tz);
    let assignments = assignment_queries::overlapping(conn, clinic_id, client_id, from, to).await?;
    let ids: Vec<Uuid> = assignments.iter().map(|a| a.id).collect();
    let pauses = assignment_queries::pauses(conn, clinic_id, &ids).await?;
    // Monitoring windows count whole windows, so logs are read from the start of the first
    // window that overlaps the range.
    let logs_from = assignments
        .iter()
        .map(|a| window_start(a.start_date, from.max(a.start_date)))
        .min()
        .unwrap_or(from)
        .min(from);
    let logs_to = to.max(today);
    let logged = logged_per_day(conn, clinic_id, &ids, logs_from, logs_to).await?;
    let pain = queries::pain(conn, clinic_id, client_id, from, to).await?;
    let measurements = queries::measurements(conn, clinic_id, client_id, from, to).await?;
    let outcomes = crate::outcomes::handlers::outcomes_of(conn, clinic_id, client_id).await?;
    let mut report = build_report(
        client_id,
        &Inputs {
            tz,
            today,
            from,
            to,
            assignments: &assignments,
            pauses: &pauses,
            logged: &logged,
            pain: &pain,
            measurements: &measurements,
        },
    );
    report.outcomes = outcomes;
    Ok(report)
}

/// A client's progress
///
/// Over a range of the client's calendar (by default the last 28 days up to today), per
/// assignment and overall: adherence with current and longest streaks, weekly pain and its
/// change, each measurement kind's series per side with the left/right asymmetry and how it
/// changed, and each assignment's 30-day remote-monitoring windows (days with data, and whether
/// they reach 16). Deleted logs do not count. At most 366 days.
#[utoipa::path(
    tag = "progress",
    operation_id = "get_client_progress",
    params(("id" = Uuid, Path, description = "The client's id"), ProgressQuery),
    responses(
        (status = 200, description = "The progress report", body = ProgressResponse),
        (status = 422, description = "`to` is before `from`, or the range is longer than 366 days", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["sessions:read"]))
)]
#[get("/v1/clients/{id}/progress")]
pub async fn get_client_progress(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    q: web::Query<ProgressQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_client_access(*id, Permission::SessionsRead, "client")?;
    // Outcomes are read with `outcomes:read` (or by the client themself): without it the
    // section stays empty, as the outcomes endpoint would refuse.
    let outcomes = caller.own_client_id().is_some() || caller.permissions.contains(Permission::OutcomesRead);
    progress_for(&state, caller.clinic_id, *id, &q, outcomes).await
}

/// My progress
///
/// For a client's login: their own progress report (see the client progress).
#[utoipa::path(
    tag = "me",
    operation_id = "get_my_progress",
    params(ProgressQuery),
    responses(
        (status = 200, description = "The progress report", body = ProgressResponse),
        (status = 422, description = "`to` is before `from`, or the range is longer than 366 days", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me/progress")]
pub async fn get_my_progress(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ProgressQuery>,
) -> Result<HttpResponse, ApiError> {
    let client_id = caller.require_own_client("progress")?;
    progress_for(&state, caller.clinic_id, client_id, &q, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn the_default_range_is_28_days_up_to_today() {
        let today = d("2026-11-26");
        let q = ProgressQuery { from: None, to: None };
        assert_eq!(range(&q, today).expect("range"), (d("2026-10-30"), today));
        let q = ProgressQuery {
            from: Some(d("2026-11-01")),
            to: None,
        };
        assert_eq!(range(&q, today).expect("range"), (d("2026-11-01"), today));
        let backwards = ProgressQuery {
            from: Some(d("2026-11-27")),
            to: None,
        };
        assert!(range(&backwards, today).is_err());
        let long = ProgressQuery {
            from: Some(d("2025-01-01")),
            to: Some(d("2026-01-02")),
        };
        assert!(range(&long, today).is_err(), "367 days");
        let year = ProgressQuery {
            from: Some(d("2025-01-01")),
            to: Some(d("2026-01-01")),
        };
        assert!(range(&year, today).is_ok());
    }

    #[test]
    fn windows_start_every_30_days_from_the_start() {
        let start = d("2026-09-01");
        assert_eq!(window_start(start, start), start);
        assert_eq!(window_start(start, d("2026-09-30")), start);
        assert_eq!(window_start(start, d("2026-10-01")), d("2026-10-01"));
        assert_eq!(window_start(start, d("2026-11-26")), d("2026-10-31"));
    }
}
