//! Integrity pages: the review queue (statistics per check and commune, filters, a run
//! button) and one case with its evidence side by side, assignment and resolution.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;
use crate::http::extract::{FormData, Req};
use crate::http::i18n::{Key, Lang};
use crate::http::integrity_api::CasesQuery;
use crate::http::ui::{fail, layout, render, Layout};
use crate::services::authz::perm;
use crate::services::integrity::{self as integ, CaseDetail, ResolveInput};
use crate::services::AppState;

/// One check's line of the statistics.
pub struct CheckStat {
    pub code: &'static str,
    pub label: String,
    pub open: i64,
    pub confirmed: i64,
    pub false_positive: i64,
}

#[derive(Template)]
#[template(path = "integrity.html")]
struct QueuePage {
    l: Layout,
    checks: Vec<CheckStat>,
    /// (commune code, name, open, confirmed, false positive), most open first
    communes: Vec<(String, String, i64, i64, i64)>,
    cases: Vec<store::integrity::CaseRow>,
    total: i64,
    page: i64,
    pages: i64,
    q: CasesQuery,
    /// (code, label) for the check filter
    check_options: Vec<(&'static str, String)>,
    can_run: bool,
    notice: String,
    error: String,
}

impl QueuePage {
    fn check(&self, code: &str) -> String {
        let (vi, en) = integ::check_label(code);
        self.l.tr(vi, en).to_string()
    }
    fn status(&self, s: &str) -> String {
        self.l.case_status(s)
    }
    fn selected(&self, field: &Option<String>, v: &str) -> bool {
        field.as_deref() == Some(v)
    }
    /// The query string of the current filters with another page.
    fn page_link(&self, page: i64) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("check", &self.q.check), ("status", &self.q.status), ("commune", &self.q.commune)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                s.append_pair(k, v);
            }
        }
        s.append_pair("page", &page.to_string());
        format!("?{}", s.finish())
    }
}

async fn queue_page(
    state: &AppState,
    req: &Req,
    q: CasesQuery,
    notice: String,
    error: String,
    status: StatusCode,
) -> Response {
    let per_page = 50;
    let page = store::Page::new(q.page, Some(per_page));
    let (stats, cases) =
        match (integ::stats(&state.store, &req.ctx).await, integ::cases(&state.store, &req.ctx, q.query(), page).await)
        {
            (Ok(s), Ok(c)) => (s, c),
            (Err(e), _) | (_, Err(e)) => return fail(e, req),
        };
    let l = layout(state, req);
    let checks = integ::CHECKS
        .iter()
        .map(|(code, vi, en)| {
            let rows = stats.iter().filter(|s| s.check_code == *code);
            let mut c = CheckStat { code, label: l.tr(vi, en).to_string(), open: 0, confirmed: 0, false_positive: 0 };
            for r in rows {
                c.open += r.open;
                c.confirmed += r.confirmed;
                c.false_positive += r.false_positive;
            }
            c
        })
        .collect();
    let mut by_commune: std::collections::BTreeMap<String, (i64, i64, i64)> = Default::default();
    for s in &stats {
        let e = by_commune.entry(s.commune_code.clone()).or_default();
        e.0 += s.open;
        e.1 += s.confirmed;
        e.2 += s.false_positive;
    }
    let mut communes: Vec<(String, String, i64, i64, i64)> = by_commune
        .into_iter()
        .map(|(code, (o, c, f))| {
            let name = state.gazetteer.commune(&code).map_or_else(|| code.clone(), |c| c.name.clone());
            (code, name, o, c, f)
        })
        .collect();
    communes.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    let check_options = integ::CHECKS.iter().map(|(c, vi, en)| (*c, l.tr(vi, en).to_string())).collect();
    let p = req.ctx.principal.as_ref();
    let t = QueuePage {
        checks,
        communes,
        total: cases.total,
        page: cases.page,
        pages: (cases.total + per_page - 1).max(1) / per_page.max(1),
        cases: cases.items,
        q,
        check_options,
        can_run: p.is_some_and(|p| p.can(perm::INTEGRITY_RUN)),
        notice,
        error,
        l,
    };
    let mut r = render(&t, req);
    *r.status_mut() = status;
    r
}

pub async fn queue(State(state): State<AppState>, req: Req, Query(q): Query<CasesQuery>) -> Response {
    queue_page(&state, &req, q, String::new(), String::new(), StatusCode::OK).await
}

