//! Plan monitoring pages: the plans, one plan's tasks with their status, a task with its
//! reports, the leader's dashboard (overdue tasks by agency, scorecard, trends, reporting
//! completeness) with its XLSX export and printable page, an indicator by commune, and the
//! agencies' reports (prepare, submit, return, accept, history).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use domain::plan::{Light, Milli, TaskStatus, Unit};

use crate::error::AppError;
use crate::http::extract::{FormData, Req};
use crate::http::i18n::{Key, Lang};
use crate::http::ui::{fail, layout, render, Layout};
use crate::services::authz::perm;
use crate::services::plans::{self as pl, Dashboard, IndicatorDrill, PlanView, ReportDetail, ReportInput};
use crate::services::AppState;

pub const MAX_PLAN_BYTES: usize = 5 * 1024 * 1024;

fn today() -> chrono::NaiveDate {
    pl::today_vn()
}

/// Helpers every plan page uses.
pub struct Names {
    agencies: std::collections::BTreeMap<String, pl::AgencyName>,
    lang: Lang,
}

impl Names {
    pub fn agency(&self, code: &str) -> String {
        match self.agencies.get(code) {
            Some(a) => {
                let n = if self.lang == Lang::Vi { &a.vi } else { &a.en };
                n.clone()
            }
            None => code.to_string(),
        }
    }
    pub fn status(&self, s: &TaskStatus) -> &'static str {
        let (vi, en) = s.label();
        self.lang.pick(vi, en)
    }
    pub fn light(&self, l: &Option<Light>) -> &'static str {
        match l {
            Some(l) => {
                let (vi, en) = l.label();
                self.lang.pick(vi, en)
            }
            None => self.lang.pick("Không đặt mục tiêu", "No target"),
        }
    }
    pub fn light_code(&self, l: &Option<Light>) -> &'static str {
        l.map_or("no_target", |l| l.code())
    }
    pub fn value(&self, v: &Option<Milli>, unit: &Unit) -> String {
        match v {
            Some(m) => self.value1(m.0, unit),
            None => "—".into(),
        }
    }
    /// A value in thousandths (`Milli.0`) with its unit.
    pub fn value1(&self, m: impl crate::http::ui::Dong, unit: &Unit) -> String {
        let m = Milli(m.dong());
        let n = if self.lang == Lang::Vi { m.display_vi() } else { m.display_en() };
        let sym = if self.lang == Lang::Vi { unit.symbol_vi() } else { unit.symbol_en() };
        if sym.is_empty() {
            n
        } else if sym == "%" {
            format!("{n}%")
        } else {
            format!("{n} {sym}")
        }
    }
    pub fn report_status(&self, s: &str) -> &'static str {
        let (vi, en) = pl::report_status_label(s);
        self.lang.pick(vi, en)
    }
    pub fn cell(&self, s: &str) -> &'static str {
        let (vi, en) = pl::completeness_label(s);
        self.lang.pick(vi, en)
    }
    pub fn period(&self, code: &str) -> String {
        match code.parse::<domain::plan::ReportPeriod>() {
            Ok(p) if self.lang == Lang::Vi => p.label_vi(),
            Ok(p) => p.label_en(),
            Err(_) => chrono::NaiveDate::parse_from_str(code, "%Y-%m-%d")
                .map(domain::calendar::format_date)
                .unwrap_or_else(|_| code.to_string()),
        }
    }
    pub fn deadline(&self, d: &domain::plan::Deadline) -> String {
        if self.lang == Lang::Vi {
            d.label_vi()
        } else {
            d.label_en()
        }
    }
    pub fn day(&self, d: Option<chrono::NaiveDate>) -> String {
        d.map(domain::calendar::format_date).unwrap_or_default()
    }
    /// The day of a stored timestamp, dd/mm/yyyy.
    pub fn ts_day(&self, ts: &str) -> String {
        chrono::NaiveDate::parse_from_str(ts.get(..10).unwrap_or(ts), "%Y-%m-%d")
            .map(domain::calendar::format_date)
            .unwrap_or_default()
    }
    pub fn ind_name(&self, i: &store::plans::IndicatorRow) -> String {
        if self.lang == Lang::Vi {
            i.name_vi.clone()
        } else {
            i.name_en.clone()
        }
    }
    pub fn permille(&self, n: &i64) -> String {
        Milli(*n * 100).display_vi()
    }
}

