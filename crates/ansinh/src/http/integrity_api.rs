//! JSON API of the integrity checks and their review queue (`/api/v1/integrity/…`).
//! Thin: parse → service → JSON.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::api::{respond, ErrorBody};
use crate::http::extract::{ApiJson, Req};
use crate::services::integrity::{self as integ, ResolveInput};
use crate::services::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/integrity/runs", post(run_checks))
        .route("/api/v1/integrity/cases", get(cases_list))
        .route("/api/v1/integrity/cases/{id}", get(case_detail))
        .route("/api/v1/integrity/cases/{id}/assign", post(case_assign))
        .route("/api/v1/integrity/cases/{id}/resolve", post(case_resolve))
        .route("/api/v1/integrity/stats", get(stats))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CasesQuery {
    /// paid_twice, duplicate, deceased_paid, implausible_age, shared_account,
    /// id_inconsistent, incompatible_benefits, age_lapsed, uncollected
    pub check: Option<String>,
    /// open, confirmed, false_positive
    pub status: Option<String>,
    /// 5-digit commune code
    pub commune: Option<String>,
    pub assigned_to: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl CasesQuery {
    pub fn query(&self) -> store::integrity::CaseQuery {
        let f = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        store::integrity::CaseQuery {
            check_code: f(&self.check),
            status: f(&self.status),
            commune: f(&self.commune),
            assigned_to: f(&self.assigned_to),
            communes: None,
        }
    }
}

/// Run every integrity check over the registry and the payments; new findings open cases.
#[utoipa::path(post, path = "/api/v1/integrity/runs", tag = "integrity",
    responses((status = 201, description = "{run_id, found (per check), new_cases, persons, candidate_pairs, seconds}"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn run_checks(State(state): State<AppState>, req: Req) -> Response {
    match integ::run(&state.store, &req.ctx, chrono::Utc::now().date_naive()).await {
        Ok(r) => (StatusCode::CREATED, Json(r)).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// The review queue within the caller's area: open cases first, the most serious first.
#[utoipa::path(get, path = "/api/v1/integrity/cases", tag = "integrity", params(CasesQuery),
    responses((status = 200, description = "{items, total, page, per_page} of cases"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cases_list(State(state): State<AppState>, req: Req, Query(q): Query<CasesQuery>) -> Response {
    let page = store::Page::new(q.page, q.per_page);
    respond(&req, integ::cases(&state.store, &req.ctx, q.query(), page).await)
}

/// One case with its evidence side by side (the two records, their latest payments, the
/// match explanation); the read is recorded in the audit trail.
#[utoipa::path(get, path = "/api/v1/integrity/cases/{id}", tag = "integrity", params(("id" = i64, Path)),
    responses((status = 200, description = "{case, evidence, a, b, recoveries, suggested_recovery}"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn case_detail(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, integ::case(&state.store, &req.ctx, id).await)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignBody {
    /// Username of the officer who verifies the case.
    pub assigned_to: String,
}

/// Assign an open case to an officer.
#[utoipa::path(post, path = "/api/v1/integrity/cases/{id}/assign", tag = "integrity", params(("id" = i64, Path)), request_body = AssignBody,
    responses((status = 200, description = "{assigned_to}"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn case_assign(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Response {
    respond(
        &req,
        integ::assign(&state.store, &req.ctx, id, &body.assigned_to)
            .await
            .map(|()| serde_json::json!({ "assigned_to": body.assigned_to.trim() })),
    )
}

/// Resolve an open case: `confirmed` suspends the payments of a record (a hold) and opens
/// a recovery; `false_positive` closes it, and for a pair marks the two records as
/// different people, never flagged again.
#[utoipa::path(post, path = "/api/v1/integrity/cases/{id}/resolve", tag = "integrity", params(("id" = i64, Path)), request_body = ResolveInput,
    responses((status = 200, description = "{status}"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn case_resolve(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ResolveInput>,
) -> Response {
    respond(
        &req,
        integ::resolve(&state.store, &req.ctx, id, &body).await.map(|()| serde_json::json!({ "status": body.outcome })),
    )
}

/// Open, confirmed and false-positive cases per check and commune (within the caller's area).
#[utoipa::path(get, path = "/api/v1/integrity/stats", tag = "integrity",
    responses((status = 200, description = "[{check_code, commune_code, open, confirmed, false_positive}]"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn stats(State(state): State<AppState>, req: Req) -> Response {
    respond(&req, integ::stats(&state.store, &req.ctx).await)
}
