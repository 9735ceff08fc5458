use crate::auth::{Caller, Permission, Permissions};
use crate::db::schema::events;
use crate::error::{ApiError, Problem};
use crate::events::EventType;
use crate::events::dto::*;
use crate::http::pagination::{DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor};
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// A cursor names the position (per-clinic `seq`) of the last event a poller has seen.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    seq: i64,
}

fn parse_types(raw: Option<&str>) -> Result<Option<Vec<EventType>>, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    raw.split(',')
        .map(|t| {
            t.trim().parse::<EventType>().map_err(|_| {
                ApiError::validation(
                    "types",
                    "must be a comma-separated list of event types (`client.created,session.logged`)",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The event types the feed shows the caller: those asked for (403 for one it may not read),
/// else every type it may read; `None` when that is every type.
fn visible_types(requested: Option<Vec<EventType>>, permissions: Permissions) -> Result<Option<Vec<String>>, ApiError> {
    let names = |types: Vec<EventType>| types.into_iter().map(|t| t.as_str().to_string()).collect();
    match requested {
        Some(types) => {
            EventType::require_readable(&types, permissions, "Reading")?;
            Ok(Some(names(types)))
        }
        None => {
            let readable: Vec<EventType> = EventType::ALL
                .iter()
                .copied()
                .filter(|t| t.readable_by(permissions))
                .collect();
            Ok((readable.len() < EventType::ALL.len()).then(|| names(readable)))
        }
    }
}

type EventRow = (i64, Uuid, String, DateTime<Utc>, serde_json::Value);

/// Events after `after`, and the clinic's last `seq`, read from one snapshot.
async fn read_page(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    after: i64,
    types: Option<Vec<String>>,
    limit: i64,
) -> QueryResult<(Vec<EventRow>, Option<i64>)> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(async move |conn| {
            let mut q = events::table
                .filter(events::clinic_id.eq(clinic_id))
                .filter(events::seq.gt(after))
                .select((
                    // Only numbered events pass `seq > after`.
                    events::seq.assume_not_null(),
                    events::id,
                    events::event_type,
                    events::occurred_at,
                    events::data,
                ))
                .order(events::seq)
                .limit(limit)
                .into_boxed();
            if let Some(types) = types {
                q = q.filter(events::event_type.eq_any(types));
            }
            let rows: Vec<EventRow> = q.load(conn).await?;
            let head: Option<i64> = events::table
                .filter(events::clinic_id.eq(clinic_id))
                .select(diesel::dsl::max(events::seq))
                .first(conn)
                .await?;
            Ok((rows, head))
        })
        .await
}

/// List events
///
/// The clinic's events in commit order: every change an integrator cares about, each with the
/// resource as the API shows it. Poll with the `next_cursor` of the previous answer as `after`.
/// An event appears only once its transaction has committed, and never after a later one, so a
/// poller that follows the cursor never misses an event and never sees one out of order.
/// `next_cursor` is never `null`: a poller that has caught up keeps its place. Events are the
/// same shape as webhook bodies. The feed holds only events of the types the caller may read:
/// each type needs the permission that reads its resource besides `events:read`
/// (`session.*` needs `sessions:read`, `client.*` `clients:read`, ...); asking for another type
/// in `types` is a 403 naming it.
#[utoipa::path(
    tag = "events",
    operation_id = "list_events",
    params(ListEventsQuery),
    responses(
        (status = 200, description = "The next events, oldest first", body = EventFeedPage),
        (status = 403, description = "Needs `events:read`, and for each type asked for in `types`, the permission that reads its resource", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`types` names an unknown event type", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["events:read"]))
)]
#[get("/v1/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListEventsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::EventsRead)?;
    let limit = match query.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::validation(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
    };
    let after = match query.after.as_deref() {
        None | Some("") => 0,
        Some(c) => {
            decode_cursor::<Cursor>(c)
                .map_err(|_| ApiError::bad_query("after", "is not a cursor this feed gave out (a `next_cursor`)"))?
                .seq
        }
    };
    let types = visible_types(parse_types(query.types.as_deref())?, caller.permissions)?;
    let mut conn = state.conn().await?;
    // Events committed since the last round get their numbers before the page is read.
    crate::events::sequence(&mut conn, caller.clinic_id).await?;
    let (rows, head) = read_page(&mut conn, caller.clinic_id, after, types, limit).await?;
    // A full page ends at its last event; otherwise nothing else matches up to the snapshot's
    // last event, so the poller may skip ahead to it (events the filter left out included).
    let position = match rows.last() {
        Some((seq, ..)) if i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit => *seq,
        _ => head.unwrap_or(0).max(after),
    };
    // A page of events reads the data of the clients they are about: the audit trail says whose.
    crate::audit::note::clients(
        rows.iter()
            .filter_map(|(_, _, event_type, _, data)| crate::audit::note::event_client(event_type, data)),
    );
    let items = rows
        .into_iter()
        .map(|(_, id, event_type, occurred_at, data)| EventResponse {
            id,
            event_type,
            occurred_at,
            data,
        })
        .collect();
    Ok(HttpResponse::Ok().json(EventFeedPage {
        items,
        next_cursor: encode_cursor(&Cursor { seq: position }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_a_closed_vocabulary() {
        assert_eq!(parse_types(None).ok(), Some(None));
        assert_eq!(
            parse_types(Some("client.created, client.updated")).ok(),
            Some(Some(vec![EventType::ClientCreated, EventType::ClientUpdated]))
        );
        assert!(parse_types(Some("client.created,client.eaten")).is_err());
    }
}
