//! JSON API under `/api/v1`, documented by an OpenAPI 3 document generated from these
//! handlers (utoipa). Errors are `{code, message, details}` with the stable codes of
//! `crate::error::code`; lists are paginated `{items, total, page, per_page}`.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::AppError;
use crate::http::extract::{ApiJson, Req};
use crate::http::session_cookie;
use crate::services::authz::Scope;
use crate::services::{audit as audit_svc, auth, registry, units, users, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/session", post(session_create).delete(session_delete))
        .route("/api/v1/me", get(me))
        .route("/api/v1/roles", get(roles))
        .route("/api/v1/agencies", get(agencies))
        .route("/api/v1/provinces/{code}/communes", get(communes))
        .route("/api/v1/communes/{code}", get(commune))
        .route("/api/v1/users", get(users_list).post(users_create))
        .route("/api/v1/users/{id}/disable", post(users_disable))
        .route("/api/v1/users/{id}/enable", post(users_enable))
        .route("/api/v1/users/{id}/reset-password", post(users_reset_password))
        .route("/api/v1/account/password", post(account_password))
        .route("/api/v1/tokens", get(tokens_list).post(tokens_create))
        .route("/api/v1/tokens/{id}", axum::routing::delete(tokens_revoke))
        .route("/api/v1/persons", get(persons_search))
        .route("/api/v1/persons/proposals", post(person_propose_new))
        .route("/api/v1/persons/{id}", get(person_dossier))
        .route("/api/v1/persons/{id}/as-of", get(person_as_of))
        .route("/api/v1/persons/{id}/entitlements", get(person_entitlements))
        .route("/api/v1/simulations", post(simulation_run))
        .route("/api/v1/persons/{id}/changes", post(person_propose))
        .route("/api/v1/persons/{id}/records", post(person_propose_record))
        .route("/api/v1/changes", get(changes_list))
        .route("/api/v1/changes/{id}/approve", post(change_approve))
        .route("/api/v1/changes/{id}/reject", post(change_reject))
        .route("/api/v1/audit", get(audit_search))
        .route("/api/v1/audit/verify", get(audit_verify))
        .merge(crate::http::payments_api::routes())
        .merge(crate::http::integrity_api::routes())
        .merge(crate::http::plans_api::routes())
        .merge(crate::http::complaints_api::routes())
}

/// The error body of every API error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code (see the table in the API documentation).
    pub code: String,
    /// Human-readable message (Vietnamese, or English with `Accept-Language: en`).
    pub message: String,
    /// `request_id`, and `field` for validation errors.
    pub details: serde_json::Value,
}

fn ok<T: Serialize>(v: T) -> Response {
    Json(v).into_response()
}

pub(crate) fn respond<T: Serialize>(req: &Req, r: Result<T, AppError>) -> Response {
    match r {
        Ok(v) => ok(v),
        Err(e) => req.api_error(e),
    }
}

// ---------- session ----------

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    /// Send this as `X-CSRF-Token` on every state-changing request made with the cookie.
    pub csrf_token: String,
    pub must_change_password: bool,
}

