//! Registry pages: search, dossier, proposals, the checker's queue, and exports.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;
use crate::http::extract::{FormData, Req};
use crate::http::i18n::{Key, Lang};
use crate::http::ui::{fail, layout, render, Layout};
use crate::services::authz::perm;
use crate::services::registry::{self, SearchParams};
use crate::services::AppState;

/// Merit categories (Pháp lệnh 02/2020 Art. 3) and assistance groups (Decree 20/2021 Art. 5)
/// as (code, "code — short name") for lists and filters.
pub fn category_options(lang: Lang) -> Vec<(String, String)> {
    use domain::categories::{printed, ASSISTANCE, MERIT};
    MERIT
        .iter()
        .chain(ASSISTANCE.iter())
        .map(|(code, short, _, en)| {
            let name = if lang == Lang::Vi { short } else { en };
            let label = if *code == "relative" { name.to_string() } else { format!("{} — {name}", printed(code)) };
            (code.to_string(), label)
        })
        .collect()
}

#[derive(Template)]
#[template(path = "registry.html")]
struct RegistryPage {
    l: Layout,
    q: String,
    commune: String,
    category: String,
    status: String,
    sort: String,
    communes: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    rows: Vec<registry::PersonView>,
    total_label: String,
    page: i64,
    has_next: bool,
    prev_url: String,
    next_url: String,
    filter_qs: String,
    can_propose: bool,
}

fn filter_qs(s: &SearchParams, page: Option<i64>) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in
        [("q", &s.q), ("commune", &s.commune), ("category", &s.category), ("status", &s.status), ("sort", &s.sort)]
    {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            out.append_pair(k, v);
        }
    }
    if let Some(p) = page {
        out.append_pair("page", &p.to_string());
    }
    out.finish()
}

pub async fn search(State(state): State<AppState>, req: Req, Query(s): Query<SearchParams>) -> Response {
    let found = match registry::search(&state.store, &state.gazetteer, &req.ctx, &s).await {
        Ok(f) => f,
        Err(e) => return fail(e, &req),
    };
    let scope = req.ctx.principal.as_ref().map(|p| p.scope.clone());
    let communes = state
        .gazetteer
        .communes_of(&state.province_code)
        .filter(|c| scope.as_ref().is_none_or(|s| s.allows_commune(&c.code)))
        .map(|c| (c.code.clone(), c.name.clone()))
        .collect();
    let total_label = match (found.total > store::registry::COUNT_CAP, req.lang) {
        (true, Lang::Vi) => format!("hơn {} người", store::registry::COUNT_CAP),
        (true, Lang::En) => format!("more than {} persons", store::registry::COUNT_CAP),
        (false, Lang::Vi) => format!("{} người", found.total),
        (false, Lang::En) => format!("{} persons", found.total),
    };
    let page = found.page;
    let has_next = page * found.per_page < found.total;
    let view = RegistryPage {
        l: layout(&state, &req),
        q: s.q.clone().unwrap_or_default(),
        commune: s.commune.clone().unwrap_or_default(),
        category: s.category.clone().unwrap_or_default(),
        status: s.status.clone().unwrap_or_default(),
        sort: s.sort.clone().unwrap_or_default(),
        communes,
        categories: category_options(req.lang),
        rows: found.items,
        total_label,
        page,
        has_next,
        prev_url: format!("/registry?{}", filter_qs(&s, Some(page - 1))),
        next_url: format!("/registry?{}", filter_qs(&s, Some(page + 1))),
        filter_qs: filter_qs(&s, None),
        can_propose: req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::REGISTRY_PROPOSE)),
    };
    render(&view, &req)
}

#[derive(Template)]
#[template(path = "dossier.html")]
struct DossierPage {
    l: Layout,
    d: registry::Dossier,
    can_propose: bool,
    /// May issue the citizen's lookup code (printed on the entitlement decision).
    can_issue_code: bool,
    has_sensitive: bool,
    merit_options: Vec<(String, String)>,
    group_options: Vec<(String, String)>,
    /// Merit or assistance records still in force (that a proposal may end).
    has_open_records: bool,
    relations: Vec<(&'static str, &'static str)>,
    /// The last twelve months of entitlements (for roles that may see sensitive fields).
    ent: Option<crate::services::entitlements::Entitlements>,
    /// This month's lines.
    current_lines: Vec<crate::services::entitlements::EntitlementView>,
    notice: String,
    error: String,
}

