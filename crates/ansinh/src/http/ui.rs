//! Server-rendered pages (askama templates compiled into the binary). Every handler:
//! parse → service → render; errors become pages (or a redirect to the login).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::extract::{log_if_internal, login_redirect, FormData, Req};
use crate::http::i18n::{kind_label, Key, Lang};
use crate::http::{session_cookie, RequestId};
use crate::services::authz::{perm, Principal, Scope};
use crate::services::{audit as audit_svc, auth, units, users, AppState};

const STYLESHEET: &str = include_str!("../../assets/app.css");
const HTMX: &str = include_str!("../../assets/vendor/htmx-2.0.11.min.js");

/// The signed-in user as the page header shows them.
pub struct NavUser {
    pub full_name: String,
    pub role_label: String,
    pub can_users: bool,
    pub can_audit: bool,
    pub can_registry: bool,
    pub can_changes: bool,
    pub can_import: bool,
    pub can_simulate: bool,
    pub can_payments: bool,
    pub can_integrity: bool,
    pub can_plans: bool,
    pub can_complaints: bool,
}

/// An amount in đồng however a template holds it (by value or behind references).
pub trait Dong {
    fn dong(&self) -> i64;
}
impl Dong for i64 {
    fn dong(&self) -> i64 {
        *self
    }
}
impl<T: Dong + ?Sized> Dong for &T {
    fn dong(&self) -> i64 {
        (**self).dong()
    }
}

/// What every page's layout needs.
pub struct Layout {
    pub lang: Lang,
    pub user: Option<NavUser>,
    pub csrf: String,
}

impl Layout {
    pub fn t(&self, k: Key) -> &'static str {
        self.lang.t(k)
    }

    /// Inline translation: both languages side by side in the template.
    pub fn tr<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    /// A stored date (`yyyy-mm-dd`, `yyyy-mm`, `yyyy`) as Vietnamese read it: `dd/mm/yyyy`.
    pub fn date(&self, iso: &str) -> String {
        domain::PartialDate::parse(iso).map_or_else(|_| iso.to_string(), |d| d.to_string())
    }

    /// A count with the Vietnamese thousands separator (`1.000.000`), English `1,000,000`.
    pub fn num(&self, n: impl std::borrow::Borrow<usize>) -> String {
        let grouped = domain::Money::from_dong(i64::try_from(*n.borrow()).unwrap_or(i64::MAX)).format_grouped();
        match self.lang {
            Lang::Vi => grouped,
            Lang::En => grouped.replace('.', ","),
        }
    }

    /// An amount in đồng as Vietnamese write it: `2.789.000 ₫`.
    /// A payment cycle's status.
    pub fn status(&self, s: &str) -> String {
        let (vi, en) = crate::services::payments::status_label(s);
        self.tr(vi, en).to_string()
    }

    /// An integrity case's status (open, confirmed, false positive).
    pub fn case_status(&self, s: &str) -> String {
        let (vi, en) = crate::services::integrity::status_label(s);
        self.tr(vi, en).to_string()
    }

    /// A payment line's status (pay, held, stopped, recovery).
    pub fn line_status(&self, s: &str) -> String {
        self.tr(crate::services::payments::line_status_vi(s), s).to_string()
    }

    /// A payment line's result (paid, failed, returned).
    pub fn line_result(&self, s: &str) -> String {
        let vi = match s {
            "paid" => "đã nhận",
            "failed" => "không chi được",
            "returned" => "trả lại",
            "" => return self.tr("chưa có kết quả", "no result yet").to_string(),
            _ => s,
        };
        self.tr(vi, s).to_string()
    }

    /// What a payment item is (regular, one-off, arrears, recovery, carried).
    pub fn item_kind(&self, s: &str) -> String {
        match self.lang {
            Lang::Vi => crate::services::payments::item_kind_vi(s).to_string(),
            Lang::En => s.replace('_', "-"),
        }
    }

    /// A count as Vietnamese group it (`12.345`).
    pub fn count(&self, n: impl Dong) -> String {
        domain::Money::from_dong(n.dong()).format_grouped()
    }

    pub fn money(&self, dong: impl Dong) -> String {
        domain::Money::from_dong(dong.dong()).to_string()
    }

    /// `yyyy-mm` as `mm/yyyy`.
    pub fn month(&self, iso: &str) -> String {
        iso.parse::<domain::Month>().map_or_else(|_| iso.to_string(), |m| m.to_string())
    }

    /// A category code with its short name: `g — Thương binh`.
    pub fn category(&self, code: &str) -> String {
        match domain::categories::find(code) {
            Some((c, short, _, en)) => {
                let name = if self.lang == Lang::Vi { short } else { en };
                if *c == "relative" {
                    name.to_string()
                } else {
                    format!("{} — {name}", domain::categories::printed(c))
                }
            }
            None => code.to_string(),
        }
    }

    pub fn disability<'a>(&self, level: &'a str) -> &'a str {
        match (level, self.lang) {
            ("severe", Lang::Vi) => "nặng",
            ("especially_severe", Lang::Vi) => "đặc biệt nặng",
            ("severe", Lang::En) => "severe",
            ("especially_severe", Lang::En) => "especially severe",
            (other, _) => other,
        }
    }

    pub fn anonymous(lang: Lang) -> Layout {
        Layout { lang, user: None, csrf: String::new() }
    }
}

