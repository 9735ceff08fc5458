//! The demo's outcome measures and remote monitoring, made without the database: every client
//! answers the PSFS every two weeks from the start of their homework, rating three activities
//! that improve; the clients with logins are monitored (RTM), with episodes placed so that
//! their periods and months show a realistic mix of what does and does not reach each code.

use crate::demo::generate::{ClientData, LOGINS, Rng, Setting};
use crate::monitoring::dto::InteractionKind;
use crate::monitoring::queries::{EpisodeRow, InteractionRow};
use crate::outcomes::builtin::{PSFS, psfs, psfs_item};
use crate::outcomes::dto::{
    AnsweredBy, CreateQuestionnaireAnswersRequest, QuestionnaireAssignmentStatus, ScheduleUnit,
};
use crate::outcomes::queries::{AssignmentRow, ResponseRow};
use crate::outcomes::scoring::{self, AnswerBody};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

/// Activities clients name at their first PSFS.
const ACTIVITIES: &[&str] = &[
    "Sitting cross-legged on the floor",
    "Climbing stairs",
    "Getting in and out of the car",
    "Putting on socks",
    "Walking for 30 minutes",
    "Standing on one leg to dress",
];

/// What one client's measures add.
#[derive(Debug, Clone, Default)]
pub struct Measures {
    pub questionnaire_assignments: Vec<AssignmentRow>,
    pub responses: Vec<ResponseRow>,
    pub episodes: Vec<EpisodeRow>,
    pub interactions: Vec<InteractionRow>,
}

fn at_local(date: NaiveDate, hour: u32, tz: Tz) -> DateTime<Utc> {
    let wall = date.and_hms_opt(hour, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&wall)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(wall + Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| wall.and_utc())
}

/// The measures of client `index`, whose homework and logs are `c`.
pub fn measures(setting: &Setting<'_>, index: u32, c: &ClientData, ids: &mut dyn FnMut() -> Uuid) -> Measures {
    let mut out = Measures::default();
    let Some(start) = c.assignments.first().map(|a| a.start_date) else {
        return out;
    };
    let tz: Tz = c.timezone.parse().unwrap_or(chrono_tz::UTC);
    let today = setting.now.with_timezone(&tz).date_naive();
    let mut rng = Rng::fork(setting.seed ^ 0x005E_ED0F_0C0E, u64::from(index));
    psfs_every_fortnight(setting, c, start, today, tz, &mut rng, ids, &mut out);
    if index < LOGINS {
        monitoring(setting, c, index, start, today, tz, ids, &mut out);
    }
    out
}

#[expect(clippy::too_many_arguments, reason = "one client's setting, passed down once")]
fn psfs_every_fortnight(
    setting: &Setting<'_>,
    c: &ClientData,
    start: NaiveDate,
    today: NaiveDate,
    tz: Tz,
    rng: &mut Rng,
    ids: &mut dyn FnMut() -> Uuid,
    out: &mut Measures,
) {
    let assigned_at = at_local(start - Duration::days(1), 18, tz);
    let assignment = AssignmentRow {
        id: ids(),
        clinic_id: setting.clinic_id,
        client_id: c.id,
        questionnaire_id: PSFS,
        start_date: start,
        end_date: None,
        every: 2,
        unit: ScheduleUnit::Weeks,
        status: QuestionnaireAssignmentStatus::Active,
        stopped_at: None,
        version: 1,
        created_at: assigned_at,
        updated_at: assigned_at,
    };
    let def = psfs();
    let (items, rule) = (def.item_list(), def.scoring());
    // Three activities, each starting low and gaining about a point a fortnight.
    let first = rng.below(ACTIVITIES.len());
    let baseline: Vec<f64> = (0..3).map(|_| rng.between(1.5, 4.0)).collect();
    let gain = rng.between(0.7, 1.3);
    let (role, by) = match c.login {
        Some(m) => (AnsweredBy::Client, Some(m)),
        None => (AnsweredBy::Integration, None),
    };
    let mut date = start;
    let mut k = 0.0;
    while date < today {
        let mut answers = Vec::new();
        for (a, base) in baseline.iter().enumerate() {
            let n = u128::try_from(a + 1).unwrap_or(1);
            if k == 0.0 {
                answers.push(AnswerBody {
                    item_id: psfs_item(n, false),
                    value: None,
                    option_id: None,
                    text: Some(ACTIVITIES[(first + a) % ACTIVITIES.len()].to_string()),
                });
            }
            let rating = (base + gain * k + rng.noise(0.5)).round().clamp(0.0, 10.0);
            answers.push(AnswerBody {
                item_id: psfs_item(n, true),
                value: Some(rating),
                option_id: None,
                text: None,
            });
        }
        let answered_at = at_local(date, 19, tz);
        let request = CreateQuestionnaireAnswersRequest {
            id: None,
            answered_at: Some(answered_at.fixed_offset()),
            answers,
        };
        if let Ok(scored) = scoring::score(&items, &rule, &request.answers) {
            out.responses.push(ResponseRow {
                id: ids(),
                clinic_id: setting.clinic_id,
                client_id: c.id,
                assignment_id: assignment.id,
                questionnaire_id: PSFS,
                answered_at,
                local_date: date,
                answered_by: by,
                answered_by_role: role,
                answers: serde_json::to_value(&scored.answers).unwrap_or_default(),
                score: scored.score,
                answered_items: i32::try_from(scored.answered).unwrap_or(0),
                content_hash: request.content_hash(assignment.id),
                created_at: answered_at,
            });
        }
        date += Duration::days(14);
        k += 1.0;
    }
    out.questionnaire_assignments.push(assignment);
}

