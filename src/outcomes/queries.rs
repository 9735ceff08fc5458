//! Questionnaire definitions, assignments and responses in the database.

use crate::db::SYSTEM_CLINIC_ID;
use crate::db::schema::questionnaires;
use crate::outcomes::dto::{NewQuestionnaire, QuestionnaireResponse};
use crate::outcomes::scoring::{Direction, Item, Scoring, ScoringMethod};
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = questionnaires)]
pub struct QuestionnaireRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub code: String,
    pub name: String,
    pub items: serde_json::Value,
    pub scoring_method: ScoringMethod,
    pub min_answered: i32,
    pub direction: Direction,
    pub mcid: Option<f64>,
    pub licence: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

impl QuestionnaireRow {
    pub fn new(id: Uuid, clinic_id: Uuid, q: NewQuestionnaire) -> Self {
        QuestionnaireRow {
            id,
            clinic_id,
            code: q.code,
            name: q.name,
            items: serde_json::to_value(&q.items).unwrap_or_default(),
            scoring_method: q.scoring.method,
            min_answered: q.scoring.min_answered,
            direction: q.direction,
            mcid: q.mcid,
            licence: q.licence,
            version: 1,
            created_at: Utc::now().trunc_subsecs(6),
        }
    }

    /// The items as written (they were written from `Vec<Item>`; anything else reads as none).
    pub fn item_list(&self) -> Vec<Item> {
        serde_json::from_value(self.items.clone()).unwrap_or_default()
    }

    pub fn scoring(&self) -> Scoring {
        Scoring {
            method: self.scoring_method,
            min_answered: self.min_answered,
        }
    }

    pub fn into_response(self) -> QuestionnaireResponse {
        QuestionnaireResponse {
            builtin: self.clinic_id == SYSTEM_CLINIC_ID,
            items: self.item_list(),
            scoring: self.scoring(),
            id: self.id,
            code: self.code,
            name: self.name,
            direction: self.direction,
            mcid: self.mcid,
            licence: self.licence,
            version: self.version,
            created_at: self.created_at,
        }
    }
}

