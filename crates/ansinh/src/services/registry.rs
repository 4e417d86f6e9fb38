//! The social registry as officers use it: search within one's area, dossiers with
//! sensitive fields only for those who need them (each such read audited), state as of a
//! date, and maker-checker changes.

use serde::{Deserialize, Serialize};
use store::registry::{AsOf, ChangePayload, ChangeRequest, PersonPatch, PersonQuery, PersonRow, PersonSort};
use store::{Page, Paged};

use crate::error::AppError;
use crate::services::authz::{perm, Ctx, Principal, Scope};

/// A person as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonView {
    pub id: i64,
    pub personal_id: String,
    pub full_name: String,
    /// As recorded: `yyyy`, `yyyy-mm` or `yyyy-mm-dd`.
    pub birth_date: String,
    /// `dd/mm/yyyy`, `mm/yyyy` or `yyyy`.
    pub birth_date_display: String,
    pub sex: String,
    pub ethnicity: String,
    pub commune_code: String,
    pub commune_name: String,
    pub address_line: String,
    pub legacy_address: Option<String>,
    pub phone: Option<String>,
    pub deceased_on: Option<String>,
    pub status: String,
    /// Relation to the head of the household, as recorded (`chủ hộ`, `vợ`, …).
    pub relation_to_head: Option<String>,
    /// Merit categories (a–m, relative) and assistance groups (k1–k8) in force.
    pub categories: Vec<String>,
    pub version: i64,
    pub valid_from: String,
}

pub fn view(g: &domain::Gazetteer, p: &PersonRow) -> PersonView {
    let display =
        domain::PartialDate::parse(&p.birth_date).map(|d| d.to_string()).unwrap_or_else(|_| p.birth_date.clone());
    PersonView {
        id: p.id,
        personal_id: p.personal_id.clone(),
        full_name: p.full_name.clone(),
        birth_date: p.birth_date.clone(),
        birth_date_display: display,
        sex: p.sex.clone(),
        ethnicity: p.ethnicity.clone(),
        commune_code: p.commune_code.clone(),
        commune_name: g.commune(&p.commune_code).map_or_else(|| p.commune_code.clone(), |c| c.name.clone()),
        address_line: p.address_line.clone(),
        legacy_address: p.legacy_address.clone(),
        phone: p.phone.clone(),
        deceased_on: p.deceased_on.clone(),
        status: p.status.clone(),
        relation_to_head: p.relation_to_head.clone(),
        categories: p.categories.split('|').filter(|c| !c.is_empty()).map(str::to_string).collect(),
        version: p.version,
        valid_from: p.valid_from.clone(),
    }
}

/// Search parameters as the UI and API take them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Personal ID (12 digits) or name, with or without diacritics.
    pub q: Option<String>,
    /// Commune code (5 digits).
    pub commune: Option<String>,
    /// Merit category (a … m, relative) or assistance group (k1 … k8).
    pub category: Option<String>,
    /// `living` or `deceased`.
    pub status: Option<String>,
    /// `name` (default), `commune` or `newest`.
    pub sort: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// The communes a caller may see (None = the whole province).
pub(crate) fn area(p: &Principal) -> Result<Option<Vec<String>>, AppError> {
    match &p.scope {
        Scope::Province => Ok(None),
        Scope::Communes(c) => Ok(Some(c.iter().cloned().collect())),
        Scope::Agency(_) | Scope::SelfOnly => Err(AppError::Forbidden("person data outside an area".into())),
    }
}

pub fn query_of(s: &SearchParams, communes: Option<Vec<String>>) -> Result<PersonQuery, AppError> {
    let sort = match s.sort.as_deref().unwrap_or("name") {
        "name" | "" => PersonSort::Name,
        "commune" => PersonSort::Commune,
        "newest" => PersonSort::Newest,
        other => {
            return Err(AppError::field(
                "sort",
                format!("cách sắp xếp '{other}' không có"),
                format!("unknown sort '{other}'"),
            ))
        }
    };
    if let Some(q) = &s.q {
        if q.chars().count() > 100 {
            return Err(AppError::field("q", "tối đa 100 ký tự", "at most 100 characters"));
        }
    }
    Ok(PersonQuery {
        q: s.q.clone().filter(|q| !q.trim().is_empty()),
        communes,
        commune: s.commune.clone().filter(|c| !c.is_empty()),
        category: s.category.clone().filter(|c| !c.is_empty()),
        status: s.status.clone().filter(|c| !c.is_empty()),
        sort,
    })
}

pub async fn search(
    store: &store::Store,
    g: &domain::Gazetteer,
    ctx: &Ctx,
    s: &SearchParams,
) -> Result<Paged<PersonView>, AppError> {
    let p = ctx.require(perm::REGISTRY_READ)?;
    let q = query_of(s, area(p)?)?;
    let found = store.search_persons(&q, Page::new(s.page, s.per_page)).await?;
    Ok(Paged {
        items: found.items.iter().map(|r| view(g, r)).collect(),
        total: found.total,
        page: found.page,
        per_page: found.per_page,
    })
}

