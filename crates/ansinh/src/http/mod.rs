//! HTTP: the router and cross-cutting middleware (request id and log span, security
//! headers, timeout, body limit, authentication, CSRF, metrics), health and metrics
//! endpoints. Pages live in `ui`, JSON in `api`; both call the same services, the same
//! authorization, and share the error code table.

pub mod api;
pub mod calendar_http;
pub mod complaints_api;
pub mod complaints_ui;
pub mod extract;
pub mod i18n;
pub mod integrity_api;
pub mod integrity_ui;
pub mod metrics;
pub mod payments_api;
pub mod payments_ui;
pub mod plans_api;
pub mod plans_ui;
pub mod portal_ui;
pub mod registry_ui;
pub mod simulate_ui;
pub mod ui;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tracing::Instrument;

use crate::error::AppError;
use crate::http::extract::{api_error, cookie, MAX_BODY};
use crate::http::i18n::Lang;
use crate::services::auth;
use crate::services::authz::Ctx;
use crate::services::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const SESSION_COOKIE: &str = "ansinh_session";
/// Oversized bodies up to this much beyond their limit are read and dropped before the 413 is sent.
const DRAIN_LIMIT: usize = 4 * 1024 * 1024;
/// Longest time a request may take before it is answered with a timeout error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-request id, visible to handlers (error pages show it; logs carry it).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(ui::index))
        .route("/login", get(ui::login_form).post(ui::login_submit))
        .route("/logout", post(ui::logout))
        .route("/home", get(ui::home))
        .route("/communes/{code}", get(ui::commune))
        .route("/users", get(ui::users).post(ui::users_create))
        .route("/users/{id}/{action}", post(ui::users_action))
        .route("/account", get(ui::account))
        .route("/account/password", post(ui::account_password))
        .route("/account/tokens", post(ui::tokens_create))
        .route("/account/tokens/{id}/revoke", post(ui::tokens_revoke))
        .route("/audit", get(ui::audit))
        .route("/api/docs", get(ui::api_docs))
        .route("/registry", get(registry_ui::search))
        .route("/registry/persons", get(registry_ui::to_search))
        .route("/registry/new", get(registry_ui::new_form).post(registry_ui::new_submit))
        .route("/registry/persons/{id}", get(registry_ui::dossier))
        .route("/registry/persons/{id}/changes", post(registry_ui::propose))
        .route("/registry/persons/{id}/records", post(registry_ui::propose_record))
        .route("/registry/changes", get(registry_ui::changes))
        .route("/registry/changes/{id}/decide", post(registry_ui::decide))
        .route("/registry/import", get(registry_ui::import_form).post(registry_ui::import_run))
        .route("/registry/import/template.csv", get(registry_ui::import_template))
        .route("/registry/import/report/{file}", get(registry_ui::import_report))
        .route("/registry/import/jobs/{id}", get(registry_ui::import_job))
        .route("/simulate", get(simulate_ui::page))
        .route("/payments", get(payments_ui::cycles).post(payments_ui::create))
        .route("/payments/holds", post(payments_ui::hold))
        .route("/payments/holds/{id}/release", post(payments_ui::release))
        .route("/payments/{id}", get(payments_ui::cycle))
        .route("/complaints", get(complaints_ui::list))
        .route("/complaints/new", get(complaints_ui::new_form).post(complaints_ui::new_submit))
        .route("/complaints/{id}", get(complaints_ui::case))
        .route("/complaints/{id}/step", post(complaints_ui::step))
        .route("/portal", get(complaints_ui::portal))
        .route("/portal/complaints", post(complaints_ui::portal_file))
        .route("/portal/track", get(complaints_ui::portal_track))
        .route("/portal/track/rating", post(complaints_ui::portal_rate))
        .route("/portal/track/second-instance", post(complaints_ui::portal_second_instance))
        .route("/portal/niem-yet", get(complaints_ui::portal_posting))
        .route("/portal/chinh-sach", get(complaints_ui::portal_policies))
        .route("/portal/tra-cuu", get(portal_ui::show).post(portal_ui::identify))
        .route("/portal/tra-cuu/sms", post(portal_ui::sms))
        .route("/portal/tra-cuu/danh-gia", post(portal_ui::rate))
        .route("/portal/tra-cuu/thoat", post(portal_ui::sign_out))
        .route("/calendar", get(calendar_http::show).post(calendar_http::record))
        .route("/calendar/template.csv", get(calendar_http::template))
        .route("/api/v1/calendar/{year}", get(calendar_http::api_year))
        .route("/portal/eid", get(portal_ui::eid_start))
        .route("/portal/eid/callback", post(portal_ui::eid_callback))
        .route("/registry/persons/{id}/lookup-code", post(portal_ui::issue_code))
        .route("/complaints/{id}/attachments", post(complaints_ui::attach))
        .route("/complaints/{id}/attachments/{file}", get(complaints_ui::download))
        .route("/plans", get(plans_ui::list))
        .route("/plans/import", post(plans_ui::import))
        .route("/plans/template.xlsx", get(plans_ui::template))
        .route("/plans/template.toml", get(plans_ui::template_toml))
        .route("/plans/{id}", get(plans_ui::plan))
        .route("/plans/{id}/tasks/{task}", get(plans_ui::task))
        .route("/plans/{id}/dashboard", get(plans_ui::dashboard))
        .route("/plans/{id}/print", get(plans_ui::print))
        .route("/plans/{id}/export.xlsx", get(plans_ui::export_xlsx))
        .route("/plans/{id}/indicators/{code}", get(plans_ui::indicator))
        .route("/plans/{id}/reports", get(plans_ui::reports).post(plans_ui::create_report))
        .route("/plans/{id}/periods/close", post(plans_ui::close_period))
        .route("/plans/reports/{id}", get(plans_ui::report))
        .route("/plans/reports/{id}/save", post(plans_ui::save_report))
        .route("/plans/reports/{id}/decide", post(plans_ui::decide_report))
        .route("/integrity", get(integrity_ui::queue))
        .route("/integrity/run", post(integrity_ui::run))
        .route("/integrity/cases/{id}", get(integrity_ui::case))
        .route("/integrity/cases/{id}/assign", post(integrity_ui::assign))
        .route("/integrity/cases/{id}/resolve", post(integrity_ui::resolve))
        .route("/integrity/cases/{id}/life-proof", post(integrity_ui::life_proof))
        .route("/payments/{id}/results", post(payments_ui::results))
        .route("/payments/{id}/lists/{file}", get(payments_ui::pay_list))
        .route("/payments/{id}/lines/{line}", get(payments_ui::line))
        .route("/payments/{id}/bank.csv", get(payments_ui::bank_file))
        .route("/payments/{id}/results-template.csv", get(payments_ui::results_template))
        .route("/payments/{id}/summary.csv", get(payments_ui::summary_csv))
        .route("/payments/{id}/{action}", post(payments_ui::step))
        .route("/registry/export.csv", get(registry_ui::export_csv))
        .route("/registry/export.xlsx", get(registry_ui::export_xlsx))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/assets/app.css", get(ui::stylesheet))
        .route("/assets/htmx.min.js", get(ui::htmx))
        .merge(api::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), observe));
    routes
        .layer(axum::extract::DefaultBodyLimit::max(registry_ui::MAX_IMPORT_BYTES.max(payments_ui::MAX_RESULTS_BYTES)))
        .fallback(ui::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

fn next_request_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    format!("{start:x}-{:06x}", SEQ.fetch_add(1, Ordering::Relaxed))
}

