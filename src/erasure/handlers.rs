//! `POST /v1/clients/{id}/erase`.

use super::queries::{self, Counts};
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Problem, Validator};
use crate::events::{self, EventType};
use crate::http::json::Json;
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The confirmation an erasure needs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseClientRequest {
    /// The client's id again: erasure cannot be undone.
    pub confirm: String,
}

/// What an erasure removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EraseClientResponse {
    /// When the client's data was erased.
    #[serde(serialize_with = "crate::http::timestamp::serialize")]
    pub erased_at: DateTime<Utc>,
    /// Rows deleted, per table.
    #[schema(value_type = std::collections::BTreeMap<String, i64>)]
    pub removed: Counts,
    /// Rows whose personal content was scrubbed (ids, types and times kept), per table.
    #[schema(value_type = std::collections::BTreeMap<String, i64>)]
    pub scrubbed: Counts,
}

/// What the `client.erased` event says: enough for integrators to delete their copies.
#[derive(Debug, Serialize)]
struct Erased {
    client_id: Uuid,
    external_id: Option<String>,
}

/// Erase a client
///
/// Removes the client's personal data from every table, in one transaction, irreversibly: the
/// record, their login (unless another clinic's membership still uses it) and its sign-ins
/// (their tokens stop working at once), invitations, assignments, logs and measurements, stored
/// idempotent answers, and the content of event payloads and webhook bodies about them (events
/// keep type, ids and time). Anonymous weekly counts of their sessions stay. Afterwards the
/// client is 404 everywhere, the external id is free, and a `client.erased` event
/// (`{client_id, external_id}`) tells integrators to delete their copies. The audit trail keeps
/// ids only. Clinical records must often be kept for years: archive instead unless the person
/// asked for erasure and no obligation to keep the record applies (see docs/stewardship.md).
/// `confirm` must repeat the client's id (422 otherwise, and nothing is erased). Admins
/// (`data:erase`); never an API key.
#[utoipa::path(
    tag = "stewardship",
    operation_id = "erase_client",
    params(("id" = Uuid, Path, description = "The client's id")),
    request_body = EraseClientRequest,
    responses(
        (status = 200, description = "Erased", body = EraseClientResponse),
        (status = 404, description = "No such client in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`confirm` is not the client's id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["data:erase"]))
)]
#[post("/v1/clients/{id}/erase")]
pub async fn erase_client(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<EraseClientRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::DataErase)?;
    // People only, whatever a key's scopes say.
    caller.member()?;
    let (clinic_id, client_id) = (caller.clinic_id, *id);
    let confirm = body.into_inner().confirm;
    let mut conn = state.conn().await?;
    let answer = conn
        .transaction::<_, ApiError, _>(async move |conn| {
            let (client, _) = crate::clients::queries::find(conn, clinic_id, client_id, true)
                .await?
                .ok_or_else(|| ApiError::not_found("client"))?;
            let mut v = Validator::new();
            v.check(
                confirm.trim() == client_id.to_string(),
                "confirm",
                "must repeat the client's id: erasure cannot be undone",
            );
            v.finish()?;
            let (removed, scrubbed) = queries::erase(conn, clinic_id, client_id).await?;
            events::emit(
                conn,
                clinic_id,
                EventType::ClientErased,
                &Erased {
                    client_id,
                    external_id: client.external_id,
                },
            )
            .await?;
            Ok(EraseClientResponse {
                erased_at: Utc::now(),
                removed,
                scrubbed,
            })
        })
        .await?;
    tracing::info!(client_id = %client_id, "client erased");
    Ok(HttpResponse::Ok().json(answer))
}