fn role_label(state: &AppState, lang: Lang, role: &str) -> String {
    state
        .policy
        .role(role)
        .map_or_else(|| role.to_string(), |r| if lang == Lang::Vi { r.name_vi.clone() } else { r.name_en.clone() })
}

pub fn layout(state: &AppState, req: &Req) -> Layout {
    let p = req.ctx.principal.as_ref();
    Layout {
        lang: req.lang,
        user: p.map(|p| NavUser {
            full_name: p.full_name.clone(),
            role_label: role_label(state, req.lang, &p.role),
            can_users: p.can(perm::USERS_READ),
            can_audit: p.can(perm::AUDIT_READ),
            can_registry: p.can(perm::REGISTRY_READ),
            can_changes: p.can(perm::REGISTRY_APPROVE) || p.can(perm::REGISTRY_PROPOSE),
            can_import: p.can(perm::REGISTRY_IMPORT),
            can_simulate: p.can(perm::DASHBOARDS_READ),
            can_payments: p.can(perm::PAYMENTS_READ),
            can_integrity: p.can(perm::INTEGRITY_READ),
            can_plans: p.can(perm::PLANS_READ),
            can_complaints: p.can(perm::COMPLAINTS_READ),
        }),
        csrf: p.and_then(|p| p.csrf_token.clone()).unwrap_or_default(),
    }
}

pub fn render<T: Template>(t: &T, req: &Req) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(&AppError::from(e), &req.rid, req.lang),
    }
}

/// The page for an error; an unauthenticated request is sent to the login instead.
pub fn fail(e: AppError, req: &Req) -> Response {
    if matches!(e, AppError::Unauthenticated) {
        return login_redirect(&req.path);
    }
    error_page(&e, &req.rid, req.lang)
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    l: Layout,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

pub fn error_page(e: &AppError, rid: &RequestId, lang: Lang) -> Response {
    log_if_internal(e, rid);
    let message = e.message(lang);
    let title = match e.status() {
        StatusCode::NOT_FOUND => lang.t(Key::NotFound),
        StatusCode::FORBIDDEN => lang.t(Key::Forbidden),
        _ => lang.t(Key::ErrorTitle),
    };
    let page = ErrorPage { l: Layout::anonymous(lang), title, message: &message, request_id: &rid.0 };
    match page.render() {
        Ok(html) => (e.status(), Html(html)).into_response(),
        Err(_) => (e.status(), format!("{title} ({})", rid.0)).into_response(),
    }
}

pub async fn not_found(req: Req, State(state): State<AppState>, method: axum::http::Method) -> Response {
    state.metrics.observe(method.as_str(), "unmatched", 404, 0.0);
    let e = AppError::NotFound(req.path.split('?').next().unwrap_or("/").to_string());
    if req.path.starts_with("/api/") {
        return req.api_error(e);
    }
    error_page(&e, &req.rid, req.lang)
}

pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET)
        .into_response()
}

pub async fn htmx() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=86400")], HTMX)
        .into_response()
}

