//! The JSON API of plan monitoring (`/api/v1/plans/…`, `/api/v1/plan-reports/…`): plans and
//! their import, the dashboard, an indicator by commune, and agencies' reports (open, save,
//! submit, accept or return). Thin: parse → service → JSON.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::api::{respond, ErrorBody};
use crate::http::extract::{ApiJson, Req};
use crate::services::plans::{self as pl, ReportInput};
use crate::services::AppState;

fn today() -> chrono::NaiveDate {
    pl::today_vn()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/plans", get(plans_list).post(plan_import))
        .route("/api/v1/plans/{id}", get(plan_detail))
        .route("/api/v1/plans/{id}/dashboard", get(plan_dashboard))
        .route("/api/v1/plans/{id}/indicators/{code}", get(plan_indicator))
        .route("/api/v1/plans/{id}/reports", get(reports_list).post(report_create))
        .route("/api/v1/plans/{id}/periods/{period}/close", post(period_close))
        .route("/api/v1/plan-reports/{id}", get(report_detail).put(report_save))
        .route("/api/v1/plan-reports/{id}/submit", post(report_submit))
        .route("/api/v1/plan-reports/{id}/decision", post(report_decide))
}

/// The plans.
#[utoipa::path(get, path = "/api/v1/plans", tag = "plans",
    responses((status = 200, description = "[{id, number, title, issued_on, issuer, period_from, period_to, owner_agency, …}]"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn plans_list(State(state): State<AppState>, req: Req) -> Response {
    respond(&req, pl::plans(&state.store, &req.ctx).await)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// check only, import nothing
    pub dry_run: Option<bool>,
}

/// Import a plan from the template (the body is the TOML or XLSX file). Every error names its
/// place and field; nothing is written unless the whole file is valid.
#[utoipa::path(post, path = "/api/v1/plans", tag = "plans", params(ImportQuery),
    request_body(content = String, description = "the plan file (TOML text or XLSX bytes)", content_type = "application/octet-stream"),
    responses((status = 201, description = "{id, tasks, indicators} (id 0 for a dry run)"), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn plan_import(
    State(state): State<AppState>,
    req: Req,
    Query(q): Query<ImportQuery>,
    body: Bytes,
) -> Response {
    match pl::import(&state.store, &state.gazetteer, &req.ctx, &state.province_code, &body, q.dry_run.unwrap_or(false))
        .await
    {
        Ok((id, tasks, indicators)) => {
            let status = if id > 0 { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(serde_json::json!({ "id": id, "tasks": tasks, "indicators": indicators }))).into_response()
        }
        Err(e) => req.api_error(e),
    }
}

/// A plan: sections, tasks with their status today (Government categories), lead agencies
/// over time, indicators.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "plans", params(("id" = i64, Path)),
    responses((status = 200, description = "{plan, today, agencies, sections, tasks, indicators, report_kinds, closed}"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn plan_detail(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pl::plan(&state.store, &req.ctx, id, today()).await)
}

/// The leader's dashboard: tasks by status, overdue tasks by lead agency with the ranking,
/// deadline warnings, the indicators' scorecard (target, actual, light, series) and
/// reporting completeness per agency and period — the figures of the exported report.
#[utoipa::path(get, path = "/api/v1/plans/{id}/dashboard", tag = "plans", params(("id" = i64, Path)),
    responses((status = 200, description = "{view, status_counts, by_agency, due_soon, overdue, scorecard, periods, completeness}"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn plan_dashboard(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pl::dashboard(&state.store, &state.computed, &req.ctx, id, today(), &state.province_code).await)
}

/// One indicator for the province and each commune, with the pre-2025 units' values mapped
/// to their successors.
#[utoipa::path(get, path = "/api/v1/plans/{id}/indicators/{code}", tag = "plans", params(("id" = i64, Path), ("code" = String, Path)),
    responses((status = 200, description = "{indicator, unit, province, communes: [{code, name, target, actual, period, light, before_reform, comparable}]}"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn plan_indicator(
    State(state): State<AppState>,
    req: Req,
    Path((id, code)): Path<(i64, String)>,
) -> Response {
    respond(
        &req,
        pl::indicator_drill(
            &state.store,
            &state.computed,
            &state.gazetteer,
            &req.ctx,
            id,
            &code,
            today(),
            &state.province_code,
        )
        .await,
    )
}

/// The reports the caller may see (an agency reporter: the own agency's).
#[utoipa::path(get, path = "/api/v1/plans/{id}/reports", tag = "plans", params(("id" = i64, Path)),
    responses((status = 200, description = "[{id, agency_code, period, window_from, window_to, due_on, status, revision, first_submitted_at, …}]"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn reports_list(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pl::reports(&state.store, &req.ctx, id).await)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateReport {
    /// `2026-H1` (six-monthly), `2026` (annual), `2026-Q3`, `2026-06`
    pub period: String,
}

/// Open a report of the caller's agency for a period (refused for a closed or future period).
#[utoipa::path(post, path = "/api/v1/plans/{id}/reports", tag = "plans", params(("id" = i64, Path)), request_body = CreateReport,
    responses((status = 201, description = "{id}"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn report_create(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<CreateReport>,
) -> Response {
    match pl::create_report(&state.store, &req.ctx, id, &body.period, None, today()).await {
        Ok(rid) => (StatusCode::CREATED, Json(serde_json::json!({ "id": rid }))).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Close a report period (the plan owner): no report is opened, changed or submitted for it.
#[utoipa::path(post, path = "/api/v1/plans/{id}/periods/{period}/close", tag = "plans", params(("id" = i64, Path), ("period" = String, Path)),
    responses((status = 200, description = "{closed: true | false (already closed)}"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn period_close(
    State(state): State<AppState>,
    req: Req,
    Path((id, period)): Path<(i64, String)>,
) -> Response {
    respond(
        &req,
        pl::close_period(&state.store, &req.ctx, id, &period, today())
            .await
            .map(|c| serde_json::json!({ "closed": c })),
    )
}

/// A report with its tasks, values and history (every step with what the report held then).
#[utoipa::path(get, path = "/api/v1/plan-reports/{id}", tag = "plans", params(("id" = i64, Path)),
    responses((status = 200, description = "{report, plan, tasks, indicators, events, can_edit, can_decide, closed}"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn report_detail(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pl::report(&state.store, &req.ctx, id, today()).await)
}

/// Save a draft or returned report (all of its content; every bad entry is named and
/// nothing is saved unless all are good).
#[utoipa::path(put, path = "/api/v1/plan-reports/{id}", tag = "plans", params(("id" = i64, Path)), request_body = ReportInput,
    responses((status = 200, description = "{saved: true}"), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn report_save(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ReportInput>,
) -> Response {
    respond(
        &req,
        pl::save_report(&state.store, &state.gazetteer, &req.ctx, id, &body, today(), &state.province_code)
            .await
            .map(|()| serde_json::json!({ "saved": true })),
    )
}

/// Submit a report to the plan owner.
#[utoipa::path(post, path = "/api/v1/plan-reports/{id}/submit", tag = "plans", params(("id" = i64, Path)),
    responses((status = 200, description = "{status: submitted}"), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn report_submit(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(
        &req,
        pl::submit_report(&state.store, &req.ctx, id, today(), None)
            .await
            .map(|()| serde_json::json!({ "status": "submitted" })),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DecisionBody {
    /// `accept` (locks the report) or `return`
    pub decision: String,
    /// required to return
    #[serde(default)]
    pub comment: String,
}

/// The plan owner accepts (locks) or returns a submitted report.
#[utoipa::path(post, path = "/api/v1/plan-reports/{id}/decision", tag = "plans", params(("id" = i64, Path)), request_body = DecisionBody,
    responses((status = 200, description = "{status: accepted | returned}"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn report_decide(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Response {
    let accept = match body.decision.trim() {
        "accept" => true,
        "return" => false,
        other => {
            return req.api_error(crate::error::AppError::field(
                "decision",
                format!("{other:?}: phải là accept hoặc return"),
                format!("{other:?}: must be accept or return"),
            ))
        }
    };
    let status = if accept { "accepted" } else { "returned" };
    respond(
        &req,
        pl::decide_report(&state.store, &req.ctx, id, accept, &body.comment, today(), None)
            .await
            .map(|()| serde_json::json!({ "status": status })),
    )
}