async fn dossier_page(
    state: &AppState,
    req: &Req,
    id: i64,
    notice: String,
    error: String,
    status: StatusCode,
) -> Response {
    match registry::dossier(&state.store, &state.gazetteer, &req.ctx, id).await {
        Ok(d) => {
            let to = domain::Month::of(crate::services::days::today_vn());
            let from = to.add_months(-11).unwrap_or(to);
            let may_see = req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::REGISTRY_SENSITIVE));
            let ent = if may_see {
                match crate::services::entitlements::person_entitlements(
                    &state.store,
                    &state.packs,
                    &req.ctx,
                    id,
                    from,
                    to,
                )
                .await
                {
                    Ok(e) => Some(e),
                    Err(e) => return fail(e, req),
                }
            } else {
                None
            };
            let current = crate::services::entitlements::iso(to);
            let has_sensitive = d.merit.iter().any(|m| m.category == "g" || m.category == "h")
                || !d.assistance.is_empty()
                || d.payment.iter().any(|p| p.method == "bank");
            let can_propose = req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::REGISTRY_PROPOSE));
            let lang = req.lang;
            let options = |list: &[domain::categories::Category]| {
                category_options(lang).into_iter().filter(|(c, _)| list.iter().any(|x| x.0 == c)).collect()
            };
            let has_open_records =
                d.merit.iter().any(|m| m.valid_to.is_none()) || d.assistance.iter().any(|a| a.valid_to.is_none());
            let can_issue_code =
                d.person.deceased_on.is_none() && req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::PORTAL_CODES));
            let page = DossierPage {
                current_lines: ent
                    .as_ref()
                    .map(|e| e.lines.iter().filter(|l| l.month == current).cloned().collect())
                    .unwrap_or_default(),
                ent,
                relations: registry::RELATIONS.to_vec(),
                has_open_records,
                l: layout(state, req),
                d,
                can_propose,
                can_issue_code,
                has_sensitive,
                notice,
                error,
                merit_options: options(&domain::categories::MERIT),
                group_options: options(&domain::categories::ASSISTANCE),
            };
            (status, render(&page, req)).into_response()
        }
        Err(e) => fail(e, req),
    }
}

pub async fn dossier(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    dossier_page(&state, &req, id, String::new(), String::new(), StatusCode::OK).await
}

