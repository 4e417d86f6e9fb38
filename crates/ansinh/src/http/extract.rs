//! Request context for handlers, body extractors with our error format, and error
//! responses (JSON for the API, a page — or a redirect to the login — for the UI).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::AppError;
use crate::http::i18n::Lang;
use crate::http::RequestId;
use crate::services::authz::Ctx;

/// Largest request body accepted (forms and JSON).
pub const MAX_BODY: usize = 256 * 1024;

/// Everything a handler needs to know about the caller.
#[derive(Clone)]
pub struct Req {
    pub ctx: Ctx,
    pub lang: Lang,
    pub rid: RequestId,
    /// The request came from htmx (a fragment may be returned).
    pub htmx: bool,
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Req {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let rid = parts.extensions.get::<RequestId>().cloned().unwrap_or(RequestId("-".into()));
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let ctx = parts.extensions.get::<Ctx>().cloned().unwrap_or_default();
        Ok(Req {
            ctx,
            lang,
            rid,
            htmx: parts.headers.contains_key("hx-request"),
            path: parts.uri.path_and_query().map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        })
    }
}

impl Req {
    pub fn api_error(&self, e: AppError) -> Response {
        api_error(&e, self.lang, &self.rid)
    }
}

/// The JSON error body `{code, message, details}`.
pub fn api_error(e: &AppError, lang: Lang, rid: &RequestId) -> Response {
    log_if_internal(e, rid);
    let mut details = json!({ "request_id": rid.0 });
    if let AppError::Field { field, .. } = e {
        details["field"] = json!(field);
    }
    if let AppError::Forbidden(why) = e {
        details["reason"] = json!(why);
    }
    let mut res =
        (e.status(), Json(json!({ "code": e.code(), "message": e.message(lang), "details": details }))).into_response();
    if matches!(e, AppError::Unauthenticated) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer realm=\"ansinh\""));
    }
    res
}

pub fn log_if_internal(e: &AppError, rid: &RequestId) {
    if !e.is_public() {
        tracing::error!(request_id = %rid.0, error = %e, code = e.code(), "request failed");
    } else if matches!(e, AppError::Forbidden(_) | AppError::Csrf) {
        tracing::warn!(request_id = %rid.0, error = %e, code = e.code(), "request refused");
    }
}

/// Unauthenticated UI requests go to the login page and come back afterwards.
pub fn login_redirect(path: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// A form body as ordered pairs (repeated names allowed, e.g. several `scope` boxes).
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    pub fn parse(bytes: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }
}

fn is_form(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
        let rid = req.extensions().get::<RequestId>().cloned().unwrap_or(RequestId("-".into()));
        if !is_form(&req) {
            let e = AppError::denied(
                "yêu cầu phải gửi dưới dạng biểu mẫu (application/x-www-form-urlencoded)",
                "expected a form (application/x-www-form-urlencoded)",
            );
            let mut res = crate::http::ui::error_page(&e, &rid, lang);
            *res.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Err(res);
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| api_error(&AppError::PayloadTooLarge(MAX_BODY), lang, &rid))?;
        Ok(FormData::parse(&bytes))
    }
}

/// A form that may carry files: `multipart/form-data` (its text fields and its `attachments`
/// files) or, without files, `application/x-www-form-urlencoded`.
pub struct FormFiles {
    pub form: FormData,
    /// (file name as sent, content)
    pub files: Vec<(String, Vec<u8>)>,
}

impl<S: Send + Sync> FromRequest<S> for FormFiles {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let form = FormData::from_request(req, state).await?;
            return Ok(FormFiles { form, files: Vec::new() });
        }
        let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
        let rid = req.extensions().get::<RequestId>().cloned().unwrap_or(RequestId("-".into()));
        let is_api = req.uri().path().starts_with("/api/");
        let bad = |e: AppError| {
            if is_api {
                api_error(&e, lang, &rid)
            } else {
                crate::http::ui::error_page(&e, &rid, lang)
            }
        };
        let mut mp = axum::extract::Multipart::from_request(req, state).await.map_err(|e| {
            bad(AppError::field("attachments", format!("biểu mẫu lỗi: {e}"), format!("malformed form: {e}")))
        })?;
        let mut out = FormFiles { form: FormData(Vec::new()), files: Vec::new() };
        loop {
            match mp.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_string();
                    let file_name = field.file_name().map(str::to_string);
                    let bytes = field
                        .bytes()
                        .await
                        .map_err(|_| bad(AppError::PayloadTooLarge(crate::services::uploads::MAX_UPLOAD_BODY)))?;
                    match file_name {
                        Some(f) if name == "attachments" || name == "file" => out.files.push((f, bytes.to_vec())),
                        Some(_) => {}
                        None => out.form.0.push((name, String::from_utf8_lossy(&bytes).into_owned())),
                    }
                }
                Ok(None) => break,
                Err(_) => return Err(bad(AppError::PayloadTooLarge(crate::services::uploads::MAX_UPLOAD_BODY))),
            }
        }
        Ok(out)
    }
}

/// JSON body with errors in the API's format (malformed JSON names line and column).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
        let rid = req.extensions().get::<RequestId>().cloned().unwrap_or(RequestId("-".into()));
        let json_ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_ct {
            return Err(api_error(&AppError::BadJson("expected Content-Type: application/json".into()), lang, &rid));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| api_error(&AppError::PayloadTooLarge(MAX_BODY), lang, &rid))?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| api_error(&AppError::BadJson(e.to_string()), lang, &rid))
    }
}

/// Reads a cookie value from the request headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

/// The `_csrf` part of a multipart/form-data body (file uploads), if any.
pub fn multipart_csrf(headers: &axum::http::HeaderMap, body: &[u8]) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = ct.strip_prefix("multipart/form-data")?.split("boundary=").nth(1)?.trim_matches('"');
    let marker = b"name=\"_csrf\"";
    let pos = body.windows(marker.len()).position(|w| w == marker)?;
    let rest = &body[pos..];
    let start = rest.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let value = &rest[start..];
    let end_marker = format!("\r\n--{boundary}");
    let end = value.windows(end_marker.len()).position(|w| w == end_marker.as_bytes())?;
    std::str::from_utf8(&value[..end]).ok().map(|s| s.trim().to_string())
}
