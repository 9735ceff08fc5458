use crate::assignments::dto::AssignmentItemResponse;
use crate::assignments::handlers::responses as assignment_responses;
use crate::assignments::queries as assignment_queries;
use crate::audit::note as audit;
use crate::auth::{Caller, Permission};
use crate::clients::queries as client_queries;
use crate::clinics::queries as clinic_queries;
use crate::error::{ApiError, Problem};
use crate::handouts::content::{self, ExerciseText, Handout, ItemText};
use crate::handouts::{Format, HandoutQuery, PdfDocument, html, pdf, queries};
use crate::routines::dto::RoutineItemResponse;
use crate::routines::queries as routine_queries;
use crate::state::AppState;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::Utc;
use uuid::Uuid;

/// Whether the answer is a PDF: `format` wins; without it, an `Accept` that names
/// `application/pdf` (with a weight above 0, and not below `text/html`'s) asks for one.
fn wants_pdf(format: Option<Format>, headers: &HeaderMap) -> bool {
    if let Some(f) = format {
        return f == Format::Pdf;
    }
    let weight = |wanted: &str| -> f32 {
        headers
            .get_all(header::ACCEPT)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next()?;
                if !media.eq_ignore_ascii_case(wanted) {
                    return None;
                }
                let q = parts
                    .find_map(|p| p.strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some(q)
            })
            .fold(0.0, f32::max)
    };
    let pdf = weight("application/pdf");
    pdf > 0.0 && pdf >= weight("text/html")
}

/// A file name for the PDF: the title's letters and digits, joined by dashes.
fn file_name(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        "handout.pdf".to_string()
    } else {
        format!("{}.pdf", words.join("-"))
    }
}

/// Draws the handout in the asked-for format.
async fn answer(handout: Handout, query: &HandoutQuery, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let paper = query.paper.unwrap_or_default();
    let mut res = HttpResponse::Ok();
    res.insert_header((header::VARY, "Accept"));
    if !wants_pdf(query.format, req.headers()) {
        return Ok(res
            .content_type("text/html; charset=utf-8")
            .body(html::render(&handout, paper)));
    }
    let name = file_name(&handout.title);
    // Laying out and subsetting fonts is CPU work: keep it off the async executor.
    let bytes = web::block(move || pdf::render(&handout, paper))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(res
        .content_type("application/pdf")
        .insert_header((header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\"")))
        .body(bytes))
}

fn assignment_item(item: AssignmentItemResponse) -> ItemText {
    let x = item.exercise;
    ItemText {
        exercise: ExerciseText {
            id: x.id,
            name: x.name,
            summary: x.summary,
            steps: x.instructions,
            cautions: x.cautions,
            media: x.media,
        },
        sets: item.sets,
        reps: item.reps,
        hold_seconds: item.hold_seconds,
        duration_seconds: item.duration_seconds,
        rest_seconds: item.rest_seconds,
        side: item.side,
        notes: item.notes,
    }
}

/// Get a homework handout
///
/// The client's homework as a printable handout: clinic, client, practitioner, the schedule in
/// words, then per exercise its steps, the dosage per side, cautions and media links with QR
/// codes. `text/html` by default; a PDF with `?format=pdf` or `Accept: application/pdf`
/// (`format` wins). Staff with `assignments:read` read any of the clinic's; a client reads their
/// own (another client's is 404).
#[utoipa::path(
    tag = "assignments",
    operation_id = "get_assignment_handout",
    params(("id" = Uuid, Path, description = "The assignment's id"), HandoutQuery),
    responses(
        (status = 200, description = "The handout, as a web page or a PDF",
            content(
                (String = "text/html", example = "<!DOCTYPE html>…"),
                (PdfDocument = "application/pdf"),
            ),
            headers(("Vary" = String, description = "`Accept`: the format may follow it"))),
        (status = 404, description = "No such assignment visible to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`format` or `paper` is not one of its values", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["assignments:read"]))
)]
#[get("/v1/assignments/{id}/handout")]
pub async fn get_assignment_handout(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<HandoutQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let row = assignment_queries::find(&mut conn, caller.clinic_id, *id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("assignment"))?;
    caller.require_client_access(row.client_id, Permission::AssignmentsRead, "assignment")?;
    audit::client(row.client_id);
    let (client, tz) = client_queries::find_with_tz(&mut conn, caller.clinic_id, row.client_id).await?;
    let practitioner = match row.assigned_by.or(client.primary_practitioner_id) {
        Some(p) => queries::member_name(&mut conn, caller.clinic_id, p).await?,
        None => None,
    };
    let clinic = clinic_queries::find(&mut conn, caller.clinic_id).await?;
    let a = assignment_responses(&mut conn, caller.clinic_id, vec![row])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("assignment vanished"))?;
    let today = crate::assignments::schedule::local_date(Utc::now(), tz);
    let handout = Handout {
        schedule: Some(content::schedule_words(&a.schedule, today)),
        title: a.name,
        clinic: clinic.name,
        client: Some(client.name),
        practitioner,
        intro: a.instructions,
        exercises: content::blocks(a.items.into_iter().map(assignment_item).collect()),
    };
    answer(handout, &query, &req).await
}

