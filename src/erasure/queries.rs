//! The statements of one erasure, each counting what it removed. They run in the handler's
//! transaction, in an order that respects every foreign key.

use crate::db::schema::{
    assignment_items, assignment_pauses, assignments, calendar_feeds, clients, erased_activity_weekly,
    idempotency_keys, invitations, login_throttle, memberships, monitoring_episodes, monitoring_interactions,
    questionnaire_assignments, questionnaire_responses, refresh_tokens, reminder_emissions, session_entries,
    session_logs, session_measurements, token_families, users,
};
use chrono::{Datelike, Duration, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Rows per table.
pub type Counts = BTreeMap<&'static str, i64>;

fn n(rows: usize) -> i64 {
    i64::try_from(rows).unwrap_or(i64::MAX)
}

/// What erasure scrubs from an event's data: everything but its ids.
const SCRUBBED_DATA: &str = "jsonb_strip_nulls(jsonb_build_object(
        'id', data -> 'id', 'client_id', data -> 'client_id', 'assignment_id', data -> 'assignment_id',
        'erased', true))";

/// Erases one client of `clinic_id` (already locked by the caller); answers the rows removed
/// and the rows scrubbed, per table.
pub async fn erase(conn: &mut AsyncPgConnection, clinic_id: Uuid, client_id: Uuid) -> QueryResult<(Counts, Counts)> {
    // The client's login and sign-ins go: no cached caller may outlive them.
    crate::auth::cache::access_changed();
    let mut removed = Counts::new();
    let mut scrubbed = Counts::new();

    // What stays: logged sessions per week, with no id.
    let days: Vec<NaiveDate> = session_logs::table
        .filter(session_logs::clinic_id.eq(clinic_id))
        .filter(session_logs::client_id.eq(client_id))
        .filter(session_logs::deleted_at.is_null())
        .select(session_logs::local_date)
        .load(conn)
        .await?;
    let mut weeks: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for d in days {
        let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
        *weeks.entry(monday).or_default() += 1;
    }
    for (week_start, sessions) in weeks {
        diesel::insert_into(erased_activity_weekly::table)
            .values((
                erased_activity_weekly::clinic_id.eq(clinic_id),
                erased_activity_weekly::week_start.eq(week_start),
                erased_activity_weekly::sessions.eq(sessions),
            ))
            .on_conflict((erased_activity_weekly::clinic_id, erased_activity_weekly::week_start))
            .do_update()
            .set(erased_activity_weekly::sessions.eq(erased_activity_weekly::sessions + sessions))
            .execute(conn)
            .await?;
    }

    // The outbox and webhook bodies keep type, ids and time.
    let events: Vec<Uuid> = diesel::sql_query(format!(
        "UPDATE events SET data = {SCRUBBED_DATA}
         WHERE clinic_id = $1
           AND (data ->> 'client_id' = $2 OR (type LIKE 'client.%' AND data ->> 'id' = $2))
         RETURNING id"
    ))
    .bind::<SqlUuid, _>(clinic_id)
    .bind::<Text, _>(client_id.to_string())
    .load::<IdRow>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect();
    scrubbed.insert("events", n(events.len()));
    let deliveries = diesel::sql_query(format!(
        "UPDATE webhook_deliveries
         SET payload = jsonb_build_object('id', payload -> 'id', 'type', payload -> 'type',
                                          'occurred_at', payload -> 'occurred_at',
                                          'data', (SELECT {SCRUBBED_DATA} FROM (SELECT payload -> 'data' AS data) d))
         WHERE clinic_id = $1 AND event_id = ANY($2) AND payload IS NOT NULL"
    ))
    .bind::<SqlUuid, _>(clinic_id)
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(&events)
    .execute(conn)
    .await?;
    scrubbed.insert("webhook_deliveries", n(deliveries));

    // The client's login in this clinic, and who it belongs to.
    let logins: Vec<(Uuid, Uuid)> = memberships::table
        .filter(memberships::clinic_id.eq(clinic_id))
        .filter(memberships::client_id.eq(client_id))
        .select((memberships::id, memberships::user_id))
        .load(conn)
        .await?;
    let membership_ids: Vec<Uuid> = logins.iter().map(|(m, _)| *m).collect();
    let user_ids: Vec<Uuid> = logins.iter().map(|(_, u)| *u).collect();

    // Stored answers: the client's own, and any that name the client.
    let owners: Vec<String> = membership_ids.iter().map(|m| format!("member:{m}")).collect();
    let answers = diesel::delete(
        idempotency_keys::table.filter(
            idempotency_keys::owner
                .eq_any(&owners)
                .or(diesel::dsl::sql::<diesel::sql_types::Bool>("position(convert_to(")
                    .bind::<Text, _>(client_id.to_string())
                    .sql(", 'UTF8') in coalesce(response_body, ''::bytea)) > 0")),
        ),
    )
    .execute(conn)
    .await?;
    removed.insert("idempotency_keys", n(answers));

    let invites = diesel::delete(invitations::table.filter(invitations::membership_id.eq_any(&membership_ids)))
        .execute(conn)
        .await?;
    removed.insert("invitations", n(invites));

    // Sign-ins of the login in this clinic: its refresh and access tokens stop working now.
    let families: Vec<Uuid> = token_families::table
        .filter(token_families::clinic_id.eq(clinic_id))
        .filter(token_families::user_id.eq_any(&user_ids))
        .select(token_families::id)
        .load(conn)
        .await?;
    let tokens = diesel::delete(refresh_tokens::table.filter(refresh_tokens::family_id.eq_any(&families)))
        .execute(conn)
        .await?;
    let family_rows = diesel::delete(token_families::table.filter(token_families::id.eq_any(&families)))
        .execute(conn)
        .await?;

    // Logs, then homework.
    let sessions: Vec<Uuid> = session_logs::table
        .filter(session_logs::clinic_id.eq(clinic_id))
        .filter(session_logs::client_id.eq(client_id))
        .select(session_logs::id)
        .load(conn)
        .await?;
    let entries = diesel::delete(
        session_entries::table
            .filter(session_entries::clinic_id.eq(clinic_id))
            .filter(session_entries::session_id.eq_any(&sessions)),
    )
    .execute(conn)
    .await?;
    let measurements = diesel::delete(
        session_measurements::table
            .filter(session_measurements::clinic_id.eq(clinic_id))
            .filter(session_measurements::session_id.eq_any(&sessions)),
    )
    .execute(conn)
    .await?;
    let logs = diesel::delete(session_logs::table.filter(session_logs::id.eq_any(&sessions)))
        .execute(conn)
        .await?;
    // Questionnaire answers, then their schedules.
    let responses = diesel::delete(
        questionnaire_responses::table
            .filter(questionnaire_responses::clinic_id.eq(clinic_id))
            .filter(questionnaire_responses::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    let questionnaire_schedules = diesel::delete(
        questionnaire_assignments::table
            .filter(questionnaire_assignments::clinic_id.eq(clinic_id))
            .filter(questionnaire_assignments::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    let episodes = diesel::delete(
        monitoring_episodes::table
            .filter(monitoring_episodes::clinic_id.eq(clinic_id))
            .filter(monitoring_episodes::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    let interactions = diesel::delete(
        monitoring_interactions::table
            .filter(monitoring_interactions::clinic_id.eq(clinic_id))
            .filter(monitoring_interactions::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    let feeds = diesel::delete(
        calendar_feeds::table
            .filter(calendar_feeds::clinic_id.eq(clinic_id))
            .filter(calendar_feeds::client_id.eq(client_id)),
    )
    .execute(conn)
    .await?;
    let homework: Vec<Uuid> = assignments::table
        .filter(assignments::clinic_id.eq(clinic_id))
        .filter(assignments::client_id.eq(client_id))
        .select(assignments::id)
        .load(conn)
        .await?;
    let reminders =
        diesel::delete(reminder_emissions::table.filter(reminder_emissions::assignment_id.eq_any(&homework)))
            .execute(conn)
            .await?;
    let pauses = diesel::delete(
        assignment_pauses::table
            .filter(assignment_pauses::clinic_id.eq(clinic_id))
            .filter(assignment_pauses::assignment_id.eq_any(&homework)),
    )
    .execute(conn)
    .await?;
    let items = diesel::delete(
        assignment_items::table
            .filter(assignment_items::clinic_id.eq(clinic_id))
            .filter(assignment_items::assignment_id.eq_any(&homework)),
    )
    .execute(conn)
    .await?;
    let assignment_rows = diesel::delete(assignments::table.filter(assignments::id.eq_any(&homework)))
        .execute(conn)
        .await?;

    let membership_rows = diesel::delete(memberships::table.filter(memberships::id.eq_any(&membership_ids)))
        .execute(conn)
        .await?;
    let client_rows = diesel::delete(
        clients::table
            .filter(clients::clinic_id.eq(clinic_id))
            .filter(clients::id.eq(client_id)),
    )
    .execute(conn)
    .await?;

    // The login goes when no other clinic's membership remains (a person's login shared with
    // another clinic stays theirs).
    let mut user_rows = 0;
    let mut throttle_rows = 0;
    let mut other_tokens = 0;
    let mut other_families = 0;
    for user_id in user_ids {
        let others: i64 = memberships::table
            .filter(memberships::user_id.eq(user_id))
            .count()
            .get_result(conn)
            .await?;
        if others > 0 {
            continue;
        }
        let families: Vec<Uuid> = token_families::table
            .filter(token_families::user_id.eq(user_id))
            .select(token_families::id)
            .load(conn)
            .await?;
        other_tokens += diesel::delete(refresh_tokens::table.filter(refresh_tokens::family_id.eq_any(&families)))
            .execute(conn)
            .await?;
        other_families += diesel::delete(token_families::table.filter(token_families::id.eq_any(&families)))
            .execute(conn)
            .await?;
        let email: Option<String> = diesel::delete(users::table.find(user_id))
            .returning(users::email)
            .get_result(conn)
            .await
            .optional()?;
        if let Some(email) = email {
            user_rows += 1;
            throttle_rows += diesel::delete(
                login_throttle::table.filter(login_throttle::key.eq(crate::auth::throttle::account_key(&email))),
            )
            .execute(conn)
            .await?;
        }
    }

    removed.insert("clients", n(client_rows));
    removed.insert("memberships", n(membership_rows));
    removed.insert("users", user_rows);
    removed.insert("token_families", n(family_rows + other_families));
    removed.insert("refresh_tokens", n(tokens + other_tokens));
    removed.insert("login_throttle", n(throttle_rows));
    removed.insert("assignments", n(assignment_rows));
    removed.insert("assignment_items", n(items));
    removed.insert("assignment_pauses", n(pauses));
    removed.insert("session_logs", n(logs));
    removed.insert("session_entries", n(entries));
    removed.insert("session_measurements", n(measurements));
    removed.insert("questionnaire_responses", n(responses));
    removed.insert("questionnaire_assignments", n(questionnaire_schedules));
    removed.insert("monitoring_episodes", n(episodes));
    removed.insert("monitoring_interactions", n(interactions));
    removed.insert("calendar_feeds", n(feeds));
    removed.insert("reminder_emissions", n(reminders));
    Ok((removed, scrubbed))
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}
