//! JSON API under `/api/v1`. Errors are `{code, message, details}` with the stable
//! codes of `crate::error::code`.

use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::error::AppError;
use crate::http::RequestId;
use crate::services::{units, AppState};

#[derive(Debug, Deserialize)]
pub struct CommuneQuery {
    pub q: Option<String>,
}

/// `GET /api/v1/provinces/{code}/communes?q=` — the province and its communes.
pub async fn communes(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Path(code): Path<String>,
    Query(q): Query<CommuneQuery>,
) -> Response {
    match units::province_overview(&state.store, &state.gazetteer, &code, q.q.as_deref()).await {
        Ok(overview) => Json(overview).into_response(),
        Err(e) => error_response(&e, &rid),
    }
}

pub fn error_response(e: &AppError, rid: &RequestId) -> Response {
    let message = if e.is_public() {
        e.to_string()
    } else {
        tracing::error!(request_id = %rid.0, error = %e, code = e.code(), "request failed");
        format!("internal error; quote request id {}", rid.0)
    };
    (e.status(), Json(json!({ "code": e.code(), "message": message, "details": { "request_id": rid.0 } })))
        .into_response()
}