/// Log in with a password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = SessionInfo), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn session_create(
    State(state): State<AppState>,
    req: Req,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Response {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    match auth::login(&state.store, &state.throttle, &req.ctx, &body.username, &body.password, ua).await {
        Ok(s) => {
            let mut res = ok(SessionInfo { csrf_token: s.csrf, must_change_password: s.must_change_password });
            if let Ok(v) = session_cookie(&s.token, state.cookie_secure).parse() {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => req.api_error(e),
    }
}

/// Log out (ends the session of the cookie).
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn session_delete(State(state): State<AppState>, req: Req) -> Response {
    match req.ctx.user() {
        Err(e) => return req.api_error(e),
        Ok(p) if p.session_hash.is_none() => {
            return req.api_error(AppError::Forbidden(
                "an API token has no session; revoke it with DELETE /api/v1/tokens/{id}".into(),
            ))
        }
        Ok(_) => {}
    }
    match auth::logout(&state.store, &req.ctx).await {
        Ok(()) => {
            let mut res = StatusCode::NO_CONTENT.into_response();
            if let Ok(v) = session_cookie("", state.cookie_secure).parse() {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => req.api_error(e),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: i64,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub agency: Option<String>,
    /// `province`, `communes`, `agency` or `self`.
    pub scope: String,
    pub communes: Vec<String>,
    pub permissions: Vec<String>,
    pub must_change_password: bool,
    /// Set when the call was made with an API token.
    pub token_id: Option<i64>,
}

/// Who am I: role, area and effective permissions.
#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses((status = 200, body = Me), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn me(req: Req) -> Response {
    let r = req.ctx.user().map(|p| {
        let (scope, communes) = match &p.scope {
            Scope::Province => ("province", vec![]),
            Scope::Communes(c) => ("communes", c.iter().cloned().collect()),
            Scope::Agency(_) => ("agency", vec![]),
            Scope::SelfOnly => ("self", vec![]),
        };
        Me {
            user_id: p.user_id,
            username: p.username.clone(),
            full_name: p.full_name.clone(),
            role: p.role.clone(),
            agency: p.agency.clone(),
            scope: scope.into(),
            communes,
            permissions: p.permissions.iter().cloned().collect(),
            must_change_password: p.must_change_password,
            token_id: p.token_id,
        }
    });
    respond(&req, r)
}

#[derive(Serialize, ToSchema)]
pub struct RoleView {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    /// `province`, `communes`, `agency` or `self`.
    pub scope_kind: String,
    pub permissions: Vec<String>,
}

/// Roles and their permissions (the authorization table), for account forms.
#[utoipa::path(get, path = "/api/v1/roles", tag = "users", responses((status = 200, body = Vec<RoleView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn roles(State(state): State<AppState>, req: Req) -> Response {
    let r = req.ctx.require(crate::services::authz::perm::USERS_READ).map(|_| {
        state
            .policy
            .roles
            .iter()
            .map(|r| RoleView {
                code: r.code.clone(),
                name_vi: r.name_vi.clone(),
                name_en: r.name_en.clone(),
                scope_kind: r.scope_kind.clone(),
                permissions: state.policy.permissions_of(&r.code).into_iter().collect(),
            })
            .collect::<Vec<_>>()
    });
    respond(&req, r)
}

#[derive(Serialize, ToSchema)]
pub struct AgencyView {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub kind: String,
}

/// Agencies (departments and others), for account forms and plan reporting.
#[utoipa::path(get, path = "/api/v1/agencies", tag = "users", responses((status = 200, body = Vec<AgencyView>), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn agencies(State(state): State<AppState>, req: Req) -> Response {
    let r = match req.ctx.user() {
        Ok(_) => state
            .store
            .agencies()
            .await
            .map(|a| {
                a.into_iter()
                    .map(|a| AgencyView { code: a.code, name_vi: a.name_vi, name_en: a.name_en, kind: a.kind })
                    .collect::<Vec<_>>()
            })
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    respond(&req, r)
}

// ---------- administrative units ----------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommuneQuery {
    /// Filter by name, with or without diacritics.
    pub q: Option<String>,
}

/// A province and its communes (public reference data).
#[utoipa::path(get, path = "/api/v1/provinces/{code}/communes", tag = "units",
    params(("code" = String, Path, description = "2-digit province code, e.g. 75"), CommuneQuery),
    responses((status = 200, body = units::ProvinceOverview), (status = 404, body = ErrorBody)))]
pub async fn communes(
    State(state): State<AppState>,
    req: Req,
    Path(code): Path<String>,
    Query(q): Query<CommuneQuery>,
) -> Response {
    respond(&req, units::province_overview(&state.store, &state.gazetteer, &code, q.q.as_deref()).await)
}