/// Inserts a questionnaire unless its id exists; answers how many rows were written.
pub async fn insert_if_new(conn: &mut AsyncPgConnection, row: &QuestionnaireRow) -> QueryResult<usize> {
    diesel::insert_into(questionnaires::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &QuestionnaireRow) -> QueryResult<QuestionnaireRow> {
    diesel::insert_into(questionnaires::table)
        .values(row)
        .returning(QuestionnaireRow::as_returning())
        .get_result(conn)
        .await
}

/// A questionnaire the clinic can see: its own or a built-in.
pub async fn find(conn: &mut AsyncPgConnection, clinic_id: Uuid, id: Uuid) -> QueryResult<Option<QuestionnaireRow>> {
    questionnaires::table
        .filter(questionnaires::clinic_id.eq_any([clinic_id, SYSTEM_CLINIC_ID]))
        .filter(questionnaires::id.eq(id))
        .select(QuestionnaireRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The questionnaires with these ids that the clinic can see.
pub async fn find_many(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    ids: &[Uuid],
) -> QueryResult<Vec<QuestionnaireRow>> {
    questionnaires::table
        .filter(questionnaires::clinic_id.eq_any([clinic_id, SYSTEM_CLINIC_ID]))
        .filter(questionnaires::id.eq_any(ids))
        .select(QuestionnaireRow::as_select())
        .load(conn)
        .await
}

/// A page of the questionnaires the clinic can see, by id, after `after`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<QuestionnaireRow>> {
    let mut q = questionnaires::table
        .filter(questionnaires::clinic_id.eq_any([clinic_id, SYSTEM_CLINIC_ID]))
        .order(questionnaires::id)
        .limit(limit + 1)
        .select(QuestionnaireRow::as_select())
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(questionnaires::id.gt(a));
    }
    q.load(conn).await
}

/// Whether the questionnaire was ever assigned to the client.
pub async fn is_assigned(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    questionnaire_id: Uuid,
) -> QueryResult<bool> {
    use crate::db::schema::questionnaire_assignments as qa;
    diesel::select(diesel::dsl::exists(
        qa::table
            .filter(qa::clinic_id.eq(clinic_id))
            .filter(qa::client_id.eq(client_id))
            .filter(qa::questionnaire_id.eq(questionnaire_id)),
    ))
    .get_result(conn)
    .await
}

use crate::db::schema::{questionnaire_assignments, questionnaire_responses};
use crate::outcomes::dto::{
    AnsweredBy, QuestionnaireAnswersResponse, QuestionnaireAssignmentResponse, QuestionnaireAssignmentStatus,
    QuestionnaireSchedule, ScheduleUnit,
};
use chrono::NaiveDate;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = questionnaire_assignments)]
pub struct AssignmentRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub client_id: Uuid,
    pub questionnaire_id: Uuid,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub every: i32,
    pub unit: ScheduleUnit,
    pub status: QuestionnaireAssignmentStatus,
    pub stopped_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl AssignmentRow {
    pub fn new(clinic_id: Uuid, client_id: Uuid, questionnaire_id: Uuid, s: &QuestionnaireSchedule) -> Self {
        let now = Utc::now().trunc_subsecs(6);
        AssignmentRow {
            id: Uuid::now_v7(),
            clinic_id,
            client_id,
            questionnaire_id,
            start_date: s.start_date,
            end_date: s.end_date,
            every: s.every,
            unit: s.unit,
            status: QuestionnaireAssignmentStatus::Active,
            stopped_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn schedule(&self) -> QuestionnaireSchedule {
        QuestionnaireSchedule {
            start_date: self.start_date,
            end_date: self.end_date,
            every: self.every,
            unit: self.unit,
        }
    }

    /// The assignment as the API shows it, on the client's `today`, given the local date of its
    /// latest response.
    pub fn into_response(
        self,
        code: String,
        today: NaiveDate,
        last: Option<NaiveDate>,
    ) -> QuestionnaireAssignmentResponse {
        let active = self.status == QuestionnaireAssignmentStatus::Active;
        let s = self.schedule();
        QuestionnaireAssignmentResponse {
            id: self.id,
            client_id: self.client_id,
            questionnaire_id: self.questionnaire_id,
            code,
            schedule: s,
            status: self.status,
            stopped_at: self.stopped_at,
            due_since: if active { s.due_since(today, last) } else { None },
            next_due: if active { s.next_after(today) } else { None },
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub async fn insert_assignment(conn: &mut AsyncPgConnection, row: &AssignmentRow) -> QueryResult<()> {
    diesel::insert_into(questionnaire_assignments::table)
        .values(row)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn find_assignment(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
    lock: bool,
) -> QueryResult<Option<AssignmentRow>> {
    let q = questionnaire_assignments::table
        .filter(questionnaire_assignments::clinic_id.eq(clinic_id))
        .filter(questionnaire_assignments::id.eq(id))
        .select(AssignmentRow::as_select());
    if lock {
        q.for_update().first(conn).await.optional()
    } else {
        q.first(conn).await.optional()
    }
}

/// A client's questionnaire assignments, by id, after `after`; `active_only` for what may be due.
pub async fn client_assignments(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    active_only: bool,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<AssignmentRow>> {
    let mut q = questionnaire_assignments::table
        .filter(questionnaire_assignments::clinic_id.eq(clinic_id))
        .filter(questionnaire_assignments::client_id.eq(client_id))
        .order(questionnaire_assignments::id)
        .limit(limit + 1)
        .select(AssignmentRow::as_select())
        .into_boxed();
    if active_only {
        q = q.filter(questionnaire_assignments::status.eq(QuestionnaireAssignmentStatus::Active));
    }
    if let Some(a) = after {
        q = q.filter(questionnaire_assignments::id.gt(a));
    }
    q.load(conn).await
}

/// Stops an assignment.
pub async fn stop_assignment(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<AssignmentRow> {
    let now = Utc::now().trunc_subsecs(6);
    diesel::update(questionnaire_assignments::table.find(id))
        .set((
            questionnaire_assignments::status.eq(QuestionnaireAssignmentStatus::Stopped),
            questionnaire_assignments::stopped_at.eq(now),
            questionnaire_assignments::version.eq(questionnaire_assignments::version + 1),
            questionnaire_assignments::updated_at.eq(now),
        ))
        .returning(AssignmentRow::as_returning())
        .get_result(conn)
        .await
}

/// The latest local date each of these assignments was answered on.
pub async fn last_answered(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    assignment_ids: &[Uuid],
) -> QueryResult<std::collections::HashMap<Uuid, NaiveDate>> {
    use diesel::dsl::max;
    let rows: Vec<(Uuid, Option<NaiveDate>)> = questionnaire_responses::table
        .filter(questionnaire_responses::clinic_id.eq(clinic_id))
        .filter(questionnaire_responses::assignment_id.eq_any(assignment_ids))
        .group_by(questionnaire_responses::assignment_id)
        .select((
            questionnaire_responses::assignment_id,
            max(questionnaire_responses::local_date),
        ))
        .load(conn)
        .await?;
    Ok(rows.into_iter().filter_map(|(a, d)| Some((a, d?))).collect())
}

/// The codes of these questionnaires.
pub async fn codes(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    ids: &[Uuid],
) -> QueryResult<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> = questionnaires::table
        .filter(questionnaires::clinic_id.eq_any([clinic_id, SYSTEM_CLINIC_ID]))
        .filter(questionnaires::id.eq_any(ids))
        .select((questionnaires::id, questionnaires::code))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = questionnaire_responses)]
pub struct ResponseRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub client_id: Uuid,
    pub assignment_id: Uuid,
    pub questionnaire_id: Uuid,
    pub answered_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub answered_by: Option<Uuid>,
    pub answered_by_role: AnsweredBy,
    pub answers: serde_json::Value,
    pub score: Option<f64>,
    pub answered_items: i32,
    pub content_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl ResponseRow {
    pub fn into_response(self) -> QuestionnaireAnswersResponse {
        QuestionnaireAnswersResponse {
            id: self.id,
            client_id: self.client_id,
            assignment_id: self.assignment_id,
            questionnaire_id: self.questionnaire_id,
            answered_at: self.answered_at,
            answered_by: self.answered_by_role,
            answered_by_membership: self.answered_by,
            answers: serde_json::from_value(self.answers).unwrap_or_default(),
            score: self.score,
            answered_items: self.answered_items,
            created_at: self.created_at,
        }
    }
}

/// Inserts a response unless one with its id exists; answers whether it was inserted. A
/// concurrent insert of the same id waits for the first to commit, then finds it.
pub async fn insert_response_if_new(conn: &mut AsyncPgConnection, row: &ResponseRow) -> QueryResult<bool> {
    let n = diesel::insert_into(questionnaire_responses::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// A response by id, in any clinic (to tell a retry from an unusable id).
pub async fn find_response_any(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<ResponseRow>> {
    questionnaire_responses::table
        .find(id)
        .select(ResponseRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A client's scored responses, oldest first: `(questionnaire, response, answered_at, score)`.
pub async fn scores(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
) -> QueryResult<Vec<(Uuid, Uuid, DateTime<Utc>, Option<f64>)>> {
    questionnaire_responses::table
        .filter(questionnaire_responses::clinic_id.eq(clinic_id))
        .filter(questionnaire_responses::client_id.eq(client_id))
        .filter(questionnaire_responses::score.is_not_null())
        .order((questionnaire_responses::answered_at, questionnaire_responses::id))
        .select((
            questionnaire_responses::questionnaire_id,
            questionnaire_responses::id,
            questionnaire_responses::answered_at,
            questionnaire_responses::score,
        ))
        .load(conn)
        .await
}

/// `{questionnaire_id, code, score, answered_at}` of the client's latest scored response, for
/// the client list's own query (`questionnaire_responses_clinic_client_idx` finds it).
pub const LATEST_SCORE: &str = "(SELECT json_build_object('questionnaire_id', r.questionnaire_id, \
       'code', q.code, 'score', r.score, 'answered_at', r.answered_at) \
     FROM questionnaire_responses r JOIN questionnaires q ON q.id = r.questionnaire_id \
     WHERE r.clinic_id = clients.clinic_id AND r.client_id = clients.id AND r.score IS NOT NULL \
     ORDER BY r.answered_at DESC, r.id DESC LIMIT 1)";

/// A page of a client's responses, oldest first, after `(answered_at, id)`.
pub async fn responses_page(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<ResponseRow>> {
    use questionnaire_responses as r;
    let mut q = r::table
        .filter(r::clinic_id.eq(clinic_id))
        .filter(r::client_id.eq(client_id))
        .order((r::answered_at, r::id))
        .limit(limit)
        .select(ResponseRow::as_select())
        .into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(r::answered_at.gt(at).or(r::answered_at.eq(at).and(r::id.gt(id))));
    }
    q.load(conn).await
}
