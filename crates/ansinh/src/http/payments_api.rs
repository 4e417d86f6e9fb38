//! JSON API of the payment cycles (`/api/v1/payments/…`). Thin: parse → service → JSON.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;
use crate::http::api::{respond, ErrorBody};
use crate::http::extract::{ApiJson, Req};
use crate::services::payments as pay;
use crate::services::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payments/cycles", get(cycles_list).post(cycle_create))
        .route("/api/v1/payments/cycles/{id}", get(cycle_detail))
        .route("/api/v1/payments/cycles/{id}/generate", post(cycle_generate))
        .route("/api/v1/payments/cycles/{id}/check", post(cycle_check))
        .route("/api/v1/payments/cycles/{id}/approve", post(cycle_approve))
        .route("/api/v1/payments/cycles/{id}/export", post(cycle_export))
        .route("/api/v1/payments/cycles/{id}/close", post(cycle_close))
        .route("/api/v1/payments/cycles/{id}/lines", get(cycle_lines))
        .route("/api/v1/payments/cycles/{id}/lines/{line}", get(cycle_line_explain))
        .route("/api/v1/payments/cycles/{id}/bank-file", get(cycle_bank_file))
        .route("/api/v1/payments/cycles/{id}/results", post(cycle_results))
        .route("/api/v1/payments/holds", get(holds_list).post(hold_create))
        .route("/api/v1/payments/holds/{id}/release", post(hold_release))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Payment cycles, newest month first.