/// The dossier page's forms to add a merit or assistance record, or to end one.
pub async fn propose_record(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let opt = |k: &str| Some(form.text(k)).filter(|v| !v.is_empty());
    let input = match form.text("action").as_str() {
        "add_merit" => {
            let rate = match opt("injury_rate").map(|r| r.trim_end_matches('%').trim().parse::<i64>()) {
                None => None,
                Some(Ok(r)) => Some(r),
                Some(Err(_)) => {
                    let e = AppError::field(
                        "injury_rate",
                        "tỷ lệ thương tật là số nguyên",
                        "the injury rate is a whole number",
                    );
                    return dossier_page(&state, &req, id, String::new(), e.message(req.lang), e.status()).await;
                }
            };
            let num = |k: &str| opt(k).and_then(|v| v.trim().trim_end_matches('%').parse::<i64>().ok());
            let yes_no = |k: &str| match form.text(k).as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            let on = |k: &str| form.text(k) == "on";
            registry::ProposeRecord::AddMerit {
                category: form.text("category"),
                decision_no: form.text("decision_no"),
                decision_date: form.text("decision_date"),
                injury_rate: rate,
                valid_from: form.text("valid_from"),
                reason: form.text("reason"),
                facts: registry::MeritRuleFacts {
                    type_b: on("type_b"),
                    especially_severe: on("especially_severe"),
                    thoat_ly: yes_no("thoat_ly"),
                    award: opt("award"),
                    of_category: opt("of_category"),
                    of_injury_rate: num("of_injury_rate"),
                    martyrs_count: num("martyrs_count"),
                    of_deceased: yes_no("of_deceased"),
                    nurture: on("nurture"),
                    remarried: on("remarried"),
                    ao_child: on("ao_child"),
                    caregiver: on("caregiver"),
                    studying: on("studying"),
                    seniority_months: num("seniority_months"),
                },
            }
        }
        "add_assistance" => registry::ProposeRecord::AddAssistance {
            group_code: form.text("group_code"),
            decision_no: form.text("decision_no"),
            decision_date: form.text("decision_date"),
            disability_level: opt("disability_level"),
            valid_from: form.text("valid_from"),
            reason: form.text("reason"),
        },
        _ => {
            // "merit_records:12"
            let record = form.text("record");
            let (table, rid) = record.split_once(':').unwrap_or(("", ""));
            registry::ProposeRecord::EndRecord {
                table: table.to_string(),
                record_id: rid.parse().unwrap_or(0),
                valid_to: form.text("valid_to"),
                reason: form.text("reason"),
            }
        }
    };
    let res = registry::propose_record(&state.store, &req.ctx, id, &input).await;
    proposal_sent(&state, &req, id, res).await
}

pub async fn propose(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let opt = |k: &str| Some(form.text(k)).filter(|v| !v.is_empty());
    let input = registry::ProposeUpdate {
        full_name: opt("full_name"),
        address_line: opt("address_line"),
        commune_code: opt("commune_code"),
        phone: opt("phone"),
        deceased_on: opt("deceased_on"),
        ethnicity: opt("ethnicity"),
        household_code: opt("household_code"),
        relation_to_head: opt("relation_to_head"),
        related_personal_id: opt("related_personal_id"),
        relationship: opt("relationship"),
        valid_from: form.text("valid_from"),
        reason: form.text("reason"),
    };
    let res = registry::propose_update(&state.store, &req.ctx, id, &input).await;
    proposal_sent(&state, &req, id, res).await
}

/// The dossier again after a proposal: with its notice, or with the field's error.
async fn proposal_sent(state: &AppState, req: &Req, id: i64, res: Result<registry::ChangeView, AppError>) -> Response {
    match res {
        Ok(c) => {
            let msg = match req.lang {
                Lang::Vi => format!("Đã gửi đề nghị #{} ({}). Thay đổi có hiệu lực khi được duyệt.", c.id, c.summary),
                Lang::En => format!("Proposal #{} sent ({}). It takes effect once approved.", c.id, c.summary),
            };
            dossier_page(state, req, id, msg, String::new(), StatusCode::CREATED).await
        }
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. })) => {
            let status = e.status();
            let msg = e.message(req.lang);
            dossier_page(state, req, id, String::new(), msg, status).await
        }
        Err(e) => fail(e, req),
    }
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    l: Layout,
    rows: Vec<registry::ChangeView>,
    total: i64,
    can_decide: bool,
    notice: String,
    error: String,
}

async fn changes_page(state: &AppState, req: &Req, notice: String, error: String, status: StatusCode) -> Response {
    match registry::changes(&state.store, &req.ctx, Some("pending"), store::Page::new(Some(1), Some(200))).await {
        Ok(p) => {
            let can_decide = req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::REGISTRY_APPROVE));
            let page = ChangesPage { l: layout(state, req), rows: p.items, total: p.total, can_decide, notice, error };
            (status, render(&page, req)).into_response()
        }
        Err(e) => fail(e, req),
    }
}

pub async fn changes(State(state): State<AppState>, req: Req) -> Response {
    changes_page(&state, &req, String::new(), String::new(), StatusCode::OK).await
}

