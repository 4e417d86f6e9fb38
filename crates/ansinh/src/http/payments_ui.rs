//! Payment pages: the cycles (create, holds), one cycle (its sums, workflow buttons,
//! lines with filters, downloads, results upload), and the printable pay-point list.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;
use crate::http::extract::{FormData, Req};
use crate::http::i18n::Key;
use crate::http::payments_api::{csv_response, LinesQuery};
use crate::http::ui::{fail, layout, render, Layout};
use crate::services::authz::perm;
use crate::services::payments::{self as pay, CycleDetail, LineView, ReconcileReport};
use crate::services::AppState;

/// Largest results file accepted from the page.
pub const MAX_RESULTS_BYTES: usize = 64 * 1024 * 1024;

#[derive(Template)]
#[template(path = "payments.html")]
struct CyclesPage {
    l: Layout,
    cycles: Vec<store::payments::CycleRow>,
    holds: Vec<store::payments::HoldRow>,
    can_prepare: bool,
    can_hold: bool,
    notice: String,
    error: String,
}

async fn cycles_page(state: &AppState, req: &Req, notice: String, error: String, status: StatusCode) -> Response {
    let page = store::Page::new(Some(1), Some(store::Page::MAX_PER_PAGE));
    let (cycles, holds) =
        match (pay::list(&state.store, &req.ctx, page).await, pay::holds(&state.store, &req.ctx).await) {
            (Ok(c), Ok(h)) => (c.items, h),
            (Err(e), _) | (_, Err(e)) => return fail(e, req),
        };
    let p = req.ctx.principal.as_ref();
    let t = CyclesPage {
        l: layout(state, req),
        cycles,
        holds,
        can_prepare: p.is_some_and(|p| p.can(perm::PAYMENTS_PREPARE)),
        can_hold: p.is_some_and(|p| p.can(perm::PAYMENTS_HOLD)),
        notice,
        error,
    };
    let mut r = render(&t, req);
    *r.status_mut() = status;
    r
}

pub async fn cycles(State(state): State<AppState>, req: Req) -> Response {
    cycles_page(&state, &req, String::new(), String::new(), StatusCode::OK).await
}

/// Shows a refusal on the page it came from; other errors as an error page.
fn soft(e: &AppError) -> bool {
    matches!(e, AppError::Field { .. } | AppError::Denied { .. } | AppError::NotFound(_) | AppError::Refused(_))
}