fn wants_api(path: &str) -> bool {
    path.starts_with("/api/v1/")
}

/// The language of a request: `?lang=`, then (UI) the `lang` cookie or (API)
/// `Accept-Language`, then Vietnamese.
fn negotiate_lang(req: &Request) -> Lang {
    let q = req
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "lang").map(|(_, v)| v.into_owned()));
    if wants_api(req.uri().path()) {
        if let Some(l) = q.as_deref().and_then(Lang::parse) {
            return l;
        }
        let al = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        return if al.trim_start().to_ascii_lowercase().starts_with("en") { Lang::En } else { Lang::Vi };
    }
    Lang::negotiate(q.as_deref(), req.headers())
}

/// Assigns the request id (or keeps a sane incoming one), logs the request in a span,
/// enforces the timeout, and sets security headers on every response.
async fn request_context(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_string)
        .unwrap_or_else(next_request_id);
    let lang = negotiate_lang(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    req.extensions_mut().insert(lang);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let is_api = wants_api(&path);
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = Instant::now();
    let mut res = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req).instrument(span.clone())).await {
        Ok(r) => r,
        Err(_) => {
            let rid = RequestId(id.clone());
            if is_api {
                api_error(&AppError::Timeout, lang, &rid)
            } else {
                ui::error_page(&AppError::Timeout, &rid, lang)
            }
        }
    };
    let status = res.status();
    span.in_scope(|| {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ms, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), ms, "request");
        }
    });
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(REQUEST_ID, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Requests that may carry complaint attachments.
fn is_upload(path: &str) -> bool {
    matches!(path, "/portal/complaints" | "/complaints/new" | "/calendar")
        || (path.starts_with("/complaints/") || path.starts_with("/api/v1/complaints/"))
            && path.ends_with("/attachments")
}

/// The citizen's lookup forms: a cross-site form may not post to them (their cookie is also
/// SameSite=Strict).
fn is_citizen_form(method: &Method, path: &str) -> bool {
    method == Method::POST && path.starts_with("/portal/tra-cuu")
}

/// Login endpoints, the only state-changing requests accepted without a session.
fn is_login(method: &Method, path: &str) -> bool {
    method == Method::POST && (path == "/login" || path == "/api/v1/session")
}

/// Authenticates the caller (API token or session cookie), limits and buffers the body
/// of state-changing requests, and checks their CSRF token. Puts a [`Ctx`] into the
/// request for handlers.
async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let connect = req.extensions().get::<ConnectInfo<SocketAddr>>().cloned();
    let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
    let rid = req.extensions().get::<RequestId>().cloned().unwrap_or(RequestId("-".into()));
    let path = req.uri().path().to_string();
    let is_api = wants_api(&path);
    let fail = |e: AppError| if is_api { api_error(&e, lang, &rid) } else { ui::error_page(&e, &rid, lang) };

    // /metrics takes its own bearer token (server.metrics_token), not an API token
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|_| path != "/metrics");
    let session_token = cookie(req.headers(), SESSION_COOKIE).map(str::to_string);
    let principal = if let Some(t) = &bearer {
        match auth::from_token(&state.store, &state.policy, t).await {
            Ok(Some(p)) => Some(p),
            Ok(None) => return fail(AppError::Unauthenticated),
            Err(e) => return fail(e),
        }
    } else if let Some(t) = &session_token {
        match auth::from_session(&state.store, &state.policy, t).await {
            Ok(p) => p,
            Err(e) => return fail(e),
        }
    } else {
        None
    };

    let method = req.method().clone();
    let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let limit = if path == "/registry/import" {
        registry_ui::MAX_IMPORT_BYTES
    } else if path.starts_with("/payments/") && path.ends_with("/results")
        || path.starts_with("/api/v1/payments/cycles/") && path.ends_with("/results")
    {
        payments_ui::MAX_RESULTS_BYTES
    } else if is_upload(&path) {
        crate::services::uploads::MAX_UPLOAD_BODY
    } else {
        MAX_BODY
    };
    let req = if unsafe_method {
        if let Some(len) = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
        {
            if len > limit {
                // Read (and drop) a moderately oversized body before answering, so that the
                // client is not cut off while sending and does see the 413.
                if len <= limit.saturating_add(DRAIN_LIMIT) {
                    let _ = axum::body::to_bytes(req.into_body(), limit.saturating_add(DRAIN_LIMIT)).await;
                }
                return fail(AppError::PayloadTooLarge(limit));
            }
        }
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
            return fail(AppError::PayloadTooLarge(limit));
        };
        // A session cookie carries ambient authority: require the CSRF token (header,
        // or the `_csrf` field of a form). Tokens in headers need none.
        if let Some(p) = principal.as_ref().filter(|p| p.session_hash.is_some()) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .or_else(|| extract::FormData::parse(&bytes).get("_csrf").map(str::to_string))
                .or_else(|| extract::multipart_csrf(&parts.headers, &bytes));
            let ok =
                matches!((&sent, &p.csrf_token), (Some(a), Some(b)) if constant_time_eq(a.as_bytes(), b.as_bytes()));
            if !ok {
                return fail(AppError::Csrf);
            }
        } else if is_login(&method, &path) || is_citizen_form(&method, &path) {
            // Login CSRF: a cross-site form may not post credentials.
            if let Some(origin) = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
                let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
                let same = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host);
                if !same {
                    return fail(AppError::Csrf);
                }
            }
        }
        Request::from_parts(parts, Body::from(bytes))
    } else {
        req
    };

    let must_change = principal.as_ref().is_some_and(|p| p.must_change_password && p.session_hash.is_some());
    let peer = connect.map(|ConnectInfo(a)| a.ip().to_string());
    // Behind a reverse proxy the socket's peer is the proxy: trust its X-Forwarded-For
    // only when configured to (a client could send the header itself otherwise).
    let forwarded = state
        .trust_forwarded_for
        .then(|| req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    let ip = forwarded.or(peer);
    // With a temporary password only the password change (and logout) are allowed.
    if must_change && is_api && !matches!(path.as_str(), "/api/v1/account/password" | "/api/v1/session" | "/api/v1/me")
    {
        return api_error(&AppError::Forbidden("the temporary password must be changed first".into()), lang, &rid);
    }
    let mut req = req;
    req.extensions_mut().insert(Ctx { principal, ip, request_id: Some(rid.0.clone()), operator: false });
    // A temporary password must be replaced before anything else is done in the UI.
    if must_change
        && !is_api
        && !matches!(path.as_str(), "/account" | "/account/password" | "/logout")
        && !path.starts_with("/assets/")
    {
        return Redirect::to("/account?must_change=1").into_response();
    }
    next.run(req).await
}

