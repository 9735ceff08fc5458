use crate::db::schema::{webhook_attempts, webhook_deliveries, webhooks};
use crate::webhooks::dto::DeliveryState;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub created_by_membership: Option<Uuid>,
    pub created_by_api_key: Option<Uuid>,
}

#[derive(Insertable)]
#[diesel(table_name = webhooks)]
pub struct NewWebhook<'a> {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: Vec<String>,
    pub secret: &'a str,
    pub created_by_membership: Option<Uuid>,
    pub created_by_api_key: Option<Uuid>,
}

/// Field changes; `None` leaves a column as it is.
#[derive(AsChangeset, Default)]
#[diesel(table_name = webhooks)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub disabled_reason: Option<Option<String>>,
    pub disabled_at: Option<Option<DateTime<Utc>>>,
    pub failing_since: Option<Option<DateTime<Utc>>>,
}

impl WebhookChanges {
    pub fn is_empty(&self) -> bool {
        self.url.is_none() && self.description.is_none() && self.event_types.is_none() && self.enabled.is_none()
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// A ping's body; `None` for an event, whose body is built from the outbox when sent.
    pub payload: Option<serde_json::Value>,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub redelivery_of: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery<'a> {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub payload: Option<&'a serde_json::Value>,
    pub next_attempt_at: DateTime<Utc>,
    pub redelivery_of: Option<Uuid>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    pub delivery_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
}

pub async fn insert_delivery(conn: &mut AsyncPgConnection, new: &NewDelivery<'_>) -> QueryResult<DeliveryRow> {
    diesel::insert_into(webhook_deliveries::table)
        .values(new)
        .returning(DeliveryRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewWebhook<'_>) -> QueryResult<WebhookRow> {
    diesel::insert_into(webhooks::table)
        .values(new)
        .returning(WebhookRow::as_returning())
        .get_result(conn)
        .await
}

/// The clinic's endpoint; `lock` takes its row lock (for an update).
pub async fn find(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    id: Uuid,
    lock: bool,
) -> QueryResult<Option<WebhookRow>> {
    let q = webhooks::table
        .filter(webhooks::clinic_id.eq(clinic_id))
        .filter(webhooks::id.eq(id))
        .select(WebhookRow::as_select());
    if lock {
        q.for_update().first(conn).await.optional()
    } else {
        q.first(conn).await.optional()
    }
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<WebhookRow>> {
    let mut q = webhooks::table
        .filter(webhooks::clinic_id.eq(clinic_id))
        .select(WebhookRow::as_select())
        .order(webhooks::id)
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(webhooks::id.gt(after));
    }
    q.load(conn).await
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, changes: &WebhookChanges) -> QueryResult<WebhookRow> {
    diesel::update(webhooks::table.find(id))
        .set((
            changes,
            webhooks::version.eq(webhooks::version + 1),
            webhooks::updated_at.eq(Utc::now()),
        ))
        .returning(WebhookRow::as_returning())
        .get_result(conn)
        .await
}

/// Replaces the secret; the previous one keeps signing until `previous_until`.
pub async fn rotate_secret(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    secret: &str,
    previous_until: DateTime<Utc>,
) -> QueryResult<WebhookRow> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::previous_secret.eq(webhooks::secret.nullable()),
            webhooks::previous_secret_expires_at.eq(previous_until),
            webhooks::secret.eq(secret),
            webhooks::version.eq(webhooks::version + 1),
            webhooks::updated_at.eq(Utc::now()),
        ))
        .returning(WebhookRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(webhooks::table.find(id)).execute(conn).await
}

/// A page of an endpoint's deliveries, newest first, before the delivery id `before`.
pub async fn deliveries(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    webhook_id: Uuid,
    state: Option<DeliveryState>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut q = webhook_deliveries::table
        .filter(webhook_deliveries::clinic_id.eq(clinic_id))
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .select(DeliveryRow::as_select())
        .order(webhook_deliveries::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(state) = state {
        q = q.filter(webhook_deliveries::state.eq(state));
    }
    if let Some(before) = before {
        q = q.filter(webhook_deliveries::id.lt(before));
    }
    q.load(conn).await
}

pub async fn delivery(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    webhook_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::clinic_id.eq(clinic_id))
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .filter(webhook_deliveries::id.eq(id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The attempts of these deliveries, oldest first.
pub async fn attempts_of(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    delivery_ids: &[Uuid],
) -> QueryResult<Vec<AttemptRow>> {
    webhook_attempts::table
        .filter(webhook_attempts::clinic_id.eq(clinic_id))
        .filter(webhook_attempts::delivery_id.eq_any(delivery_ids))
        .select(AttemptRow::as_select())
        .order((webhook_attempts::delivery_id, webhook_attempts::attempted_at))
        .load(conn)
        .await
}