pub async fn run(State(state): State<AppState>, req: Req) -> Response {
    match integ::run(&state.store, &req.ctx, chrono::Utc::now().date_naive()).await {
        Ok(r) => {
            let msg = match req.lang {
                Lang::Vi => format!(
                    "Đã chạy kiểm tra trên {} hồ sơ: {} vụ việc mới ({:.1} giây).",
                    r.persons, r.new_cases, r.seconds
                ),
                Lang::En => {
                    format!("Checks run over {} records: {} new cases ({:.1} s).", r.persons, r.new_cases, r.seconds)
                }
            };
            queue_page(&state, &req, CasesQuery::default(), msg, String::new(), StatusCode::OK).await
        }
        Err(e) => fail(e, &req),
    }
}

/// One row of the side-by-side comparison.
pub struct SideRow {
    pub label: &'static str,
    pub a: String,
    pub b: String,
    pub differs: bool,
}

/// One comparison's part in the match weight.
pub struct PartView {
    pub label: &'static str,
    pub level: String,
    pub weight: String,
    pub positive: bool,
}

#[derive(Template)]
#[template(path = "integrity_case.html")]
struct CasePage {
    l: Layout,
    d: CaseDetail,
    check: String,
    status: String,
    rows: Vec<SideRow>,
    parts: Vec<PartView>,
    /// (label, value) of a single-person case's evidence
    facts: Vec<(String, String)>,
    assignees: Vec<(String, String)>,
    can_resolve: bool,
    notice: String,
    error: String,
}

