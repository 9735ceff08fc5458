//! Writes the `rehabit-export/1` document, section by section, in pages, to a bounded channel:
//! the reader (the HTTP response) pulls chunks as fast as the client takes them, and no more
//! than a few chunks are ever held in memory.

use crate::audit::queries::Filter;
use crate::clients::dto::ClientResponse;
use crate::db::schema::{assignment_items, memberships, session_logs, users};
use crate::error::ApiError;
use crate::sessions::queries::SessionRow;
use actix_web::web::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;

pub const FORMAT: &str = "rehabit-export/1";
/// Rows read per page.
const PAGE: i64 = 200;
/// Bytes gathered before a chunk is handed to the response.
const CHUNK: usize = 32 * 1024;

/// The client's login, when they have one.
#[derive(Debug, Serialize)]
pub struct LoginSection {
    pub email: String,
    #[serde(serialize_with = "crate::http::timestamp::serialize_option")]
    pub accepted_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
}

/// The client as the export shows it: the API's client plus the login.
#[derive(Debug, Serialize)]
pub struct ClientSection {
    #[serde(flatten)]
    pub client: ClientResponse,
    pub login: Option<LoginSection>,
}

/// The reader went away: stop reading.
#[derive(Debug)]
pub struct Gone;

/// Gathers output into chunks and hands them on.
pub struct Out {
    buf: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
}

impl Out {
    pub fn new(tx: mpsc::Sender<Bytes>) -> Self {
        Out {
            buf: Vec::with_capacity(CHUNK * 2),
            tx,
        }
    }

    pub async fn raw(&mut self, s: &str) -> Result<(), Gone> {
        self.buf.extend_from_slice(s.as_bytes());
        self.maybe_send().await
    }

    pub async fn json<T: Serialize>(&mut self, v: &T) -> Result<(), Gone> {
        // Serialising our own types cannot fail; an empty value would show as a cut document.
        if serde_json::to_writer(&mut self.buf, v).is_err() {
            return Err(Gone);
        }
        self.maybe_send().await
    }

    async fn maybe_send(&mut self) -> Result<(), Gone> {
        if self.buf.len() >= CHUNK {
            self.send().await
        } else {
            Ok(())
        }
    }

    pub async fn send(&mut self) -> Result<(), Gone> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK * 2)));
        self.tx.send(chunk).await.map_err(|_| Gone)
    }
}

/// Why writing stopped early.
#[derive(Debug)]
pub enum Stop {
    Gone,
    Failed(ApiError),
}

impl From<Gone> for Stop {
    fn from(_: Gone) -> Self {
        Stop::Gone
    }
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Stop::Failed(e)
    }
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Failed(e.into())
    }
}

/// Writes `items` as the elements of a JSON array (the brackets are the caller's).
async fn elements<T: Serialize>(out: &mut Out, first: &mut bool, items: &[T]) -> Result<(), Gone> {
    for item in items {
        if !std::mem::take(first) {
            out.raw(",").await?;
        }
        out.json(item).await?;
    }
    Ok(())
}

/// The client and their login, read in the snapshot; `None` when there is no such client.
pub async fn client_section(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
) -> Result<Option<(ClientSection, chrono_tz::Tz, NaiveDate)>, ApiError> {
    let Some((row, accepted)) = crate::clients::queries::find(conn, clinic_id, client_id, false).await? else {
        return Ok(None);
    };
    let tz = row.tz()?;
    let since = row.created_at.with_timezone(&tz).date_naive();
    let login: Option<LoginSection> = memberships::table
        .inner_join(users::table)
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::client_id.eq(client_id))
        .select((users::email, memberships::accepted_at, memberships::created_at))
        .first::<(String, Option<DateTime<Utc>>, DateTime<Utc>)>(conn)
        .await
        .optional()?
        .map(|(email, accepted_at, created_at)| LoginSection {
            email,
            accepted_at,
            created_at,
        });
    Ok(Some((
        ClientSection {
            client: row.into_response(accepted),
            login,
        },
        tz,
        since,
    )))
}