/// All persons matching (for export), at most `limit`, within the caller's area.
pub async fn export_rows(
    store: &store::Store,
    g: &domain::Gazetteer,
    ctx: &Ctx,
    s: &SearchParams,
    limit: i64,
) -> Result<Vec<PersonView>, AppError> {
    let p = ctx.require(perm::REGISTRY_READ)?;
    let q = query_of(s, area(p)?)?;
    let mut out = Vec::new();
    let mut page = Page { page: 1, per_page: Page::MAX_PER_PAGE };
    loop {
        let r = store.search_persons(&q, page).await?;
        let n = r.items.len();
        out.extend(r.items.iter().map(|p| view(g, p)));
        if n < page.per_page as usize || out.len() as i64 >= limit {
            break;
        }
        page.page += 1;
    }
    out.truncate(limit as usize);
    let mut a = ctx.audit("registry.export", "person", None);
    a.detail = Some(format!("{} rows, q={:?} commune={:?} category={:?}", out.len(), s.q, s.commune, s.category));
    store.audit_append(&a).await?;
    Ok(out)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeritView {
    pub id: i64,
    pub category: String,
    pub decision_no: String,
    pub decision_date: String,
    pub issuer: String,
    /// Sensitive: body-injury rate (%), only with `registry.sensitive`.
    pub injury_rate: Option<i64>,
    pub type_b: bool,
    pub especially_severe: bool,
    pub martyrs_count: Option<i64>,
    pub relation: Option<String>,
    pub valid_from: String,
    pub valid_to: Option<String>,
    /// The other facts the entitlement rules read, in Vietnamese (`thoát ly`, `có người phục
    /// vụ`, `thân nhân của thương binh 81%`…). Rates appear only with `registry.sensitive`.
    pub rule_facts: Vec<String>,
}

/// The rule facts of a merit record as short Vietnamese phrases.
fn rule_facts(m: &store::registry::MeritRecord, sensitive: bool) -> Vec<String> {
    let mut out = Vec::new();
    let flag = |on: bool, text: &str, out: &mut Vec<String>| {
        if on {
            out.push(text.to_string());
        }
    };
    match m.thoat_ly {
        Some(true) => out.push("diện thoát ly".into()),
        Some(false) => out.push("diện không thoát ly".into()),
        None => {}
    }
    match m.award.as_deref() {
        Some("to_quoc_ghi_cong") => out.push("Kỷ niệm chương / Bằng Có công với nước".into()),
        Some("huan_chuong_khang_chien") => out.push("Huân chương Kháng chiến".into()),
        _ => {}
    }
    if let Some(c) = &m.of_category {
        let name = domain::categories::find(c).map_or(c.as_str(), |x| x.1);
        let rate = m.of_injury_rate.filter(|_| sensitive).map(|r| format!(" {r}%")).unwrap_or_default();
        out.push(format!("thân nhân của {}{rate}", name.to_lowercase()));
    }
    match m.of_deceased {
        Some(true) => out.push("người có công đã từ trần".into()),
        Some(false) => out.push("người có công còn sống".into()),
        None => {}
    }
    flag(m.nurture, "tuất nuôi dưỡng / sống cô đơn", &mut out);
    flag(m.remarried, "vợ/chồng liệt sĩ tái giá", &mut out);
    flag(m.ao_child, "con đẻ bị ảnh hưởng chất độc hóa học", &mut out);
    flag(m.caregiver, "có người phục vụ", &mut out);
    flag(m.studying, "đang đi học", &mut out);
    if let Some(n) = m.seniority_months {
        out.push(format!("{n} tháng tham gia kháng chiến"));
    }
    out
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssistanceView {
    pub id: i64,
    pub group_code: String,
    /// Sensitive.
    pub disability_level: Option<String>,
    pub single_parent: bool,
    /// Sensitive: shown only with `registry.sensitive`; otherwise always false.
    pub hiv: Option<bool>,
    pub decision_no: String,
    pub decision_date: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub method: String,
    pub bank_name: Option<String>,
    /// Sensitive: the full number only with `registry.sensitive`, else the last 4 digits.
    pub account_no: Option<String>,
    pub valid_from: String,
    pub valid_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RelativeView {
    pub person_id: i64,
    pub full_name: String,
    /// The other person's relation to this one (father, mother, spouse, child, foster_carer).
    pub relation: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub version: i64,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub recorded_at: String,
    pub recorded_by: String,
    pub reason: String,
    pub full_name: String,
    pub address_line: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangeView {
    pub id: i64,
    pub kind: String,
    pub person_id: Option<i64>,
    pub commune_code: String,
    pub reason: String,
    pub status: String,
    pub proposed_by: String,
    pub proposed_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_reason: Option<String>,
    /// What would change, readable.
    pub summary: String,
}

/// `yyyy-mm-dd` → `dd/mm/yyyy`.
/// The relationship kinds the registry records, with their Vietnamese names.
pub const RELATIONS: [(&str, &str); 5] = [
    ("father", "cha"),
    ("mother", "mẹ"),
    ("spouse", "vợ/chồng"),
    ("child", "con"),
    ("foster_carer", "người nuôi dưỡng"),
];

pub fn relation_vi(kind: &str) -> &str {
    RELATIONS.iter().find(|r| r.0 == kind).map_or(kind, |r| r.1)
}

pub(crate) fn vn_date(iso: &str) -> String {
    domain::PartialDate::parse(iso).map_or_else(|_| iso.to_string(), |d| d.to_string())
}

pub fn change_view(c: &ChangeRequest) -> ChangeView {
    let summary = match serde_json::from_str::<ChangePayload>(&c.payload) {
        Ok(ChangePayload::UpdatePerson { patch, valid_from }) => {
            let mut parts = Vec::new();
            if let Some(v) = &patch.full_name {
                parts.push(format!("họ tên → {v}"));
            }
            if let Some(v) = &patch.address_line {
                parts.push(format!("địa chỉ → {v}"));
            }
            if let Some(v) = &patch.commune_code {
                parts.push(format!("xã → {v}"));
            }
            if let Some(v) = &patch.phone {
                parts.push(format!("điện thoại → {v}"));
            }
            if let Some(v) = &patch.deceased_on {
                parts.push(format!("từ trần ngày {}", vn_date(v)));
            }
            if let Some(v) = &patch.ethnicity {
                parts.push(format!("dân tộc → {v}"));
            }
            if let Some(v) = &patch.household_code {
                parts.push(format!("chuyển sang hộ {v}"));
            }
            if let Some(v) = &patch.relation_to_head {
                parts.push(format!("quan hệ với chủ hộ → {v}"));
            }
            if let Some(r) = &patch.add_relationship {
                parts.push(format!("thêm {} là {}", r.related_personal_id, relation_vi(&r.kind)));
            }
            format!("{} (từ {})", parts.join("; "), vn_date(&valid_from))
        }
        Ok(ChangePayload::CreatePerson { person, .. }) => {
            format!("hồ sơ mới: {} ({})", person.full_name, person.personal_id)
        }
        Ok(ChangePayload::AddMerit { record }) => format!("thêm diện người có công {}", record.category),
        Ok(ChangePayload::AddAssistance { record }) => format!("thêm diện bảo trợ {}", record.group_code),
        Ok(ChangePayload::EndRecord { table, record_id, valid_to }) => {
            format!("kết thúc {table} #{record_id} ngày {valid_to}")
        }
        Err(_) => String::new(),
    };
    ChangeView {
        id: c.id,
        kind: c.kind.clone(),
        person_id: c.person_id,
        commune_code: c.commune_code.clone(),
        reason: c.reason.clone(),
        status: c.status.clone(),
        proposed_by: c.proposed_by.clone(),
        proposed_at: c.proposed_at.clone(),
        decided_by: c.decided_by.clone(),
        decided_at: c.decided_at.clone(),
        decision_reason: c.decision_reason.clone(),
        summary,
    }
}

/// Everything about one person, as their dossier shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dossier {
    pub person: PersonView,
    pub household_code: Option<String>,
    pub household_status: Option<String>,
    pub household: Vec<PersonView>,
    pub relatives: Vec<RelativeView>,
    pub merit: Vec<MeritView>,
    pub assistance: Vec<AssistanceView>,
    pub payment: Vec<PaymentView>,
    pub history: Vec<VersionView>,
    pub changes: Vec<ChangeView>,
    /// The person's audit entries (newest first), for callers who may read the audit trail.
    pub audit: Vec<AuditLine>,
    /// Whether sensitive fields are shown (and this read was audited).
    pub sensitive_shown: bool,
    /// The person's payment lines (newest cycle first), for callers with `payments.read`.
    #[schema(value_type = Vec<Object>)]
    pub payments: Vec<store::payments::PersonPaymentRow>,
    /// Integrity cases about the person (flags), for callers with `integrity.read`.
    #[schema(value_type = Vec<Object>)]
    pub cases: Vec<store::integrity::CaseRow>,
    /// Complaints and petitions about the person (id, kind, title, status, received), for
    /// callers with `complaints.read`; never denunciations.
    #[schema(value_type = Vec<Object>)]
    pub complaints: Vec<(i64, String, String, String, String)>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditLine {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: Option<String>,
}

pub async fn load_in_area(store: &store::Store, ctx: &Ctx, id: i64) -> Result<(PersonRow, Principal), AppError> {
    let p = ctx.require(perm::REGISTRY_READ)?.clone();
    let person = store.person(id).await?.ok_or_else(|| AppError::NotFound(format!("hồ sơ {id}")))?;
    p.require_commune(&person.commune_code)?;
    Ok((person, p))
}

pub async fn dossier(store: &store::Store, g: &domain::Gazetteer, ctx: &Ctx, id: i64) -> Result<Dossier, AppError> {
    let (person, p) = load_in_area(store, ctx, id).await?;
    let sensitive = p.can(perm::REGISTRY_SENSITIVE);
    let p_can_pay = p.can(perm::PAYMENTS_READ);
    let p_can_cases = p.can(perm::INTEGRITY_READ);
    let (household_code, household_status, household) = match person.household_id {
        Some(h) => match store.household(h).await? {
            Some((hh, members, status)) => {
                (Some(hh.code), status, members.iter().filter(|m| m.id != id).map(|m| view(g, m)).collect())
            }
            None => (None, None, Vec::new()),
        },
        None => (None, None, Vec::new()),
    };
    let mut relatives = Vec::new();
    for r in store.relationships(id).await? {
        let (other, relation) = if r.person_id == id {
            (r.related_person_id, r.kind.clone())
        } else {
            // the inverse of "X is the child of Y" seen from Y
            let inv = match r.kind.as_str() {
                "child" => "parent",
                "father" | "mother" => "child",
                "foster_carer" => "fostered",
                k => k,
            };
            (r.person_id, inv.to_string())
        };
        if let Some(o) = store.person(other).await? {
            relatives.push(RelativeView { person_id: o.id, full_name: o.full_name, relation });
        }
    }
    let merit_rows = store.merit_records(id).await?;
    let assist_rows = store.assistance_records(id).await?;
    let pay_rows = store.payment_methods(id).await?;
    let mut sensitive_fields = Vec::new();
    let merit = merit_rows
        .iter()
        .map(|m| {
            if m.injury_rate.is_some() {
                sensitive_fields.push("injury_rate");
            }
            MeritView {
                id: m.id,
                category: m.category.clone(),
                decision_no: m.decision_no.clone(),
                decision_date: m.decision_date.clone(),
                issuer: m.issuer.clone(),
                injury_rate: if sensitive { m.injury_rate } else { None },
                type_b: m.type_b,
                especially_severe: m.especially_severe,
                martyrs_count: m.martyrs_count,
                relation: m.relation.clone(),
                valid_from: m.valid_from.clone(),
                valid_to: m.valid_to.clone(),
                rule_facts: rule_facts(m, sensitive),
            }
        })
        .collect();
    let assistance = assist_rows
        .iter()
        .map(|a| {
            if a.disability_level.is_some() {
                sensitive_fields.push("disability_level");
            }
            sensitive_fields.push("hiv");
            AssistanceView {
                id: a.id,
                group_code: a.group_code.clone(),
                disability_level: if sensitive { a.disability_level.clone() } else { None },
                single_parent: a.single_parent,
                hiv: if sensitive { Some(a.hiv) } else { None },
                decision_no: a.decision_no.clone(),
                decision_date: a.decision_date.clone(),
                valid_from: a.valid_from.clone(),
                valid_to: a.valid_to.clone(),
            }
        })
        .collect();
    let payment = pay_rows
        .iter()
        .map(|m| {
            if m.account_no.is_some() {
                sensitive_fields.push("account_no");
            }
            let masked = m.account_no.as_deref().map(|a| format!("•••• {}", &a[a.len().saturating_sub(4)..]));
            PaymentView {
                method: m.method.clone(),
                bank_name: m.bank_name.clone(),
                account_no: if sensitive { m.account_no.clone() } else { masked },
                valid_from: m.valid_from.clone(),
                valid_to: m.valid_to.clone(),
            }
        })
        .collect();
    let history = store
        .person_versions(id)
        .await?
        .into_iter()
        .map(|v| {
            let snap: Option<PersonRow> = serde_json::from_str(&v.snapshot).ok();
            VersionView {
                version: v.version,
                valid_from: v.valid_from,
                valid_to: v.valid_to,
                recorded_at: v.recorded_at,
                recorded_by: v.recorded_by,
                reason: v.reason,
                full_name: snap.as_ref().map(|s| s.full_name.clone()).unwrap_or_default(),
                address_line: snap.map(|s| s.address_line).unwrap_or_default(),
            }
        })
        .collect();
    let changes = store
        .change_requests(None, Some(id), None, Page::new(Some(1), Some(50)))
        .await?
        .items
        .iter()
        .map(change_view)
        .collect();
    let audit = if p.can(perm::AUDIT_READ) {
        let f = store::AuditFilter {
            entity_type: Some("person".into()),
            entity_id: Some(id.to_string()),
            ..Default::default()
        };
        store
            .audit_search(&f, Page::new(Some(1), Some(50)))
            .await?
            .items
            .into_iter()
            .map(|r| AuditLine { seq: r.seq, at: r.at, actor: r.actor, action: r.action, detail: r.detail })
            .collect()
    } else {
        Vec::new()
    };
    sensitive_fields.sort_unstable();
    sensitive_fields.dedup();
    let sensitive_shown = sensitive && !sensitive_fields.is_empty();
    if sensitive_shown {
        let mut a = ctx.audit("person.read_sensitive", "person", Some(id.to_string()));
        a.detail = Some(format!("fields: {}", sensitive_fields.join(", ")));
        store.audit_append(&a).await?;
    }
    // (the dossier is in the caller's area already; lines hold no bank details)
    let mut payments = if p_can_pay { store.person_payments(id).await? } else { Vec::new() };
    if !sensitive {
        // a rule error names the missing fact (a group, a rate): not for every reader
        for l in &mut payments {
            if l.status == "held" && l.reason.as_deref().is_some_and(|r| r.contains("cần sửa hồ sơ")) {
                l.reason = Some("Không tính được trợ cấp (cần sửa hồ sơ)".into());
            }
        }
    }
    let cases = if p_can_cases { store.person_cases(id).await? } else { Vec::new() };
    let complaints = if p.can(perm::COMPLAINTS_READ) {
        store
            .person_complaints(id)
            .await?
            .into_iter()
            .map(|c| (c.id, c.kind, c.title, c.status, c.received_on))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Dossier {
        payments,
        cases,
        complaints,
        person: view(g, &person),
        household_code,
        household_status,
        household,
        relatives,
        merit,
        assistance,
        payment,
        history,
        changes,
        audit,
        sensitive_shown,
    })
}

/// The person's profile on a past date.
pub async fn as_of(
    store: &store::Store,
    g: &domain::Gazetteer,
    ctx: &Ctx,
    id: i64,
    date: &str,
) -> Result<Option<PersonView>, AppError> {
    load_in_area(store, ctx, id).await?;
    let d = domain::calendar::parse_date(date)
        .map_err(|e| AppError::field("date", format!("ngày không hợp lệ: {}", e.vi()), e.to_string()))?
        .format("%Y-%m-%d")
        .to_string();
    Ok(match store.person_as_of(id, &d).await? {
        Some(AsOf::Current(p)) => Some(view(g, &p)),
        Some(AsOf::Earlier(v)) => serde_json::from_str::<PersonRow>(&v.snapshot).ok().map(|p| view(g, &p)),
        _ => None,
    })
}

/// A proposed profile change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ProposeUpdate {
    pub full_name: Option<String>,
    pub address_line: Option<String>,
    pub commune_code: Option<String>,
    pub phone: Option<String>,
    /// Date of death (dd/mm/yyyy or yyyy-mm-dd).
    pub deceased_on: Option<String>,
    pub ethnicity: Option<String>,
    /// Move into this existing household (its code).
    #[serde(default)]
    pub household_code: Option<String>,
    #[serde(default)]
    pub relation_to_head: Option<String>,
    /// Add a relationship: the related person's personal ID ...
    #[serde(default)]
    pub related_personal_id: Option<String>,
    /// ... and their relation to this person: father, mother, spouse, child, foster_carer.
    #[serde(default)]
    pub relationship: Option<String>,
    /// The date the change takes effect (dd/mm/yyyy or yyyy-mm-dd).
    pub valid_from: String,
    /// Why (required; kept in the history).
    pub reason: String,
}

fn iso_date(field: &'static str, s: &str) -> Result<String, AppError> {
    domain::calendar::parse_date(s)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map_err(|e| AppError::field(field, format!("ngày không hợp lệ: {}", e.vi()), e.to_string()))
}

/// A commune officer proposes a change to a dossier of their area.
pub async fn propose_update(
    store: &store::Store,
    ctx: &Ctx,
    id: i64,
    req: &ProposeUpdate,
) -> Result<ChangeView, AppError> {
    let p = ctx.require(perm::REGISTRY_PROPOSE)?.clone();
    let person = store.person(id).await?.ok_or_else(|| AppError::NotFound(format!("hồ sơ {id}")))?;
    p.require_commune(&person.commune_code)?;
    let clean = |v: &Option<String>| v.as_deref().map(domain::text::clean_whitespace).filter(|v| !v.is_empty());
    let patch = PersonPatch {
        full_name: clean(&req.full_name).map(|n| domain::text::normalize_name(&n)).filter(|n| n != &person.full_name),
        address_line: clean(&req.address_line).filter(|a| a != &person.address_line),
        commune_code: clean(&req.commune_code).filter(|c| c != &person.commune_code),
        phone: clean(&req.phone).filter(|v| Some(v) != person.phone.as_ref()),
        deceased_on: match clean(&req.deceased_on) {
            Some(d) => Some(iso_date("deceased_on", &d)?),
            None => None,
        },
        ethnicity: clean(&req.ethnicity).filter(|v| v != &person.ethnicity),
        household_code: None,
        relation_to_head: clean(&req.relation_to_head).filter(|v| Some(v) != person.relation_to_head.as_ref()),
        add_relationship: None,
    };
    let mut patch = patch;
    if let Some(code) = clean(&req.household_code) {
        let current = match person.household_id {
            Some(h) => store.household(h).await?.map(|(h, _, _)| h.code),
            None => None,
        };
        if current.as_deref() != Some(code.as_str()) {
            let Some(hh) = store.household_by_code(&code).await? else {
                return Err(AppError::field(
                    "household_code",
                    format!("không có hộ mã {code}"),
                    format!("no household with code {code}"),
                ));
            };
            // a household of another commune: only if the person moves there too
            let commune = patch.commune_code.as_deref().unwrap_or(&person.commune_code);
            if hh.commune_code != commune {
                return Err(AppError::field(
                    "household_code",
                    format!("hộ {code} ở xã khác ({})", hh.commune_code),
                    format!("household {code} is in another commune ({})", hh.commune_code),
                ));
            }
            patch.household_code = Some(code);
        }
    }
    match (clean(&req.related_personal_id), clean(&req.relationship)) {
        (None, None) => {}
        (Some(pid), Some(kind)) => {
            if !RELATIONS.iter().any(|r| r.0 == kind) {
                return Err(AppError::field(
                    "relationship",
                    "quan hệ không có (cha, mẹ, vợ/chồng, con, người nuôi dưỡng)",
                    "unknown relationship",
                ));
            }
            let pid = domain::PersonalId::parse(&pid)
                .map_err(|e| AppError::field("related_personal_id", e.vi(), e.to_string()))?
                .to_string();
            if pid == person.personal_id {
                return Err(AppError::field(
                    "related_personal_id",
                    "không thể là chính người này",
                    "cannot be the person themselves",
                ));
            }
            // only a person the caller may see (the same answer otherwise: the form must not
            // tell whether an ID is registered elsewhere)
            let visible = match store.person_by_personal_id(&pid).await? {
                Some(other) => p.require_commune(&other.commune_code).is_ok(),
                None => false,
            };
            if !visible {
                return Err(AppError::field(
                    "related_personal_id",
                    format!("số định danh {pid} chưa có trong sổ"),
                    format!("{pid} is not in the registry"),
                ));
            }
            patch.add_relationship = Some(store::registry::NewRelationship { related_personal_id: pid, kind });
        }
        (Some(_), None) => {
            return Err(AppError::field("relationship", "chọn quan hệ", "choose the relationship"));
        }
        (None, Some(_)) => {
            return Err(AppError::field(
                "related_personal_id",
                "ghi số định danh của người thân",
                "give the relative's personal ID",
            ));
        }
    }
    if patch == PersonPatch::default() {
        return Err(AppError::field("full_name", "không có gì thay đổi", "nothing changes"));
    }
    if let Some(c) = &patch.commune_code {
        if store.commune(c).await?.is_none() {
            return Err(AppError::field(
                "commune_code",
                format!("mã xã {c} không tồn tại"),
                format!("commune {c} does not exist"),
            ));
        }
    }
    let reason = domain::text::clean_whitespace(&req.reason);
    if reason.is_empty() {
        return Err(AppError::field("reason", "cần ghi lý do thay đổi", "a reason is required"));
    }
    let valid_from = iso_date("valid_from", &req.valid_from)?;
    if valid_from.as_str() <= person.valid_from.as_str() {
        return Err(AppError::field(
            "valid_from",
            format!(
                "ngày hiệu lực phải sau {}",
                domain::PartialDate::parse(&person.valid_from).map(|d| d.to_string()).unwrap_or_default()
            ),
            format!("must be after {}", person.valid_from),
        ));
    }
    let payload = ChangePayload::UpdatePerson { patch, valid_from };
    let audit = ctx.audit("change.propose", "change_request", None);
    let cid = store.propose_change(Some(id), &person.commune_code, &payload, &reason, &p.username, &audit).await?;
    let c = store.change_request(cid).await?.ok_or_else(|| AppError::Internal("change vanished".into()))?;
    Ok(change_view(&c))
}

/// Pending (or other) change requests: checkers see the province, makers their area.
pub async fn changes(
    store: &store::Store,
    ctx: &Ctx,
    status: Option<&str>,
    page: Page,
) -> Result<Paged<ChangeView>, AppError> {
    let p = ctx.user()?;
    if !p.can(perm::REGISTRY_APPROVE) && !p.can(perm::REGISTRY_PROPOSE) && !p.can(perm::REGISTRY_READ) {
        return Err(AppError::Forbidden(format!("permission {}", perm::REGISTRY_READ)));
    }
    let communes = area(p)?;
    let r = store.change_requests(status, None, communes.as_deref(), page).await?;
    Ok(Paged { items: r.items.iter().map(change_view).collect(), total: r.total, page: r.page, per_page: r.per_page })
}

/// A checker approves or rejects; the maker cannot decide their own proposal.
pub async fn decide(
    store: &store::Store,
    ctx: &Ctx,
    id: i64,
    approve: bool,
    reason: &str,
) -> Result<ChangeView, AppError> {
    let p = ctx.require(perm::REGISTRY_APPROVE)?.clone();
    let c = store.change_request(id).await?.ok_or_else(|| AppError::NotFound(format!("đề nghị {id}")))?;
    p.require_commune(&c.commune_code)?;
    if c.proposed_by == p.username {
        return Err(AppError::denied(
            "người đề nghị không được tự duyệt đề nghị của mình",
            "the maker cannot decide their own proposal",
        ));
    }
    if c.status != "pending" {
        return Err(AppError::denied(
            format!("đề nghị {id} đã được xử lý"),
            format!("change request {id} is already {}", c.status),
        ));
    }
    let reason = domain::text::clean_whitespace(reason);
    if !approve && reason.is_empty() {
        return Err(AppError::field("reason", "từ chối phải nêu lý do", "a rejection needs a reason"));
    }
    let mut audit =
        ctx.audit(if approve { "change.approve" } else { "change.reject" }, "change_request", Some(id.to_string()));
    audit.after = Some(c.payload.clone());
    audit.detail = Some(reason.clone());
    if approve {
        store.approve_change(id, &p.username, &reason, &audit).await.map_err(|e| match e {
            store::StoreError::Invalid(m) => AppError::denied(m.clone(), m),
            other => other.into(),
        })?;
    } else if !store.reject_change(id, &p.username, &reason, &audit).await? {
        return Err(AppError::denied(
            format!("đề nghị {id} đã được xử lý"),
            format!("change request {id} is already decided"),
        ));
    }
    let c = store.change_request(id).await?.ok_or_else(|| AppError::Internal("change vanished".into()))?;
    Ok(change_view(&c))
}

/// A new dossier proposed by a commune officer: the import template's fields (keys as in
/// `import::COLUMNS`, e.g. `personal_id`, `full_name`, `birth_date`, `merit_category`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ProposeNew {
    /// Field key → value, as in the import template.
    pub fields: std::collections::BTreeMap<String, String>,
    pub reason: String,
}

/// Validates a new dossier exactly as an import row (same rules, same messages) and files
/// it as a change request for a checker.
pub async fn propose_new(
    store: &store::Store,
    g: &std::sync::Arc<domain::Gazetteer>,
    ctx: &Ctx,
    province: &str,
    req: &ProposeNew,
) -> Result<(ChangeView, Vec<crate::services::import::RowError>), AppError> {
    let p = ctx.require(perm::REGISTRY_PROPOSE)?.clone();
    let reason = domain::text::clean_whitespace(&req.reason);
    if reason.is_empty() {
        return Err(AppError::field("reason", "cần ghi lý do", "a reason is required"));
    }
    let area: Option<std::collections::HashSet<String>> = area(&p)?.map(|c| c.into_iter().collect());
    let cols = crate::services::import::COLUMNS;
    let header: Vec<String> = cols.iter().map(|c| c.1.to_string()).collect();
    let row: Vec<String> = cols.iter().map(|c| req.fields.get(c.0).cloned().unwrap_or_default()).collect();
    let (batch, errors) =
        crate::services::import::validate(store, g, province, area.as_ref(), &[header.into(), row.into()]).await?;
    if !errors.is_empty() {
        return Ok((change_placeholder(), errors));
    }
    let Some(person) = batch.persons.into_iter().next() else {
        return Err(AppError::field("personal_id", "không có dữ liệu", "no data"));
    };
    let payload = ChangePayload::CreatePerson {
        merit: batch.merits.into_iter().next().map(|(_, m)| m),
        assistance: batch.assistance.into_iter().next().map(|(_, a)| a),
        payment: batch.payments.into_iter().next().map(|(_, m)| m),
        person: store::registry::NewPerson { household_code: None, ..person },
    };
    let commune = match &payload {
        ChangePayload::CreatePerson { person, .. } => person.commune_code.clone(),
        _ => String::new(),
    };
    let audit = ctx.audit("change.propose", "change_request", None);
    let id = store.propose_change(None, &commune, &payload, &reason, &p.username, &audit).await?;
    let c = store.change_request(id).await?.ok_or_else(|| AppError::Internal("change vanished".into()))?;
    Ok((change_view(&c), Vec::new()))
}

fn change_placeholder() -> ChangeView {
    ChangeView {
        id: 0,
        kind: "create_person".into(),
        person_id: None,
        commune_code: String::new(),
        reason: String::new(),
        status: "invalid".into(),
        proposed_by: String::new(),
        proposed_at: String::new(),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        summary: String::new(),
    }
}

/// Facts of a merit record that the entitlement rules read; all optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeritRuleFacts {
    #[serde(default)]
    pub type_b: bool,
    #[serde(default)]
    pub especially_severe: bool,
    /// Category a: diện thoát ly.
    pub thoat_ly: Option<bool>,
    /// Category m: to_quoc_ghi_cong or huan_chuong_khang_chien.
    pub award: Option<String>,
    /// Relatives: category of the person with merit (a, b, c, g, h, i).
    pub of_category: Option<String>,
    pub of_injury_rate: Option<i64>,
    pub martyrs_count: Option<i64>,
    pub of_deceased: Option<bool>,
    #[serde(default)]
    pub nurture: bool,
    #[serde(default)]
    pub remarried: bool,
    #[serde(default)]
    pub ao_child: bool,
    #[serde(default)]
    pub caregiver: bool,
    #[serde(default)]
    pub studying: bool,
    /// Category l: months of resistance activity.
    pub seniority_months: Option<i64>,
}

/// A proposal to add a merit or assistance record to a dossier, or to end one.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ProposeRecord {
    /// Pháp lệnh 02/2020 Art. 3 category (a … m, relative).
    AddMerit {
        category: String,
        decision_no: String,
        /// dd/mm/yyyy
        decision_date: String,
        injury_rate: Option<i64>,
        /// dd/mm/yyyy
        valid_from: String,
        reason: String,
        /// The facts the entitlement rules read (docs/entitlements.md).
        #[serde(default)]
        facts: MeritRuleFacts,
    },
    /// Decree 20/2021 Art. 5 group (k1 … k8).
    AddAssistance {
        group_code: String,
        decision_no: String,
        decision_date: String,
        disability_level: Option<String>,
        valid_from: String,
        reason: String,
    },
    /// Ends a record (`merit_records`, `assistance_records` or `payment_methods`) on a date.
    EndRecord { table: String, record_id: i64, valid_to: String, reason: String },
}

