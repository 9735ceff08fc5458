//! The mapping from Rehabit's answers to FHIR R4 resources: pure functions, no I/O.
//!
//! Every resource keeps Rehabit's id (or one [`derived_id`] from its owner's), every entry's
//! `fullUrl` is `urn:uuid:<id>`, and a reference is only written when its target is in the
//! bundle (a part the caller may not read is left out, and so are references to it). Times
//! carry the client's offset; dates are the client's local dates.

use super::{
    CLIENT_SYSTEM, CODE_SYSTEM, DOSAGE_EXTENSION, EXERCISE_SYSTEM, LATERALITY_EXTENSION, LOINC, SESSION_LOG_SYSTEM,
    SNOMED, UCUM, derived_id, urn,
};
use crate::assignments::dto::{AssignmentItemResponse, AssignmentResponse, AssignmentStatus, ScheduleBody};
use crate::clients::dto::ClientResponse;
use crate::exercises::dto::ItemSide;
use crate::outcomes::dto::{AnsweredBy, QuestionnaireAnswersResponse, QuestionnaireResponse};
use crate::outcomes::scoring::ItemType;
use crate::practitioners::dto::PractitionerResponse;
use crate::routines::dto::RoutineResponse;
use crate::sessions::dto::{LoggedByRole, MeasurementBody, MeasurementSide, SessionResponse};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

/// SNOMED CT 229065009 |Exercise therapy (regime/therapy)|.
pub const EXERCISE_THERAPY: (&str, &str) = ("229065009", "Exercise therapy");
/// SNOMED CT laterality qualifiers.
pub const LEFT: (&str, &str) = ("7771000", "Left");
pub const RIGHT: (&str, &str) = ("24028007", "Right");
/// LOINC 72514-3 Pain severity - 0-10 verbal numeric rating [Score] - Reported.
pub const PAIN_SEVERITY: (&str, &str) = (
    "72514-3",
    "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
);

/// Everything a bundle is made of, as the API answers it. The reader leaves out what the
/// caller may not read; the mapping only sees what remains.
#[derive(Debug)]
pub struct Record {
    pub client: ClientResponse,
    pub tz: Tz,
    pub practitioners: Vec<PractitionerResponse>,
    pub assignments: Vec<AssignmentResponse>,
    pub routines: Vec<RoutineResponse>,
    /// Session logs that are not deleted.
    pub sessions: Vec<SessionResponse>,
    pub questionnaires: Vec<QuestionnaireResponse>,
    pub responses: Vec<QuestionnaireAnswersResponse>,
}