/// Writes the whole document after the client section was read.
pub async fn write(
    conn: &mut AsyncPgConnection,
    out: &mut Out,
    clinic_id: Uuid,
    client: ClientSection,
    tz: chrono_tz::Tz,
    since: NaiveDate,
) -> Result<(), Stop> {
    let client_id = client.client.id;
    out.raw(&format!("{{\"format\":\"{FORMAT}\",\"exported_at\":")).await?;
    out.json(&Utc::now()).await?;
    out.raw(",\"client\":").await?;
    out.json(&client).await?;

    // Assignments, oldest first, with their items, schedule and pauses; items edited away are
    // kept (session entries point at them) and listed as `removed_items`.
    out.raw(",\"assignments\":[").await?;
    let mut first = true;
    let mut after: Option<Uuid> = None;
    let mut earliest = since;
    loop {
        let rows = crate::assignments::queries::client_page(conn, clinic_id, client_id, after, PAGE).await?;
        let n = rows.len();
        after = rows.last().map(|r| r.id);
        earliest = rows.iter().map(|r| r.start_date).fold(earliest, NaiveDate::min);
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let removed: Vec<(Uuid, serde_json::Value)> = assignment_items::table
            .filter(assignment_items::clinic_id.eq(clinic_id))
            .filter(assignment_items::assignment_id.eq_any(&ids))
            .filter(assignment_items::removed_at.is_not_null())
            .order((assignment_items::assignment_id, assignment_items::position))
            .select((
                assignment_items::assignment_id,
                assignment_items::id,
                assignment_items::exercise_id,
                assignment_items::sets,
                assignment_items::reps,
                assignment_items::hold_seconds,
                assignment_items::duration_seconds,
                assignment_items::rest_seconds,
                assignment_items::side,
                assignment_items::notes,
                assignment_items::removed_at,
            ))
            .load::<(
                Uuid,
                Uuid,
                Uuid,
                Option<i32>,
                Option<i32>,
                Option<i32>,
                Option<i32>,
                Option<i32>,
                String,
                Option<String>,
                Option<DateTime<Utc>>,
            )>(conn)
            .await?
            .into_iter()
            .map(
                |(a, id, exercise_id, sets, reps, hold, duration, rest, side, notes, removed_at)| {
                    (
                        a,
                        serde_json::json!({
                            "id": id, "exercise_id": exercise_id, "sets": sets, "reps": reps,
                            "hold_seconds": hold, "duration_seconds": duration, "rest_seconds": rest,
                            "side": side, "notes": notes,
                            "removed_at": removed_at.as_ref().map(crate::http::timestamp::format),
                        }),
                    )
                },
            )
            .collect();
        let answers = crate::assignments::handlers::responses(conn, clinic_id, rows).await?;
        let mut docs = Vec::with_capacity(answers.len());
        for a in answers {
            let mut doc = serde_json::to_value(&a).map_err(ApiError::internal)?;
            let gone: Vec<serde_json::Value> = removed
                .iter()
                .filter(|(id, _)| *id == a.id)
                .map(|(_, item)| item.clone())
                .collect();
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("removed_items".into(), serde_json::Value::Array(gone));
            }
            docs.push(doc);
        }
        elements(out, &mut first, &docs).await?;
        if i64::try_from(n).unwrap_or(0) < PAGE {
            break;
        }
    }

    // Session logs, oldest first, deleted ones too (with `deleted_at`), in keyset pages.
    out.raw("],\"sessions\":[").await?;
    let mut first = true;
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    loop {
        let mut q = session_logs::table
            .filter(session_logs::clinic_id.eq(clinic_id))
            .filter(session_logs::client_id.eq(client_id))
            .order((session_logs::performed_at, session_logs::id))
            .limit(PAGE)
            .select(SessionRow::as_select())
            .into_boxed();
        if let Some((at, id)) = after {
            q = q.filter(
                session_logs::performed_at
                    .gt(at)
                    .or(session_logs::performed_at.eq(at).and(session_logs::id.gt(id))),
            );
        }
        let rows: Vec<SessionRow> = q.load(conn).await?;
        let n = rows.len();
        after = rows.last().map(|r| (r.performed_at, r.id));
        let deleted: Vec<(Uuid, Option<DateTime<Utc>>)> = rows.iter().map(|r| (r.id, r.deleted_at)).collect();
        let answers = crate::sessions::queries::responses(conn, clinic_id, rows).await?;
        let mut docs = Vec::with_capacity(answers.len());
        for s in answers {
            let mut doc = serde_json::to_value(&s).map_err(ApiError::internal)?;
            let at = deleted.iter().find(|(id, _)| *id == s.id).and_then(|(_, at)| *at);
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("deleted_at".into(), serde_json::to_value(at).unwrap_or_default());
            }
            docs.push(doc);
        }
        elements(out, &mut first, &docs).await?;
        if i64::try_from(n).unwrap_or(0) < PAGE {
            break;
        }
    }

    // Questionnaire assignments (stopped ones too) and every response with its item-level
    // answers, oldest first. The client's questionnaires are few: one read each.
    out.raw("],\"questionnaire_assignments\":[").await?;
    let mut first = true;
    let rows =
        crate::outcomes::queries::client_assignments(conn, clinic_id, client_id, false, None, i64::MAX - 1).await?;
    let assigned = crate::outcomes::handlers::assignment_responses(conn, clinic_id, rows, tz).await?;
    elements(out, &mut first, &assigned).await?;
    out.raw("],\"questionnaire_responses\":[").await?;
    let mut first = true;
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    loop {
        let rows = crate::outcomes::queries::responses_page(conn, clinic_id, client_id, after, PAGE).await?;
        let n = rows.len();
        after = rows.last().map(|r| (r.answered_at, r.id));
        let docs: Vec<_> = rows.into_iter().map(|r| r.into_response()).collect();
        elements(out, &mut first, &docs).await?;
        if i64::try_from(n).unwrap_or(0) < PAGE {
            break;
        }
    }
    out.raw("],\"progress\":").await?;
    let today = crate::assignments::schedule::local_date(Utc::now(), tz);
    let from = earliest.min(today);
    let progress = crate::progress::handlers::report(conn, clinic_id, client_id, tz, from, today).await?;
    out.json(&progress).await?;
    out.raw(",\"monitoring\":").await?;
    let monitoring = crate::monitoring::handlers::client_ledger(conn, clinic_id, client_id, tz).await?;
    out.json(&monitoring).await?;
    // The client's calendar feed, never its token (only a hash is kept, and it is left out).
    out.raw(",\"calendar_feeds\":").await?;
    let feeds: Vec<serde_json::Value> = crate::calendar::queries::of_client(conn, clinic_id, client_id)
        .await?
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "id": f.id,
                "expires_at": f.expires_at.as_ref().map(crate::http::timestamp::format),
                "created_at": crate::http::timestamp::format(&f.created_at),
            })
        })
        .collect();
    out.json(&feeds).await?;
    out.raw(",\"access_log\":[").await?;

    // Who read or changed the record, newest first, by name and role.
    let mut first = true;
    let mut before: Option<Uuid> = None;
    let f = Filter {
        client_id: Some(client_id),
        succeeded: true,
        ..Filter::default()
    };
    loop {
        let rows = crate::audit::queries::list(conn, clinic_id, &f, before, PAGE - 1).await?;
        let n = rows.len();
        before = rows.last().map(|r| r.id);
        let entries = crate::audit::handlers::access_log_entries(conn, clinic_id, client_id, rows).await?;
        elements(out, &mut first, &entries).await?;
        if i64::try_from(n).unwrap_or(0) < PAGE {
            break;
        }
    }
    out.raw("],\"complete\":true}").await?;
    out.send().await?;
    Ok(())
}
