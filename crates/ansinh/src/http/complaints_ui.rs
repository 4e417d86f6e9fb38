//! Complaint pages: the officers' list with traffic lights by time left and the satisfaction
//! index, intake at reception, one case with its workflow; and the citizen portal: filing,
//! the receipt with the tracking code, following a case by code and rating it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::error::AppError;
use crate::http::complaints_api::portal_key;
use crate::http::extract::{FormData, FormFiles, Req};
use crate::http::i18n::{Key, Lang};
use crate::http::ui::{fail, layout, render, Layout};
use crate::services::authz::perm;
use crate::services::complaints::{self as cm, CaseView, FileInput, StepInput, Tracking};
use crate::services::AppState;

/// Labels every complaint page uses.
pub struct Labels {
    lang: Lang,
    communes: std::collections::BTreeMap<String, String>,
}

impl Labels {
    fn pick(&self, pair: (&'static str, &'static str)) -> &'static str {
        self.lang.pick(pair.0, pair.1)
    }
    pub fn kind(&self, k: &str) -> &'static str {
        self.pick(cm::label(&cm::KINDS, k))
    }
    pub fn subject(&self, s: &str) -> &'static str {
        self.pick(cm::label(&cm::SUBJECTS, s))
    }
    pub fn outcome(&self, o: &str) -> &'static str {
        self.pick(cm::label(&cm::OUTCOMES, o))
    }
    pub fn status(&self, s: &str) -> &'static str {
        self.pick(cm::status_label(s))
    }
    pub fn commune(&self, c: &str) -> String {
        self.communes.get(c).cloned().unwrap_or_else(|| c.to_string())
    }
    pub fn light(&self, l: &str) -> &'static str {
        match l {
            "green" => self.lang.pick("Trong hạn", "In time"),
            "amber" => self.lang.pick("Sắp đến hạn", "Due soon"),
            "red" => self.lang.pick("Quá hạn", "Overdue"),
            _ => "",
        }
    }
    pub fn mean(&self, milli: &i64) -> String {
        domain::plan::Milli(*milli).display_vi()
    }
}

fn labels(state: &AppState, lang: Lang) -> Labels {
    Labels {
        lang,
        communes: state.gazetteer.communes_of(&state.province_code).map(|c| (c.code.clone(), c.name.clone())).collect(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub status: Option<String>,
}

#[derive(Template)]
#[template(path = "complaints.html")]
struct ListPage {
    l: Layout,
    n: Labels,
    cases: Vec<CaseView>,
    /// (agency, open cases past their deadline, most days overdue)
    overdue: Vec<(String, usize, i64)>,
    index: Vec<cm::IndexRow>,
    status: String,
    can_handle: bool,
}

pub async fn list(State(state): State<AppState>, req: Req, Query(q): Query<ListQuery>) -> Response {
    let r = async {
        let cases = cm::list(&state.store, &req.ctx, q.status.as_deref()).await?;
        let index = cm::satisfaction_index(&state.store, &req.ctx).await?;
        Ok::<_, AppError>((cases, index))
    }
    .await;
    match r {
        Ok((cases, index)) => {
            let page = ListPage {
                n: labels(&state, req.lang),
                overdue: cm::overdue_by_agency(&cases),
                cases,
                index: index.into_iter().filter(|r| r.commune_code.is_none()).collect(),
                status: q.status.unwrap_or_default(),
                can_handle: req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::COMPLAINTS_HANDLE)),
                l: layout(&state, &req),
            };
            render(&page, &req)
        }
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "complaint_form.html")]
struct FormPage {
    l: Layout,
    n: Labels,
    portal: bool,
    input: FileInput,
    error: String,
}

fn form_input(form: &FormData) -> FileInput {
    let opt = |k: &str| form.get(k).map(str::to_string).filter(|s| !s.trim().is_empty());
    FileInput {
        kind: form.text("kind"),
        subject: form.text("subject"),
        title: form.text("title"),
        content: form.text("content"),
        filer_name: form.text("filer_name"),
        filer_personal_id: opt("filer_personal_id"),
        filer_phone: opt("filer_phone"),
        filer_address: opt("filer_address"),
        commune_code: form.text("commune_code"),
        decision_ref: opt("decision_ref"),
        person_personal_id: opt("person_personal_id"),
        decision_known_on: opt("decision_known_on"),
        channel: opt("channel"),
    }
}

fn form_page(
    state: &AppState,
    req: &Req,
    portal: bool,
    input: FileInput,
    error: String,
    status: StatusCode,
) -> Response {
    let page = FormPage { n: labels(state, req.lang), portal, input, error, l: layout(state, req) };
    let mut r = render(&page, req);
    *r.status_mut() = status;
    r
}

pub async fn new_form(State(state): State<AppState>, req: Req) -> Response {
    if let Err(e) = req.ctx.require(perm::COMPLAINTS_HANDLE) {
        return fail(e, &req);
    }
    form_page(
        &state,
        &req,
        false,
        FileInput { kind: "complaint".into(), ..Default::default() },
        String::new(),
        StatusCode::OK,
    )
}