fn person_rows(l: &Layout, state: &AppState, d: &CaseDetail) -> Vec<SideRow> {
    let commune =
        |code: &str| state.gazetteer.commune(code).map_or_else(|| code.to_string(), |c| format!("{} ({code})", c.name));
    let sex = |s: &str| match s {
        "male" => l.tr("Nam", "Male").to_string(),
        "female" => l.tr("Nữ", "Female").to_string(),
        other => other.to_string(),
    };
    let paid = |side: &integ::Side| {
        side.payments
            .iter()
            .take(3)
            .map(|p| format!("{} {}", l.month(&p.month), l.money(p.amount)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let cats = |c: &str| c.split('|').filter(|x| !x.is_empty()).map(|x| l.category(x)).collect::<Vec<_>>().join(", ");
    let a = &d.a;
    let b = d.b.as_ref();
    let mut rows = Vec::new();
    let mut push = |label: &'static str, av: String, bv: Option<String>| {
        let differs = bv.as_ref().is_some_and(|b| *b != av);
        rows.push(SideRow { label, a: av, b: bv.unwrap_or_default(), differs });
    };
    push(l.tr("Họ và tên", "Full name"), a.person.full_name.clone(), b.map(|b| b.person.full_name.clone()));
    push(l.tr("Số định danh", "Personal ID"), a.person.personal_id.clone(), b.map(|b| b.person.personal_id.clone()));
    push(l.tr("Ngày sinh", "Birth date"), l.date(&a.person.birth_date), b.map(|b| l.date(&b.person.birth_date)));
    push(l.tr("Giới tính", "Sex"), sex(&a.person.sex), b.map(|b| sex(&b.person.sex)));
    push(l.tr("Xã/phường", "Commune"), commune(&a.person.commune_code), b.map(|b| commune(&b.person.commune_code)));
    push(l.tr("Địa chỉ", "Address"), a.person.address_line.clone(), b.map(|b| b.person.address_line.clone()));
    push(l.tr("Đối tượng", "Categories"), cats(&a.categories), b.map(|b| cats(&b.categories)));
    push(
        l.tr("Ngày mất", "Died on"),
        a.person.deceased_on.as_deref().map(|x| l.date(x)).unwrap_or_default(),
        b.map(|b| b.person.deceased_on.as_deref().map(|x| l.date(x)).unwrap_or_default()),
    );
    push(l.tr("Chi trả gần đây", "Recent payments"), paid(a), b.map(paid));
    rows
}

fn evidence_facts(l: &Layout, evidence: &serde_json::Value) -> Vec<(String, String)> {
    let Some(obj) = evidence.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    for (k, v) in obj {
        if matches!(k.as_str(), "parts" | "prior_weight" | "match_weight" | "decision" | "paid") {
            continue;
        }
        let (vi, en) = integ::evidence_label(k);
        let label = if vi.is_empty() { k.clone() } else { l.tr(vi, en).to_string() };
        let value = match (k.as_str(), v) {
            ("amount", serde_json::Value::Number(n)) => l.money(n.as_i64().unwrap_or(0)),
            ("probability", serde_json::Value::Number(n)) => format!("{:.1}%", n.as_f64().unwrap_or(0.0) * 100.0),
            ("birth_date" | "deceased_on" | "latest_proof_of_life" | "since", serde_json::Value::String(s)) => {
                l.date(s)
            }
            ("first_month" | "last_month" | "paid_month" | "until", serde_json::Value::String(s)) => l.month(s),
            ("persons", serde_json::Value::Array(a)) => a
                .iter()
                .map(|p| {
                    format!(
                        "{} ({}, {})",
                        p.get("full_name").and_then(|x| x.as_str()).unwrap_or(""),
                        p.get("personal_id").and_then(|x| x.as_str()).unwrap_or(""),
                        p.get("commune_code").and_then(|x| x.as_str()).unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            (_, serde_json::Value::Bool(b)) => {
                l.tr(if *b { "có" } else { "không" }, if *b { "yes" } else { "no" }).into()
            }
            (_, serde_json::Value::Null) => "—".into(),
            (_, serde_json::Value::String(s)) => s.clone(),
            (_, serde_json::Value::Array(a)) => a
                .iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join("; "),
            (_, other) => other.to_string(),
        };
        out.push((label, value));
    }
    out
}

async fn case_page(
    state: &AppState,
    req: &Req,
    id: i64,
    notice: String,
    error: String,
    status: StatusCode,
) -> Response {
    let d = match integ::case(&state.store, &req.ctx, id).await {
        Ok(d) => d,
        Err(e) => return fail(e, req),
    };
    let assignees = integ::assignees(&state.store, &req.ctx).await.unwrap_or_default();
    let l = layout(state, req);
    let rows = person_rows(&l, state, &d);
    let parts = d
        .evidence
        .get("parts")
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .map(|p| {
                    let name = p.get("comparison").and_then(|x| x.as_str()).unwrap_or("");
                    let level = p.get("level").and_then(|x| x.as_str()).unwrap_or("");
                    let w = p.get("weight").and_then(serde_json::Value::as_f64).unwrap_or(0.0);
                    let (vi, en) = integ::comparison_label(name);
                    PartView {
                        label: l.tr(vi, en),
                        level: l.tr(integ::level_vi(level), level).to_string(),
                        weight: format!("{w:+.1}"),
                        positive: w > 0.0,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let facts = evidence_facts(&l, &d.evidence);
    let (cvi, cen) = integ::check_label(&d.case.check_code);
    let (svi, sen) = integ::status_label(&d.case.status);
    let t = CasePage {
        check: l.tr(cvi, cen).to_string(),
        status: l.tr(svi, sen).to_string(),
        rows,
        parts,
        facts,
        assignees,
        can_resolve: req.ctx.principal.as_ref().is_some_and(|p| p.can(perm::INTEGRITY_RESOLVE)),
        notice,
        error,
        d,
        l,
    };
    let mut r = render(&t, req);
    *r.status_mut() = status;
    r
}

pub async fn case(State(state): State<AppState>, req: Req, Path(id): Path<i64>) -> Response {
    case_page(&state, &req, id, String::new(), String::new(), StatusCode::OK).await
}

/// Shows a refusal on the case page; other errors as an error page.
async fn after(state: &AppState, req: &Req, id: i64, r: Result<(), AppError>) -> Response {
    match r {
        Ok(()) => Redirect::to(&format!("/integrity/cases/{id}")).into_response(),
        Err(e @ (AppError::Field { .. } | AppError::Denied { .. })) => {
            let status = e.status();
            case_page(state, req, id, String::new(), e.message(req.lang), status).await
        }
        Err(e) => fail(e, req),
    }
}

pub async fn assign(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let r = integ::assign(&state.store, &req.ctx, id, &form.text("assigned_to")).await;
    after(&state, &req, id, r).await
}

pub async fn resolve(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let input = ResolveInput {
        outcome: form.text("outcome"),
        suspend_personal_id: form.get("suspend_personal_id").map(str::to_string),
        recovery: form.get("recovery").map(str::to_string),
        note: form.text("note"),
    };
    let r = integ::resolve(&state.store, &req.ctx, id, &input).await;
    after(&state, &req, id, r).await
}

/// A proof of life for an implausible-age case: recorded, and the case closed as a false
/// positive with it.
pub async fn life_proof(State(state): State<AppState>, req: Req, Path(id): Path<i64>, form: FormData) -> Response {
    let r = async {
        let d = integ::case(&state.store, &req.ctx, id).await?;
        let (date, how) = (form.text("proved_on"), form.text("how"));
        integ::record_life_proof(&state.store, &req.ctx, &d.a.person.personal_id, &date, &how).await?;
        let note = format!("Xác nhận còn sống ngày {date}: {how}");
        let input = ResolveInput { outcome: "false_positive".into(), note, ..Default::default() };
        integ::resolve(&state.store, &req.ctx, id, &input).await
    }
    .await;
    after(&state, &req, id, r).await
}