pub async fn create(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    let month = match form.text("month").parse::<domain::Month>() {
        Ok(m) => m,
        Err(e) => {
            let e = AppError::field("month", e.vi(), e.to_string());
            return cycles_page(&state, &req, String::new(), e.message(req.lang), StatusCode::BAD_REQUEST).await;
        }
    };
    let adhoc = form.get("kind") == Some("adhoc");
    let r = async {
        let c = pay::create(&state.store, &req.ctx, month, adhoc).await?;
        pay::generate(&state.store, &state.packs, &state.pack_source, &req.ctx, c.id).await
    }
    .await;
    match r {
        Ok(g) => Redirect::to(&format!("/payments/{}", g.cycle_id)).into_response(),
        Err(e) if soft(&e) => {
            let status = e.status();
            cycles_page(&state, &req, String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn hold(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    match pay::hold(&state.store, &req.ctx, &form.text("personal_id"), &form.text("reason")).await {
        Ok(_) => {
            let msg = req.lang.pick("Đã tạm dừng chi trả.", "Payments suspended.").to_string();
            cycles_page(&state, &req, msg, String::new(), StatusCode::OK).await
        }
        Err(e) if soft(&e) => {
            let status = e.status();
            cycles_page(&state, &req, String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn release(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match pay::release(&state.store, &req.ctx, id).await {
        Ok(()) => {
            let msg = req
                .lang
                .pick(
                    "Đã tiếp tục chi trả; kỳ sau chi cả phần đã tạm giữ.",
                    "Payments resumed; the next cycle pays what was held.",
                )
                .to_string();
            cycles_page(&state, &req, msg, String::new(), StatusCode::OK).await
        }
        Err(e) if soft(&e) => {
            let status = e.status();
            cycles_page(&state, &req, String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "payment_cycle.html")]
struct CyclePage {
    l: Layout,
    d: CycleDetail,
    lines: Vec<LineView>,
    total_lines: i64,
    page: i64,
    pages: i64,
    q: LinesQuery,
    /// (code, name) of the communes with lines to pay
    communes: Vec<(String, String, i64, i64)>,
    /// (label, amount)
    items: Vec<(String, String, i64)>,
    sources: Vec<(String, i64)>,
    can_prepare: bool,
    can_check: bool,
    can_approve: bool,
    /// The caller's username (the maker is not offered the check, nor the checker the approval).
    me: String,
    can_bank: bool,
    issued: bool,
    notice: String,
    error: String,
    report: Option<ReconcileReport>,
}

impl CyclePage {
    fn took_part(&self) -> bool {
        [self.d.cycle.generated_by.as_deref(), self.d.cycle.checked_by.as_deref()].contains(&Some(self.me.as_str()))
    }
    fn page_link(&self, page: i64) -> String {
        let mut s = format!("?page={page}");
        for (k, v) in [
            ("commune", &self.q.commune),
            ("status", &self.q.status),
            ("method", &self.q.method),
            ("result", &self.q.result),
            ("q", &self.q.q),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                s.push_str(&format!("&{k}={}", form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()));
            }
        }
        s
    }
}

async fn cycle_page(
    state: &AppState,
    req: &Req,
    id: i64,
    q: LinesQuery,
    (notice, error, report): (String, String, Option<ReconcileReport>),
    status: StatusCode,
) -> Response {
    let d = match pay::detail(&state.store, &req.ctx, id).await {
        Ok(d) => d,
        Err(e) => return fail(e, req),
    };
    let page = store::Page::new(q.page, q.per_page);
    let lines = match pay::lines(&state.store, &req.ctx, id, q.to_query(), page).await {
        Ok(l) => l,
        Err(e) => return fail(e, req),
    };
    let g = &state.gazetteer;
    let communes = d
        .summary
        .by_commune
        .iter()
        .map(|(c, n, a)| (c.clone(), g.commune(c).map_or_else(String::new, |x| x.name.clone()), *n, *a))
        .collect();
    let items = d
        .summary
        .by_item
        .iter()
        .map(|(i, k, a)| (crate::services::entitlements::item_name(&state.packs, i), k.clone(), *a))
        .collect();
    let sources = d.by_source.iter().map(|(s, a)| (pay::funding_source_vi(s).to_string(), *a)).collect();
    let p = req.ctx.principal.as_ref();
    let can = |x: &str| p.is_some_and(|p| p.can(x));
    let issued = matches!(d.cycle.status.as_str(), "approved" | "exported" | "reconciled" | "closed");
    let t = CyclePage {
        l: layout(state, req),
        pages: (lines.total + page.per_page - 1) / page.per_page,
        total_lines: lines.total,
        page: page.page,
        lines: lines.items,
        communes,
        items,
        sources,
        can_prepare: can(perm::PAYMENTS_PREPARE),
        me: p.map(|p| p.username.clone()).unwrap_or_default(),
        can_check: can(perm::PAYMENTS_CHECK),
        can_approve: can(perm::PAYMENTS_APPROVE),
        can_bank: can(perm::PAYMENTS_PREPARE) && can(perm::REGISTRY_SENSITIVE),
        issued,
        q,
        d,
        notice,
        error,
        report,
    };
    let mut r = render(&t, req);
    *r.status_mut() = status;
    r
}

pub async fn cycle(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    Query(q): Query<LinesQuery>,
) -> Response {
    cycle_page(&state, &req, id, q, (String::new(), String::new(), None), StatusCode::OK).await
}

/// A workflow step from the cycle page: generate, check, approve, export, close.
pub async fn step(State(state): State<AppState>, req: Req, Path((id, action)): Path<(i64, String)>) -> Response {
    let (s, ctx) = (&state.store, &req.ctx);
    let r: Result<String, AppError> = match action.as_str() {
        "generate" => pay::generate(s, &state.packs, &state.pack_source, ctx, id).await.map(|g| {
            format!(
                "{} {} {}, {} {}",
                req.lang.pick("Đã tính lại:", "Regenerated:"),
                g.lines,
                req.lang.pick("dòng", "lines"),
                req.lang.pick("tổng chi", "to pay"),
                domain::Money::from_dong(g.total)
            )
        }),
        "check" => pay::check(s, ctx, id).await.map(|_| req.lang.pick("Đã kiểm tra.", "Checked.").to_string()),
        "approve" => pay::approve(s, ctx, id).await.map(|_| req.lang.pick("Đã phê duyệt.", "Approved.").to_string()),
        "export" => pay::export(s, ctx, id)
            .await
            .map(|_| req.lang.pick("Đã đánh dấu đã xuất file.", "Marked as exported.").to_string()),
        "close" => pay::close(s, ctx, id).await.map(|_| req.lang.pick("Đã khóa sổ.", "Closed.").to_string()),
        _ => Err(AppError::NotFound(format!("action {action}"))),
    };
    match r {
        Ok(msg) => {
            cycle_page(&state, &req, id, LinesQuery::default(), (msg, String::new(), None), StatusCode::OK).await
        }
        Err(e) if soft(&e) => {
            let status = e.status();
            let msg = e.message(req.lang);
            cycle_page(&state, &req, id, LinesQuery::default(), (String::new(), msg, None), status).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn results(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let mut file: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(b) if name == "file" => file = Some(b.to_vec()),
                    Ok(_) => {}
                    Err(_) => return fail(AppError::PayloadTooLarge(MAX_RESULTS_BYTES), &req),
                }
            }
            Ok(None) => break,
            Err(_) => return fail(AppError::PayloadTooLarge(MAX_RESULTS_BYTES), &req),
        }
    }
    let Some(bytes) = file else {
        return fail(AppError::field("file", "chưa chọn tệp", "no file chosen"), &req);
    };
    match pay::reconcile(&state.store, &req.ctx, id, &bytes).await {
        Ok(r) if r.errors.is_empty() => {
            let msg = format!(
                "{} {} ({} {}, {} {}, {} {})",
                req.lang.pick("Đã ghi kết quả", "Results recorded"),
                r.rows,
                r.paid,
                req.lang.pick("đã nhận", "paid"),
                r.failed,
                req.lang.pick("không chi được", "failed"),
                r.returned,
                req.lang.pick("trả lại", "returned")
            );
            cycle_page(&state, &req, id, LinesQuery::default(), (msg, String::new(), Some(r)), StatusCode::OK).await
        }
        Ok(r) => {
            let msg = req
                .lang
                .pick("Tệp kết quả có lỗi: chưa ghi dòng nào.", "The results file has problems: nothing was recorded.")
                .to_string();
            cycle_page(
                &state,
                &req,
                id,
                LinesQuery::default(),
                (String::new(), msg, Some(r)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) if soft(&e) => {
            let status = e.status();
            let msg = e.message(req.lang);
            cycle_page(&state, &req, id, LinesQuery::default(), (String::new(), msg, None), status).await
        }
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "payment_line.html")]
struct LinePage {
    l: Layout,
    e: pay::LineExplanation,
}

/// One line explained from its frozen facts.
pub async fn line(State(state): State<AppState>, req: Req, Path((id, line)): Path<(i64, i64)>) -> Response {
    match pay::explain_line(&state.store, &req.ctx, id, line).await {
        Ok(e) => render(&LinePage { l: layout(&state, &req), e }, &req),
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "pay_list.html")]
struct PayListPage {
    l: Layout,
    list: pay::PayList,
}

/// The printable pay-point list of one commune (signature column), or its XLSX.
pub async fn pay_list(State(state): State<AppState>, req: Req, Path((id, file)): Path<(i64, String)>) -> Response {
    let (commune, xlsx) = match file.strip_suffix(".xlsx") {
        Some(c) => (c.to_string(), true),
        None => (file.clone(), false),
    };
    let list = match pay::pay_list(&state.store, &state.gazetteer, &state.packs, &req.ctx, id, &commune).await {
        Ok(l) => l,
        Err(e) => return fail(e, &req),
    };
    if xlsx {
        return match pay::pay_list_xlsx(&list) {
            Ok(bytes) => (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"danh-sach-chi-tra-{id}-{commune}.xlsx\""),
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => fail(e, &req),
        };
    }
    render(&PayListPage { l: layout(&state, &req), list }, &req)
}

pub async fn bank_file(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match pay::bank_file(&state.store, &req.ctx, id).await {
        Ok((bytes, _, _)) => csv_response(bytes, &format!("chuyen-khoan-ky-{id}.csv")),
        Err(e) => fail(e, &req),
    }
}

pub async fn results_template(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match pay::results_template(&state.store, &req.ctx, id).await {
        Ok(bytes) => csv_response(bytes, &format!("ket-qua-chi-tra-ky-{id}.csv")),
        Err(e) => fail(e, &req),
    }
}

pub async fn summary_csv(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match pay::detail(&state.store, &req.ctx, id)
        .await
        .and_then(|d| pay::summary_csv(&d, &state.gazetteer, &state.packs))
    {
        Ok(bytes) => csv_response(bytes, &format!("tong-hop-ky-{id}.csv")),
        Err(e) => fail(e, &req),
    }
}