/// A time with the client's offset (`2026-11-30T09:15:00+01:00`).
pub fn date_time(t: &DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// `{"reference": "urn:uuid:<id>"}`.
pub fn reference(id: Uuid) -> Value {
    json!({ "reference": urn(id) })
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

fn rehabit(code: &str, display: &str) -> Value {
    coding(CODE_SYSTEM, code, display)
}

/// The CarePlan (and ServiceRequest) status of an assignment's status.
pub fn care_plan_status(s: AssignmentStatus) -> &'static str {
    match s {
        AssignmentStatus::Active => "active",
        AssignmentStatus::Paused => "on-hold",
        AssignmentStatus::Completed => "completed",
        AssignmentStatus::Cancelled => "revoked",
    }
}

fn plural(n: i32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// An item's dosage in words, as a client reads it: "3 sets of 10 reps, hold 5 seconds, on
/// each side".
pub fn dosage_words(
    sets: Option<i32>,
    reps: Option<i32>,
    hold: Option<i32>,
    duration: Option<i32>,
    rest: Option<i32>,
    side: ItemSide,
) -> String {
    let mut parts = Vec::new();
    match (sets, reps) {
        (Some(s), Some(r)) => parts.push(format!("{} of {}", plural(s, "set", "sets"), plural(r, "rep", "reps"))),
        (Some(s), None) => parts.push(plural(s, "set", "sets")),
        (None, Some(r)) => parts.push(plural(r, "rep", "reps")),
        (None, None) => {}
    }
    if let Some(h) = hold {
        parts.push(format!("hold {}", plural(h, "second", "seconds")));
    }
    if let Some(d) = duration {
        parts.push(format!("for {}", plural(d, "second", "seconds")));
    }
    if let Some(r) = rest {
        parts.push(format!("rest {}", plural(r, "second", "seconds")));
    }
    match side {
        ItemSide::Both => {}
        ItemSide::Left => parts.push("left side only".into()),
        ItemSide::Right => parts.push("right side only".into()),
        ItemSide::Each => parts.push("on each side".into()),
    }
    parts.join(", ")
}

/// The dosage extension: one sub-extension per value given, and the side.
pub fn dosage_extension(
    sets: Option<i32>,
    reps: Option<i32>,
    hold: Option<i32>,
    duration: Option<i32>,
    rest: Option<i32>,
    side: ItemSide,
) -> Value {
    let mut subs = Vec::new();
    for (url, v) in [
        ("sets", sets),
        ("reps", reps),
        ("holdSeconds", hold),
        ("durationSeconds", duration),
        ("restSeconds", rest),
    ] {
        if let Some(v) = v {
            subs.push(json!({ "url": url, "valueInteger": v }));
        }
    }
    subs.push(json!({ "url": "side", "valueCode": side.as_str() }));
    json!({ "url": DOSAGE_EXTENSION, "extension": subs })
}

/// `occurrenceTiming` from a schedule: bounded by its dates, `times_per_day` a day, on its
/// days of the week (every day when it names none), at its reminder times when it has them.
pub fn timing(s: &ScheduleBody) -> Value {
    let mut bounds = json!({ "start": s.start_date.to_string() });
    if let Some(end) = s.end_date {
        bounds["end"] = json!(end.to_string());
    }
    let mut repeat = json!({
        "boundsPeriod": bounds,
        "frequency": s.times_per_day,
        "period": 1,
        "periodUnit": "d",
    });
    let days: Vec<&str> = s.days().into_iter().map(|d| d.as_str()).collect();
    if !days.is_empty() {
        repeat["dayOfWeek"] = json!(days);
    }
    // The schedule's reminder times (local `HH:MM`) as FHIR `time`s.
    if !s.reminder_times.is_empty() {
        let times: Vec<String> = s.reminder_times.iter().map(|t| format!("{t}:00")).collect();
        repeat["timeOfDay"] = json!(times);
    }
    json!({ "repeat": repeat })
}

/// The laterality extension for a side, if it has one.
pub fn laterality(side: MeasurementSide) -> Option<Value> {
    let (code, display) = match side {
        MeasurementSide::Left => LEFT,
        MeasurementSide::Right => RIGHT,
        MeasurementSide::None => return None,
    };
    Some(json!({
        "url": LATERALITY_EXTENSION,
        "valueCodeableConcept": { "coding": [coding(SNOMED, code, display)], "text": display },
    }))
}

/// Collects entries; ids are unique in a bundle (a second resource with one is dropped).
struct Entries {
    seen: HashSet<String>,
    list: Vec<Value>,
}

impl Entries {
    fn push(&mut self, resource: Value) {
        let key = format!("{}/{}", resource["resourceType"], resource["id"]);
        if !self.seen.insert(key) {
            return;
        }
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        self.list
            .push(json!({ "fullUrl": format!("urn:uuid:{id}"), "resource": resource }));
    }
}

/// The whole record as a `collection` Bundle.
pub fn bundle(r: &Record, bundle_id: Uuid, now: DateTime<Utc>) -> Value {
    let tz = r.tz;
    let client_id = r.client.id;
    let practitioners: HashSet<Uuid> = r.practitioners.iter().map(|p| p.id).collect();
    let plans: HashSet<Uuid> = r.assignments.iter().map(|a| a.id).collect();
    let mut e = Entries {
        seen: HashSet::new(),
        list: Vec::new(),
    };
    e.push(patient(&r.client, &practitioners));
    for p in &r.practitioners {
        e.push(practitioner(p));
    }
    for a in &r.assignments {
        let (plan, requests) = care_plan(a, client_id, &practitioners, tz);
        e.push(plan);
        for s in requests {
            e.push(s);
        }
    }
    // Definitions: one ActivityDefinition per exercise, one PlanDefinition per routine.
    let mut exercises: BTreeMap<Uuid, Value> = BTreeMap::new();
    for a in &r.assignments {
        for i in &a.items {
            exercises.entry(i.exercise_id).or_insert_with(|| activity_definition(i));
        }
    }
    for routine in &r.routines {
        for i in &routine.items {
            exercises.entry(i.exercise_id).or_insert_with(|| {
                activity_definition_of(
                    i.exercise_id,
                    &i.exercise.name,
                    i.exercise.summary.as_deref(),
                    &[],
                    (i.sets, i.reps, i.hold_seconds, i.duration_seconds, i.rest_seconds),
                )
            });
        }
        e.push(plan_definition(routine));
    }
    for (_, ad) in exercises {
        e.push(ad);
    }
    for s in &r.sessions {
        for res in session(s, client_id, &plans, &practitioners, tz) {
            e.push(res);
        }
    }
    for resp in &r.responses {
        let q = r.questionnaires.iter().find(|q| q.id == resp.questionnaire_id);
        for res in questionnaire_response(resp, q, client_id, &practitioners, tz) {
            e.push(res);
        }
    }
    json!({
        "resourceType": "Bundle",
        "id": bundle_id.to_string(),
        "meta": { "lastUpdated": date_time(&now, tz) },
        "type": "collection",
        "timestamp": date_time(&now, tz),
        "entry": e.list,
    })
}

pub fn patient(c: &ClientResponse, practitioners: &HashSet<Uuid>) -> Value {
    let mut p = json!({
        "resourceType": "Patient",
        "id": c.id.to_string(),
        "identifier": [{ "system": CLIENT_SYSTEM, "value": c.id.to_string() }],
        "active": !c.archived,
        "name": [{ "text": c.name }],
    });
    if let (Some(ext), Some(ids)) = (&c.external_id, p["identifier"].as_array_mut()) {
        ids.push(json!({ "type": { "text": "Booking system id" }, "value": ext }));
    }
    if let Some(email) = &c.email {
        p["telecom"] = json!([{ "system": "email", "value": email }]);
    }
    if let Some(pr) = c.primary_practitioner_id.filter(|id| practitioners.contains(id)) {
        p["generalPractitioner"] = json!([reference(pr)]);
    }
    p
}

pub fn practitioner(p: &PractitionerResponse) -> Value {
    json!({
        "resourceType": "Practitioner",
        "id": p.id.to_string(),
        "active": p.active,
        "name": [{ "text": p.name }],
        "telecom": [{ "system": "email", "value": p.email }],
    })
}

/// One CarePlan for an assignment and one ServiceRequest per item, which its activities name.
pub fn care_plan(a: &AssignmentResponse, client: Uuid, practitioners: &HashSet<Uuid>, tz: Tz) -> (Value, Vec<Value>) {
    let status = care_plan_status(a.status);
    let author = a.assigned_by.filter(|id| practitioners.contains(id));
    let mut period = json!({ "start": a.schedule.start_date.to_string() });
    if let Some(end) = a.schedule.end_date {
        period["end"] = json!(end.to_string());
    }
    let mut plan = json!({
        "resourceType": "CarePlan",
        "id": a.id.to_string(),
        "status": status,
        "intent": "plan",
        "category": [{ "coding": [coding(SNOMED, EXERCISE_THERAPY.0, EXERCISE_THERAPY.1)] }],
        "title": a.name,
        "subject": reference(client),
        "period": period,
        "created": date_time(&a.created_at, tz),
        "activity": a.items.iter().map(|i| json!({ "reference": reference(i.id) })).collect::<Vec<_>>(),
    });
    if let Some(text) = &a.instructions {
        plan["description"] = json!(text);
    }
    if let Some(routine) = a.routine_id {
        plan["instantiatesCanonical"] = json!([urn(routine)]);
    }
    if let Some(by) = author {
        plan["author"] = reference(by);
    }
    let requests = a
        .items
        .iter()
        .map(|i| service_request(i, a, status, client, author))
        .collect();
    (plan, requests)
}

pub fn service_request(
    i: &AssignmentItemResponse,
    a: &AssignmentResponse,
    status: &str,
    client: Uuid,
    author: Option<Uuid>,
) -> Value {
    let words = dosage_words(
        i.sets,
        i.reps,
        i.hold_seconds,
        i.duration_seconds,
        i.rest_seconds,
        i.side,
    );
    let mut instruction = if words.is_empty() {
        i.exercise.name.clone()
    } else {
        format!("{}: {words}.", i.exercise.name)
    };
    if let Some(notes) = &i.notes {
        instruction.push(' ');
        instruction.push_str(notes);
    }
    let mut sr = json!({
        "resourceType": "ServiceRequest",
        "id": i.id.to_string(),
        "extension": [dosage_extension(i.sets, i.reps, i.hold_seconds, i.duration_seconds, i.rest_seconds, i.side)],
        "instantiatesCanonical": [urn(i.exercise_id)],
        "basedOn": [reference(a.id)],
        "status": status,
        "intent": "plan",
        "code": {
            "coding": [
                coding(SNOMED, EXERCISE_THERAPY.0, EXERCISE_THERAPY.1),
                rehabit("home-exercise", "Home exercise"),
            ],
            "text": i.exercise.name,
        },
        "subject": reference(client),
        "occurrenceTiming": timing(&a.schedule),
        "patientInstruction": instruction,
    });
    if let Some(by) = author {
        sr["requester"] = reference(by);
    }
    sr
}

fn activity_definition(i: &AssignmentItemResponse) -> Value {
    let d = &i.exercise.default_dosage;
    activity_definition_of(
        i.exercise_id,
        &i.exercise.name,
        i.exercise.summary.as_deref(),
        &i.exercise.instructions,
        (d.sets, d.reps, d.hold_seconds, d.duration_seconds, d.rest_seconds),
    )
}

type Dose = (Option<i32>, Option<i32>, Option<i32>, Option<i32>, Option<i32>);

/// An exercise as an ActivityDefinition, its canonical URL `urn:uuid:<id>`, with its default
/// dosage in the dosage extension.
pub fn activity_definition_of(id: Uuid, name: &str, summary: Option<&str>, steps: &[String], dose: Dose) -> Value {
    let (sets, reps, hold, duration, rest) = dose;
    let mut ad = json!({
        "resourceType": "ActivityDefinition",
        "id": id.to_string(),
        "extension": [dosage_extension(sets, reps, hold, duration, rest, ItemSide::Both)],
        "url": urn(id),
        "identifier": [{ "system": EXERCISE_SYSTEM, "value": id.to_string() }],
        "title": name,
        "status": "active",
        "kind": "ServiceRequest",
        "code": {
            "coding": [
                coding(SNOMED, EXERCISE_THERAPY.0, EXERCISE_THERAPY.1),
                rehabit("home-exercise", "Home exercise"),
            ],
            "text": name,
        },
    });
    if let Some(s) = summary {
        ad["description"] = json!(s);
    }
    if !steps.is_empty() {
        let numbered: Vec<String> = steps
            .iter()
            .enumerate()
            .map(|(n, s)| format!("{}. {s}", n + 1))
            .collect();
        ad["usage"] = json!(numbered.join("\n"));
    }
    ad
}

/// A routine as a PlanDefinition whose actions name its exercises' ActivityDefinitions.
pub fn plan_definition(r: &RoutineResponse) -> Value {
    let mut pd = json!({
        "resourceType": "PlanDefinition",
        "id": r.id.to_string(),
        "url": urn(r.id),
        "title": r.name,
        "type": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/plan-definition-type",
            "code": "clinical-protocol",
            "display": "Clinical Protocol",
        }] },
        "status": "active",
        "action": r.items.iter().map(|i| json!({
            "title": i.exercise.name,
            "textEquivalent": dosage_words(i.sets, i.reps, i.hold_seconds, i.duration_seconds, i.rest_seconds, i.side),
            "definitionCanonical": urn(i.exercise_id),
        })).collect::<Vec<_>>(),
    });
    if let Some(d) = &r.description {
        pd["description"] = json!(d);
    }
    pd
}

