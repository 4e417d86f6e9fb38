//! The working-day calendar: a year's days off and make-up working days (any signed-in user),
//! recording a year from a CSV (administrators), the year as CSV; and its JSON API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::api::{respond, ErrorBody};
use crate::http::extract::{FormFiles, Req};
use crate::http::i18n::Key;
use crate::http::ui::{fail, layout, render, Layout};
use crate::services::authz::perm;
use crate::services::calendar::{self as cal, Year};
use crate::services::AppState;

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    l: Layout,
    y: Year,
    can_manage: bool,
    notice: String,
    error: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct YearQuery {
    pub year: Option<i32>,
}

fn this_year() -> i32 {
    use chrono::Datelike;
    crate::services::days::today_vn().year()
}

async fn page(state: &AppState, req: &Req, year: i32, notice: String, error: String, status: StatusCode) -> Response {
    if let Err(e) = req.ctx.user() {
        return fail(e, req);
    }
    match cal::year(&state.store, year).await {
        Ok(y) => {
            let p = CalendarPage {
                y,
                can_manage: req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::CALENDAR_MANAGE)),
                notice,
                error,
                l: layout(state, req),
            };
            let mut r = render(&p, req);
            *r.status_mut() = status;
            r
        }
        Err(e) => fail(e, req),
    }
}

pub async fn show(State(state): State<AppState>, req: Req, Query(q): Query<YearQuery>) -> Response {
    page(&state, &req, q.year.unwrap_or_else(this_year), String::new(), String::new(), StatusCode::OK).await
}

pub async fn record(State(state): State<AppState>, req: Req, FormFiles { form, files }: FormFiles) -> Response {
    let year = form.text("year").parse().unwrap_or_else(|_| this_year());
    let Some((_, bytes)) = files.into_iter().next() else {
        return page(
            &state,
            &req,
            year,
            String::new(),
            req.lang.pick("Chưa chọn tệp", "No file chosen").into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let dry_run = form.text("mode") == "dry_run";
    match cal::import(&state.store, &req.ctx, &text, dry_run).await {
        Ok(y) => {
            let notice = if dry_run {
                format!(
                    "{} {}: {} / {}",
                    req.lang.pick("Tệp hợp lệ (chưa ghi)", "Valid (not recorded)"),
                    y.year,
                    y.holidays,
                    y.workdays
                )
            } else {
                format!("{} {}", req.lang.pick("Đã ghi lịch năm", "Recorded the year"), y.year)
            };
            page(&state, &req, y.year, notice, String::new(), StatusCode::OK).await
        }
        Err(e @ AppError::Field { .. }) => {
            let status = e.status();
            page(&state, &req, year, String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn template(State(state): State<AppState>, req: Req, Query(q): Query<YearQuery>) -> Response {
    if let Err(e) = req.ctx.user() {
        return fail(e, &req);
    }
    let year = q.year.unwrap_or_else(this_year);
    match cal::template(&state.store, year).await {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"lich-lam-viec-{year}.csv\"")),
            ],
            text,
        )
            .into_response(),
        Err(e) => fail(e, &req),
    }
}

/// A year of the working-day calendar in force: weekdays off and weekend days worked, each with
/// its source, and whether the year is recorded, compiled in or computed by the Labour Code.
#[utoipa::path(get, path = "/api/v1/calendar/{year}", tag = "units", params(("year" = i32, Path)),
    responses((status = 200, body = Year), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = []), ("session" = [])))]
pub async fn api_year(State(state): State<AppState>, req: Req, Path(year): Path<i32>) -> Response {
    let r = async {
        req.ctx.user()?;
        cal::year(&state.store, year).await
    }
    .await;
    respond(&req, r)
}
