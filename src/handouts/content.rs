//! What a handout says, in words, before it is laid out as HTML or PDF: the header (clinic,
//! client, practitioner, schedule) and one block per exercise. Both renderers draw the same
//! [`Handout`], so the page and the PDF cannot disagree.

use crate::assignments::dto::ScheduleBody;
use crate::assignments::schedule::DayOfWeek;
use crate::exercises::dto::{ItemSide, Media, MediaKind};
use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

/// A handout, ready to be drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Handout {
    /// The homework's or routine's name.
    pub title: String,
    pub clinic: String,
    /// `None` on a routine's handout: the line is left blank to be filled in by hand.
    pub client: Option<String>,
    pub practitioner: Option<String>,
    /// The schedule in words; `None` on a routine's handout.
    pub schedule: Option<String>,
    /// The routine's description or the homework's instructions.
    pub intro: Option<String>,
    pub exercises: Vec<ExerciseBlock>,
}

/// One exercise: consecutive items of the same exercise (left and right with their own
/// dosage) are one block with one dosage line per side.
#[derive(Debug, Clone, PartialEq)]
pub struct ExerciseBlock {
    pub name: String,
    pub summary: Option<String>,
    pub steps: Vec<String>,
    /// "Left: 1 × 60 s hold · Right: 1 × 30 s hold".
    pub dosage: String,
    pub notes: Vec<String>,
    pub cautions: Vec<String>,
    pub media: Vec<MediaLink>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MediaLink {
    /// "Video" or "Picture", with the caption when there is one.
    pub label: String,
    pub url: String,
}

/// The exercise an item points at, with what the handout shows of it.
#[derive(Debug, Clone)]
pub struct ExerciseText {
    pub id: Uuid,
    pub name: String,
    pub summary: Option<String>,
    pub steps: Vec<String>,
    pub cautions: Vec<String>,
    pub media: Vec<Media>,
}

/// One item of homework or of a routine.
#[derive(Debug, Clone)]
pub struct ItemText {
    pub exercise: ExerciseText,
    pub sets: Option<i32>,
    pub reps: Option<i32>,
    pub hold_seconds: Option<i32>,
    pub duration_seconds: Option<i32>,
    pub rest_seconds: Option<i32>,
    pub side: ItemSide,
    pub notes: Option<String>,
}

/// Groups items into exercise blocks, keeping their order.
pub fn blocks(items: Vec<ItemText>) -> Vec<ExerciseBlock> {
    let mut out: Vec<(Uuid, Vec<String>, ExerciseBlock)> = Vec::new();
    for item in items {
        let line = dosage_line(&item);
        match out.last_mut() {
            Some((id, lines, block)) if *id == item.exercise.id => {
                lines.push(line);
                if let Some(n) = item.notes.filter(|n| !block.notes.contains(n)) {
                    block.notes.push(n);
                }
            }
            _ => {
                let x = item.exercise;
                let media = x
                    .media
                    .iter()
                    .map(|m| MediaLink {
                        label: media_label(m),
                        url: m.url.clone(),
                    })
                    .collect();
                out.push((
                    x.id,
                    vec![line],
                    ExerciseBlock {
                        name: x.name,
                        summary: x.summary,
                        steps: x.steps,
                        dosage: String::new(),
                        notes: item.notes.into_iter().collect(),
                        cautions: x.cautions,
                        media,
                    },
                ));
            }
        }
    }
    out.into_iter()
        .map(|(_, lines, mut block)| {
            block.dosage = lines.join(" · ");
            block
        })
        .collect()
}

fn media_label(m: &Media) -> String {
    let kind = match m.kind {
        MediaKind::Video => "Video",
        MediaKind::Image => "Picture",
    };
    match m.caption.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => format!("{kind}: {c}"),
        None => kind.to_string(),
    }
}

/// Seconds in words: "45 s", "90 s", "5 min", "2 min 30 s".
pub fn seconds(s: i32) -> String {
    if s < 120 || s % 30 != 0 {
        format!("{s} s")
    } else if s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}