/// A commune officer proposes a record change for a dossier of their area.
pub async fn propose_record(
    store: &store::Store,
    ctx: &Ctx,
    id: i64,
    req: &ProposeRecord,
) -> Result<ChangeView, AppError> {
    let p = ctx.require(perm::REGISTRY_PROPOSE)?.clone();
    let person = store.person(id).await?.ok_or_else(|| AppError::NotFound(format!("hồ sơ {id}")))?;
    p.require_commune(&person.commune_code)?;
    use crate::services::import::{is_group, is_merit};
    let (payload, reason) = match req {
        ProposeRecord::AddMerit { category, decision_no, decision_date, injury_rate, valid_from, reason, facts } => {
            if !is_merit(category) {
                return Err(AppError::field(
                    "category",
                    "diện không có (a … m, relative)",
                    "unknown category (a … m, relative)",
                ));
            }
            if injury_rate.is_some_and(|r| !(1..=100).contains(&r)) {
                return Err(AppError::field("injury_rate", "từ 1 đến 100", "1 to 100"));
            }
            let f = facts;
            if f.award.as_deref().is_some_and(|a| !matches!(a, "to_quoc_ghi_cong" | "huan_chuong_khang_chien")) {
                return Err(AppError::field(
                    "award",
                    "to_quoc_ghi_cong hoặc huan_chuong_khang_chien",
                    "to_quoc_ghi_cong or huan_chuong_khang_chien",
                ));
            }
            if f.of_category.as_deref().is_some_and(|c| !matches!(c, "a" | "b" | "c" | "g" | "h" | "i")) {
                return Err(AppError::field(
                    "of_category",
                    "diện của người có công: a, b, c, g, h, i",
                    "a, b, c, g, h or i",
                ));
            }
            if f.of_injury_rate.is_some_and(|r| !(1..=100).contains(&r)) {
                return Err(AppError::field("of_injury_rate", "từ 1 đến 100", "1 to 100"));
            }
            if f.martyrs_count.is_some_and(|n| !(1..=20).contains(&n)) {
                return Err(AppError::field("martyrs_count", "từ 1 đến 20", "1 to 20"));
            }
            if f.seniority_months.is_some_and(|n| !(0..=1200).contains(&n)) {
                return Err(AppError::field("seniority_months", "từ 0 đến 1200 tháng", "0 to 1200 months"));
            }
            let record = store::registry::MeritRecord {
                category: category.clone(),
                decision_no: decision_no.trim().to_string(),
                decision_date: iso_date("decision_date", decision_date)?,
                issuer: "Sở Nội vụ".into(),
                injury_rate: *injury_rate,
                valid_from: iso_date("valid_from", valid_from)?,
                type_b: f.type_b,
                especially_severe: f.especially_severe,
                thoat_ly: f.thoat_ly,
                award: f.award.clone(),
                of_category: f.of_category.clone(),
                of_injury_rate: f.of_injury_rate,
                martyrs_count: f.martyrs_count,
                of_deceased: f.of_deceased,
                nurture: f.nurture,
                remarried: f.remarried,
                ao_child: f.ao_child,
                caregiver: f.caregiver,
                studying: f.studying,
                seniority_months: f.seniority_months,
                ..Default::default()
            };
            (ChangePayload::AddMerit { record }, reason)
        }
        ProposeRecord::AddAssistance {
            group_code,
            decision_no,
            decision_date,
            disability_level,
            valid_from,
            reason,
        } => {
            if !is_group(group_code) {
                return Err(AppError::field("group_code", "nhóm không có (k1 … k8)", "unknown group (k1 … k8)"));
            }
            if disability_level.as_deref().is_some_and(|d| !matches!(d, "severe" | "especially_severe")) {
                return Err(AppError::field(
                    "disability_level",
                    "severe hoặc especially_severe",
                    "severe or especially_severe",
                ));
            }
            let record = store::registry::AssistanceRecord {
                group_code: group_code.clone(),
                disability_level: disability_level.clone(),
                decision_no: decision_no.trim().to_string(),
                decision_date: iso_date("decision_date", decision_date)?,
                valid_from: iso_date("valid_from", valid_from)?,
                ..Default::default()
            };
            (ChangePayload::AddAssistance { record }, reason)
        }
        ProposeRecord::EndRecord { table, record_id, valid_to, reason } => {
            if !matches!(table.as_str(), "merit_records" | "assistance_records" | "payment_methods") {
                return Err(AppError::field("table", "loại hồ sơ không có", "unknown record kind"));
            }
            (
                ChangePayload::EndRecord {
                    table: table.clone(),
                    record_id: *record_id,
                    valid_to: iso_date("valid_to", valid_to)?,
                },
                reason,
            )
        }
    };
    let reason = domain::text::clean_whitespace(reason);
    if reason.is_empty() {
        return Err(AppError::field("reason", "cần ghi lý do", "a reason is required"));
    }
    let audit = ctx.audit("change.propose", "change_request", None);
    let cid = store.propose_change(Some(id), &person.commune_code, &payload, &reason, &p.username, &audit).await?;
    let c = store.change_request(cid).await?.ok_or_else(|| AppError::Internal("change vanished".into()))?;
    Ok(change_view(&c))
}