fn int_observation(
    id: Uuid,
    codes: Vec<Value>,
    text: &str,
    value: i16,
    procedure: Uuid,
    client: Uuid,
    at: &str,
) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id.to_string(),
        "partOf": [reference(procedure)],
        "status": "final",
        "category": [{ "coding": [coding(
            "http://terminology.hl7.org/CodeSystem/observation-category", "survey", "Survey")] }],
        "code": { "coding": codes, "text": text },
        "subject": reference(client),
        "effectiveDateTime": at,
        "valueInteger": value,
    })
}

/// A measurement as an Observation `partOf` its log's Procedure; `n` is its place in the log.
pub fn measurement(m: &MeasurementBody, n: usize, procedure: Uuid, client: Uuid, at: &str) -> Value {
    let kind = m.kind.as_str();
    let unit = m.kind.spec().unit;
    let (ucum, unit_text) = match unit {
        "deg" => ("deg", "degrees"),
        _ => ("s", "seconds"),
    };
    let mut o = json!({
        "resourceType": "Observation",
        "id": derived_id(procedure, &format!("measurement/{n}/{kind}/{}", m.side.as_str())).to_string(),
        "partOf": [reference(procedure)],
        "status": "final",
        "category": [{ "coding": [coding(
            "http://terminology.hl7.org/CodeSystem/observation-category", "exam", "Exam")] }],
        "code": { "coding": [rehabit(kind, &kind.replace('_', " "))], "text": kind.replace('_', " ") },
        "subject": reference(client),
        "effectiveDateTime": at,
        "valueQuantity": { "value": m.value, "unit": unit_text, "system": UCUM, "code": ucum },
    });
    if let Some(ext) = laterality(m.side) {
        let side = if m.side == MeasurementSide::Left {
            "Left"
        } else {
            "Right"
        };
        o["bodySite"] = json!({ "extension": [ext], "text": format!("{side} side") });
    }
    o
}