/// Sets the language cookie when `?lang=` was given explicitly.
fn with_lang_cookie(mut res: Response, q: Option<&str>, lang: Lang) -> Response {
    if q.and_then(Lang::parse).is_some() {
        let cookie = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
        if let Ok(v) = cookie.parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

// ---------- start page (public) ----------

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub lang: Option<String>,
    pub q: Option<String>,
}

pub struct Row {
    pub no: usize,
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub predecessors: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    l: Layout,
    province_name: &'a str,
    total: i64,
    xa: usize,
    phuong: usize,
    dac_khu: usize,
    query: &'a str,
    rows: Vec<Row>,
    former: &'a [units::FormerUnit],
}

/// The start page: the province and its communes (public reference data).
pub async fn index(State(state): State<AppState>, req: Req, Query(q): Query<PageQuery>) -> Response {
    let lang = req.lang;
    let res = match units::province_overview(&state.store, &state.gazetteer, &state.province_code, q.q.as_deref()).await
    {
        Ok(o) => {
            let rows = o
                .communes
                .iter()
                .enumerate()
                .map(|(i, c)| Row {
                    no: i + 1,
                    code: c.code.clone(),
                    name: c.name.clone(),
                    kind: kind_label(lang, &c.kind),
                    predecessors: if c.predecessor_count > 0 { c.predecessor_count.to_string() } else { "—".into() },
                })
                .collect();
            let page = IndexPage {
                l: layout(&state, &req),
                province_name: &o.name,
                total: o.commune_total,
                xa: o.xa,
                phuong: o.phuong,
                dac_khu: o.dac_khu,
                query: o.query.as_deref().unwrap_or(""),
                rows,
                former: &o.former_units,
            };
            render(&page, &req)
        }
        Err(e) => fail(e, &req),
    };
    with_lang_cookie(res, q.lang.as_deref(), lang)
}

// ---------- login / logout ----------

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    l: Layout,
    error: String,
    next: String,
    username: String,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
    pub lang: Option<String>,
}

/// Only local paths are followed after login (no open redirect). Browsers drop tabs and
/// newlines inside URLs (`/\t/evil` becomes `//evil`), so any control character, a
/// backslash or a second leading slash sends the user home instead.
fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.chars().any(|c| c.is_control() || c == '\\' || c.is_whitespace());
    if ok {
        next.to_string()
    } else {
        "/home".to_string()
    }
}

pub async fn login_form(State(state): State<AppState>, req: Req, Query(q): Query<LoginQuery>) -> Response {
    if req.ctx.principal.is_some() {
        return Redirect::to("/home").into_response();
    }
    let page = LoginPage {
        l: layout(&state, &req),
        error: String::new(),
        next: safe_next(q.next.as_deref().unwrap_or("/home")),
        username: String::new(),
    };
    with_lang_cookie(render(&page, &req), q.lang.as_deref(), req.lang)
}