pub async fn new_submit(State(state): State<AppState>, req: Req, FormFiles { form, files }: FormFiles) -> Response {
    let input = form_input(&form);
    match cm::file(&state.store, &state.gazetteer, &req.ctx, &state.province_code, &input, false, files).await {
        Ok(c) => Redirect::to(&format!("/complaints/{}", c.id)).into_response(),
        Err(e @ AppError::Field { .. }) => {
            let status = e.status();
            form_page(&state, &req, false, input, e.message(req.lang), status)
        }
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "complaint.html")]
struct CasePage {
    l: Layout,
    n: Labels,
    v: CaseView,
    events: Vec<store::complaints::ComplaintEvent>,
    can_handle: bool,
    error: String,
}

async fn case_page(state: &AppState, req: &Req, id: i64, error: String, status: StatusCode) -> Response {
    match cm::case(&state.store, &req.ctx, id).await {
        Ok((v, events)) => {
            let page = CasePage {
                n: labels(state, req.lang),
                v,
                events,
                can_handle: req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::COMPLAINTS_HANDLE)),
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

pub async fn case(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    case_page(&state, &req, id, String::new(), StatusCode::OK).await
}

pub async fn step(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let input = StepInput {
        action: form.text("action"),
        assigned_to: form.get("assigned_to").map(str::to_string),
        variant: form.get("variant").map(str::to_string),
        note: form.text("note"),
        outcome: form.get("outcome").map(str::to_string),
    };
    match cm::step(&state.store, &req.ctx, id, &input).await {
        Ok(()) => Redirect::to(&format!("/complaints/{id}")).into_response(),
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. })) => {
            let status = e.status();
            case_page(&state, &req, id, e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

/// An officer adds scans to a case.
pub async fn attach(
    State(state): State<AppState>,
    req: Req,
    Path(id): Path<i64>,
    FormFiles { files, .. }: FormFiles,
) -> Response {
    match cm::attach(&state.store, &req.ctx, id, files).await {
        Ok(_) => Redirect::to(&format!("/complaints/{id}")).into_response(),
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. })) => {
            let status = e.status();
            case_page(&state, &req, id, e.message(req.lang), status).await
        }
        Err(e) => fail(e, &req),
    }
}

/// Downloads an attachment: always as a download (never rendered inline), with the type
/// detected at upload.
pub async fn download(State(state): State<AppState>, req: Req, Path((id, file)): Path<(i64, i64)>) -> Response {
    match cm::attachment(&state.store, &req.ctx, id, file).await {
        Ok((meta, data)) => attachment_response(&meta, data),
        Err(e) => fail(e, &req),
    }
}