/// A session log: its Procedure, the Observations of its pain and measurements, and a Flag
/// while its flag is open (flagged and not yet reviewed).
pub fn session(
    s: &SessionResponse,
    client: Uuid,
    plans: &HashSet<Uuid>,
    practitioners: &HashSet<Uuid>,
    tz: Tz,
) -> Vec<Value> {
    let at = date_time(&s.performed_at, tz);
    let mut out = Vec::new();
    let mut proc = json!({
        "resourceType": "Procedure",
        "id": s.id.to_string(),
        "identifier": [{ "system": SESSION_LOG_SYSTEM, "value": s.id.to_string() }],
        "status": "completed",
        "category": { "coding": [coding(SNOMED, EXERCISE_THERAPY.0, EXERCISE_THERAPY.1)] },
        "code": {
            "coding": [rehabit("home-exercise-session", "Home exercise session")],
            "text": "Home exercise session",
        },
        "subject": reference(client),
    });
    match s.duration_seconds {
        Some(d) if d > 0 => {
            let end = s.performed_at + chrono::Duration::seconds(i64::from(d));
            proc["performedPeriod"] = json!({ "start": at, "end": date_time(&end, tz) });
        }
        _ => proc["performedDateTime"] = json!(at),
    }
    if plans.contains(&s.assignment_id) {
        proc["basedOn"] = json!([reference(s.assignment_id)]);
    }
    let recorder = match s.logged_by_role {
        LoggedByRole::Client => Some(reference(client)),
        LoggedByRole::Practitioner => s.logged_by.filter(|id| practitioners.contains(id)).map(reference),
        LoggedByRole::Integration => None,
    };
    if let Some(r) = recorder {
        proc["recorder"] = r;
    }
    if let Some(n) = &s.notes {
        proc["note"] = json!([{ "text": n }]);
    }
    out.push(proc);
    for (code, display, value) in [
        ("pain-before", "Pain before the session", s.pain_before),
        ("pain-after", "Pain after the session", s.pain_after),
    ] {
        if let Some(v) = value {
            out.push(int_observation(
                derived_id(s.id, code),
                vec![coding(LOINC, PAIN_SEVERITY.0, PAIN_SEVERITY.1), rehabit(code, display)],
                display,
                v,
                s.id,
                client,
                &at,
            ));
        }
    }
    for (n, m) in s.measurements.iter().enumerate() {
        out.push(measurement(m, n, s.id, client, &at));
    }
    if s.flagged && s.review.is_none() {
        out.push(json!({
            "resourceType": "Flag",
            "id": derived_id(s.id, "flag").to_string(),
            "extension": [{
                "url": "http://hl7.org/fhir/StructureDefinition/flag-detail",
                "valueReference": reference(s.id),
            }],
            "status": "active",
            "category": [{ "coding": [coding(
                "http://terminology.hl7.org/CodeSystem/flag-category", "clinical", "Clinical")] }],
            "code": {
                "coding": [rehabit("pain-flag", "Pain after exercise needs review")],
                "text": "Pain after exercise needs review",
            },
            "subject": reference(client),
            "period": { "start": at },
        }));
    }
    out
}

