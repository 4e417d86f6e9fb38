//! JSON API of complaints: officers' intake, list, case and steps; the citizen portal's filing,
//! tracking by code and rating (anonymous, throttled per address); the satisfaction index.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::AppError;
use crate::http::api::{respond, ErrorBody};
use crate::http::extract::{ApiJson, Req};
use crate::services::complaints::{self as cm, FileInput, StepInput};
use crate::services::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/complaints", get(complaints_list).post(complaint_file))
        .route("/api/v1/complaints/{id}", get(complaint_detail))
        .route("/api/v1/complaints/{id}/steps", post(complaint_step))
        .route("/api/v1/satisfaction", get(satisfaction))
        .route("/api/v1/portal/complaints", post(portal_file))
        .route("/api/v1/portal/track/{code}", get(portal_track))
        .route("/api/v1/portal/track/{code}/rating", post(portal_rate))
        .route("/api/v1/portal/track/{code}/second-instance", post(portal_second_instance))
        .route("/api/v1/portal/postings/{commune}", get(portal_posting))
        .route("/api/v1/complaints/{id}/attachments", post(attachments_add))
        .route("/api/v1/complaints/{id}/attachments/{file}", get(attachment_get))
        .route("/api/v1/persons/{id}/lookup-code", post(lookup_code))
        .route("/api/v1/portal/lookup/sms", post(lookup_sms))
        .route("/api/v1/portal/lookup", post(lookup_identify))
        .route("/api/v1/portal/me", get(citizen_me))
        .route("/api/v1/portal/me/payments/{line}/rating", post(citizen_rate))
}

/// The key under which an address's portal actions are throttled.
pub fn portal_key(req: &Req) -> String {
    format!("portal:{}", req.ctx.ip.clone().unwrap_or_default())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// received, accepted, refused, verifying, decided, notified, closed
    pub status: Option<String>,
}

