//! The demo clinic's data, made from a seed: clients, their hip homework, and weeks of session
//! logs. Nothing here touches the database: the caller supplies the clock, the ids and the
//! routines, and gets back the rows to insert. So the tests can check what the data says —
//! pain trends down, the gap between the hips closes, some days are missed, and exactly one log
//! of the first clients is flagged — and the same seed always tells the same story.
//!
//! Every client draws from a random stream of its own (the seed and its index), so the first
//! three clients are the same whether the clinic has three clients or two thousand.

use crate::assignments::dto::AssignmentStatus;
use crate::assignments::queries::{AssignmentRow, ItemRow};
use crate::assignments::schedule::{DayOfWeek, Schedule, local_date};
use crate::exercises::dto::ItemSide;
use crate::routines::queries::ItemRow as RoutineItemRow;
use crate::sessions::dto::Content;
use crate::sessions::dto::{EntryBody, EntrySide, LoggedByRole, MeasurementBody, MeasurementKind, MeasurementSide};
use crate::sessions::queries::{EntryRow, Logger, MeasurementRow, SessionRow, entry_rows, measurement_rows};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

/// How many clients (the first ones) get a login: enough to try `/v1/me/*` from a phone.
/// Bigger clinics are for benchmarks, and hashing a password per client would dominate.
pub const LOGINS: u32 = 3;