pub async fn decide(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let approve = match form.get("decision") {
        Some("approve") => true,
        Some("reject") => false,
        _ => return fail(AppError::field("decision", "chọn Duyệt hoặc Từ chối", "choose approve or reject"), &req),
    };
    match registry::decide(&state.store, &req.ctx, id, approve, &form.text("reason")).await {
        Ok(c) => {
            let msg = match (req.lang, approve) {
                (Lang::Vi, true) => format!("Đã duyệt đề nghị #{}: {}", c.id, c.summary),
                (Lang::Vi, false) => format!("Đã từ chối đề nghị #{}.", c.id),
                (Lang::En, true) => format!("Change request #{} approved: {}", c.id, c.summary),
                (Lang::En, false) => format!("Change request #{} rejected.", c.id),
            };
            changes_page(&state, &req, msg, String::new(), StatusCode::OK).await
        }
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. })) => {
            let status = e.status();
            let msg = e.message(req.lang);
            changes_page(&state, &req, String::new(), msg, status).await
        }
        Err(e) => fail(e, &req),
    }
}

/// Rows of an export, headers in Vietnamese.
const EXPORT_HEADERS: [&str; 12] = [
    "Số định danh cá nhân",
    "Họ và tên",
    "Ngày sinh",
    "Giới tính",
    "Dân tộc",
    "Mã xã",
    "Xã, phường",
    "Địa chỉ",
    "Địa chỉ trước 01/07/2025",
    "Diện",
    "Tình trạng",
    "Ngày từ trần",
];
/// Exports stop at this many rows (use the API with pagination for more).
pub const EXPORT_LIMIT: i64 = 200_000;

fn export_record(p: &registry::PersonView) -> [String; 12] {
    [
        p.personal_id.clone(),
        p.full_name.clone(),
        p.birth_date_display.clone(),
        if p.sex == "male" { "Nam" } else { "Nữ" }.into(),
        p.ethnicity.clone(),
        p.commune_code.clone(),
        p.commune_name.clone(),
        p.address_line.clone(),
        p.legacy_address.clone().unwrap_or_default(),
        p.categories.join(", "),
        if p.status == "deceased" { "Đã từ trần" } else { "Còn sống" }.into(),
        p.deceased_on.clone().unwrap_or_default(),
    ]
}

pub async fn export_csv(State(state): State<AppState>, req: Req, Query(s): Query<SearchParams>) -> Response {
    let rows = match registry::export_rows(&state.store, &state.gazetteer, &req.ctx, &s, EXPORT_LIMIT).await {
        Ok(r) => r,
        Err(e) => return fail(e, &req),
    };
    // UTF-8 with a byte-order mark, so that Excel opens Vietnamese text correctly.
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let mut ok = w.write_record(EXPORT_HEADERS).is_ok();
    for p in &rows {
        ok &= w.write_record(export_record(p)).is_ok();
    }
    match (ok, w.into_inner()) {
        (true, Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"so-doi-tuong.csv\""),
            ],
            bytes,
        )
            .into_response(),
        _ => fail(AppError::Internal("CSV export".into()), &req),
    }
}

pub fn xlsx_bytes(headers: &[&str], rows: &[Vec<String>], sheet: &str) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let bold = Format::new().set_bold();
    let x = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    ws.set_name(sheet).map_err(x)?;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold).map_err(x)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v).map_err(x)?;
        }
    }
    ws.set_freeze_panes(1, 0).map_err(x)?;
    wb.save_to_buffer().map_err(x)
}

pub async fn export_xlsx(State(state): State<AppState>, req: Req, Query(s): Query<SearchParams>) -> Response {
    let rows = match registry::export_rows(&state.store, &state.gazetteer, &req.ctx, &s, EXPORT_LIMIT).await {
        Ok(r) => r,
        Err(e) => return fail(e, &req),
    };
    let data: Vec<Vec<String>> = rows.iter().map(|p| export_record(p).to_vec()).collect();
    match xlsx_bytes(&EXPORT_HEADERS, &data, "So doi tuong") {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"so-doi-tuong.xlsx\""),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => fail(e, &req),
    }
}

/// `/registry/persons` without an id goes to the search.
pub async fn to_search() -> Response {
    Redirect::to("/registry").into_response()
}

// ---------- import ----------

