//! `GET /v1/clients/{id}/fhir` (also `?format=fhir` on the export) and the public definitions
//! `GET /v1/fhir/CodeSystem/{id}`, `GET /v1/fhir/StructureDefinition/{id}`.

use super::map::{self, Record};
use super::{MEDIA_TYPE, definitions};
use crate::auth::{Caller, Permission};
use crate::db::schema::session_logs;
use crate::error::{ApiError, Problem};
use crate::sessions::queries::SessionRow;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Rows read per page.
const PAGE: i64 = 500;

/// The parts of the record a caller may read (DESIGN "Composite documents"): the bundle leaves
/// out any part the caller could not read through its own endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub practitioners: bool,
    /// CarePlan, ServiceRequest and the exercises' ActivityDefinitions.
    pub assignments: bool,
    /// The routines' PlanDefinitions (with `assignments`).
    pub routines: bool,
    /// Procedure, Observation and Flag.
    pub sessions: bool,
    /// QuestionnaireResponse and the score Observations.
    pub outcomes: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        practitioners: true,
        assignments: true,
        routines: true,
        sessions: true,
        outcomes: true,
    };

    /// What a caller may see of `client_id`'s bundle: everything for the client themselves;
    /// otherwise `clients:read` opens it, `data:export` besides covers every part, and
    /// without it each part needs its own permission. Another client's record is 404 to a
    /// client. (A key with `data:export` alone uses the export's `?format=fhir`.)
    pub fn for_caller(caller: &Caller, client_id: Uuid) -> Result<Parts, ApiError> {
        match caller.own_client_id() {
            Some(own) if own == client_id => return Ok(Parts::ALL),
            Some(_) => return Err(ApiError::not_found("client")),
            None => {}
        }
        caller.require(Permission::ClientsRead)?;
        let p = caller.permissions;
        if p.contains(Permission::DataExport) {
            return Ok(Parts::ALL);
        }
        let assignments = p.contains(Permission::AssignmentsRead);
        Ok(Parts {
            practitioners: p.contains(Permission::PractitionersRead),
            assignments,
            routines: assignments && p.contains(Permission::RoutinesRead),
            sessions: p.contains(Permission::SessionsRead),
            outcomes: p.contains(Permission::OutcomesRead),
        })
    }
}