/// A small, seedable random number generator (SplitMix64): plenty for plausible demo data,
/// and the same numbers on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// An independent stream for one part of the data (one client), from the seed and a label.
    pub fn fork(seed: u64, label: u64) -> Self {
        let mut r = Rng(seed ^ label.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Bell-shaped noise around 0 with standard deviation `sd` (a sum of three uniforms).
    pub fn noise(&mut self, sd: f64) -> f64 {
        (self.unit() + self.unit() + self.unit() - 1.5) * 2.0 * sd
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A routine template as the demo reads it from the built-in library.
#[derive(Debug, Clone)]
pub struct Routine {
    pub id: Uuid,
    pub name: String,
    pub items: Vec<RoutineItemRow>,
}

/// A routine the demo gives every client, and how the client tends to do it.
#[derive(Debug, Clone)]
pub struct Homework {
    pub routine: Routine,
    pub instructions: &'static str,
    /// Empty = every day.
    pub days_of_week: Vec<DayOfWeek>,
    /// The local hour the client usually starts it.
    pub hour: u32,
    /// Usual length in seconds, low and high.
    pub duration: (i32, i32),
    /// Usual effort (0–10), low and high.
    pub effort: (f64, f64),
    /// What the client measures, left and right, once a week after it.
    pub measures: MeasurementKind,
}

/// The hip program: mobility every morning, strengthening on Monday, Wednesday and Friday
/// evenings.
pub fn hip_program(mobility: Routine, strengthening: Routine) -> Vec<Homework> {
    vec![
        Homework {
            routine: mobility,
            instructions: "Every morning. Give your left hip, the tighter one, the longer hold in the \
                           shoelace pose.",
            days_of_week: Vec::new(),
            hour: 7,
            duration: (540, 780),
            effort: (2.0, 4.0),
            measures: MeasurementKind::HipInternalRotationDeg,
        },
        Homework {
            routine: strengthening,
            instructions: "Monday, Wednesday and Friday. Slow and controlled; rest about 30 seconds \
                           between sets.",
            days_of_week: vec![DayOfWeek::Mon, DayOfWeek::Wed, DayOfWeek::Fri],
            hour: 18,
            duration: (840, 1200),
            effort: (4.0, 7.0),
            measures: MeasurementKind::SingleLegStanceSeconds,
        },
    ]
}

/// What every client of one demo clinic shares.
pub struct Setting<'a> {
    pub clinic_id: Uuid,
    pub seed: u64,
    /// How many clients the clinic gets (only used to pick which demo client has the flag).
    pub clients: u32,
    /// How many weeks of logs, up to yesterday in each client's timezone.
    pub weeks: u32,
    pub now: DateTime<Utc>,
    /// The domain of every demo email address.
    pub domain: &'a str,
    pub homework: &'a [Homework],
    /// Staff membership ids; clients are shared between them in turn, starting with the first.
    pub staff: &'a [Uuid],
}

/// One client and everything logged for them.
#[derive(Debug, Clone)]
pub struct ClientData {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub timezone: &'static str,
    pub external_id: String,
    pub primary_practitioner_id: Option<Uuid>,
    /// The id of the client's login membership (only the first [`LOGINS`] clients have one).
    pub login: Option<Uuid>,
    pub assignments: Vec<AssignmentRow>,
    pub items: Vec<ItemRow>,
    pub sessions: Vec<SessionRow>,
    pub entries: Vec<EntryRow>,
    pub measurements: Vec<MeasurementRow>,
    /// Occurrences due before today, and how many of them have no log.
    pub scheduled: u32,
    pub missed: u32,
}

/// The three clients a person trying the demo meets, each in another timezone.
const DEMO_CLIENTS: [(&str, &str); 3] = [
    ("Sam Lee", "Europe/London"),
    ("Jordan Reyes", "America/New_York"),
    ("Mei Tanaka", "Australia/Sydney"),
];

/// Timezones of the other clients, in turn.
const TIMEZONES: &[&str] = &[
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Europe/Berlin",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "America/Sao_Paulo",
    "Africa/Johannesburg",
    "Asia/Kolkata",
];

const FIRST_NAMES: &[&str] = &[
    "Alex", "Bea", "Carlos", "Dana", "Elif", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena", "Mateo", "Nia",
    "Omar", "Priya", "Quinn", "Rosa", "Tariq", "Uma", "Vera", "Wen", "Yusuf", "Zoe",
];

const LAST_NAMES: &[&str] = &[
    "Adams", "Brennan", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Kowalski",
    "Larsen", "Moreau", "Nakamura", "Okafor", "Patel", "Quinlan", "Rossi", "Silva", "Tan", "Usman", "Varga",
];

/// Things people write after a session, early on and later in the program.
const EARLY_NOTES: &[&str] = &[
    "Left hip tight, especially in the shoelace pose.",
    "Stiff this morning; it eased once I got going.",
    "Hard to keep the knees apart on the left.",
    "Lower back a bit sore after sitting all day.",
];
const LATER_NOTES: &[&str] = &[
    "Left side feels much looser than last week.",
    "Balance on the left leg is getting steadier.",
    "Easier today; barely noticed the hip.",
    "Walked to work without the usual ache.",
];
const FLARE_NOTE: &str = "Sharp pain in the left hip during the session, worse than before; stopped early. \
                          Carried heavy boxes yesterday.";

/// The email's local part for a name: `Sam Lee` becomes `sam.lee`.
fn email_local(name: &str) -> String {
    name.split_whitespace()
        .map(|w| w.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(".")
}

/// The instant a local wall-clock time falls on (an hour later when the clocks skip it).
fn at_local(date: NaiveDate, hour: u32, minute: u32, tz: Tz) -> DateTime<Utc> {
    let wall = date.and_hms_opt(hour, minute, 0).unwrap_or_default();
    tz.from_local_datetime(&wall)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(wall + Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| wall.and_utc())
}

/// How one client progresses: drawn once per client.
struct Course {
    pain_start: f64,
    pain_end: f64,
    /// Chance of a day without any homework, and of skipping one routine on a day.
    day_off: f64,
    skip: f64,
    /// Right hip internal rotation (degrees) and the left one's shortfall, at start and end.
    rotation_right: f64,
    rotation_gap: (f64, f64),
    /// Right single-leg stance (seconds) and the left one's shortfall at the start.
    stance_right: f64,
    stance_gap: f64,
    /// Chance that a log records a flare-up (only for clients past the first [`LOGINS`]).
    flare_rate: f64,
}

impl Course {
    fn draw(rng: &mut Rng, index: u32) -> Self {
        Course {
            pain_start: rng.between(5.5, 7.0),
            pain_end: rng.between(1.5, 2.5),
            day_off: rng.between(0.07, 0.13),
            skip: rng.between(0.04, 0.09),
            rotation_right: rng.between(36.0, 42.0),
            rotation_gap: (rng.between(10.0, 14.0), rng.between(2.0, 4.0)),
            stance_right: rng.between(20.0, 30.0),
            stance_gap: rng.between(8.0, 12.0),
            flare_rate: if index < LOGINS { 0.0 } else { 0.004 },
        }
    }

    /// Typical pain before a session at `progress` (0 at the start, 1 at the end).
    fn pain(&self, progress: f64) -> f64 {
        self.pain_start + (self.pain_end - self.pain_start) * progress
    }

    /// A left and right measurement of `kind` at `progress`, with measuring noise.
    fn measure(&self, kind: MeasurementKind, progress: f64, rng: &mut Rng) -> (f64, f64) {
        let spec = kind.spec();
        let (left, right, step) = if kind == MeasurementKind::SingleLegStanceSeconds {
            let right = self.stance_right + 12.0 * progress + rng.noise(1.5);
            let gap = self.stance_gap * (1.0 - 0.7 * progress);
            (right - gap + rng.noise(1.5), right, 1.0)
        } else {
            let right = self.rotation_right + 2.0 * progress + rng.noise(0.6);
            let gap = self.rotation_gap.0 + (self.rotation_gap.1 - self.rotation_gap.0) * progress;
            (right - gap + rng.noise(0.6), right, 0.5)
        };
        let tidy = |v: f64| ((v / step).round() * step).clamp(spec.min, spec.max);
        (tidy(left), tidy(right))
    }
}

/// A log before it becomes rows (a flare-up may still change it).
struct Draft {
    homework: usize,
    date: NaiveDate,
    performed_at: DateTime<Utc>,
    duration_seconds: i32,
    pain_before: i16,
    pain_after: i16,
    effort: i16,
    notes: Option<String>,
    entries: Vec<EntryBody>,
    measurements: Vec<MeasurementBody>,
}

impl Draft {
    /// A bad day: pain rises well past the flag threshold, and the session stops early.
    fn flare_up(&mut self) {
        self.pain_after = (self.pain_before + 4).clamp(7, 10);
        self.notes = Some(FLARE_NOTE.to_string());
        self.duration_seconds /= 2;
        if let Some(e) = self.entries.iter_mut().find(|e| e.side == Some(EntrySide::Left)) {
            e.completed = false;
            e.pain = Some(self.pain_after);
            e.hold_seconds = e.hold_seconds.map(|h| h / 3);
            e.reps_done = e.reps_done.map(|r| r / 3);
        }
    }
}

/// The sides an item is done on.
fn sides(side: ItemSide) -> &'static [EntrySide] {
    match side {
        ItemSide::Each => &[EntrySide::Left, EntrySide::Right],
        ItemSide::Left => &[EntrySide::Left],
        ItemSide::Right => &[EntrySide::Right],
        ItemSide::Both => &[EntrySide::Both],
    }
}

/// What was done of each item: as prescribed, the tighter left side held 15 s longer, and now
/// and then an item cut short.
fn entries(items: &[&ItemRow], rng: &mut Rng) -> Vec<EntryBody> {
    let mut out = Vec::new();
    for item in items {
        for &side in sides(item.side) {
            let longer = side == EntrySide::Left && item.side == ItemSide::Each;
            let hold = item.hold_seconds.map(|h| if longer && h >= 30 { h + 15 } else { h });
            let reps = item.reps.map(|r| (r * item.sets.unwrap_or(1)).min(1000));
            let completed = !rng.chance(0.03);
            out.push(EntryBody {
                assignment_item_id: item.id,
                side: Some(side),
                sets_done: item.sets,
                reps_done: if completed { reps } else { reps.map(|r| r * 2 / 3) },
                hold_seconds: if completed { hold } else { hold.map(|h| h * 2 / 3) },
                completed,
                pain: None,
                notes: None,
            });
        }
    }
    out
}

/// Everything about client number `index` (0-based) of the clinic; `ids` mints every id.
pub fn client(setting: &Setting<'_>, index: u32, ids: &mut dyn FnMut() -> Uuid) -> ClientData {
    let mut rng = Rng::fork(setting.seed, u64::from(index));
    let (name, timezone) = match DEMO_CLIENTS.get(index as usize) {
        Some((name, tz)) => (name.to_string(), *tz),
        None => {
            let name = format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
            (name, TIMEZONES[index as usize % TIMEZONES.len()])
        }
    };
    let email = if index < LOGINS {
        format!("{}@{}", email_local(&name), setting.domain)
    } else {
        format!("{}.{:05}@{}", email_local(&name), index + 1, setting.domain)
    };
    let tz: Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let id = ids();
    let login = if index < LOGINS { Some(ids()) } else { None };
    let staff = (!setting.staff.is_empty()).then(|| setting.staff[index as usize % setting.staff.len()]);
    let course = Course::draw(&mut rng, index);

    let today = local_date(setting.now, tz);
    let days = i64::from(setting.weeks.max(1)) * 7;
    let start = today - Duration::days(days);
    // Given at a visit the evening before the first day.
    let assigned_at = at_local(start - Duration::days(1), 17, 30, tz);

    let mut assignments = Vec::new();
    let mut items = Vec::new();
    for h in setting.homework {
        let assignment_id = ids();
        assignments.push(AssignmentRow {
            id: assignment_id,
            clinic_id: setting.clinic_id,
            client_id: id,
            routine_id: Some(h.routine.id),
            assigned_by: staff,
            name: h.routine.name.clone(),
            instructions: Some(h.instructions.to_string()),
            start_date: start,
            end_date: None,
            days_of_week: h.days_of_week.clone(),
            times_per_day: 1,
            status: AssignmentStatus::Active,
            ended_at: None,
            version: 1,
            created_at: assigned_at,
            updated_at: assigned_at,
            // An evening reminder, as the handout suggests doing the work after the day's activity.
            reminder_times: vec!["18:30".to_string()],
        });
        // Copied from the template, as giving homework through the API does.
        items.extend(
            h.routine
                .items
                .iter()
                .map(|i| ItemRow::copy_of(i, ids(), setting.clinic_id, assignment_id)),
        );
    }
    let schedules: Vec<Schedule> = assignments.iter().map(|a| a.schedule(&[], tz)).collect();

    let draft = |rng: &mut Rng, k: usize, date: NaiveDate, measured: bool| -> Draft {
        let h = &setting.homework[k];
        let progress = (date - start).num_days() as f64 / days as f64;
        let minute = u32::try_from(rng.below(90)).unwrap_or(0);
        let performed_at = at_local(date, h.hour + minute / 60, minute % 60, tz);
        let pain_before = (course.pain(progress) + rng.noise(0.7)).round().clamp(0.0, 8.0) as i16;
        // A little better afterwards; never enough to raise a flag on an ordinary day.
        let pain_after = (pain_before - i16::try_from(rng.below(3)).unwrap_or(0)).clamp(0, 6);
        let own_items: Vec<&ItemRow> = items.iter().filter(|i| i.assignment_id == assignments[k].id).collect();
        let notes = rng.chance(0.08).then(|| {
            let pool = if progress < 0.5 { EARLY_NOTES } else { LATER_NOTES };
            rng.pick(pool).to_string()
        });
        let measurements = if measured {
            let (left, right) = course.measure(h.measures, progress, rng);
            vec![
                MeasurementBody {
                    kind: h.measures,
                    side: MeasurementSide::Left,
                    value: left,
                },
                MeasurementBody {
                    kind: h.measures,
                    side: MeasurementSide::Right,
                    value: right,
                },
            ]
        } else {
            Vec::new()
        };
        Draft {
            homework: k,
            date,
            performed_at,
            duration_seconds: rng.between(f64::from(h.duration.0), f64::from(h.duration.1)) as i32,
            pain_before,
            pain_after,
            effort: rng.between(h.effort.0, h.effort.1).round() as i16,
            notes,
            entries: entries(&own_items, rng),
            measurements,
        }
    };

    let mut drafts: Vec<Draft> = Vec::new();
    let (mut scheduled, mut missed) = (0u32, 0u32);
    // The week (since the start) each routine was last measured in: the first log of a week measures.
    let mut measured_week: Vec<Option<i64>> = vec![None; setting.homework.len()];
    let mut last_due: Option<(usize, NaiveDate)> = None;
    for date in start.iter_days().take_while(|d| *d < today) {
        let day_off = rng.chance(course.day_off);
        for (k, schedule) in schedules.iter().enumerate() {
            if !schedule.is_due_on(date) {
                continue;
            }
            scheduled += 1;
            last_due = Some((k, date));
            if day_off || rng.chance(course.skip) {
                missed += 1;
                continue;
            }
            let week = (date - start).num_days() / 7;
            let measured = measured_week[k] != Some(week);
            measured_week[k] = Some(week);
            let mut d = draft(&mut rng, k, date, measured);
            if rng.chance(course.flare_rate) {
                d.flare_up();
            }
            drafts.push(d);
        }
    }

    // Exactly one flag among the demo clients: a recent bad day for one of them.
    let flagged_client = setting.seed % u64::from(setting.clients.clamp(1, LOGINS));
    if u64::from(index) == flagged_client {
        if drafts.is_empty()
            && let Some((k, date)) = last_due
        {
            missed -= 1;
            drafts.push(draft(&mut rng, k, date, false));
        }
        let recent: Vec<usize> = (0..drafts.len())
            .filter(|i| drafts[*i].date >= today - Duration::days(14))
            .collect();
        let chosen = if recent.is_empty() {
            drafts.len().checked_sub(1)
        } else {
            Some(recent[rng.below(recent.len())])
        };
        if let Some(i) = chosen {
            drafts[i].flare_up();
        }
    }

    let (logged_by_role, logged_by) = match login {
        Some(m) => (LoggedByRole::Client, Some(m)),
        // Clients without a login log through the clinic's app integration.
        None => (LoggedByRole::Integration, None),
    };
    let mut sessions = Vec::with_capacity(drafts.len());
    let mut entry_out = Vec::new();
    let mut measurement_out = Vec::new();
    for d in drafts {
        let session_id = ids();
        let assignment_id = assignments[d.homework].id;
        let content = Content {
            performed_at: d.performed_at,
            duration_seconds: Some(d.duration_seconds),
            pain_before: Some(d.pain_before),
            pain_after: Some(d.pain_after),
            effort: Some(d.effort),
            notes: d.notes,
            entries: d.entries,
            measurements: d.measurements,
        };
        entry_out.extend(entry_rows(setting.clinic_id, session_id, &content.entries));
        measurement_out.extend(measurement_rows(
            setting.clinic_id,
            session_id,
            id,
            &content.measurements,
        ));
        let logged_at = d.performed_at + Duration::seconds(i64::from(d.duration_seconds) + 60);
        let logger = Logger {
            role: logged_by_role,
            by: logged_by,
        };
        sessions.push(SessionRow {
            created_at: logged_at,
            updated_at: logged_at,
            ..SessionRow::new(session_id, setting.clinic_id, (assignment_id, id), tz, &content, logger)
        });
    }

    ClientData {
        id,
        name,
        email,
        timezone,
        external_id: format!("demo-{:05}", index + 1),
        primary_practitioner_id: staff,
        login,
        assignments,
        items,
        sessions,
        entries: entry_out,
        measurements: measurement_out,
        scheduled,
        missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::content::{HIP_MOBILITY, HIP_STRENGTHENING, ROUTINES};
    use crate::sessions::queries::is_flagged;

    /// The built-in routines as the database holds them.
    fn program() -> Vec<Homework> {
        let routine = |id: Uuid| {
            let r = ROUTINES.iter().find(|r| r.id == id).expect("built-in routine");
            Routine {
                id: r.id,
                name: r.name.to_string(),
                items: r
                    .items
                    .iter()
                    .enumerate()
                    .map(|(p, i)| RoutineItemRow {
                        clinic_id: Uuid::nil(),
                        routine_id: r.id,
                        position: i32::try_from(p).expect("small"),
                        exercise_id: i.exercise,
                        sets: i.sets,
                        reps: i.reps,
                        hold_seconds: i.hold_seconds,
                        duration_seconds: None,
                        rest_seconds: i.rest_seconds,
                        side: i.side,
                        notes: i.notes.map(str::to_string),
                    })
                    .collect(),
            }
        };
        hip_program(routine(HIP_MOBILITY), routine(HIP_STRENGTHENING))
    }

    fn counter() -> impl FnMut() -> Uuid {
        let mut n = 0u128;
        move || {
            n += 1;
            Uuid::from_u128(n)
        }
    }

    fn clinic(seed: u64, clients: u32, weeks: u32) -> Vec<ClientData> {
        let homework = program();
        let staff = [Uuid::from_u128(u128::MAX - 1), Uuid::from_u128(u128::MAX - 2)];
        let setting = Setting {
            clinic_id: Uuid::from_u128(u128::MAX),
            seed,
            clients,
            weeks,
            now: "2026-11-26T15:30:00Z".parse().expect("instant"),
            domain: "demo-test.example",
            homework: &homework,
            staff: &staff,
        };
        let mut ids = counter();
        (0..clients).map(|i| client(&setting, i, &mut ids)).collect()
    }

    fn mean(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }

    #[test]
    fn the_same_seed_tells_the_same_story() {
        let a = clinic(7, 3, 6);
        let b = clinic(7, 3, 6);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.sessions.len(), y.sessions.len());
            for (s, t) in x.sessions.iter().zip(&y.sessions) {
                assert_eq!(
                    (s.performed_at, s.pain_before, s.pain_after, &s.content_hash),
                    (t.performed_at, t.pain_before, t.pain_after, &t.content_hash)
                );
            }
            assert_eq!(
                x.measurements.iter().map(|m| m.value).collect::<Vec<_>>(),
                y.measurements.iter().map(|m| m.value).collect::<Vec<_>>()
            );
        }
        let other = clinic(8, 3, 6);
        assert_ne!(
            a[0].sessions.iter().map(|s| s.pain_before).collect::<Vec<_>>(),
            other[0].sessions.iter().map(|s| s.pain_before).collect::<Vec<_>>(),
            "another seed, another story"
        );
    }

    #[test]
    fn the_first_clients_do_not_depend_on_the_clinic_size() {
        let small = clinic(11, 3, 4);
        let big = clinic(11, 40, 4);
        for (x, y) in small.iter().zip(&big) {
            assert_eq!(x.name, y.name);
            assert_eq!(
                x.sessions
                    .iter()
                    .map(|s| (s.performed_at, s.pain_after))
                    .collect::<Vec<_>>(),
                y.sessions
                    .iter()
                    .map(|s| (s.performed_at, s.pain_after))
                    .collect::<Vec<_>>()
            );
        }
        assert!(big[3..].iter().all(|c| c.login.is_none()));
        assert!(big[..3].iter().all(|c| c.login.is_some()));
    }

    #[test]
    fn pain_trends_down() {
        for c in clinic(1, 3, 6) {
            let start = c.assignments[0].start_date;
            let week = |w: i64| -> Vec<f64> {
                c.sessions
                    .iter()
                    .filter(|s| (s.local_date - start).num_days() / 7 == w)
                    .filter_map(|s| s.pain_before.map(f64::from))
                    .collect()
            };
            let (first, last) = (mean(&week(0)), mean(&week(5)));
            assert!(first >= 4.5 && last <= 3.0, "{}: {first} -> {last}", c.name);
            for s in &c.sessions {
                assert!(s.pain_after <= s.pain_before || s.flagged, "pain after is a bit lower");
            }
        }
    }

    #[test]
    fn the_left_right_gap_closes() {
        for c in clinic(2, 3, 6) {
            let start = c.assignments[0].start_date;
            let dates: std::collections::HashMap<Uuid, NaiveDate> =
                c.sessions.iter().map(|s| (s.id, s.local_date)).collect();
            let gap = |week: i64| -> f64 {
                let side = |side: MeasurementSide| -> Vec<f64> {
                    c.measurements
                        .iter()
                        .filter(|m| m.kind == MeasurementKind::HipInternalRotationDeg && m.side == side)
                        .filter(|m| (dates[&m.session_id] - start).num_days() / 7 == week)
                        .map(|m| m.value)
                        .collect()
                };
                mean(&side(MeasurementSide::Right)) - mean(&side(MeasurementSide::Left))
            };
            let (first, last) = (gap(0), gap(5));
            assert!(
                first >= 7.0,
                "{}: the left hip starts clearly tighter ({first})",
                c.name
            );
            assert!(last <= 7.0 && last < first - 3.0, "{}: {first} -> {last}", c.name);
            let spec = MeasurementKind::HipInternalRotationDeg.spec();
            for m in &c.measurements {
                let spec = if m.kind == MeasurementKind::HipInternalRotationDeg {
                    spec
                } else {
                    m.kind.spec()
                };
                assert!((spec.min..=spec.max).contains(&m.value) && m.side != MeasurementSide::None);
            }
        }
    }

    #[test]
    fn exactly_one_demo_log_is_flagged_and_open() {
        for seed in [0, 1, 2, 99] {
            let clients = clinic(seed, 3, 6);
            let flagged: Vec<&SessionRow> = clients.iter().flat_map(|c| &c.sessions).filter(|s| s.flagged).collect();
            assert_eq!(flagged.len(), 1, "seed {seed}");
            let f = flagged[0];
            assert!(f.pain_after >= Some(7) || f.pain_after >= f.pain_before.map(|b| b + 3));
            assert!(f.reviewed_at.is_none());
            for s in clients.iter().flat_map(|c| &c.sessions) {
                assert_eq!(s.flagged, is_flagged(s.pain_before, s.pain_after));
            }
        }
        // Even a clinic of one has its flag.
        let one = clinic(5, 1, 1);
        assert_eq!(one[0].sessions.iter().filter(|s| s.flagged).count(), 1);
    }

    #[test]
    fn some_days_are_missed_and_most_are_done() {
        for c in clinic(3, 3, 6) {
            assert!(c.missed > 0, "{} missed nothing", c.name);
            let done = f64::from(c.scheduled - c.missed) / f64::from(c.scheduled);
            assert!((0.7..=0.92).contains(&done), "{}: {done}", c.name);
            assert_eq!(c.sessions.len() as u32, c.scheduled - c.missed);
            // Six weeks: 42 mornings of mobility and 18 evenings of strengthening.
            assert_eq!(c.scheduled, 42 + 18);
        }
    }

    #[test]
    fn logs_keep_the_rules_the_api_enforces() {
        let now: DateTime<Utc> = "2026-11-26T15:30:00Z".parse().expect("instant");
        for c in clinic(4, 6, 6) {
            let tz: Tz = c.timezone.parse().expect("a known timezone");
            let today = local_date(now, tz);
            for a in &c.assignments {
                assert_eq!(
                    a.start_date,
                    today - Duration::days(42),
                    "six weeks ago, in {}",
                    c.timezone
                );
            }
            for s in &c.sessions {
                assert_eq!(s.local_date, local_date(s.performed_at, tz));
                assert!(s.local_date >= c.assignments[0].start_date && s.local_date < today);
                assert!(s.performed_at <= now && s.created_at <= now);
                for v in [s.pain_before, s.pain_after, s.effort].into_iter().flatten() {
                    assert!((0..=10).contains(&v));
                }
                let a = c
                    .assignments
                    .iter()
                    .find(|a| a.id == s.assignment_id)
                    .expect("own assignment");
                let content = Content {
                    performed_at: s.performed_at,
                    duration_seconds: s.duration_seconds,
                    pain_before: s.pain_before,
                    pain_after: s.pain_after,
                    effort: s.effort,
                    notes: s.notes.clone(),
                    entries: c
                        .entries
                        .iter()
                        .filter(|e| e.session_id == s.id)
                        .map(EntryRow::body)
                        .collect(),
                    measurements: c
                        .measurements
                        .iter()
                        .filter(|m| m.session_id == s.id)
                        .map(MeasurementRow::body)
                        .collect(),
                };
                assert_eq!(content.hash(a.id), s.content_hash, "the handler's hash of the same log");
            }
            for e in &c.entries {
                let item = c.items.iter().find(|i| i.id == e.assignment_item_id).expect("an item");
                let session = c.sessions.iter().find(|s| s.id == e.session_id).expect("a log");
                assert_eq!(
                    item.assignment_id, session.assignment_id,
                    "entries point at their own homework"
                );
            }
        }
    }

    #[test]
    fn every_timezone_is_known_and_names_make_emails() {
        for tz in TIMEZONES.iter().chain(DEMO_CLIENTS.iter().map(|(_, tz)| tz)) {
            assert!(tz.parse::<Tz>().is_ok(), "{tz}");
        }
        for c in clinic(6, 30, 1) {
            assert!(
                crate::values::Email::parse(&c.email).is_ok_and(|e| e.as_str() == c.email),
                "{}",
                c.email
            );
        }
    }

    #[test]
    fn the_generator_is_roughly_uniform() {
        let mut rng = Rng::new(42);
        let draws: Vec<f64> = (0..10_000).map(|_| rng.unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!((mean(&draws) - 0.5).abs() < 0.02);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[rng.below(4)] += 1;
        }
        assert!(counts.iter().all(|c| (850..=1150).contains(c)), "{counts:?}");
    }
}