use crate::services::import;
use crate::services::jobs::JobState;

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    l: Layout,
    /// A job still running: its progress is shown and polled.
    job: Option<(String, crate::services::jobs::ImportJob)>,
    report: Option<import::ImportReport>,
    shown_errors: Vec<import::RowError>,
    report_id: String,
}

/// Largest file accepted for import through the web page.
pub const MAX_IMPORT_BYTES: usize = 20 * 1024 * 1024;

pub async fn import_form(State(state): State<AppState>, req: Req) -> Response {
    if let Err(e) = req.ctx.require(perm::REGISTRY_IMPORT) {
        return fail(e, &req);
    }
    render(
        &ImportPage {
            l: layout(&state, &req),
            job: None,
            report: None,
            shown_errors: Vec::new(),
            report_id: String::new(),
        },
        &req,
    )
}

pub async fn import_template() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"mau-nhap-doi-tuong.csv\""),
        ],
        import::template_csv(),
    )
        .into_response()
}

pub async fn import_run(State(state): State<AppState>, req: Req, mut multipart: axum::extract::Multipart) -> Response {
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut mode = import::Mode::DryRun;
    let mut options = import::Options { stop_share: state.import_duplicate_share, ..Default::default() };
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                let file_name = field.file_name().map(str::to_string);
                match field.bytes().await {
                    Ok(bytes) if name == "file" => {
                        file = Some((file_name.unwrap_or_else(|| "tep".into()), bytes.to_vec()))
                    }
                    Ok(bytes) if name == "allow_duplicates" => options.allow_duplicates = bytes.as_ref() == b"on",
                    Ok(bytes) if name == "mode" => {
                        mode = match std::str::from_utf8(&bytes).unwrap_or("") {
                            "all" => import::Mode::AllOrNothing,
                            "valid_only" => import::Mode::ValidRowsOnly,
                            _ => import::Mode::DryRun,
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return fail(AppError::PayloadTooLarge(MAX_IMPORT_BYTES), &req),
                }
            }
            Ok(None) => break,
            Err(_) => return fail(AppError::PayloadTooLarge(MAX_IMPORT_BYTES), &req),
        }
    }
    let Some((name, bytes)) = file else {
        return fail(AppError::field("file", "chưa chọn tệp", "no file chosen"), &req);
    };
    // authorized here as well as in the service, so that a refusal is an error page now,
    // not a failed job later
    if let Err(e) = req.ctx.require(perm::REGISTRY_IMPORT) {
        return fail(e, &req);
    }
    let id = match crate::services::auth::random_hex(12) {
        Ok(id) => id,
        Err(e) => return fail(e, &req),
    };
    let user = req.ctx.principal.as_ref().map_or(0, |p| p.user_id);
    let job = state.import_jobs.start(&id, user, &name);
    let (task_state, ctx, task_id) = (state.clone(), req.ctx.clone(), id.clone());
    tokio::spawn(async move {
        let progress = |p| crate::services::jobs::record(&job, p);
        let s = &task_state;
        let outcome =
            import::import(&s.store, &s.gazetteer, &ctx, &s.province_code, &name, &bytes, mode, options, &progress)
                .await;
        if let Ok(r) = &outcome {
            s.reports.put(&task_id, user, r.errors.clone());
        }
        crate::services::jobs::finish(&job, outcome);
    });
    Redirect::to(&format!("/registry/import/jobs/{id}")).into_response()
}