/// Reads the parts of a client's record from one consistent snapshot; `None` when there is
/// no such client in the clinic.
pub async fn read(
    conn: &mut AsyncPgConnection,
    clinic_id: Uuid,
    client_id: Uuid,
    parts: Parts,
) -> Result<Option<Record>, ApiError> {
    let Some((row, accepted)) = crate::clients::queries::find(conn, clinic_id, client_id, false).await? else {
        return Ok(None);
    };
    let tz = row.tz()?;
    let client = row.into_response(accepted);

    let mut assignment_list = Vec::new();
    if parts.assignments {
        let mut after: Option<Uuid> = None;
        loop {
            let rows = crate::assignments::queries::client_page(conn, clinic_id, client_id, after, PAGE).await?;
            let n = rows.len();
            after = rows.last().map(|r| r.id);
            assignment_list.extend(crate::assignments::handlers::responses(conn, clinic_id, rows).await?);
            if i64::try_from(n).unwrap_or(0) < PAGE {
                break;
            }
        }
    }

    let mut routines = Vec::new();
    if parts.routines {
        let ids: BTreeSet<Uuid> = assignment_list.iter().filter_map(|a| a.routine_id).collect();
        for id in ids {
            if let Some(view) = crate::routines::queries::find_visible(conn, clinic_id, id).await? {
                routines.push(view.into_response()?);
            }
        }
    }

    let mut sessions = Vec::new();
    if parts.sessions {
        let mut after: Option<(DateTime<Utc>, Uuid)> = None;
        loop {
            let mut q = session_logs::table
                .filter(session_logs::clinic_id.eq(clinic_id))
                .filter(session_logs::client_id.eq(client_id))
                .filter(session_logs::deleted_at.is_null())
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
            sessions.extend(crate::sessions::queries::responses(conn, clinic_id, rows).await?);
            if i64::try_from(n).unwrap_or(0) < PAGE {
                break;
            }
        }
    }

    let mut responses = Vec::new();
    let mut questionnaires = Vec::new();
    if parts.outcomes {
        let mut after: Option<(DateTime<Utc>, Uuid)> = None;
        loop {
            let rows = crate::outcomes::queries::responses_page(conn, clinic_id, client_id, after, PAGE).await?;
            let n = rows.len();
            after = rows.last().map(|r| (r.answered_at, r.id));
            responses.extend(rows.into_iter().map(|r| r.into_response()));
            if i64::try_from(n).unwrap_or(0) < PAGE {
                break;
            }
        }
        let ids: Vec<Uuid> = responses
            .iter()
            .map(|r| r.questionnaire_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        questionnaires = crate::outcomes::queries::find_many(conn, clinic_id, &ids)
            .await?
            .into_iter()
            .map(|q| q.into_response())
            .collect();
    }

    let mut practitioners = Vec::new();
    if parts.practitioners {
        let mut ids: BTreeSet<Uuid> = client.primary_practitioner_id.into_iter().collect();
        ids.extend(assignment_list.iter().filter_map(|a| a.assigned_by));
        ids.extend(sessions.iter().filter_map(|s| s.logged_by));
        ids.extend(responses.iter().filter_map(|r| r.answered_by_membership));
        for id in ids {
            if let Some((m, email)) = crate::practitioners::queries::find(conn, clinic_id, id).await? {
                practitioners.push(m.into_practitioner(email));
            }
        }
    }

    Ok(Some(Record {
        client,
        tz,
        practitioners,
        assignments: assignment_list,
        routines,
        sessions,
        questionnaires,
        responses,
    }))
}

/// The bundle of one client as an HTTP answer (404 when there is no such client).
pub async fn bundle_response(
    state: &AppState,
    clinic_id: Uuid,
    client_id: Uuid,
    parts: Parts,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let record = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async |conn: &mut AsyncPgConnection| read(conn, clinic_id, client_id, parts).await)
        .await?
        .ok_or_else(|| ApiError::not_found("client"))?;
    let bundle = map::bundle(&record, Uuid::now_v7(), Utc::now());
    let body = serde_json::to_vec(&bundle).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(MEDIA_TYPE)
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

/// Export a client's record as FHIR R4
///
/// The client's record as an HL7 FHIR R4 `collection` Bundle (`application/fhir+json`):
/// Patient, Practitioner, a CarePlan per assignment with a ServiceRequest per item,
/// PlanDefinition and ActivityDefinition for routines and exercises, a Procedure per session
/// log with Observations for pain and measurements, QuestionnaireResponses with score
/// Observations, and a Flag per open flag. Every entry's `fullUrl` is `urn:uuid:<id>` with
/// Rehabit's id, stable across exports. The mapping is in docs/fhir.md. Needs `clients:read`
/// (`data:export` besides covers every part); otherwise parts the caller cannot read through their own endpoints are left out
/// (CarePlan/ServiceRequest `assignments:read`, PlanDefinition also `routines:read`;
/// Procedure, Observation, Flag `sessions:read`; QuestionnaireResponse `outcomes:read`;
/// Practitioner `practitioners:read`). A client's login may fetch its own.
#[utoipa::path(
    tag = "stewardship",
    operation_id = "export_client_fhir",
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, description = "A FHIR R4 collection Bundle", content_type = "application/fhir+json", body = Object),
        (status = 403, description = "The caller may not read clients", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in this clinic (or erased)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"]))
)]
#[get("/v1/clients/{id}/fhir")]
pub async fn export_client_fhir(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let parts = Parts::for_caller(&caller, *id)?;
    bundle_response(&state, caller.clinic_id, *id, parts).await
}

fn definition(found: Option<serde_json::Value>, what: &str) -> Result<HttpResponse, ApiError> {
    let v = found.ok_or_else(|| ApiError::not_found(what))?;
    let body = serde_json::to_vec(&v).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(MEDIA_TYPE)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(body))
}

/// Get a Rehabit FHIR CodeSystem
///
/// Rehabit's own codes as a FHIR R4 CodeSystem, by the last segment of its canonical URL
/// (`https://rehabit.dev/fhir/CodeSystem/rehabit` → `rehabit`). Public: no client's data.
#[utoipa::path(
    tag = "fhir",
    operation_id = "get_fhir_code_system",
    params(("id" = String, Path, description = "The last path segment of the canonical URL", example = "rehabit")),
    responses(
        (status = 200, description = "The CodeSystem", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such CodeSystem", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/fhir/CodeSystem/{id}")]
pub async fn get_fhir_code_system(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    definition(definitions::code_system_by_id(&id), "CodeSystem")
}

/// Get a Rehabit FHIR StructureDefinition
///
/// The definition of one of Rehabit's FHIR extensions (`dosage`, `laterality`), by the last
/// segment of its canonical URL. Public: no client's data.
#[utoipa::path(
    tag = "fhir",
    operation_id = "get_fhir_structure_definition",
    params(("id" = String, Path, description = "The last path segment of the canonical URL", example = "dosage")),
    responses(
        (status = 200, description = "The StructureDefinition", content_type = "application/fhir+json", body = Object),
        (status = 404, description = "No such StructureDefinition", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/v1/fhir/StructureDefinition/{id}")]
pub async fn get_fhir_structure_definition(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    definition(definitions::structure_definition_by_id(&id), "StructureDefinition")
}
