//! Server-rendered pages (askama templates compiled into the binary).

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::i18n::{kind_label, Key, Lang};
use crate::http::RequestId;
use crate::services::{units, AppState};

const STYLESHEET: &str = include_str!("../../assets/app.css");

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
    lang: Lang,
    province_name: &'a str,
    total: i64,
    xa: usize,
    phuong: usize,
    dac_khu: usize,
    query: &'a str,
    rows: Vec<Row>,
    former: &'a [units::FormerUnit],
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: Lang,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

impl IndexPage<'_> {
    fn t(&self, k: Key) -> &'static str {
        self.lang.t(k)
    }
}

impl ErrorPage<'_> {
    fn t(&self, k: Key) -> &'static str {
        self.lang.t(k)
    }
}

/// Sets the language cookie when `?lang=` was given explicitly.
fn with_lang_cookie(mut res: Response, q: Option<&str>, lang: Lang) -> Response {
    if q.and_then(Lang::parse).is_some() {
        let cookie = format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
        if let Ok(v) = cookie.parse() {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}

/// The start page: the province and its communes.
pub async fn index(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = Lang::negotiate(q.lang.as_deref(), &headers);
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
                lang,
                province_name: &o.name,
                total: o.commune_total,
                xa: o.xa,
                phuong: o.phuong,
                dac_khu: o.dac_khu,
                query: o.query.as_deref().unwrap_or(""),
                rows,
                former: &o.former_units,
            };
            render(&page, &rid, lang)
        }
        Err(e) => error_page(&e, &rid, lang),
    };
    with_lang_cookie(res, q.lang.as_deref(), lang)
}

fn render<T: Template>(t: &T, rid: &RequestId, lang: Lang) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(&AppError::from(e), rid, lang),
    }
}

pub fn error_page(e: &AppError, rid: &RequestId, lang: Lang) -> Response {
    let message = if e.is_public() {
        e.to_string()
    } else {
        tracing::error!(request_id = %rid.0, error = %e, code = e.code(), "request failed");
        String::new()
    };
    let title = if e.status() == StatusCode::NOT_FOUND { lang.t(Key::NotFound) } else { lang.t(Key::ErrorTitle) };
    let page = ErrorPage { lang, title, message: &message, request_id: &rid.0 };
    match page.render() {
        Ok(html) => (e.status(), Html(html)).into_response(),
        Err(_) => (e.status(), format!("{title} ({})", rid.0)).into_response(),
    }
}

pub async fn not_found(
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Response {
    state.metrics.observe(req.method().as_str(), "unmatched", 404, 0.0);
    let e = AppError::NotFound(format!("{} does not exist", req.uri().path()));
    if req.uri().path().starts_with("/api/") {
        return crate::http::api::error_response(&e, &rid);
    }
    error_page(&e, &rid, Lang::negotiate(None, &headers))
}

pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLESHEET)
        .into_response()
}