/// A commune's workspace (only within the caller's area).
#[utoipa::path(get, path = "/api/v1/communes/{code}", tag = "units",
    params(("code" = String, Path, description = "5-digit commune code")),
    responses((status = 200, body = units::CommuneWorkspace), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn commune(State(state): State<AppState>, req: Req, Path(code): Path<String>) -> Response {
    respond(&req, units::commune_workspace(&state.store, &state.gazetteer, &req.ctx, &code).await)
}

// ---------- users ----------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Substring of the username or full name (diacritics optional).
    pub q: Option<String>,
    pub role: Option<String>,
    #[serde(default)]
    pub include_disabled: bool,
    /// 1-based page number.
    pub page: Option<i64>,
    /// Page size, 1–200 (default 50).
    pub per_page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<users::UserView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// List accounts.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserListQuery),
    responses((status = 200, body = UserPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn users_list(State(state): State<AppState>, req: Req, Query(q): Query<UserListQuery>) -> Response {
    let f = store::UserFilter { q: q.q, role: q.role, include_disabled: q.include_disabled };
    let r = users::list(&state.store, &req.ctx, &f, store::Page::new(q.page, q.per_page)).await.map(|p| UserPage {
        items: p.items,
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    });
    respond(&req, r)
}

/// Create an account (a temporary password is generated when none is given).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = users::CreateUser,
    responses((status = 201, body = users::CreatedUser), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn users_create(
    State(state): State<AppState>,
    req: Req,
    ApiJson(body): ApiJson<users::CreateUser>,
) -> Response {
    match users::create(&state.store, &state.policy, &req.ctx, &body).await {
        Ok(c) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Disable an account (ends its sessions).
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = users::UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn users_disable(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, users::set_disabled(&state.store, &req.ctx, id, true).await)
}

/// Re-enable an account.
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = users::UserView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn users_enable(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, users::set_disabled(&state.store, &req.ctx, id, false).await)
}

#[derive(Serialize, ToSchema)]
pub struct TemporaryPassword {
    /// To be changed at the next login.
    pub temporary_password: String,
}

/// Reset a password to a temporary one (ends the user's sessions).
#[utoipa::path(post, path = "/api/v1/users/{id}/reset-password", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = TemporaryPassword), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn users_reset_password(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(
        &req,
        users::reset_password(&state.store, &req.ctx, id).await.map(|t| TemporaryPassword { temporary_password: t }),
    )
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change one's own password (other sessions end).
#[utoipa::path(post, path = "/api/v1/account/password", tag = "session", request_body = PasswordChange,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn account_password(
    State(state): State<AppState>,
    req: Req,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Response {
    match users::change_own_password(&state.store, &req.ctx, &body.current_password, &body.new_password).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => req.api_error(e),
    }
}

// ---------- API tokens ----------

/// One's own API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<users::TokenView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn tokens_list(State(state): State<AppState>, req: Req) -> Response {
    respond(&req, users::tokens(&state.store, &req.ctx).await)
}

/// Create an API token limited to some of one's permissions; the secret is returned once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = users::CreateToken,
    responses((status = 201, body = users::CreatedToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn tokens_create(
    State(state): State<AppState>,
    req: Req,
    ApiJson(body): ApiJson<users::CreateToken>,
) -> Response {
    match users::create_token(&state.store, &req.ctx, &body).await {
        Ok(t) => (StatusCode::CREATED, Json(t)).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Revoke one of one's own API tokens.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn tokens_revoke(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match users::revoke_token(&state.store, &req.ctx, id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => req.api_error(e),
    }
}

// ---------- registry ----------

#[derive(Serialize, ToSchema)]
pub struct PersonPage {
    pub items: Vec<registry::PersonView>,
    /// Counted up to 10,001; more means "more than 10,000".
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Search the registry within the caller's area (personal ID or name, diacritics optional).
#[utoipa::path(get, path = "/api/v1/persons", tag = "registry", params(registry::SearchParams),
    responses((status = 200, body = PersonPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn persons_search(
    State(state): State<AppState>,
    req: Req,
    Query(s): Query<registry::SearchParams>,
) -> Response {
    let r = registry::search(&state.store, &state.gazetteer, &req.ctx, &s).await.map(|p| PersonPage {
        items: p.items,
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    });
    respond(&req, r)
}

/// A dossier. Sensitive fields only with `registry.sensitive`; such reads are audited.
#[utoipa::path(get, path = "/api/v1/persons/{id}", tag = "registry", params(("id" = i64, Path)),
    responses((status = 200, body = registry::Dossier), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn person_dossier(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    respond(&req, registry::dossier(&state.store, &state.gazetteer, &req.ctx, id).await)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// dd/mm/yyyy or yyyy-mm-dd
    pub date: String,
}

/// The person's profile as it was on a date (null when not yet registered then).
#[utoipa::path(get, path = "/api/v1/persons/{id}/as-of", tag = "registry", params(("id" = i64, Path), AsOfQuery),
    responses((status = 200, body = Option<registry::PersonView>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn person_as_of(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    Query(q): Query<AsOfQuery>,
) -> Response {
    respond(&req, registry::as_of(&state.store, &state.gazetteer, &req.ctx, id, &q.date).await)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthRange {
    /// First month, yyyy-mm or mm/yyyy (default: 11 months before `to`)
    pub from: Option<String>,
    /// Last month, yyyy-mm or mm/yyyy (default: this month)
    pub to: Option<String>,
}

/// The range asked for, or the twelve months ending this month.
pub fn month_range(q: &MonthRange) -> Result<(domain::Month, domain::Month), crate::error::AppError> {
    use crate::error::AppError;
    let parse = |field: &'static str, v: &str| {
        v.parse::<domain::Month>().map_err(|e| AppError::field(field, e.vi(), e.to_string()))
    };
    let to = match &q.to {
        Some(t) => parse("to", t)?,
        None => domain::Month::of(chrono::Local::now().date_naive()),
    };
    let from = match &q.from {
        Some(f) => parse("from", f)?,
        None => to.add_months(-11).unwrap_or(to),
    };
    Ok((from, to))
}

/// The person's entitlements month by month (monthly and one-off lines with their legal
/// citations), computed by the rules engine from the registry; `error` names a missing fact.
#[utoipa::path(get, path = "/api/v1/persons/{id}/entitlements", tag = "registry", params(("id" = i64, Path), MonthRange),
    responses((status = 200, body = crate::services::entitlements::Entitlements), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn person_entitlements(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    Query(q): Query<MonthRange>,
) -> Response {
    let (from, to) = match month_range(&q) {
        Ok(r) => r,
        Err(e) => return req.api_error(e),
    };
    respond(
        &req,
        crate::services::entitlements::person_entitlements(&state.store, &state.packs, &req.ctx, id, from, to).await,
    )
}

/// A budget simulation request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SimulationRequest {
    /// yyyy-mm
    pub from: String,
    /// yyyy-mm
    pub to: String,
    /// One commune (5-digit code), or the whole province.
    #[serde(default)]
    pub commune: Option<String>,
    /// Parameter changes, each from a month on (none = the baseline).
    #[serde(default)]
    pub changes: Vec<crate::services::entitlements::Override>,
    /// An added eligibility group.
    #[serde(default)]
    pub add_group: Option<crate::services::entitlements::AddedGroup>,
}

/// Budget simulation: the cost of parameter changes against the baseline over the registry,
/// by month, commune and item (aggregates only; no personal data).
#[utoipa::path(post, path = "/api/v1/simulations", tag = "registry", request_body = SimulationRequest,
    responses((status = 200, body = crate::services::entitlements::Simulation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn simulation_run(
    State(state): State<AppState>,
    req: Req,
    ApiJson(body): ApiJson<SimulationRequest>,
) -> Response {
    if let Err(e) = req.ctx.require(crate::services::authz::perm::DASHBOARDS_READ) {
        return req.api_error(e);
    }
    let month = |field: &'static str, v: &str| {
        v.parse::<domain::Month>().map_err(|e| crate::error::AppError::field(field, e.vi(), e.to_string()))
    };
    let (from, to) = match (month("from", &body.from), month("to", &body.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return req.api_error(e),
    };
    respond(
        &req,
        crate::services::entitlements::simulate(
            &state.store,
            &state.packs,
            body.commune.as_deref(),
            from,
            to,
            &body.changes,
            body.add_group.as_ref(),
        )
        .await,
    )
}

/// Propose a change to a dossier (maker); it takes effect when approved.
#[utoipa::path(post, path = "/api/v1/persons/{id}/changes", tag = "registry", params(("id" = i64, Path)), request_body = registry::ProposeUpdate,
    responses((status = 201, body = registry::ChangeView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn person_propose(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<registry::ProposeUpdate>,
) -> Response {
    match registry::propose_update(&state.store, &req.ctx, id, &body).await {
        Ok(c) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(e) => req.api_error(e),
    }
}

/// Propose adding a merit or assistance record, or ending one (maker).
#[utoipa::path(post, path = "/api/v1/persons/{id}/records", tag = "registry", params(("id" = i64, Path)), request_body = registry::ProposeRecord,
    responses((status = 201, body = registry::ChangeView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn person_propose_record(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<registry::ProposeRecord>,
) -> Response {
    match registry::propose_record(&state.store, &req.ctx, id, &body).await {
        Ok(c) => (StatusCode::CREATED, Json(c)).into_response(),
        Err(e) => req.api_error(e),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProposalErrors {
    pub code: String,
    pub message: String,
    /// Every problem, named by field (column) and reason, as in an import report.
    pub errors: Vec<crate::services::import::RowError>,
}

/// Propose a new dossier (maker). Validated like an import row; 422 lists every problem.
#[utoipa::path(post, path = "/api/v1/persons/proposals", tag = "registry", request_body = registry::ProposeNew,
    responses((status = 201, body = registry::ChangeView), (status = 422, body = ProposalErrors), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn person_propose_new(
    State(state): State<AppState>,
    req: Req,
    ApiJson(body): ApiJson<registry::ProposeNew>,
) -> Response {
    match registry::propose_new(&state.store, &state.gazetteer, &req.ctx, &state.province_code, &body).await {
        Ok((c, errors)) if errors.is_empty() => (StatusCode::CREATED, Json(c)).into_response(),
        Ok((_, errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(ProposalErrors {
                code: crate::error::code::INVALID_INPUT.into(),
                message: if req.lang == crate::http::i18n::Lang::Vi {
                    "Hồ sơ chưa hợp lệ.".into()
                } else {
                    "The dossier is not valid.".into()
                },
                errors,
            }),
        )
            .into_response(),
        Err(e) => req.api_error(e),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// `pending` (default), `approved` or `rejected`.
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ChangePage {
    pub items: Vec<registry::ChangeView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Change requests within the caller's area.
#[utoipa::path(get, path = "/api/v1/changes", tag = "registry", params(ChangesQuery),
    responses((status = 200, body = ChangePage), (status = 403, body = ErrorBody)), security(("bearer" = []), ("session" = [])))]
pub async fn changes_list(State(state): State<AppState>, req: Req, Query(q): Query<ChangesQuery>) -> Response {
    let status = q.status.as_deref().unwrap_or("pending");
    let r = registry::changes(&state.store, &req.ctx, Some(status), store::Page::new(q.page, q.per_page))
        .await
        .map(|p| ChangePage { items: p.items, total: p.total, page: p.page, per_page: p.per_page });
    respond(&req, r)
}

#[derive(Deserialize, ToSchema)]
pub struct Decision {
    /// Required to reject.
    #[serde(default)]
    pub reason: String,
}

/// Approve a change request (checker; not the maker) — it takes effect now.
#[utoipa::path(post, path = "/api/v1/changes/{id}/approve", tag = "registry", params(("id" = i64, Path)), request_body = Decision,
    responses((status = 200, body = registry::ChangeView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn change_approve(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Decision>,
) -> Response {
    respond(&req, registry::decide(&state.store, &req.ctx, id, true, &body.reason).await)
}

/// Reject a change request with a reason.
#[utoipa::path(post, path = "/api/v1/changes/{id}/reject", tag = "registry", params(("id" = i64, Path)), request_body = Decision,
    responses((status = 200, body = registry::ChangeView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn change_reject(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Decision>,
) -> Response {
    respond(&req, registry::decide(&state.store, &req.ctx, id, false, &body.reason).await)
}

// ---------- audit ----------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in '.', e.g. `user.`.
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// From this date (dd/mm/yyyy or yyyy-mm-dd), inclusive.
    pub from: Option<String>,
    /// Up to this date, inclusive.
    pub to: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    /// RFC 3339 UTC.
    pub at: String,
    pub actor: String,
    pub actor_user_id: Option<i64>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub detail: Option<String>,
    pub hash: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Search the audit trail (newest first). The search itself is recorded.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn audit_search(State(state): State<AppState>, req: Req, Query(q): Query<AuditQuery>) -> Response {
    let filter = crate::http::ui::audit_filter(&crate::http::ui::AuditQuery {
        actor: q.actor.unwrap_or_default(),
        action: q.action.unwrap_or_default(),
        entity_type: q.entity_type.unwrap_or_default(),
        entity_id: q.entity_id.unwrap_or_default(),
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        page: None,
        verify: None,
    });
    let r = match filter {
        Ok(f) => audit_svc::search(&state.store, &req.ctx, &f, store::Page::new(q.page, q.per_page)).await,
        Err(e) => Err(e),
    };
    let r = r.map(|p| AuditPage {
        items: p
            .items
            .into_iter()
            .map(|r| AuditEntryView {
                seq: r.seq,
                at: r.at,
                actor: r.actor,
                actor_user_id: r.actor_user_id,
                ip: r.ip,
                request_id: r.request_id,
                action: r.action,
                entity_type: r.entity_type,
                entity_id: r.entity_id,
                before: r.before_json,
                after: r.after_json,
                detail: r.detail,
                hash: r.hash,
            })
            .collect(),
        total: p.total,
        page: p.page,
        per_page: p.per_page,
    });
    respond(&req, r)
}

#[derive(Serialize, ToSchema)]
pub struct VerifyResult {
    pub intact: bool,
    pub entries: Option<i64>,
    pub head_hash: Option<String>,
    /// The first entry that does not fit, when broken.
    pub first_bad_entry: Option<i64>,
    pub reason: Option<String>,
}

/// Verify the audit trail's hash chain.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyResult), (status = 403, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn audit_verify(State(state): State<AppState>, req: Req) -> Response {
    let r = audit_svc::verify(&state.store, &req.ctx).await.map(|o| match o {
        store::VerifyOutcome::Intact { entries, head_hash } => VerifyResult {
            intact: true,
            entries: Some(entries),
            head_hash: Some(head_hash),
            first_bad_entry: None,
            reason: None,
        },
        store::VerifyOutcome::Broken { seq, reason } => VerifyResult {
            intact: false,
            entries: None,
            head_hash: None,
            first_bad_entry: Some(seq),
            reason: Some(reason),
        },
    });
    respond(&req, r)
}

// ---------- the document ----------

#[derive(OpenApi)]
#[openapi(
    info(title = "ansinh API", description = "Social-policy platform of a Vietnamese province. Errors: {code, message, details}; pagination: page, per_page (≤ 200); Vietnamese messages by default, English with Accept-Language: en."),
    paths(session_create, session_delete, me, roles, agencies, communes, commune, users_list, users_create, users_disable, users_enable,
          users_reset_password, account_password, tokens_list, tokens_create, tokens_revoke, persons_search, person_dossier,
          person_as_of, person_entitlements, simulation_run, person_propose, person_propose_new, person_propose_record, changes_list, change_approve, change_reject, audit_search, audit_verify,
          crate::http::payments_api::cycles_list, crate::http::payments_api::cycle_create, crate::http::payments_api::cycle_detail,
          crate::http::payments_api::cycle_generate, crate::http::payments_api::cycle_check, crate::http::payments_api::cycle_approve,
          crate::http::payments_api::cycle_export, crate::http::payments_api::cycle_close, crate::http::payments_api::cycle_lines, crate::http::payments_api::cycle_line_explain,
          crate::http::payments_api::cycle_bank_file, crate::http::payments_api::cycle_results, crate::http::payments_api::holds_list,
          crate::http::payments_api::hold_create, crate::http::payments_api::hold_release,
          crate::http::integrity_api::run_checks, crate::http::integrity_api::cases_list, crate::http::integrity_api::case_detail,
          crate::http::integrity_api::case_assign, crate::http::integrity_api::case_resolve, crate::http::integrity_api::stats,
          crate::http::plans_api::plans_list, crate::http::plans_api::plan_import, crate::http::plans_api::plan_detail,
          crate::http::plans_api::plan_dashboard, crate::http::plans_api::plan_indicator, crate::http::plans_api::reports_list,
          crate::http::plans_api::report_create, crate::http::plans_api::period_close, crate::http::plans_api::report_detail,
          crate::http::plans_api::report_save, crate::http::plans_api::report_submit, crate::http::plans_api::report_decide,
          crate::http::complaints_api::complaints_list, crate::http::complaints_api::complaint_file, crate::http::complaints_api::complaint_detail,
          crate::http::complaints_api::complaint_step, crate::http::complaints_api::satisfaction, crate::http::complaints_api::portal_file,
          crate::http::complaints_api::portal_track, crate::http::complaints_api::portal_rate, crate::http::complaints_api::portal_second_instance, crate::http::complaints_api::portal_posting,
          crate::http::complaints_api::attachments_add, crate::http::complaints_api::attachment_get, crate::http::complaints_api::lookup_code,
          crate::http::complaints_api::lookup_sms, crate::http::complaints_api::lookup_identify, crate::http::complaints_api::citizen_me,
          crate::http::complaints_api::citizen_rate, crate::http::calendar_http::api_year),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    tags((name = "session", description = "Login, logout, who am I"), (name = "units", description = "Administrative units"),
         (name = "users", description = "Accounts"), (name = "tokens", description = "API tokens"), (name = "registry", description = "Social registry"), (name = "payments", description = "Monthly payment cycles"), (name = "integrity", description = "Anti-fraud checks and their review queue"), (name = "plans", description = "Plan monitoring: tasks, indicators, periodic reports, dashboards"), (name = "complaints", description = "Complaints, denunciations and petitions with their legal deadlines"), (name = "portal", description = "The citizen portal (no login)"), (name = "audit", description = "Audit trail"))
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::http::SESSION_COOKIE,
                "Session cookie from POST /api/v1/session; state-changing requests also need the X-CSRF-Token header",
            ))),
        );
    }
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

pub async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}

/// One operation as the documentation page lists it.
pub struct OpView {
    pub id: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub permission: String,
    pub params: Vec<String>,
    pub responses: Vec<String>,
}

/// Permission needed per operation (documentation only; enforcement is in services).
fn permission_of(path: &str, method: &str) -> &'static str {
    use crate::services::authz::perm;
    match (method, path) {
        (_, p) if p.starts_with("/api/v1/users") && method == "get" => perm::USERS_READ,
        (_, p) if p.starts_with("/api/v1/users") => perm::USERS_MANAGE,
        (_, p) if p.starts_with("/api/v1/tokens") => perm::TOKENS_OWN,
        (_, "/api/v1/audit") => perm::AUDIT_READ,
        (_, "/api/v1/audit/verify") => perm::AUDIT_VERIFY,
        (_, "/api/v1/communes/{code}") => perm::COMMUNE_WORKSPACE,
        (_, "/api/v1/simulations") => perm::DASHBOARDS_READ,
        ("post", "/api/v1/payments/cycles/{id}/check") => perm::PAYMENTS_CHECK,
        ("post", "/api/v1/payments/cycles/{id}/approve") => perm::PAYMENTS_APPROVE,
        ("post", p) if p.starts_with("/api/v1/payments/holds") => perm::PAYMENTS_HOLD,
        ("post", p) if p.starts_with("/api/v1/payments") => perm::PAYMENTS_PREPARE,
        (_, "/api/v1/payments/cycles/{id}/bank-file") => perm::PAYMENTS_PREPARE,
        (_, p) if p.starts_with("/api/v1/payments") => perm::PAYMENTS_READ,
        (_, "/api/v1/persons/{id}/changes")
        | (_, "/api/v1/persons/proposals")
        | (_, "/api/v1/persons/{id}/records") => perm::REGISTRY_PROPOSE,
        (_, p) if p.starts_with("/api/v1/changes/") => perm::REGISTRY_APPROVE,
        (_, p) if p.starts_with("/api/v1/persons") || p.starts_with("/api/v1/changes") => perm::REGISTRY_READ,
        _ => "",
    }
}

pub fn operations(doc: &utoipa::openapi::OpenApi) -> Vec<OpView> {
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("delete", &item.delete),
            ("patch", &item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let params = op
                .parameters
                .iter()
                .flatten()
                .map(|p| {
                    let loc = match p.parameter_in {
                        utoipa::openapi::path::ParameterIn::Path => "path",
                        utoipa::openapi::path::ParameterIn::Query => "query",
                        utoipa::openapi::path::ParameterIn::Header => "header",
                        utoipa::openapi::path::ParameterIn::Cookie => "cookie",
                    };
                    format!(
                        "{} ({loc}{})",
                        p.name,
                        if matches!(p.required, utoipa::openapi::Required::True) { ", required" } else { "" }
                    )
                })
                .collect();
            let responses = op.responses.responses.keys().cloned().collect();
            out.push(OpView {
                id: format!("{method}{}", path.replace(['/', '{', '}'], "-")),
                method: method.to_string(),
                path: path.clone(),
                summary: op.summary.clone().or_else(|| op.description.clone()).unwrap_or_default(),
                permission: permission_of(path, method).to_string(),
                params,
                responses,
            });
        }
    }
    out
}