/// One item's dosage in words, prefixed by its side: "Left: 1 × 60 s hold".
pub fn dosage_line(item: &ItemText) -> String {
    let mut work = Vec::new();
    if let Some(r) = item.reps {
        work.push(if r == 1 {
            "1 rep".to_string()
        } else {
            format!("{r} reps")
        });
    }
    if let Some(h) = item.hold_seconds {
        work.push(format!("{} hold", seconds(h)));
    }
    if let Some(d) = item.duration_seconds {
        work.push(seconds(d));
    }
    let mut text = match (item.sets, work.is_empty()) {
        (Some(s), false) => format!("{s} × {}", work.join(", ")),
        (Some(s), true) => format!("{s} {}", if s == 1 { "set" } else { "sets" }),
        (None, false) => work.join(", "),
        (None, true) => "as shown".to_string(),
    };
    if let Some(r) = item.rest_seconds.filter(|r| *r > 0) {
        text.push_str(&format!(", rest {} between sets", seconds(r)));
    }
    match item.side {
        ItemSide::Both => capitalise(&text),
        ItemSide::Left => format!("Left: {text}"),
        ItemSide::Right => format!("Right: {text}"),
        ItemSide::Each => format!("Each side: {text}"),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn day_name(d: DayOfWeek) -> &'static str {
    match d {
        DayOfWeek::Mon => "Mon",
        DayOfWeek::Tue => "Tue",
        DayOfWeek::Wed => "Wed",
        DayOfWeek::Thu => "Thu",
        DayOfWeek::Fri => "Fri",
        DayOfWeek::Sat => "Sat",
        DayOfWeek::Sun => "Sun",
    }
}

fn date(d: NaiveDate, with_year: bool) -> String {
    if with_year {
        d.format("%-d %b %Y").to_string()
    } else {
        d.format("%-d %b").to_string()
    }
}

/// A schedule in words: "Mon, Wed, Fri, once a day, from 3 Dec". `today` decides whether the
/// year needs saying (it does when a date falls in another year).
pub fn schedule_words(s: &ScheduleBody, today: NaiveDate) -> String {
    let days = s.days();
    let days = if days.is_empty() || days.len() == 7 {
        "Every day".to_string()
    } else {
        days.iter().map(|d| day_name(*d)).collect::<Vec<_>>().join(", ")
    };
    let times = match s.times_per_day {
        1 => "once a day".to_string(),
        2 => "twice a day".to_string(),
        n => format!("{n} times a day"),
    };
    let other_year = |d: NaiveDate| d.year() != today.year();
    let with_year = other_year(s.start_date) || s.end_date.is_some_and(other_year);
    let range = match s.end_date {
        Some(end) => format!("from {} to {}", date(s.start_date, with_year), date(end, with_year)),
        None => format!("from {}", date(s.start_date, with_year)),
    };
    format!("{days}, {times}, {range}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(id: u128, name: &str) -> ExerciseText {
        ExerciseText {
            id: Uuid::from_u128(id),
            name: name.into(),
            summary: None,
            steps: vec![],
            cautions: vec![],
            media: vec![],
        }
    }

    fn item(x: ExerciseText, sets: i32, reps: Option<i32>, hold: Option<i32>, side: ItemSide) -> ItemText {
        ItemText {
            exercise: x,
            sets: Some(sets),
            reps,
            hold_seconds: hold,
            duration_seconds: None,
            rest_seconds: None,
            side,
            notes: None,
        }
    }

    #[test]
    fn sides_of_one_exercise_share_a_block() {
        let shoelace = exercise(1, "Shoelace pose");
        let b = blocks(vec![
            item(exercise(2, "Legs up the wall"), 1, None, Some(300), ItemSide::Both),
            item(shoelace.clone(), 1, None, Some(60), ItemSide::Left),
            item(shoelace, 1, None, Some(30), ItemSide::Right),
        ]);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].dosage, "1 × 5 min hold");
        assert_eq!(b[1].dosage, "Left: 1 × 60 s hold · Right: 1 × 30 s hold");
    }

    #[test]
    fn dosages_read_as_words() {
        let mut clam = item(exercise(1, "Clam"), 2, Some(12), None, ItemSide::Each);
        clam.rest_seconds = Some(30);
        assert_eq!(dosage_line(&clam), "Each side: 2 × 12 reps, rest 30 s between sets");
        let mut free = item(exercise(1, "Walk"), 1, None, None, ItemSide::Both);
        free.sets = None;
        assert_eq!(dosage_line(&free), "As shown");
        free.duration_seconds = Some(600);
        assert_eq!(dosage_line(&free), "10 min");
        assert_eq!(seconds(150), "2 min 30 s");
        assert_eq!(seconds(45), "45 s");
    }

    #[test]
    fn schedules_read_as_words() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let s = ScheduleBody {
            start_date: NaiveDate::from_ymd_opt(2026, 12, 3).expect("date"),
            end_date: None,
            days_of_week: vec![DayOfWeek::Fri, DayOfWeek::Mon, DayOfWeek::Wed],
            times_per_day: 1,
            reminder_times: vec![],
        };
        assert_eq!(schedule_words(&s, today), "Mon, Wed, Fri, once a day, from 3 Dec");
        let s = ScheduleBody {
            end_date: NaiveDate::from_ymd_opt(2027, 1, 10),
            days_of_week: vec![],
            times_per_day: 2,
            ..s
        };
        assert_eq!(
            schedule_words(&s, today),
            "Every day, twice a day, from 3 Dec 2026 to 10 Jan 2027"
        );
    }
}