pub async fn login_submit(
    State(state): State<AppState>,
    req: Req,
    headers: axum::http::HeaderMap,
    form: FormData,
) -> Response {
    let username = form.text("username");
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    match auth::login(&state.store, &state.throttle, &req.ctx, &username, form.get("password").unwrap_or(""), ua).await
    {
        Ok(s) => {
            let to = if s.must_change_password {
                "/account?must_change=1".to_string()
            } else {
                safe_next(&form.text("next"))
            };
            let mut res = Redirect::to(&to).into_response();
            if let Ok(v) = session_cookie(&s.token, state.cookie_secure).parse() {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) if matches!(e, AppError::BadCredentials | AppError::Locked(_) | AppError::Throttled) => {
            let status = e.status();
            let page = LoginPage {
                l: layout(&state, &req),
                error: e.message(req.lang),
                next: safe_next(&form.text("next")),
                username,
            };
            (status, render(&page, &req)).into_response()
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn logout(State(state): State<AppState>, req: Req) -> Response {
    if let Err(e) = auth::logout(&state.store, &req.ctx).await {
        return fail(e, &req);
    }
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = session_cookie("", state.cookie_secure).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

// ---------- home ----------

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    full_name: String,
    role_label: String,
    scope_label: String,
    communes: Vec<units::CommuneView>,
    can_users: bool,
    can_audit: bool,
    can_tokens: bool,
    permissions: Vec<String>,
}

fn scope_label(state: &AppState, lang: Lang, p: &Principal) -> String {
    match &p.scope {
        Scope::Province => {
            let name =
                state.gazetteer.province(&state.province_code).map_or(state.province_code.clone(), |p| p.name.clone());
            if lang == Lang::Vi {
                format!("toàn tỉnh ({name})")
            } else {
                format!("whole province ({name})")
            }
        }
        Scope::Communes(c) => {
            if lang == Lang::Vi {
                format!("{} xã, phường", c.len())
            } else {
                format!("{} commune(s)", c.len())
            }
        }
        Scope::Agency(a) => a.clone(),
        Scope::SelfOnly => lang.t(Key::SelfOnly).to_string(),
    }
}

pub async fn home(State(state): State<AppState>, req: Req) -> Response {
    let p = match req.ctx.user() {
        Ok(p) => p.clone(),
        Err(e) => return fail(e, &req),
    };
    let communes = match units::my_communes(&state.store, &p.scope).await {
        Ok(c) => c,
        Err(e) => return fail(e, &req),
    };
    let page = HomePage {
        l: layout(&state, &req),
        full_name: p.full_name.clone(),
        role_label: role_label(&state, req.lang, &p.role),
        scope_label: scope_label(&state, req.lang, &p),
        communes,
        can_users: p.can(perm::USERS_READ),
        can_audit: p.can(perm::AUDIT_READ),
        can_tokens: p.can(perm::TOKENS_OWN),
        permissions: p.permissions.iter().cloned().collect(),
    };
    render(&page, &req)
}

// ---------- commune workspace ----------

#[derive(Template)]
#[template(path = "commune.html")]
struct CommunePage {
    l: Layout,
    w: units::CommuneWorkspace,
    kind_label: &'static str,
}

pub async fn commune(State(state): State<AppState>, req: Req, Path(code): Path<String>) -> Response {
    match units::commune_workspace(&state.store, &state.gazetteer, &req.ctx, &code).await {
        Ok(w) => {
            let kind_label = kind_label(req.lang, &w.kind);
            render(&CommunePage { l: layout(&state, &req), w, kind_label }, &req)
        }
        Err(e) => fail(e, &req),
    }
}

// ---------- users ----------

pub struct UserRowView {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub role_label: String,
    pub area: String,
    pub disabled: bool,
    pub locked: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    l: Layout,
    notice: String,
    error: String,
    q: String,
    role: String,
    include_disabled: bool,
    roles: Vec<(String, String)>,
    agencies: Vec<(String, String)>,
    total: i64,
    rows: Vec<UserRowView>,
    can_manage: bool,
    page: i64,
    pages: i64,
    prev_url: String,
    next_url: String,
}

#[derive(Template)]
#[template(path = "user_row.html")]
struct UserRowFragment {
    l: Layout,
    u: UserRowView,
    can_manage: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    pub q: Option<String>,
    pub role: Option<String>,
    pub include_disabled: Option<String>,
    pub page: Option<i64>,
}

fn user_row(state: &AppState, lang: Lang, u: &users::UserView) -> UserRowView {
    let area =
        if !u.communes.is_empty() { u.communes.join(", ") } else { u.agency.clone().unwrap_or_else(|| "—".into()) };
    UserRowView {
        id: u.id,
        username: u.username.clone(),
        full_name: u.full_name.clone(),
        role_label: role_label(state, lang, &u.role),
        area,
        disabled: u.disabled,
        locked: u.locked,
    }
}

async fn users_page(
    state: &AppState,
    req: &Req,
    q: &UsersQuery,
    notice: String,
    error: String,
    status: StatusCode,
) -> Response {
    let filter = store::UserFilter {
        q: q.q.clone().filter(|s| !s.trim().is_empty()),
        role: q.role.clone().filter(|s| !s.is_empty()),
        include_disabled: q.include_disabled.is_some(),
    };
    let list = match users::list(&state.store, &req.ctx, &filter, store::Page::new(q.page, Some(100))).await {
        Ok(l) => l,
        Err(e) => return fail(e, req),
    };
    let agencies = match state.store.agencies().await {
        Ok(a) => a.into_iter().map(|a| (a.code, if req.lang == Lang::Vi { a.name_vi } else { a.name_en })).collect(),
        Err(e) => return fail(e.into(), req),
    };
    let roles = state
        .policy
        .roles
        .iter()
        .filter(|r| r.staff)
        .map(|r| (r.code.clone(), if req.lang == Lang::Vi { r.name_vi.clone() } else { r.name_en.clone() }))
        .collect();
    let pages = ((list.total + list.per_page - 1) / list.per_page).max(1);
    let url_for = |p: i64| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if let Some(v) = q.q.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair("q", v);
        }
        if let Some(v) = q.role.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair("role", v);
        }
        if q.include_disabled.is_some() {
            s.append_pair("include_disabled", "1");
        }
        s.append_pair("page", &p.to_string());
        format!("/users?{}", s.finish())
    };
    let page = UsersPage {
        page: list.page,
        pages,
        prev_url: url_for(list.page - 1),
        next_url: url_for(list.page + 1),
        l: layout(state, req),
        notice,
        error,
        q: q.q.clone().unwrap_or_default(),
        role: q.role.clone().unwrap_or_default(),
        include_disabled: q.include_disabled.is_some(),
        roles,
        agencies,
        total: list.total,
        rows: list.items.iter().map(|u| user_row(state, req.lang, u)).collect(),
        can_manage: req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::USERS_MANAGE)),
    };
    (status, render(&page, req)).into_response()
}

