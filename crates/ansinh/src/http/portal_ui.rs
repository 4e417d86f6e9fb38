//! The citizen's self-service lookup pages (`/portal/tra-cuu`): identification, an SMS code,
//! their entitlements and payments, rating a payment, signing out. The citizen's session lives
//! in its own cookie (path `/portal`, SameSite=Strict), apart from officers' sessions.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;
use crate::http::complaints_api::portal_key;
use crate::http::extract::{cookie, FormData, Req};
use crate::http::i18n::Key;
use crate::http::ui::{fail, layout, render, Layout};
use crate::services::lookup::{self, CitizenView};
use crate::services::AppState;

#[derive(Template)]
#[template(path = "portal_lookup.html")]
struct LookupPage {
    l: Layout,
    view: Option<CitizenView>,
    sms: bool,
    /// the e-ID button's label, when an OpenID Connect login is configured
    eid: Option<String>,
    personal_id: String,
    birth_date: String,
    notice: String,
    error: String,
}

/// `Set-Cookie` for a citizen's session (or its removal when `token` is empty).
pub fn citizen_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let age = if token.is_empty() { 0 } else { lookup::SESSION_MIN * 60 };
    format!("{}={token}; Path=/portal; HttpOnly; SameSite=Strict; Max-Age={age}{secure}", lookup::COOKIE)
}