/// The response carrying an attachment (shared with the API).
pub fn attachment_response(meta: &store::complaints::AttachmentMeta, data: Vec<u8>) -> Response {
    // RFC 6266/5987: an ASCII fallback and the UTF-8 name percent-encoded
    let ascii: String = domain::text::search_key(&meta.file_name)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' })
        .collect();
    let encoded: String = meta
        .file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    (
        [
            (axum::http::header::CONTENT_TYPE, meta.content_type.clone()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        data,
    )
        .into_response()
}

// ---------- the citizen portal ----------

pub async fn portal(State(state): State<AppState>, req: Req) -> Response {
    form_page(
        &state,
        &req,
        true,
        FileInput { kind: "complaint".into(), ..Default::default() },
        String::new(),
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "portal_track.html")]
struct TrackPage {
    l: Layout,
    n: Labels,
    t: Option<Tracking>,
    code: String,
    receipt: bool,
    notice: String,
    error: String,
}

/// What the tracking page shows besides the layout.
struct TrackBits {
    t: Option<Tracking>,
    code: String,
    receipt: bool,
    notice: String,
    error: String,
}

fn track_page(state: &AppState, req: &Req, b: TrackBits, status: StatusCode) -> Response {
    let page = TrackPage {
        n: labels(state, req.lang),
        t: b.t,
        code: b.code,
        receipt: b.receipt,
        notice: b.notice,
        error: b.error,
        l: layout(state, req),
    };
    let mut r = render(&page, req);
    *r.status_mut() = status;
    r
}

pub async fn portal_file(State(state): State<AppState>, req: Req, FormFiles { form, files }: FormFiles) -> Response {
    let key = portal_key(&req);
    if state.throttle.is_throttled(&key) {
        return fail(AppError::Throttled, &req);
    }
    state.throttle.record_failure(&key);
    let input = form_input(&form);
    match cm::file(&state.store, &state.gazetteer, &req.ctx, &state.province_code, &input, true, files).await {
        Ok(c) => match cm::track(&state.store, &c.tracking_code).await {
            Ok(t) => {
                let bits = TrackBits {
                    t: Some(t),
                    code: c.tracking_code,
                    receipt: true,
                    notice: String::new(),
                    error: String::new(),
                };
                track_page(&state, &req, bits, StatusCode::CREATED)
            }
            Err(e) => fail(e, &req),
        },
        Err(e @ AppError::Field { .. }) => {
            let status = e.status();
            form_page(&state, &req, true, input, e.message(req.lang), status)
        }
        Err(e) => fail(e, &req),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TrackQuery {
    pub code: Option<String>,
}

pub async fn portal_track(State(state): State<AppState>, req: Req, Query(q): Query<TrackQuery>) -> Response {
    let code = q.code.unwrap_or_default();
    if code.trim().is_empty() {
        return track_page(
            &state,
            &req,
            TrackBits { t: None, code, receipt: false, notice: String::new(), error: String::new() },
            StatusCode::OK,
        );
    }
    let key = portal_key(&req);
    if state.throttle.is_throttled(&key) {
        return fail(AppError::Throttled, &req);
    }
    match cm::track(&state.store, &code).await {
        Ok(t) => track_page(
            &state,
            &req,
            TrackBits { t: Some(t), code, receipt: false, notice: String::new(), error: String::new() },
            StatusCode::OK,
        ),
        Err(e) => {
            state.throttle.record_failure(&key);
            let status = e.status();
            track_page(
                &state,
                &req,
                TrackBits { t: None, code, receipt: false, notice: String::new(), error: e.message(req.lang) },
                status,
            )
        }
    }
}

pub async fn portal_second_instance(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    let key = portal_key(&req);
    if state.throttle.is_throttled(&key) {
        return fail(AppError::Throttled, &req);
    }
    state.throttle.record_failure(&key);
    let code = form.text("code");
    match cm::second_instance(&state.store, &req.ctx, &code, &form.text("reason")).await {
        Ok(c) => match cm::track(&state.store, &c.tracking_code).await {
            Ok(t) => {
                let bits = TrackBits {
                    t: Some(t),
                    code: c.tracking_code,
                    receipt: true,
                    notice: String::new(),
                    error: String::new(),
                };
                track_page(&state, &req, bits, StatusCode::CREATED)
            }
            Err(e) => fail(e, &req),
        },
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. })) => {
            let status = e.status();
            let t = cm::track(&state.store, &code).await.ok();
            let bits = TrackBits { t, code, receipt: false, notice: String::new(), error: e.message(req.lang) };
            track_page(&state, &req, bits, status)
        }
        Err(e) => fail(e, &req),
    }
}

#[derive(Template)]
#[template(path = "portal_posting.html")]
struct PostingPage {
    l: Layout,
    n: Labels,
    commune: String,
    rows: Vec<cm::PostedBeneficiary>,
    error: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PostingQuery {
    pub commune: Option<String>,
}

pub async fn portal_posting(State(state): State<AppState>, req: Req, Query(q): Query<PostingQuery>) -> Response {
    let commune = q.commune.unwrap_or_default();
    let (rows, error, status) = if commune.is_empty() {
        (Vec::new(), String::new(), StatusCode::OK)
    } else {
        match cm::posting(&state.store, &state.gazetteer, &state.province_code, &commune).await {
            Ok(r) => (r, String::new(), StatusCode::OK),
            Err(e @ AppError::Field { .. }) => (Vec::new(), e.message(req.lang), e.status()),
            Err(e) => return fail(e, &req),
        }
    };
    let page = PostingPage { n: labels(&state, req.lang), commune, rows, error, l: layout(&state, &req) };
    let mut r = render(&page, &req);
    *r.status_mut() = status;
    r
}

#[derive(Template)]
#[template(path = "portal_policies.html")]
struct PoliciesPage {
    l: Layout,
    p: crate::services::portal::Policies,
}

/// Who is eligible and how much, from the policy packs in force this month (no login).
pub async fn portal_policies(State(state): State<AppState>, req: Req) -> Response {
    let month = domain::Month::of(crate::services::plans::today_vn());
    let page = PoliciesPage { p: crate::services::portal::policies(&state.packs, month), l: layout(&state, &req) };
    render(&page, &req)
}

pub async fn portal_rate(State(state): State<AppState>, req: Req, form: FormData) -> Response {
    let key = portal_key(&req);
    if state.throttle.is_throttled(&key) {
        return fail(AppError::Throttled, &req);
    }
    let code = form.text("code");
    let r = cm::rate(&state.store, &req.ctx, &code, &form.text("score"), &form.text("comment")).await;
    let t = cm::track(&state.store, &code).await.ok();
    match r {
        Ok(()) => {
            let msg = req.lang.pick("Cảm ơn ông/bà đã đánh giá.", "Thank you for your rating.").to_string();
            track_page(
                &state,
                &req,
                TrackBits { t, code, receipt: false, notice: msg, error: String::new() },
                StatusCode::OK,
            )
        }
        Err(e) => {
            state.throttle.record_failure(&key);
            let status = e.status();
            track_page(
                &state,
                &req,
                TrackBits { t, code, receipt: false, notice: String::new(), error: e.message(req.lang) },
                status,
            )
        }
    }
}