/// Counts matched routes by their route template (not the raw path, to bound label
/// cardinality).
async fn observe(State(state): State<AppState>, matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    state.metrics.observe(&method, &route, res.status().as_u16(), started.elapsed().as_secs_f64());
    res
}

/// Liveness and readiness: 200 `ok` when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Metrics for a scraper: with `server.metrics_token`, to whoever sends it as a bearer token;
/// without, only to clients on this machine (the counters name routes and error rates).
async fn metrics_text(State(state): State<AppState>, req: extract::Req, headers: axum::http::HeaderMap) -> Response {
    let allowed = match &state.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| {
                // compared in constant time: the token is a secret
                let (a, b) = (t.as_bytes(), token.as_bytes());
                a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
            }),
        None => {
            req.ctx.ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok()).is_some_and(|ip| ip.is_loopback())
        }
    };
    if !allowed {
        return (StatusCode::FORBIDDEN, "metrics: forbidden\n").into_response();
    }
    state.metrics.db_up.set(i64::from(state.store.ping().await.is_ok()));
    let body = state.metrics.render(state.started.elapsed().as_secs() as i64);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}

/// Compares secrets without stopping at the first difference.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Set-Cookie` for a session (or its removal when `value` is empty).
pub fn session_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    if value.is_empty() {
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
    } else {
        format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            auth::SESSION_MAX.num_seconds()
        )
    }
}
