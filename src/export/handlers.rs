//! `GET /v1/clients/{id}/export` and `GET /v1/me/export`.

use super::document::{self, Out, Stop};
use crate::auth::{Caller, Permission};
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use utoipa::IntoParams;
use uuid::Uuid;

/// Chunks waiting between the reader of the database and the response: what bounds memory.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Starts the export of one client on a connection of its own and answers once the snapshot
/// has found the client (404 otherwise); the body then streams as it is read.
async fn export(state: &AppState, clinic_id: Uuid, client_id: Uuid) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let (found_tx, found_rx) = oneshot::channel::<Result<bool, ApiError>>();
    let (tx, rx) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        let mut found_tx = Some(found_tx);
        let result = conn
            .build_transaction()
            .read_only()
            .repeatable_read()
            .run::<_, Stop, _>(async |conn: &mut AsyncPgConnection| {
                let section = document::client_section(conn, clinic_id, client_id).await;
                let (client, tz, since) = match section {
                    Ok(Some(found)) => found,
                    Ok(None) => {
                        if let Some(f) = found_tx.take() {
                            let _ = f.send(Ok(false));
                        }
                        return Ok(());
                    }
                    Err(e) => {
                        if let Some(f) = found_tx.take() {
                            let _ = f.send(Err(e));
                        }
                        return Ok(());
                    }
                };
                if let Some(f) = found_tx.take() {
                    let _ = f.send(Ok(true));
                }
                let mut out = Out::new(tx);
                document::write(conn, &mut out, clinic_id, client, tz, since).await
            })
            .await;
        match result {
            Ok(()) | Err(Stop::Gone) => {}
            // The document ends without `"complete": true`: the reader knows it was cut off.
            Err(Stop::Failed(e)) => tracing::error!(error = %e, client_id = %client_id, "export stopped"),
        }
        if let Some(f) = found_tx {
            let _ = f.send(Err(ApiError::internal("the export ended before reading the client")));
        }
    });
    match found_rx.await {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => return Err(ApiError::not_found("client")),
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(ApiError::internal("the export task ended early")),
    }
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, actix_web::Error>(chunk), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body))
}

crate::text_enum! {
    /// The form of an export.
    pub enum ExportFormat {
        /// The `rehabit-export/1` JSON document.
        Json => "json",
        /// An HL7 FHIR R4 collection Bundle (`application/fhir+json`), as `GET /v1/clients/{id}/fhir`.
        Fhir => "fhir",
    }
}

/// How the export is wanted.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (the default) or `fhir`.
    pub format: Option<ExportFormat>,
}

/// Export a client's data
///
/// Everything the service keeps about the client as one JSON document (`rehabit-export/1`,
/// described in docs/stewardship.md): the client and their login, assignments with items,
/// schedule and pause history, every session log with entries, measurements, flags and
/// reviews, progress over all time, and the access log. Read from one consistent snapshot and
/// streamed; the document ends with `"complete": true` (one without it was cut off). Archived
/// clients export too; an erased client is 404. Admins (`data:export`). With `?format=fhir`
/// the record answers as a FHIR R4 Bundle instead (see `GET /v1/clients/{id}/fhir`), whole.
#[utoipa::path(
    tag = "stewardship",
    operation_id = "export_client",
    params(("id" = Uuid, Path, description = "The client's id"), ExportQuery),
    responses(
        (status = 200, description = "The export document, streamed (or the FHIR Bundle with `format=fhir`)", content((Object = "application/json"), (Object = "application/fhir+json"))),
        (status = 404, description = "No such client in this clinic (or erased)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["data:export"]))
)]
#[get("/v1/clients/{id}/export")]
pub async fn export_client(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::DataExport)?;
    if query.format == Some(ExportFormat::Fhir) {
        return crate::fhir::handlers::bundle_response(
            &state,
            caller.clinic_id,
            *id,
            crate::fhir::handlers::Parts::ALL,
        )
        .await;
    }
    export(&state, caller.clinic_id, *id).await
}

/// Export my data
///
/// For a client's login: their own export document (see the client export); `?format=fhir`
/// answers their FHIR R4 Bundle.
#[utoipa::path(
    tag = "me",
    operation_id = "export_my_data",
    params(ExportQuery),
    responses(
        (status = 200, description = "The export document, streamed (or the FHIR Bundle with `format=fhir`)", content((Object = "application/json"), (Object = "application/fhir+json"))),
        (status = 403, description = "The caller is not a client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/me/export")]
pub async fn export_my_data(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let client_id = caller.require_own_client("export")?;
    if query.format == Some(ExportFormat::Fhir) {
        return crate::fhir::handlers::bundle_response(
            &state,
            caller.clinic_id,
            client_id,
            crate::fhir::handlers::Parts::ALL,
        )
        .await;
    }
    export(&state, caller.clinic_id, client_id).await
}