/// An import's page: its progress while it runs (the page polls itself), then its report.
pub async fn import_job(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let user = req.ctx.principal.as_ref().map_or(0, |p| p.user_id);
    let Some(job) = state.import_jobs.get(&id, user) else {
        return fail(AppError::NotFound(format!("lần nhập {id}")), &req);
    };
    // the page polls its progress section with htmx; once the job is over, it reloads
    // whole to show the report (or the error)
    if !job.running() && headers.contains_key("hx-request") {
        return ([("hx-refresh", "true")], StatusCode::OK).into_response();
    }
    match &job.state {
        JobState::Failed(e) => crate::http::ui::error_page(e, &req.rid, req.lang),
        JobState::Running => render(
            &ImportPage {
                l: layout(&state, &req),
                job: Some((id, job)),
                report: None,
                shown_errors: Vec::new(),
                report_id: String::new(),
            },
            &req,
        ),
        JobState::Done(report) => {
            let shown_errors = report.errors.iter().take(500).cloned().collect();
            render(
                &ImportPage {
                    l: layout(&state, &req),
                    job: None,
                    report: Some(report.clone()),
                    shown_errors,
                    report_id: id,
                },
                &req,
            )
        }
    }
}

pub async fn import_report(State(state): State<AppState>, req: Req, Path(file): Path<String>) -> Response {
    let id = file.trim_end_matches(".xlsx");
    let user = req.ctx.principal.as_ref().map_or(0, |p| p.user_id);
    let Some(errors) = state.reports.get(id, user) else {
        return fail(AppError::NotFound(format!("báo cáo {id}")), &req);
    };
    match xlsx_bytes(&["Dòng", "Cột", "Giá trị", "Lý do"], &import::errors_rows(&errors), "Loi") {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"bao-cao-loi-nhap.xlsx\""),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => fail(e, &req),
    }
}

// ---------- proposing a new dossier ----------

#[derive(Template)]
#[template(path = "new_dossier.html")]
struct NewDossierPage {
    l: Layout,
    /// (key, label, required, value)
    fields: Vec<(String, String, bool, String)>,
    reason: String,
    errors: Vec<import::RowError>,
    notice: String,
}

fn new_fields(values: &FormData) -> Vec<(String, String, bool, String)> {
    import::COLUMNS
        .iter()
        .filter(|c| !matches!(c.0, "household_code" | "relation_to_head" | "legacy_address"))
        .map(|(k, label, req)| (k.to_string(), label.to_string(), *req, values.text(k)))
        .collect()
}

pub async fn new_form(State(state): State<AppState>, req: Req) -> Response {
    if let Err(e) = req.ctx.require(perm::REGISTRY_PROPOSE) {
        return fail(e, &req);
    }
    let empty = FormData(Vec::new());
    let page = NewDossierPage {
        l: layout(&state, &req),
        fields: new_fields(&empty),
        reason: String::new(),
        errors: Vec::new(),
        notice: String::new(),
    };
    render(&page, &req)
}

pub async fn new_submit(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    let fields =
        import::COLUMNS.iter().map(|c| (c.0.to_string(), form.text(c.0))).filter(|(_, v)| !v.is_empty()).collect();
    let input = registry::ProposeNew { fields, reason: form.text("reason") };
    match registry::propose_new(&state.store, &state.gazetteer, &req.ctx, &state.province_code, &input).await {
        Ok((c, errors)) => {
            let ok = errors.is_empty();
            let notice = if ok {
                match req.lang {
                    Lang::Vi => format!("Đã gửi đề nghị #{}: {}.", c.id, c.summary),
                    Lang::En => format!("Proposal #{} sent: {}.", c.id, c.summary),
                }
            } else {
                String::new()
            };
            let empty = FormData(Vec::new());
            let page = NewDossierPage {
                l: layout(&state, &req),
                fields: new_fields(if ok { &empty } else { &form }),
                reason: if ok { String::new() } else { form.text("reason") },
                errors,
                notice,
            };
            (if ok { StatusCode::CREATED } else { StatusCode::UNPROCESSABLE_ENTITY }, render(&page, &req))
                .into_response()
        }
        Err(e @ AppError::Field { .. }) => {
            let errors = vec![import::RowError {
                row: 0,
                column: String::new(),
                value: String::new(),
                reason: e.message(req.lang),
            }];
            let page = NewDossierPage {
                l: layout(&state, &req),
                fields: new_fields(&form),
                reason: form.text("reason"),
                errors,
                notice: String::new(),
            };
            (StatusCode::BAD_REQUEST, render(&page, &req)).into_response()
        }
        Err(e) => fail(e, &req),
    }
}