fn names(view: &PlanView, lang: Lang) -> Names {
    Names { agencies: view.agencies.clone(), lang }
}

/// A small line chart of a series with the target as a dashed line (inline SVG; numbers
/// only, so it is safe to emit as markup).
pub fn sparkline(series: &[(String, Milli)], target: Option<Milli>) -> String {
    if series.is_empty() {
        return String::new();
    }
    let (w, h, pad) = (220.0f64, 60.0f64, 6.0f64);
    let vals: Vec<f64> = series.iter().map(|(_, v)| v.0 as f64).chain(target.map(|t| t.0 as f64)).collect();
    let (lo, hi) = vals.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let y = |v: f64| h - pad - (v - lo) / span * (h - 2.0 * pad);
    let n = series.len().max(2) - 1;
    let x = |i: usize| pad + i as f64 * (w - 2.0 * pad) / n as f64;
    let pts: Vec<String> =
        series.iter().enumerate().map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(v.0 as f64))).collect();
    let mut svg =
        format!(r#"<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-hidden="true">"#);
    if let Some(t) = target {
        let ty = y(t.0 as f64);
        svg.push_str(&format!(r#"<line x1="{pad}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" class="target"/>"#, w - pad));
    }
    svg.push_str(&format!(r#"<polyline points="{}" class="line"/>"#, pts.join(" ")));
    for (i, (_, v)) in series.iter().enumerate() {
        svg.push_str(&format!(r#"<circle cx="{:.1}" cy="{:.1}" r="2.5"/>"#, x(i), y(v.0 as f64)));
    }
    svg.push_str("</svg>");
    svg
}

// ---------- plans ----------

#[derive(Template)]
#[template(path = "plans.html")]
struct PlansPage {
    l: Layout,
    plans: Vec<store::plans::PlanRow>,
    can_manage: bool,
    notice: String,
    error: String,
}

async fn plans_page(state: &AppState, req: &Req, notice: String, error: String, status: StatusCode) -> Response {
    let plans = match pl::plans(&state.store, &req.ctx).await {
        Ok(p) => p,
        Err(e) => return fail(e, req),
    };
    let t = PlansPage {
        plans,
        can_manage: req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::PLANS_MANAGE)),
        notice,
        error,
        l: layout(state, req),
    };
    let mut r = render(&t, req);
    *r.status_mut() = status;
    r
}

pub async fn list(State(state): State<AppState>, req: Req) -> Response {
    plans_page(&state, &req, String::new(), String::new(), StatusCode::OK).await
}

pub async fn import(State(state): State<AppState>, req: Req, mut multipart: axum::extract::Multipart) -> Response {
    let (mut file, mut dry) = (None, false);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(b) if name == "file" => file = Some(b.to_vec()),
                    Ok(b) if name == "dry_run" => dry = !b.is_empty(),
                    Ok(_) => {}
                    Err(_) => return fail(AppError::PayloadTooLarge(MAX_PLAN_BYTES), &req),
                }
            }
            Ok(None) => break,
            Err(_) => return fail(AppError::PayloadTooLarge(MAX_PLAN_BYTES), &req),
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return fail(AppError::field("file", "chưa chọn tệp", "no file chosen"), &req);
    };
    match pl::import(&state.store, &state.gazetteer, &req.ctx, &state.province_code, &bytes, dry).await {
        Ok((id, tasks, inds)) if id > 0 => {
            let _ = (tasks, inds);
            Redirect::to(&format!("/plans/{id}")).into_response()
        }
        Ok((_, tasks, inds)) => {
            let msg = match req.lang {
                Lang::Vi => format!("Tệp hợp lệ: {tasks} nhiệm vụ, {inds} chỉ tiêu (chạy thử, chưa nhập)."),
                Lang::En => format!("The file is valid: {tasks} tasks, {inds} indicators (dry run, nothing imported)."),
            };
            plans_page(&state, &req, msg, String::new(), StatusCode::OK).await
        }
        Err(e @ (AppError::Denied { .. } | AppError::Field { .. })) => {
            let status = e.status();
            plans_page(&state, &req, String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn template(State(_state): State<AppState>, req: Req) -> Response {
    if let Err(e) = req.ctx.require(perm::PLANS_READ) {
        return fail(e, &req);
    }
    let file = match crate::services::plan_file::parse_toml(crate::services::plan_file::SEED_PLAN_TOML) {
        Ok(f) => f,
        Err(_) => return fail(AppError::Internal("seed plan".into()), &req),
    };
    match crate::services::plan_file::to_xlsx(&file) {
        Ok(bytes) => xlsx(bytes, "mau-ke-hoach.xlsx"),
        Err(e) => fail(AppError::Internal(format!("xlsx: {e}")), &req),
    }
}

pub async fn template_toml(req: Req) -> Response {
    if let Err(e) = req.ctx.require(perm::PLANS_READ) {
        return fail(e, &req);
    }
    (
        [
            (header::CONTENT_TYPE, "application/toml; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"mau-ke-hoach.toml\""),
        ],
        crate::services::plan_file::SEED_PLAN_TOML,
    )
        .into_response()
}

fn xlsx(bytes: Vec<u8>, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response()
}

// ---------- one plan ----------

#[derive(Debug, Default, Deserialize)]
pub struct TaskFilter {
    pub status: Option<String>,
    pub agency: Option<String>,
}

#[derive(Template)]
#[template(path = "plan.html")]
struct PlanPage {
    l: Layout,
    n: Names,
    v: PlanView,
    q: TaskFilter,
    shown: Vec<usize>,
    can_dashboard: bool,
}

impl PlanPage {
    fn section_tasks(&self, section: &i64) -> Vec<&pl::TaskView> {
        self.shown.iter().map(|i| &self.v.tasks[*i]).filter(|t| t.section_id == *section).collect()
    }
    fn sel(&self, f: &Option<String>, v: &str) -> bool {
        f.as_deref() == Some(v)
    }
    fn leads(&self) -> Vec<String> {
        let mut a: Vec<String> = self.v.tasks.iter().map(|t| t.lead.clone()).collect();
        a.sort();
        a.dedup();
        a
    }
}

pub async fn plan(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    Query(q): Query<TaskFilter>,
) -> Response {
    let v = match pl::plan(&state.store, &req.ctx, id, today()).await {
        Ok(v) => v,
        Err(e) => return fail(e, &req),
    };
    let shown = v
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| q.status.as_deref().is_none_or(|s| s.is_empty() || t.state.status.code() == s))
        .filter(|(_, t)| q.agency.as_deref().is_none_or(|a| a.is_empty() || t.lead == a))
        .map(|(i, _)| i)
        .collect();
    let t = PlanPage {
        n: names(&v, req.lang),
        v,
        q,
        shown,
        can_dashboard: req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::DASHBOARDS_READ)),
        l: layout(&state, &req),
    };
    render(&t, &req)
}

#[derive(Template)]
#[template(path = "plan_task.html")]
struct TaskPage {
    l: Layout,
    n: Names,
    plan: store::plans::PlanRow,
    t: pl::TaskView,
    reports: Vec<store::plans::ReportedProgress>,
}

pub async fn task(State(state): State<AppState>, req: Req, Path((id, task)): Path<(i64, i64)>) -> Response {
    let r = async {
        let v = pl::plan(&state.store, &req.ctx, id, today()).await?;
        let t =
            v.tasks.iter().find(|t| t.id == task).cloned().ok_or_else(|| AppError::NotFound(format!("task {task}")))?;
        let reports = pl::task_reports(&state.store, &req.ctx, id, task).await?;
        Ok::<_, AppError>((v, t, reports))
    }
    .await;
    match r {
        Ok((v, t, reports)) => {
            let page = TaskPage { n: names(&v, req.lang), plan: v.plan, t, reports, l: layout(&state, &req) };
            render(&page, &req)
        }
        Err(e) => fail(e, &req),
    }
}

// ---------- dashboard ----------

#[derive(Template)]
#[template(path = "plan_dashboard.html")]
struct DashboardPage {
    l: Layout,
    n: Names,
    d: Dashboard,
    charts: Vec<String>,
    max_tasks: i64,
}

#[derive(Template)]
#[template(path = "plan_print.html")]
struct PrintPage {
    l: Layout,
    n: Names,
    d: Dashboard,
    charts: Vec<String>,
    max_tasks: i64,
}

async fn load_dashboard(state: &AppState, req: &Req, id: i64) -> Result<Dashboard, AppError> {
    pl::dashboard(&state.store, &state.computed, &req.ctx, id, today(), &state.province_code).await
}

pub async fn dashboard(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match load_dashboard(&state, &req, id).await {
        Ok(d) => {
            let charts = d.scorecard.iter().map(|s| sparkline(&s.series, s.target)).collect();
            let max_tasks = d.by_agency.iter().map(|a| a.total).max().unwrap_or(1).max(1);
            let page = DashboardPage { n: names(&d.view, req.lang), d, charts, max_tasks, l: layout(&state, &req) };
            render(&page, &req)
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn print(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    match load_dashboard(&state, &req, id).await {
        Ok(d) => {
            let charts = d.scorecard.iter().map(|s| sparkline(&s.series, s.target)).collect();
            let max_tasks = d.by_agency.iter().map(|a| a.total).max().unwrap_or(1).max(1);
            let page = PrintPage { n: names(&d.view, req.lang), d, charts, max_tasks, l: layout(&state, &req) };
            render(&page, &req)
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn export_xlsx(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    let r = async {
        let d = load_dashboard(&state, &req, id).await?;
        pl::dashboard_xlsx(&d, req.lang == Lang::Vi)
    }
    .await;
    match r {
        Ok(bytes) => xlsx(bytes, &format!("bao-cao-ke-hoach-{id}.xlsx")),
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "plan_indicator.html")]
struct IndicatorPage {
    l: Layout,
    n: Names,
    d: IndicatorDrill,
    chart: String,
}

pub async fn indicator(State(state): State<AppState>, req: Req, Path((id, code)): Path<(i64, String)>) -> Response {
    let r = async {
        let d = pl::indicator_drill(
            &state.store,
            &state.computed,
            &state.gazetteer,
            &req.ctx,
            id,
            &code,
            today(),
            &state.province_code,
        )
        .await?;
        let v = pl::plan(&state.store, &req.ctx, id, today()).await?;
        Ok::<_, AppError>((d, v))
    }
    .await;
    match r {
        Ok((d, v)) => {
            let chart = sparkline(&d.province.series, d.province.target);
            let page = IndicatorPage { n: names(&v, req.lang), d, chart, l: layout(&state, &req) };
            render(&page, &req)
        }
        Err(e) => fail(e, &req),
    }
}

// ---------- reports ----------

#[derive(Template)]
#[template(path = "plan_reports.html")]
struct ReportsPage {
    l: Layout,
    n: Names,
    plan: store::plans::PlanRow,
    reports: Vec<store::plans::ReportRow>,
    open: Vec<(String, String)>,
    closed: Vec<String>,
    can_close: bool,
    error: String,
}

async fn reports_page(state: &AppState, req: &Req, id: i64, error: String, status: StatusCode) -> Response {
    let r = async {
        let v = pl::plan(&state.store, &req.ctx, id, today()).await?;
        let reports = pl::reports(&state.store, &req.ctx, id).await?;
        let open = pl::open_periods(&state.store, &req.ctx, id, today()).await?;
        Ok::<_, AppError>((v, reports, open))
    }
    .await;
    match r {
        Ok((v, reports, open)) => {
            let n = names(&v, req.lang);
            let open = open.iter().map(|p| (p.to_string(), n.period(&p.to_string()))).collect();
            let can_close = req.ctx.principal.as_ref().is_some_and(|p| {
                p.can(perm::PLANS_MANAGE) && p.agency.as_deref() == Some(v.plan.owner_agency.as_str())
            });
            let page = ReportsPage {
                n,
                closed: v.closed.clone(),
                plan: v.plan,
                reports,
                open,
                can_close,
                error,
                l: layout(state, req),
            };
            let mut r = render(&page, req);
            *r.status_mut() = status;
            r
        }
        Err(e) => fail(e, req),
    }
}

pub async fn reports(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    reports_page(&state, &req, id, String::new(), StatusCode::OK).await
}

pub async fn create_report(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    match pl::create_report(&state.store, &req.ctx, id, &form.text("period"), None, today()).await {
        Ok(rid) => Redirect::to(&format!("/plans/reports/{rid}")).into_response(),
        Err(e @ (AppError::Denied { .. } | AppError::Field { .. })) => {
            let status = e.status();
            reports_page(&state, &req, id, e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn close_period(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    match pl::close_period(&state.store, &req.ctx, id, &form.text("period"), today()).await {
        Ok(_) => Redirect::to(&format!("/plans/{id}/reports")).into_response(),
        Err(e @ (AppError::Denied { .. } | AppError::Field { .. })) => {
            let status = e.status();
            reports_page(&state, &req, id, e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "plan_report.html")]
struct ReportPage {
    l: Layout,
    n: Names,
    d: ReportDetail,
    /// what the form shows: the input being fixed after an error, else the saved content
    input: ReportInput,
    notice: String,
    error: String,
}

impl ReportPage {
    fn progress_of(&self, code: &str) -> String {
        self.input.progress.iter().find(|p| p.task == code).map(|p| p.progress.clone()).unwrap_or_default()
    }
    fn completed_of(&self, code: &str) -> String {
        self.input.progress.iter().find(|p| p.task == code).and_then(|p| p.completed_on.clone()).unwrap_or_default()
    }
    fn note_of(&self, code: &str) -> String {
        self.input.progress.iter().find(|p| p.task == code).map(|p| p.note.clone()).unwrap_or_default()
    }
    fn value_of(&self, code: &str) -> String {
        self.input
            .values
            .iter()
            .find(|v| v.indicator == code && v.commune.is_none())
            .map(|v| v.value.clone())
            .unwrap_or_default()
    }
    fn communes_of(&self, code: &str) -> String {
        self.input
            .values
            .iter()
            .filter(|v| v.indicator == code)
            .filter_map(|v| v.commune.as_ref().map(|c| format!("{c} = {}", v.value)))
            .collect::<Vec<_>>()
            .join("\n")
    }
    fn unit_of(&self, i: &store::plans::IndicatorRow) -> &'static str {
        let u = Unit::parse(&i.unit).unwrap_or(Unit::Count);
        if self.l.lang == Lang::Vi {
            u.symbol_vi()
        } else {
            u.symbol_en()
        }
    }
    fn event(&self, a: &str) -> &'static str {
        match a {
            "created" => self.l.lang.pick("Tạo báo cáo", "Created"),
            "saved" => self.l.lang.pick("Lưu", "Saved"),
            "submitted" => self.l.lang.pick("Gửi", "Submitted"),
            "returned" => self.l.lang.pick("Trả lại", "Returned"),
            "accepted" => self.l.lang.pick("Tiếp nhận", "Accepted"),
            _ => "",
        }
    }
    fn at(&self, s: &str) -> String {
        match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => t
                .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap_or(t.timezone()))
                .format("%d/%m/%Y %H:%M")
                .to_string(),
            Err(_) => s.to_string(),
        }
    }
}

/// The saved content as the form's input.
fn saved_input(d: &ReportDetail) -> ReportInput {
    let iso_to_vi = |s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(domain::calendar::format_date).unwrap_or_default()
    };
    ReportInput {
        summary: d.report.summary.clone(),
        progress: d
            .tasks
            .iter()
            .filter_map(|(t, p)| {
                p.as_ref().map(|p| pl::ProgressInput {
                    task: t.code.clone(),
                    progress: p.progress.clone(),
                    completed_on: p.completed_on.as_deref().map(iso_to_vi),
                    note: p.note.clone(),
                })
            })
            .collect(),
        values: d
            .indicators
            .iter()
            .flat_map(|(i, vs)| {
                vs.iter().map(|v| pl::ValueInput {
                    indicator: i.code.clone(),
                    commune: (v.unit_level == "commune").then(|| v.unit_code.clone()),
                    value: Milli(v.value_milli).display_vi(),
                    note: v.note.clone(),
                })
            })
            .collect(),
    }
}

async fn report_page(
    state: &AppState,
    req: &Req,
    id: i64,
    input: Option<ReportInput>,
    notice: String,
    error: String,
    status: StatusCode,
) -> Response {
    let d = match pl::report(&state.store, &req.ctx, id, today()).await {
        Ok(d) => d,
        Err(e) => return fail(e, req),
    };
    let v = match pl::plan(&state.store, &req.ctx, d.report.plan_id, today()).await {
        Ok(v) => v,
        Err(e) => return fail(e, req),
    };
    let input = input.unwrap_or_else(|| saved_input(&d));
    let page = ReportPage { n: names(&v, req.lang), d, input, notice, error, l: layout(state, req) };
    let mut r = render(&page, req);
    *r.status_mut() = status;
    r
}

pub async fn report(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    report_page(&state, &req, id, None, String::new(), String::new(), StatusCode::OK).await
}

/// The form as a report input: `progress_<code>`, `completed_<code>`, `note_<code>` per task;
/// `value_<code>` (province) and `communes_<code>` (lines `code = value`) per indicator.
fn form_input(form: &FormData) -> ReportInput {
    let mut input = ReportInput { summary: form.text("summary"), ..Default::default() };
    for (k, v) in &form.0 {
        if let Some(code) = k.strip_prefix("progress_") {
            if v.is_empty() {
                continue;
            }
            input.progress.push(pl::ProgressInput {
                task: code.to_string(),
                progress: v.clone(),
                completed_on: form
                    .get(&format!("completed_{code}"))
                    .map(str::to_string)
                    .filter(|s| !s.trim().is_empty()),
                note: form.text(&format!("note_{code}")),
            });
        } else if let Some(code) = k.strip_prefix("value_") {
            if !v.trim().is_empty() {
                input.values.push(pl::ValueInput {
                    indicator: code.into(),
                    commune: None,
                    value: v.clone(),
                    note: String::new(),
                });
            }
        } else if let Some(code) = k.strip_prefix("communes_") {
            for line in v.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let (c, val) = line.split_once(['=', ':', '\t']).unwrap_or((line, ""));
                input.values.push(pl::ValueInput {
                    indicator: code.into(),
                    commune: Some(c.trim().into()),
                    value: val.trim().into(),
                    note: String::new(),
                });
            }
        }
    }
    input
}

pub async fn save_report(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let input = form_input(&form);
    let submit = form.get("then_submit").is_some();
    let r = async {
        pl::save_report(&state.store, &state.gazetteer, &req.ctx, id, &input, today(), &state.province_code).await?;
        if submit {
            pl::submit_report(&state.store, &req.ctx, id, today(), None).await?;
        }
        Ok::<_, AppError>(())
    }
    .await;
    match r {
        Ok(()) => Redirect::to(&format!("/plans/reports/{id}")).into_response(),
        Err(e @ (AppError::Denied { .. } | AppError::Field { .. })) => {
            let status = e.status();
            report_page(&state, &req, id, Some(input), String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

pub async fn decide_report(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let accept = match form.text("decision").as_str() {
        "accept" => true,
        "return" => false,
        _ => return fail(AppError::field("decision", "chọn tiếp nhận hoặc trả lại", "choose accept or return"), &req),
    };
    match pl::decide_report(&state.store, &req.ctx, id, accept, &form.text("comment"), today(), None).await {
        Ok(()) => Redirect::to(&format!("/plans/reports/{id}")).into_response(),
        Err(e @ (AppError::Denied { .. } | AppError::Field { .. })) => {
            let status = e.status();
            report_page(&state, &req, id, None, String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}