/// A questionnaire response and, when it scored, the score as an Observation derived from it.
pub fn questionnaire_response(
    r: &QuestionnaireAnswersResponse,
    q: Option<&QuestionnaireResponse>,
    client: Uuid,
    practitioners: &HashSet<Uuid>,
    tz: Tz,
) -> Vec<Value> {
    let at = date_time(&r.answered_at, tz);
    let items: Vec<Value> = r
        .answers
        .iter()
        .filter_map(|a| {
            let item = q.and_then(|q| q.items.iter().find(|i| i.id == a.item_id));
            let answer = match (item.map(|i| i.kind), a.value, a.option_id, &a.text) {
                (_, _, Some(option), _) => {
                    let label = item
                        .and_then(|i| i.options.iter().find(|o| o.id == option))
                        .map(|o| o.label.clone());
                    let mut c = json!({ "code": option.to_string() });
                    if let Some(l) = label {
                        c["display"] = json!(l);
                    }
                    json!({ "valueCoding": c })
                }
                (_, Some(v), _, _) => json!({ "valueDecimal": v }),
                (Some(ItemType::Text) | None, _, _, Some(t)) => json!({ "valueString": t }),
                _ => return None,
            };
            let mut it = json!({ "linkId": a.code, "answer": [answer] });
            if let Some(i) = item {
                it["text"] = json!(i.text);
            }
            Some(it)
        })
        .collect();
    let mut qr = json!({
        "resourceType": "QuestionnaireResponse",
        "id": r.id.to_string(),
        "questionnaire": format!("{}/Questionnaire/{}", super::BASE, r.questionnaire_id),
        "status": "completed",
        "subject": reference(client),
        "authored": at,
    });
    let author = match r.answered_by {
        AnsweredBy::Client => Some(reference(client)),
        AnsweredBy::Practitioner => r
            .answered_by_membership
            .filter(|id| practitioners.contains(id))
            .map(reference),
        AnsweredBy::Integration => None,
    };
    if let Some(a) = author {
        qr["author"] = a;
    }
    if !items.is_empty() {
        qr["item"] = json!(items);
    }
    let mut out = vec![qr];
    if let Some(score) = r.score {
        let name = q.map(|q| q.name.as_str()).unwrap_or("Questionnaire");
        let mut codes = vec![rehabit("questionnaire-score", "Questionnaire score")];
        if let Some(q) = q {
            codes
                .push(json!({ "system": format!("{}/Questionnaire", super::BASE), "code": q.code, "display": q.name }));
        }
        out.push(json!({
            "resourceType": "Observation",
            "id": derived_id(r.id, "score").to_string(),
            "status": "final",
            "category": [{ "coding": [coding(
                "http://terminology.hl7.org/CodeSystem/observation-category", "survey", "Survey")] }],
            "code": { "coding": codes, "text": format!("{name} score") },
            "subject": reference(client),
            "effectiveDateTime": at,
            "valueQuantity": { "value": score, "unit": "score", "system": UCUM, "code": "{score}" },
            "derivedFrom": [reference(r.id)],
        }));
    }
    out
}