fn with_cookie(mut r: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The person of the request's citizen session, if any.
async fn citizen(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Option<i64>, AppError> {
    match cookie(headers, lookup::COOKIE).filter(|t| !t.is_empty()) {
        Some(t) => lookup::session_person(&state.store, t).await,
        None => Ok(None),
    }
}

struct Bits {
    view: Option<CitizenView>,
    personal_id: String,
    birth_date: String,
    notice: String,
    error: String,
}

fn page(state: &AppState, req: &Req, b: Bits, status: StatusCode) -> Response {
    let p = LookupPage {
        view: b.view,
        sms: state.sms.enabled(),
        eid: state.oidc.as_ref().map(|o| o.settings.label.clone()),
        personal_id: b.personal_id,
        birth_date: b.birth_date,
        notice: b.notice,
        error: b.error,
        l: layout(state, req),
    };
    let mut r = render(&p, req);
    *r.status_mut() = status;
    r
}

/// The lookup form again with what was typed and why it was refused (the error's status).
fn refused(state: &AppState, req: &Req, personal_id: String, birth_date: String, e: &AppError) -> Response {
    page(state, req, Bits { personal_id, birth_date, error: e.message(req.lang), ..blank() }, e.status())
}

fn blank() -> Bits {
    Bits {
        view: None,
        personal_id: String::new(),
        birth_date: String::new(),
        notice: String::new(),
        error: String::new(),
    }
}

async fn overview_page(
    state: &AppState,
    req: &Req,
    person: i64,
    notice: String,
    error: String,
    status: StatusCode,
) -> Response {
    match lookup::overview(&state.store, &state.gazetteer, &state.packs, person).await {
        Ok(v) => page(state, req, Bits { view: Some(v), notice, error, ..blank() }, status),
        Err(e) => fail(e, req),
    }
}

pub async fn show(State(state): State<AppState>, req: Req, headers: axum::http::HeaderMap) -> Response {
    match citizen(&state, &headers).await {
        Ok(Some(person)) => overview_page(&state, &req, person, String::new(), String::new(), StatusCode::OK).await,
        Ok(None) => page(&state, &req, blank(), StatusCode::OK),
        Err(e) => fail(e, &req),
    }
}

pub async fn identify(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    let key = portal_key(&req);
    let (pid, birth) = (form.text("personal_id"), form.text("birth_date"));
    // counted before the attempt (parallel guesses cannot all pass), forgiven when it succeeds
    if state.throttle.hit(&key) {
        return refused(&state, &req, pid, birth, &AppError::Throttled);
    }
    let r = lookup::identify(&state.store, req.ctx.ip.clone(), &pid, &birth, &form.text("code")).await;
    if r.is_ok() {
        state.throttle.forgive(&key);
    }
    match r {
        Ok(token) => {
            with_cookie(Redirect::to("/portal/tra-cuu").into_response(), &citizen_cookie(&token, state.cookie_secure))
        }
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. } | AppError::Throttled)) => {
            refused(&state, &req, pid, birth, &e)
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn sms(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    let key = portal_key(&req);
    let (pid, birth) = (form.text("personal_id"), form.text("birth_date"));
    // every request counts against the address: sending costs money and reaches a phone
    if state.throttle.hit(&key) {
        return refused(&state, &req, pid, birth, &AppError::Throttled);
    }
    match lookup::request_sms(&state.store, &state.sms, &pid, &birth).await {
        Ok(()) => {
            let notice = req
                .lang
                .pick(
                    "Nếu thông tin khớp với hồ sơ có số điện thoại, mã tra cứu đã được gửi đến số đó (hiệu lực 10 phút).",
                    "If the details match a record with a phone number, a lookup code was sent to it (valid 10 minutes).",
                )
                .to_string();
            page(&state, &req, Bits { personal_id: pid, birth_date: birth, notice, ..blank() }, StatusCode::OK)
        }
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. } | AppError::Throttled)) => {
            refused(&state, &req, pid, birth, &e)
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn rate(State(state): State<AppState>, req: Req, headers: axum::http::HeaderMap, form: FormData) -> Response {
    let person = match citizen(&state, &headers).await {
        Ok(Some(p)) => p,
        Ok(None) => return Redirect::to("/portal/tra-cuu").into_response(),
        Err(e) => return fail(e, &req),
    };
    let line = form.text("line").parse::<i64>().unwrap_or(0);
    match lookup::rate_payment(&state.store, person, line, &form.text("score"), &form.text("comment")).await {
        Ok(()) => {
            let msg = req.lang.pick("Cảm ơn ông/bà đã đánh giá.", "Thank you for your rating.").to_string();
            overview_page(&state, &req, person, msg, String::new(), StatusCode::OK).await
        }
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. })) => {
            let status = e.status();
            overview_page(&state, &req, person, String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

/// The cookie binding an e-ID login to the browser that started it. The provider posts back
/// cross-site, so it must be `SameSite=None`, which browsers accept only with `Secure`: without
/// HTTPS (development) the single-use state alone binds the login.
const EID_COOKIE: &str = "ansinh_eid";

/// Sends the citizen to the e-ID provider.
pub async fn eid_start(State(state): State<AppState>, req: Req) -> Response {
    let Some(provider) = state.oidc.clone() else { return fail(AppError::NotFound("e-ID login".into()), &req) };
    // each start keeps a state row: counted against the address like the other portal actions
    if state.throttle.hit(&portal_key(&req)) {
        return fail(AppError::Throttled, &req);
    }
    match lookup::start_eid(&state.store, &provider).await {
        Ok((url, st)) => {
            let cookie = if state.cookie_secure {
                format!(
                    "{EID_COOKIE}={st}; Path=/portal/eid; HttpOnly; SameSite=None; Secure; Max-Age={}",
                    lookup::OIDC_STATE_MIN * 60
                )
            } else {
                format!("{EID_COOKIE}=; Path=/portal/eid; HttpOnly; Max-Age=0")
            };
            with_cookie(Redirect::to(&url).into_response(), &cookie)
        }
        Err(e) => fail(e, &req),
    }
}

/// The provider posts the ID token back (form_post). The citizen's page is rendered in this
/// response: a redirect after a cross-site POST would not carry the new SameSite=Strict cookie.
pub async fn eid_callback(
    State(state): State<AppState>,
    req: Req,
    headers: axum::http::HeaderMap,
    form: FormData,
) -> Response {
    let Some(provider) = state.oidc.clone() else { return fail(AppError::NotFound("e-ID login".into()), &req) };
    let st = form.text("state");
    let bad = |vi: &str, en: &str| AppError::Denied { vi: vi.into(), en: en.into() };
    let r = async {
        if !form.text("error").is_empty() {
            tracing::info!(error = %form.text("error"), "e-ID login not completed");
            return Err(bad("Đăng nhập định danh điện tử không thành công.", "The e-ID login did not complete."));
        }
        if state.cookie_secure && cookie(&headers, EID_COOKIE) != Some(st.as_str()) {
            return Err(bad(
                "Phiên đăng nhập không khớp với trình duyệt này. Xin đăng nhập lại.",
                "The login does not belong to this browser. Please sign in again.",
            ));
        }
        let token =
            lookup::finish_eid(&state.store, &provider, req.ctx.ip.clone(), &st, &form.text("id_token")).await?;
        let person = lookup::session_person(&state.store, &token).await?.ok_or(AppError::Unauthenticated)?;
        Ok((token, person))
    }
    .await;
    match r {
        Ok((token, person)) => {
            let page = overview_page(&state, &req, person, String::new(), String::new(), StatusCode::OK).await;
            with_cookie(page, &citizen_cookie(&token, state.cookie_secure))
        }
        Err(e @ AppError::Denied { .. }) => {
            let status = e.status();
            page(&state, &req, Bits { error: e.message(req.lang), ..blank() }, status)
        }
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "lookup_code.html")]
struct CodePage {
    l: Layout,
    person_id: i64,
    code: String,
}

/// A commune officer issues the lookup code to print on a person's entitlement decision.
pub async fn issue_code(
    State(state): State<AppState>,
    req: Req,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Response {
    match lookup::issue_decision_code(&state.store, &req.ctx, id).await {
        Ok(code) => render(&CodePage { person_id: id, code, l: layout(&state, &req) }, &req),
        Err(e) => fail(e, &req),
    }
}

pub async fn sign_out(State(state): State<AppState>, req: Req, headers: axum::http::HeaderMap) -> Response {
    if let Some(t) = cookie(&headers, lookup::COOKIE).filter(|t| !t.is_empty()) {
        if let Err(e) = lookup::sign_out(&state.store, t).await {
            return fail(e, &req);
        }
    }
    with_cookie(Redirect::to("/portal/tra-cuu").into_response(), &citizen_cookie("", state.cookie_secure))
}