pub async fn users(State(state): State<AppState>, req: Req, Query(q): Query<UsersQuery>) -> Response {
    users_page(&state, &req, &q, String::new(), String::new(), StatusCode::OK).await
}

pub async fn users_create(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    let input = users::CreateUser {
        username: form.text("username"),
        full_name: form.text("full_name"),
        role: form.text("role"),
        agency: Some(form.text("agency")).filter(|a| !a.is_empty()),
        communes: form
            .text("communes")
            .split([',', ' ', ';'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect(),
        password: Some(form.text("password")).filter(|p| !p.is_empty()),
    };
    match users::create(&state.store, &state.policy, &req.ctx, &input).await {
        Ok(c) => {
            let notice = match (&c.temporary_password, req.lang) {
                (Some(t), Lang::Vi) => {
                    format!("Đã tạo tài khoản {}. Mật khẩu tạm (chỉ hiện một lần): {t}", c.user.username)
                }
                (Some(t), Lang::En) => {
                    format!("Account {} created. Temporary password (shown once): {t}", c.user.username)
                }
                (None, Lang::Vi) => format!("Đã tạo tài khoản {}.", c.user.username),
                (None, Lang::En) => format!("Account {} created.", c.user.username),
            };
            users_page(&state, &req, &UsersQuery::default(), notice, String::new(), StatusCode::CREATED).await
        }
        Err(e @ (AppError::Field { .. } | AppError::Invalid(_))) => {
            let status = e.status();
            users_page(&state, &req, &UsersQuery::default(), String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn users_action(
    State(state): State<AppState>,
    req: Req,
    Path((id, action)): Path<(i64, String)>,
) -> Response {
    let result = match action.as_str() {
        "disable" | "enable" => {
            users::set_disabled(&state.store, &req.ctx, id, action == "disable").await.map(|u| (u, None))
        }
        "reset-password" => match users::reset_password(&state.store, &req.ctx, id).await {
            Ok(t) => users::get(&state.store, id).await.map(|u| (u, Some(t))),
            Err(e) => Err(e),
        },
        _ => Err(AppError::NotFound(req.path.clone())),
    };
    match result {
        Ok((u, None)) if req.htmx => {
            let frag = UserRowFragment { l: layout(&state, &req), u: user_row(&state, req.lang, &u), can_manage: true };
            render(&frag, &req)
        }
        Ok((u, temp)) => {
            let notice = match (temp, req.lang) {
                (Some(t), Lang::Vi) => format!("Mật khẩu tạm mới của {} (chỉ hiện một lần): {t}", u.username),
                (Some(t), Lang::En) => format!("New temporary password for {} (shown once): {t}", u.username),
                (None, Lang::Vi) => format!("Đã cập nhật tài khoản {}.", u.username),
                (None, Lang::En) => format!("Account {} updated.", u.username),
            };
            users_page(&state, &req, &UsersQuery::default(), notice, String::new(), StatusCode::OK).await
        }
        Err(e @ AppError::Denied { .. }) => {
            let msg = e.message(req.lang);
            users_page(&state, &req, &UsersQuery::default(), String::new(), msg, StatusCode::CONFLICT).await
        }
        Err(e) => fail(e, &req),
    }
}

// ---------- account: password and API tokens ----------

pub struct TokenRowView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub expires: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    l: Layout,
    must_change: bool,
    notice: String,
    error: String,
    secret: String,
    can_tokens: bool,
    tokens: Vec<TokenRowView>,
    permissions: Vec<String>,
}

async fn account_page(
    state: &AppState,
    req: &Req,
    notice: String,
    error: String,
    secret: String,
    status: StatusCode,
) -> Response {
    let p = match req.ctx.user() {
        Ok(p) => p.clone(),
        Err(e) => return fail(e, req),
    };
    let can_tokens = p.can(perm::TOKENS_OWN);
    let tokens = if can_tokens {
        match users::tokens(&state.store, &req.ctx).await {
            Ok(t) => t
                .into_iter()
                .map(|t| TokenRowView {
                    id: t.id,
                    name: t.name,
                    prefix: t.prefix,
                    scopes: t.scopes.join(" "),
                    expires: auth::display_time(&t.expires_at),
                    revoked: t.revoked,
                })
                .collect(),
            Err(e) => return fail(e, req),
        }
    } else {
        Vec::new()
    };
    let page = AccountPage {
        l: layout(state, req),
        must_change: p.must_change_password,
        notice,
        error,
        secret,
        can_tokens,
        tokens,
        permissions: p.permissions.iter().cloned().collect(),
    };
    (status, render(&page, req)).into_response()
}

pub async fn account(State(state): State<AppState>, req: Req) -> Response {
    account_page(&state, &req, String::new(), String::new(), String::new(), StatusCode::OK).await
}

pub async fn account_password(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    match users::change_own_password(
        &state.store,
        &req.ctx,
        form.get("current_password").unwrap_or(""),
        form.get("new_password").unwrap_or(""),
    )
    .await
    {
        Ok(()) => {
            // the temporary-password flag is cleared: reload the principal
            let mut req = req;
            if let Some(p) = req.ctx.principal.as_mut() {
                p.must_change_password = false;
            }
            let msg = req.lang.t(Key::PasswordChanged).to_string();
            account_page(&state, &req, msg, String::new(), String::new(), StatusCode::OK).await
        }
        Err(e @ AppError::Field { .. }) => {
            let msg = e.message(req.lang);
            account_page(&state, &req, String::new(), msg, String::new(), StatusCode::BAD_REQUEST).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn tokens_create(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    let input =
        users::CreateToken { name: form.text("name"), scopes: form.all("scope"), days: form.text("days").parse().ok() };
    match users::create_token(&state.store, &req.ctx, &input).await {
        Ok(t) => account_page(&state, &req, String::new(), String::new(), t.secret, StatusCode::CREATED).await,
        Err(e @ AppError::Field { .. }) => {
            let msg = e.message(req.lang);
            account_page(&state, &req, String::new(), msg, String::new(), StatusCode::BAD_REQUEST).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn tokens_revoke(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match users::revoke_token(&state.store, &req.ctx, id).await {
        Ok(()) => Redirect::to("/account").into_response(),
        Err(e) => fail(e, &req),
    }
}

// ---------- audit trail ----------

pub struct AuditRowView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub ip: String,
    pub action: String,
    pub entity: String,
    pub detail: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub entity_type: String,
    #[serde(default)]
    pub entity_id: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    pub page: Option<i64>,
    pub verify: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    l: Layout,
    f: AuditQuery,
    can_verify: bool,
    verify_result: String,
    verify_ok: bool,
    total: i64,
    page: i64,
    pages: i64,
    rows: Vec<AuditRowView>,
    prev_url: String,
    next_url: String,
}

/// Turns the page's filter (dates as dd/mm/yyyy) into the store's filter.
pub fn audit_filter(q: &AuditQuery) -> Result<store::AuditFilter, AppError> {
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let date = |field: &'static str, s: &str| -> Result<Option<chrono::NaiveDate>, AppError> {
        match opt(s) {
            None => Ok(None),
            Some(s) => domain::calendar::parse_date(&s)
                .map(Some)
                .map_err(|e| AppError::field(field, format!("ngày không hợp lệ: {e}"), e.to_string())),
        }
    };
    // Days are Vietnam's (UTC+7); stored times are UTC.
    let start_utc = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0).map(|t| store::time_text((t - chrono::Duration::hours(7)).and_utc()))
    };
    let from = date("from", &q.from)?.and_then(start_utc);
    let to = date("to", &q.to)?.and_then(|d| d.succ_opt()).and_then(start_utc);
    Ok(store::AuditFilter {
        actor: opt(&q.actor),
        action: opt(&q.action),
        entity_type: opt(&q.entity_type),
        entity_id: opt(&q.entity_id),
        from,
        to,
    })
}

pub async fn audit(State(state): State<AppState>, req: Req, Query(q): Query<AuditQuery>) -> Response {
    let filter = match audit_filter(&q) {
        Ok(f) => f,
        Err(e) => return fail(e, &req),
    };
    let page = store::Page::new(q.page, Some(50));
    let list = match audit_svc::search(&state.store, &req.ctx, &filter, page).await {
        Ok(l) => l,
        Err(e) => return fail(e, &req),
    };
    let can_verify = req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::AUDIT_VERIFY));
    let (verify_result, verify_ok) = if q.verify.is_some() {
        match audit_svc::verify(&state.store, &req.ctx).await {
            Ok(store::VerifyOutcome::Intact { entries, head_hash }) => (
                match req.lang {
                    Lang::Vi => format!(
                        "Toàn vẹn: {entries} bản ghi, chuỗi băm khớp (đầu chuỗi {}…).",
                        &head_hash[..12.min(head_hash.len())]
                    ),
                    Lang::En => format!(
                        "Intact: {entries} entries, hash chain matches (head {}…).",
                        &head_hash[..12.min(head_hash.len())]
                    ),
                },
                true,
            ),
            Ok(store::VerifyOutcome::Broken { seq, reason }) => (
                match req.lang {
                    Lang::Vi => format!("PHÁT HIỆN SAI LỆCH tại bản ghi {seq}: {reason}"),
                    Lang::En => format!("TAMPERING DETECTED at entry {seq}: {reason}"),
                },
                false,
            ),
            Err(e) => return fail(e, &req),
        }
    } else {
        (String::new(), true)
    };
    let pages = ((list.total + list.per_page - 1) / list.per_page).max(1);
    let url_for = |p: i64| {
        let pairs: Vec<(&str, &str)> = vec![
            ("actor", &q.actor),
            ("action", &q.action),
            ("entity_type", &q.entity_type),
            ("entity_id", &q.entity_id),
            ("from", &q.from),
            ("to", &q.to),
        ];
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
            s.append_pair(k, v);
        }
        s.append_pair("page", &p.to_string());
        format!("/audit?{}", s.finish())
    };
    let rows = list
        .items
        .iter()
        .map(|r| {
            let mut detail = r.detail.clone().unwrap_or_default();
            if let (Some(b), Some(a)) = (&r.before_json, &r.after_json) {
                detail = format!("{b} → {a} {detail}");
            } else if let Some(a) = &r.after_json {
                detail = format!("{a} {detail}");
            }
            AuditRowView {
                seq: r.seq,
                at: auth::display_time(&r.at),
                actor: r.actor.clone(),
                ip: r.ip.clone().unwrap_or_default(),
                action: r.action.clone(),
                entity: format!(
                    "{}{}",
                    r.entity_type,
                    r.entity_id.as_deref().map(|i| format!(" #{i}")).unwrap_or_default()
                ),
                detail: detail.trim().to_string(),
            }
        })
        .collect();
    let page_no = list.page;
    let view = AuditPage {
        l: layout(&state, &req),
        prev_url: url_for(page_no - 1),
        next_url: url_for(page_no + 1),
        f: q,
        can_verify,
        verify_result,
        verify_ok,
        total: list.total,
        page: page_no,
        pages,
        rows,
    };
    render(&view, &req)
}

// ---------- API documentation ----------

#[derive(Template)]
#[template(path = "api_docs.html")]
struct ApiDocsPage {
    l: Layout,
    title: String,
    version: String,
    codes: Vec<(&'static str, u16)>,
    ops: Vec<crate::http::api::OpView>,
}

pub async fn api_docs(State(state): State<AppState>, req: Req) -> Response {
    let doc = crate::http::api::openapi();
    let page = ApiDocsPage {
        l: layout(&state, &req),
        title: doc.info.title.clone(),
        version: doc.info.version.clone(),
        codes: crate::error::code::TABLE.to_vec(),
        ops: crate::http::api::operations(&doc),
    };
    render(&page, &req)
}