fn first_of_next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

/// An RTM episode per client with a login, placed against their homework so the three show a
/// mix: Sam's starts with the homework (a full first period), Jordan's 16 days before it (a
/// first period of 2–15 data days), Mei's 29 days before it (a first period with at most one).
/// Each month gets interactions: Sam a 20-minute video and a 10-minute review (30 minutes:
/// 98980), Jordan a 12-minute call in odd months and messages only in even ones (98979, or
/// nothing without an interactive contact), Mei three 15-minute calls (45: 98980 and 98981).
#[expect(clippy::too_many_arguments, reason = "one client's setting, passed down once")]
fn monitoring(
    setting: &Setting<'_>,
    c: &ClientData,
    index: u32,
    start: NaiveDate,
    today: NaiveDate,
    tz: Tz,
    ids: &mut dyn FnMut() -> Uuid,
    out: &mut Measures,
) {
    let lead = [0, 16, 29][index as usize % 3];
    let ep_start = start - Duration::days(lead);
    let created = at_local(ep_start, 9, tz);
    out.episodes.push(EpisodeRow {
        id: ids(),
        clinic_id: setting.clinic_id,
        client_id: c.id,
        start_date: ep_start,
        end_date: None,
        version: 1,
        created_at: created,
        updated_at: created,
    });
    let yesterday = today - Duration::days(1);
    let recorded_by = c.primary_practitioner_id;
    let mut month = ep_start;
    while month <= yesterday {
        let next = first_of_next_month(month);
        let last = (next - Duration::days(1)).min(yesterday);
        let span = (last - month).num_days();
        let on = |k: i64| month + Duration::days(k.min(span));
        let contacts: Vec<(NaiveDate, InteractionKind, i32, bool)> = match index % 3 {
            0 => vec![
                (on(3), InteractionKind::Video, 20, true),
                (on(10), InteractionKind::Review, 10, false),
            ],
            1 if month.month() % 2 == 1 => vec![(on(5), InteractionKind::Call, 12, true)],
            1 => vec![
                (on(2), InteractionKind::Message, 5, false),
                (on(9), InteractionKind::Message, 6, false),
            ],
            _ => vec![
                (on(1), InteractionKind::Call, 15, true),
                (on(8), InteractionKind::Call, 15, true),
                (on(15), InteractionKind::Call, 15, true),
            ],
        };
        for (date, kind, minutes, interactive) in contacts {
            let at = at_local(date, 15, tz);
            out.interactions.push(InteractionRow {
                id: ids(),
                clinic_id: setting.clinic_id,
                client_id: c.id,
                kind,
                minutes,
                interactive,
                occurred_at: at,
                recorded_by,
                version: 1,
                created_at: at,
                updated_at: at,
            });
        }
        month = next;
    }
}