/// Cases within the caller's area, the least time left first (a denouncer's identity hidden
/// from all but the handling officer and inspectors).
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", params(ListQuery),
    responses((status = 200, description = "[{case, due, days_left, light, identity_hidden}]"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn complaints_list(State(state): State<AppState>, req: Req, Query(q): Query<ListQuery>) -> Response {
    respond(&req, cm::list(&state.store, &req.ctx, q.status.as_deref()).await)
}

/// Record a case received at citizen reception, by letter or by phone.
#[utoipa::path(post, path = "/api/v1/complaints", tag = "complaints", request_body = FileInput,
    responses((status = 201, description = "the case, with its tracking code and acceptance deadline"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn complaint_file(State(state): State<AppState>, req: Req, ApiJson(body): ApiJson<FileInput>) -> Response {
    match cm::file(&state.store, &state.gazetteer, &req.ctx, &state.province_code, &body, false, Vec::new()).await {
        Ok(c) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// One case with its history.
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "complaints", params(("id" = i64, Path)),
    responses((status = 200, description = "[case view, events]"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn complaint_detail(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, cm::case(&state.store, &req.ctx, id).await)
}

/// A workflow step: accept (the resolution deadline is computed), refuse, verify, decide,
/// notify, close.
#[utoipa::path(post, path = "/api/v1/complaints/{id}/steps", tag = "complaints", params(("id" = i64, Path)), request_body = StepInput,
    responses((status = 200, description = "the case after the step"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn complaint_step(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<StepInput>,
) -> Response {
    let r = async {
        cm::step(&state.store, &req.ctx, id, &body).await?;
        cm::case(&state.store, &req.ctx, id).await.map(|(v, _)| v)
    }
    .await;
    respond(&req, r)
}

/// The satisfaction index: mean score (1–5, thousandths) and ratings per agency and commune.
#[utoipa::path(get, path = "/api/v1/satisfaction", tag = "complaints",
    responses((status = 200, description = "[{agency_code, commune_code, ratings, mean_milli}]"), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn satisfaction(State(state): State<AppState>, req: Req) -> Response {
    respond(&req, cm::satisfaction_index(&state.store, &req.ctx).await)
}

/// File a complaint, denunciation or petition from the citizen portal (no login; throttled per
/// address). Keep the tracking code.
#[utoipa::path(post, path = "/api/v1/portal/complaints", tag = "portal", request_body = FileInput,
    responses((status = 201, description = "{tracking_code, acceptance_due, late_note}"), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn portal_file(State(state): State<AppState>, req: Req, ApiJson(body): ApiJson<FileInput>) -> Response {
    let key = portal_key(&req);
    if state.throttle.is_throttled(&key) {
        return req.api_error(AppError::Throttled);
    }
    state.throttle.record_failure(&key);
    match cm::file(&state.store, &state.gazetteer, &req.ctx, &state.province_code, &body, true, Vec::new()).await {
        Ok(c) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"tracking_code": c.tracking_code, "acceptance_due": c.acceptance_due, "late_note": c.late_note})),
        )
            .into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Follow a case by its tracking code (a wrong code is counted against the address).
#[utoipa::path(get, path = "/api/v1/portal/track/{code}", tag = "portal", params(("code" = String, Path)),
    responses((status = 200, body = cm::Tracking), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn portal_track(State(state): State<AppState>, req: Req, Path(code): Path<String>) -> Response {
    let key = portal_key(&req);
    if state.throttle.is_throttled(&key) {
        return req.api_error(AppError::Throttled);
    }
    match cm::track(&state.store, &code).await {
        Ok(t) => Json(t).into_response(),
        Err(e) => {
            state.throttle.record_failure(&key);
            req.api_error(e)
        }
    }
}

/// The public posting (niêm yết) of a commune's social-assistance beneficiaries: name, birth
/// year, group, decision — nothing sensitive.
#[utoipa::path(get, path = "/api/v1/portal/postings/{commune}", tag = "portal", params(("commune" = String, Path)),
    responses((status = 200, body = [cm::PostedBeneficiary]), (status = 400, body = ErrorBody)))]
pub async fn portal_posting(State(state): State<AppState>, req: Req, Path(commune): Path<String>) -> Response {
    respond(&req, cm::posting(&state.store, &state.gazetteer, &state.province_code, &commune).await)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SecondInstanceBody {
    /// why the complainant disagrees with the first-instance decision
    pub reason: String,
}

/// Complain to the next level about a first-instance decision (rejected or partly upheld): a
/// new case with its own tracking code, handled at the province.
#[utoipa::path(post, path = "/api/v1/portal/track/{code}/second-instance", tag = "portal", params(("code" = String, Path)), request_body = SecondInstanceBody,
    responses((status = 201, description = "{tracking_code, acceptance_due, late_note}"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn portal_second_instance(
    State(state): State<AppState>,
    req: Req,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<SecondInstanceBody>,
) -> Response {
    let key = portal_key(&req);
    if state.throttle.is_throttled(&key) {
        return req.api_error(AppError::Throttled);
    }
    state.throttle.record_failure(&key);
    match cm::second_instance(&state.store, &req.ctx, &code, &body.reason).await {
        Ok(c) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"tracking_code": c.tracking_code, "acceptance_due": c.acceptance_due, "late_note": c.late_note})),
        )
            .into_response(),
        Err(e) => req.api_error(e),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RatingBody {
    /// 1 (very dissatisfied) … 5 (very satisfied)
    pub score: i64,
    #[serde(default)]
    pub comment: String,
}

/// Rate a closed case, once.
#[utoipa::path(post, path = "/api/v1/portal/track/{code}/rating", tag = "portal", params(("code" = String, Path)), request_body = RatingBody,
    responses((status = 200, description = "{rated: true}"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn portal_rate(
    State(state): State<AppState>,
    req: Req,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<RatingBody>,
) -> Response {
    let key = portal_key(&req);
    if state.throttle.is_throttled(&key) {
        return req.api_error(AppError::Throttled);
    }
    let r = cm::rate(&state.store, &req.ctx, &code, &body.score.to_string(), &body.comment).await;
    if r.is_err() {
        state.throttle.record_failure(&key);
    }
    respond(&req, r.map(|()| serde_json::json!({"rated": true})))
}

/// Add scans to a case (multipart/form-data, files in `attachments`: PDF, JPEG or PNG, at most
/// 3 of 5 MB; the type is detected from the content and must match the extension).
#[utoipa::path(post, path = "/api/v1/complaints/{id}/attachments", tag = "complaints", params(("id" = i64, Path)),
    request_body(content_type = "multipart/form-data", description = "one or more `attachments` file parts"),
    responses((status = 201, description = "the case's attachments"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn attachments_add(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    crate::http::extract::FormFiles { files, .. }: crate::http::extract::FormFiles,
) -> Response {
    match cm::attach(&state.store, &req.ctx, id, files).await {
        Ok(_) => match state.store.attachments(id).await {
            Ok(list) => (StatusCode::CREATED, Json(list)).into_response(),
            Err(e) => req.api_error(e.into()),
        },
        Err(e) => req.api_error(e),
    }
}

/// Download an attachment (audited; a denunciation's only by the handling officer and inspectors).
#[utoipa::path(get, path = "/api/v1/complaints/{id}/attachments/{file}", tag = "complaints",
    params(("id" = i64, Path), ("file" = i64, Path)),
    responses((status = 200, description = "the file, as an attachment"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn attachment_get(State(state): State<AppState>, req: Req, Path((id, file)): Path<(i64, i64)>) -> Response {
    match cm::attachment(&state.store, &req.ctx, id, file).await {
        Ok((meta, data)) => crate::http::complaints_ui::attachment_response(&meta, data),
        Err(e) => req.api_error(e),
    }
}

/// Issue the lookup code printed on a person's entitlement decision (replaces any earlier one;
/// shown once).
#[utoipa::path(post, path = "/api/v1/persons/{id}/lookup-code", tag = "portal", params(("id" = i64, Path)),
    responses((status = 201, description = "{code}"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn lookup_code(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match crate::services::lookup::issue_decision_code(&state.store, &req.ctx, id).await {
        Ok(code) => (StatusCode::CREATED, Json(serde_json::json!({ "code": code }))).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Who a citizen says they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Identification {
    /// 12 digits
    pub personal_id: String,
    /// dd/mm/yyyy (or as the record holds it: mm/yyyy, yyyy)
    pub birth_date: String,
    /// the code printed on the decision or received by SMS (not needed to ask for an SMS)
    #[serde(default)]
    pub code: String,
}

/// Ask for a one-time code by SMS to the phone in the record. The answer is the same whether or
/// not the details match (3 per ID per hour; throttled per address).
#[utoipa::path(post, path = "/api/v1/portal/lookup/sms", tag = "portal", request_body = Identification,
    responses((status = 202, description = "sent if the details match a record with a phone"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn lookup_sms(State(state): State<AppState>, req: Req, ApiJson(body): ApiJson<Identification>) -> Response {
    if state.throttle.hit(&portal_key(&req)) {
        return req.api_error(AppError::Throttled);
    }
    match crate::services::lookup::request_sms(&state.store, &state.sms, &body.personal_id, &body.birth_date).await {
        Ok(()) => (StatusCode::ACCEPTED, Json(serde_json::json!({"status": "accepted"}))).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Identify with personal ID, birth date and code: a citizen token (20 minutes) to send as
/// `X-Citizen-Token`. A mismatch never says which part was wrong; 5 failures per ID in 15
/// minutes lock that ID, and failures are also throttled per address.
#[utoipa::path(post, path = "/api/v1/portal/lookup", tag = "portal", request_body = Identification,
    responses((status = 201, description = "{token, expires_in_s}"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn lookup_identify(
    State(state): State<AppState>,
    req: Req,
    ApiJson(body): ApiJson<Identification>,
) -> Response {
    let key = portal_key(&req);
    // counted before the attempt (parallel guesses cannot all pass), forgiven when it succeeds
    if state.throttle.hit(&key) {
        return req.api_error(AppError::Throttled);
    }
    let ip = req.ctx.ip.clone();
    match crate::services::lookup::identify(&state.store, ip, &body.personal_id, &body.birth_date, &body.code).await {
        Ok(token) => {
            state.throttle.forgive(&key);
            let expires = crate::services::lookup::SESSION_MIN * 60;
            (StatusCode::CREATED, Json(serde_json::json!({"token": token, "expires_in_s": expires}))).into_response()
        }
        Err(e) => req.api_error(e),
    }
}

async fn citizen_of(state: &AppState, headers: &axum::http::HeaderMap) -> Result<i64, AppError> {
    let token = headers.get("x-citizen-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if token.is_empty() {
        return Err(AppError::Unauthenticated);
    }
    crate::services::lookup::session_person(&state.store, token).await?.ok_or(AppError::Unauthenticated)
}

/// The identified citizen's entitlements over the last 12 months and payments.
#[utoipa::path(get, path = "/api/v1/portal/me", tag = "portal",
    params(("X-Citizen-Token" = String, Header, description = "from POST /api/v1/portal/lookup")),
    responses((status = 200, body = crate::services::lookup::CitizenView), (status = 401, body = ErrorBody)))]
pub async fn citizen_me(State(state): State<AppState>, req: Req, headers: axum::http::HeaderMap) -> Response {
    let r = async {
        let person = citizen_of(&state, &headers).await?;
        crate::services::lookup::overview(&state.store, &state.gazetteer, &state.packs, person).await
    }
    .await;
    respond(&req, r)
}

/// A rating (1–5) of a paid payment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentRatingInput {
    pub score: i64,
    #[serde(default)]
    pub comment: String,
}

/// The citizen rates one of their paid payments, once; it counts in the satisfaction index of
/// the commune's People's Committee.
#[utoipa::path(post, path = "/api/v1/portal/me/payments/{line}/rating", tag = "portal", params(("line" = i64, Path),
    ("X-Citizen-Token" = String, Header, description = "from POST /api/v1/portal/lookup")), request_body = PaymentRatingInput,
    responses((status = 201, description = "rated"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn citizen_rate(
    State(state): State<AppState>,
    req: Req,
    headers: axum::http::HeaderMap,
    Path(line): Path<i64>,
    ApiJson(body): ApiJson<PaymentRatingInput>,
) -> Response {
    let r = async {
        let person = citizen_of(&state, &headers).await?;
        crate::services::lookup::rate_payment(&state.store, person, line, &body.score.to_string(), &body.comment).await
    }
    .await;
    match r {
        Ok(()) => (StatusCode::CREATED, Json(serde_json::json!({"status": "rated"}))).into_response(),
        Err(e) => req.api_error(e),
    }
}