#[utoipa::path(get, path = "/api/v1/payments/cycles", tag = "payments", params(PageQuery),
    responses((status = 200, description = "{items, total, page, per_page} of cycles"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycles_list(State(state): State<AppState>, req: Req, Query(q): Query<PageQuery>) -> Response {
    respond(&req, pay::list(&state.store, &req.ctx, store::Page::new(q.page, q.per_page)).await)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCycle {
    /// yyyy-mm
    pub month: String,
    /// An ad-hoc cycle (one-offs and arrears only).
    #[serde(default)]
    pub adhoc: bool,
}

/// Create a month's cycle (or an ad-hoc one) and compute its lines: a draft.
#[utoipa::path(post, path = "/api/v1/payments/cycles", tag = "payments", request_body = CreateCycle,
    responses((status = 201, body = pay::GenerateReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_create(State(state): State<AppState>, req: Req, ApiJson(body): ApiJson<CreateCycle>) -> Response {
    // authorized before the body is looked at (as the service does again)
    if let Err(e) = req.ctx.require(crate::services::authz::perm::PAYMENTS_PREPARE) {
        return req.api_error(e);
    }
    let month = match body.month.parse::<domain::Month>() {
        Ok(m) => m,
        Err(e) => return req.api_error(AppError::field("month", e.vi(), e.to_string())),
    };
    let r = async {
        let c = pay::create(&state.store, &req.ctx, month, body.adhoc).await?;
        pay::generate(&state.store, &state.packs, &state.pack_source, &req.ctx, c.id).await
    }
    .await;
    match r {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// A cycle with its sums (by commune, item, funding source, method, status, result) and the
/// beneficiaries who have not collected for three cycles — within the caller's area.
#[utoipa::path(get, path = "/api/v1/payments/cycles/{id}", tag = "payments", params(("id" = i64, Path)),
    responses((status = 200, body = pay::CycleDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_detail(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pay::detail(&state.store, &req.ctx, id).await)
}

/// Recompute a draft (or checked: it returns to draft) from the registry.
#[utoipa::path(post, path = "/api/v1/payments/cycles/{id}/generate", tag = "payments", params(("id" = i64, Path)),
    responses((status = 200, body = pay::GenerateReport), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_generate(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pay::generate(&state.store, &state.packs, &state.pack_source, &req.ctx, id).await)
}

/// Check a draft (a second officer; not its maker).
#[utoipa::path(post, path = "/api/v1/payments/cycles/{id}/check", tag = "payments", params(("id" = i64, Path)),
    responses((status = 200, description = "the cycle"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_check(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pay::check(&state.store, &req.ctx, id).await)
}

/// Approve a checked cycle (head of department; neither its maker nor its checker).
#[utoipa::path(post, path = "/api/v1/payments/cycles/{id}/approve", tag = "payments", params(("id" = i64, Path)),
    responses((status = 200, description = "the cycle, with its digest"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_approve(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pay::approve(&state.store, &req.ctx, id).await)
}

/// Mark an approved cycle's files as handed over.
#[utoipa::path(post, path = "/api/v1/payments/cycles/{id}/export", tag = "payments", params(("id" = i64, Path)),
    responses((status = 200, description = "the cycle"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_export(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pay::export(&state.store, &req.ctx, id).await)
}

/// Close a reconciled cycle.
#[utoipa::path(post, path = "/api/v1/payments/cycles/{id}/close", tag = "payments", params(("id" = i64, Path)),
    responses((status = 200, description = "the cycle"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_close(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pay::close(&state.store, &req.ctx, id).await)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinesQuery {
    pub commune: Option<String>,
    /// pay | held | stopped | recovery
    pub status: Option<String>,
    /// cash | bank
    pub method: Option<String>,
    /// paid | failed | returned | none
    pub result: Option<String>,
    /// Personal ID or the start of the name.
    pub q: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl LinesQuery {
    pub fn to_query(&self) -> store::payments::LineQuery {
        let f = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        store::payments::LineQuery {
            communes: None,
            commune: f(&self.commune),
            status: f(&self.status),
            method: f(&self.method),
            result: f(&self.result),
            q: f(&self.q),
        }
    }
}

/// A page of lines with their items (bank accounts masked unless the caller may see
/// sensitive data; such reads are audited).
#[utoipa::path(get, path = "/api/v1/payments/cycles/{id}/lines", tag = "payments", params(("id" = i64, Path), LinesQuery),
    responses((status = 200, description = "{items: [{line, items}], total, page, per_page}"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_lines(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    Query(q): Query<LinesQuery>,
) -> Response {
    respond(&req, pay::lines(&state.store, &req.ctx, id, q.to_query(), store::Page::new(q.page, q.per_page)).await)
}

/// One line with its items and, for each month they are for, the rules' explanation from the
/// facts and pack text frozen with the cycle (sensitive: audited).
#[utoipa::path(get, path = "/api/v1/payments/cycles/{id}/lines/{line}", tag = "payments",
    params(("id" = i64, Path), ("line" = i64, Path)),
    responses((status = 200, body = pay::LineExplanation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_line_explain(
    State(state): State<AppState>,
    req: Req,
    Path((id, line)): Path<(i64, i64)>,
) -> Response {
    respond(&req, pay::explain_line(&state.store, &req.ctx, id, line).await)
}

/// The bank transfer file (CSV: account_no, bank, amount, reference, …). Sensitive: audited.
#[utoipa::path(get, path = "/api/v1/payments/cycles/{id}/bank-file", tag = "payments", params(("id" = i64, Path)),
    responses((status = 200, description = "text/csv"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_bank_file(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match pay::bank_file(&state.store, &req.ctx, id).await {
        Ok((bytes, _, _)) => csv_response(bytes, &format!("cycle-{id}-bank.csv")),
        Err(e) => req.api_error(e),
    }
}

pub fn csv_response(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}

/// Record the post office's or bank's results (the CSV file as the body): every row or
/// none. 422 with the problems by row and column when nothing was recorded.
#[utoipa::path(post, path = "/api/v1/payments/cycles/{id}/results", tag = "payments", params(("id" = i64, Path)),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = pay::ReconcileReport), (status = 422, body = pay::ReconcileReport), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn cycle_results(State(state): State<AppState>, req: Req, Path(id): Path<i64>, body: Bytes) -> Response {
    match pay::reconcile(&state.store, &req.ctx, id, &body).await {
        Ok(r) if r.errors.is_empty() => Json(r).into_response(),
        Ok(r) => (StatusCode::UNPROCESSABLE_ENTITY, Json(r)).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Suspensions of payments within the caller's area (open first).
#[utoipa::path(get, path = "/api/v1/payments/holds", tag = "payments",
    responses((status = 200, description = "holds"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn holds_list(State(state): State<AppState>, req: Req) -> Response {
    respond(&req, pay::holds(&state.store, &req.ctx).await)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateHold {
    pub personal_id: String,
    pub reason: String,
}

/// Suspend a person's payments (their lines are held until released).
#[utoipa::path(post, path = "/api/v1/payments/holds", tag = "payments", request_body = CreateHold,
    responses((status = 201, description = "{id}"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn hold_create(State(state): State<AppState>, req: Req, ApiJson(body): ApiJson<CreateHold>) -> Response {
    match pay::hold(&state.store, &req.ctx, &body.personal_id, &body.reason).await {
        Ok(id) => (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Release a hold: the person's next cycle pays what was held, as arrears.
#[utoipa::path(post, path = "/api/v1/payments/holds/{id}/release", tag = "payments", params(("id" = i64, Path)),
    responses((status = 200, description = "{released: true}"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn hold_release(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, pay::release(&state.store, &req.ctx, id).await.map(|()| serde_json::json!({ "released": true })))
}