/// Get a routine's handout
///
/// A routine template as a printable handout to fill in by hand (client, practitioner and
/// schedule are left blank): per exercise its steps, the dosage per side, cautions and media
/// links with QR codes. Formats and paper as for an assignment's handout.
#[utoipa::path(
    tag = "routines",
    operation_id = "get_routine_handout",
    params(("id" = Uuid, Path, description = "The routine's id"), HandoutQuery),
    responses(
        (status = 200, description = "The handout, as a web page or a PDF",
            content(
                (String = "text/html", example = "<!DOCTYPE html>…"),
                (PdfDocument = "application/pdf"),
            ),
            headers(("Vary" = String, description = "`Accept`: the format may follow it"))),
        (status = 404, description = "No such routine in this clinic", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`format` or `paper` is not one of its values", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["routines:read"]))
)]
#[get("/v1/routines/{id}/handout")]
pub async fn get_routine_handout(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<HandoutQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(Permission::RoutinesRead)?;
    let mut conn = state.conn().await?;
    let routine = routine_queries::find_visible(&mut conn, caller.clinic_id, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("routine"))?
        .into_response()?;
    let ids: Vec<Uuid> = routine.items.iter().map(|i| i.exercise_id).collect();
    let texts = queries::exercise_texts(&mut conn, &ids).await?;
    let clinic = clinic_queries::find(&mut conn, caller.clinic_id).await?;
    let items = routine
        .items
        .into_iter()
        .map(|i: RoutineItemResponse| {
            let exercise = texts
                .get(&i.exercise_id)
                .cloned()
                .ok_or_else(|| ApiError::internal("a routine's exercise vanished"))?;
            Ok(ItemText {
                exercise,
                sets: i.sets,
                reps: i.reps,
                hold_seconds: i.hold_seconds,
                duration_seconds: i.duration_seconds,
                rest_seconds: i.rest_seconds,
                side: i.side,
                notes: i.notes,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let handout = Handout {
        title: routine.name,
        clinic: clinic.name,
        client: None,
        practitioner: None,
        schedule: None,
        intro: routine.description,
        exercises: content::blocks(items),
    };
    answer(handout, &query, &req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn format_wins_over_accept() {
        assert!(wants_pdf(None, &accept("application/pdf")));
        assert!(!wants_pdf(Some(Format::Html), &accept("application/pdf")));
        assert!(wants_pdf(Some(Format::Pdf), &accept("text/html")));
        assert!(!wants_pdf(None, &accept("text/html,application/xhtml+xml,*/*;q=0.8")));
        assert!(!wants_pdf(None, &accept("text/html, application/pdf;q=0.5")));
        assert!(!wants_pdf(None, &accept("application/pdf;q=0")));
        assert!(!wants_pdf(None, &HeaderMap::new()));
        assert_eq!(file_name("Hip mobility"), "hip-mobility.pdf");
        assert_eq!(file_name("Ελένη"), "handout.pdf");
    }
}