/// Every `reference` in a resource (at any depth), for checks.
pub fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("reference", Value::String(s)) => out.push(s.clone()),
                    _ => references(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignments::schedule::DayOfWeek;
    use crate::sessions::dto::MeasurementKind;
    use chrono::{NaiveDate, TimeZone};

    fn client() -> ClientResponse {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        ClientResponse {
            id: Uuid::now_v7(),
            name: "Sam Lee".into(),
            email: Some("sam@example.com".into()),
            timezone: "Europe/London".into(),
            primary_practitioner_id: Some(Uuid::now_v7()),
            external_id: Some("bk-1".into()),
            archived: false,
            archived_at: None,
            has_login: true,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    fn log(pain_before: Option<i16>, pain_after: Option<i16>, flagged: bool) -> SessionResponse {
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 17, 30, 0).unwrap();
        SessionResponse {
            id: Uuid::now_v7(),
            client_id: Uuid::now_v7(),
            assignment_id: Uuid::now_v7(),
            performed_at: at,
            local_date: NaiveDate::from_ymd_opt(2026, 7, 1).expect("test value"),
            duration_seconds: None,
            pain_before,
            pain_after,
            effort: None,
            notes: None,
            entries: vec![],
            measurements: vec![
                MeasurementBody {
                    kind: MeasurementKind::HipFlexionDeg,
                    side: MeasurementSide::Left,
                    value: 95.0,
                },
                MeasurementBody {
                    kind: MeasurementKind::TimedUpAndGoSeconds,
                    side: MeasurementSide::None,
                    value: 9.5,
                },
            ],
            logged_by_role: LoggedByRole::Client,
            logged_by: None,
            flagged,
            review: None,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn statuses_map_to_request_statuses() {
        assert_eq!(care_plan_status(AssignmentStatus::Active), "active");
        assert_eq!(care_plan_status(AssignmentStatus::Paused), "on-hold");
        assert_eq!(care_plan_status(AssignmentStatus::Completed), "completed");
        assert_eq!(care_plan_status(AssignmentStatus::Cancelled), "revoked");
    }

    #[test]
    fn dosage_reads_as_words_and_as_an_extension() {
        assert_eq!(
            dosage_words(Some(3), Some(10), Some(5), None, None, ItemSide::Each),
            "3 sets of 10 reps, hold 5 seconds, on each side"
        );
        assert_eq!(
            dosage_words(Some(1), None, None, Some(30), Some(60), ItemSide::Left),
            "1 set, for 30 seconds, rest 60 seconds, left side only"
        );
        assert_eq!(dosage_words(None, None, None, None, None, ItemSide::Both), "");
        let ext = dosage_extension(Some(3), Some(10), None, None, None, ItemSide::Right);
        assert_eq!(ext["url"], DOSAGE_EXTENSION);
        assert_eq!(
            ext["extension"],
            json!([{"url": "sets", "valueInteger": 3}, {"url": "reps", "valueInteger": 10},
                   {"url": "side", "valueCode": "right"}])
        );
    }

    #[test]
    fn timing_follows_the_schedule() {
        let s = ScheduleBody {
            start_date: NaiveDate::from_ymd_opt(2026, 11, 2).expect("test value"),
            end_date: Some(NaiveDate::from_ymd_opt(2026, 12, 2).expect("test value")),
            days_of_week: vec![DayOfWeek::Fri, DayOfWeek::Mon],
            times_per_day: 2,
            reminder_times: vec!["07:30".into()],
        };
        assert_eq!(
            timing(&s),
            json!({"repeat": {"boundsPeriod": {"start": "2026-11-02", "end": "2026-12-02"},
                              "frequency": 2, "period": 1, "periodUnit": "d", "dayOfWeek": ["mon", "fri"],
                              "timeOfDay": ["07:30:00"]}})
        );
        let every_day = ScheduleBody {
            end_date: None,
            days_of_week: vec![],
            ..s
        };
        let t = timing(&every_day);
        assert!(t["repeat"].get("dayOfWeek").is_none() && t["repeat"]["boundsPeriod"].get("end").is_none());
    }

    #[test]
    fn times_carry_the_clients_offset() {
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 17, 30, 0).unwrap();
        assert_eq!(date_time(&at, chrono_tz::Europe::London), "2026-07-01T18:30:00+01:00");
        assert_eq!(date_time(&at, chrono_tz::UTC), "2026-07-01T17:30:00+00:00");
    }

    #[test]
    fn patient_names_its_practitioner_only_when_present() {
        let c = client();
        let p = patient(&c, &HashSet::new());
        assert_eq!(p["id"], c.id.to_string());
        assert!(p.get("generalPractitioner").is_none());
        let with = patient(&c, &HashSet::from([c.primary_practitioner_id.expect("test value")]));
        assert_eq!(
            with["generalPractitioner"][0],
            reference(c.primary_practitioner_id.expect("test value"))
        );
        assert_eq!(with["identifier"][1]["value"], "bk-1");
    }

    #[test]
    fn a_log_is_a_procedure_with_its_observations_and_open_flag() {
        let s = log(Some(3), Some(8), true);
        let client = Uuid::now_v7();
        let out = session(&s, client, &HashSet::new(), &HashSet::new(), chrono_tz::Europe::London);
        let kinds: Vec<&str> = out
            .iter()
            .map(|r| r["resourceType"].as_str().expect("test value"))
            .collect();
        assert_eq!(
            kinds,
            [
                "Procedure",
                "Observation",
                "Observation",
                "Observation",
                "Observation",
                "Flag"
            ]
        );
        let proc = &out[0];
        assert_eq!(proc["identifier"][0]["value"], s.id.to_string());
        assert_eq!(proc["performedDateTime"], "2026-07-01T18:30:00+01:00");
        assert!(proc.get("basedOn").is_none(), "its CarePlan is not in the bundle");
        assert_eq!(proc["recorder"], reference(client));
        let before = &out[1];
        assert_eq!(before["code"]["coding"][0]["code"], PAIN_SEVERITY.0);
        assert_eq!(before["code"]["coding"][1]["code"], "pain-before");
        assert_eq!(before["valueInteger"], 3);
        assert_eq!(before["partOf"][0], reference(s.id));
        let left = &out[3];
        assert_eq!(
            left["bodySite"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
            LEFT.0
        );
        assert_eq!(left["valueQuantity"]["code"], "deg");
        assert!(
            out[4].get("bodySite").is_none(),
            "a kind without sides has no laterality"
        );
        assert_eq!(out[5]["extension"][0]["valueReference"], reference(s.id));
        // Stable: the same log maps to the same ids.
        let again = session(&s, client, &HashSet::new(), &HashSet::new(), chrono_tz::Europe::London);
        let ids = |v: &[Value]| v.iter().map(|r| r["id"].clone()).collect::<Vec<_>>();
        assert_eq!(ids(&out), ids(&again));
        // A reviewed flag is closed; a log without pain has no pain Observations.
        let mut reviewed = log(None, None, true);
        reviewed.review = Some(crate::sessions::dto::ReviewResponse {
            reviewed_at: Utc::now(),
            reviewed_by: None,
            note: None,
        });
        reviewed.duration_seconds = Some(600);
        let out = session(
            &reviewed,
            client,
            &HashSet::from([reviewed.assignment_id]),
            &HashSet::new(),
            chrono_tz::UTC,
        );
        assert_eq!(out.len(), 3);
        assert_eq!(out[0]["performedPeriod"]["end"], "2026-07-01T17:40:00+00:00");
        assert_eq!(out[0]["basedOn"][0], reference(reviewed.assignment_id));
    }

    #[test]
    fn references_are_found_at_any_depth() {
        let v = json!({"a": {"reference": "urn:uuid:1"}, "b": [{"c": {"reference": "urn:uuid:2"}}]});
        let mut out = Vec::new();
        references(&v, &mut out);
        out.sort();
        assert_eq!(out, ["urn:uuid:1", "urn:uuid:2"]);
    }
}
