//! Complaints, denunciations and petitions: intake (citizen portal, reception, letter, phone),
//! the legal deadlines of acceptance and resolution (`domain::deadlines`), the workflow
//! (received → accepted | refused → verifying → decided → notified → closed), tracking by code,
//! the citizen's rating, and the satisfaction index per agency and commune.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use domain::deadlines::Limits;
use store::complaints::{ComplaintRow, NewComplaint, Step};
use store::Store;

use crate::error::AppError;
use crate::services::authz::{perm, Ctx, Scope};
use crate::services::days::{calendar, date, iso, today_vn};

pub const KINDS: [(&str, &str, &str); 3] = [
    ("complaint", "Khiếu nại", "Complaint"),
    ("denunciation", "Tố cáo", "Denunciation"),
    ("petition", "Kiến nghị, phản ánh", "Petition or feedback"),
];
pub const SUBJECTS: [(&str, &str, &str); 5] = [
    ("entitlement_decision", "Quyết định hưởng chế độ", "Entitlement decision"),
    ("payment", "Chi trả trợ cấp", "Payment"),
    ("officer_conduct", "Thái độ, hành vi cán bộ", "Officer conduct"),
    ("registry", "Hồ sơ, thông tin đối tượng", "Registry record"),
    ("other", "Khác", "Other"),
];
pub const OUTCOMES: [(&str, &str, &str); 5] = [
    ("upheld", "Khiếu nại/tố cáo đúng", "Upheld"),
    ("partly_upheld", "Đúng một phần", "Partly upheld"),
    ("rejected", "Không đúng", "Rejected"),
    ("withdrawn", "Rút đơn", "Withdrawn"),
    ("forwarded", "Chuyển cơ quan có thẩm quyền", "Forwarded"),
];

pub fn label(table: &[(&'static str, &'static str, &'static str)], code: &str) -> (&'static str, &'static str) {
    table.iter().find(|(c, _, _)| *c == code).map_or(("", ""), |(_, vi, en)| (*vi, *en))
}

pub fn status_label(s: &str) -> (&'static str, &'static str) {
    match s {
        "received" => ("Đã tiếp nhận đơn", "Received"),
        "accepted" => ("Đã thụ lý", "Accepted"),
        "refused" => ("Không thụ lý", "Refused"),
        "verifying" => ("Đang xác minh", "Verifying"),
        "decided" => ("Đã có kết quả giải quyết", "Decided"),
        "notified" => ("Đã thông báo kết quả", "Citizen notified"),
        "closed" => ("Đã kết thúc", "Closed"),
        _ => ("", ""),
    }
}

fn limits() -> Result<&'static Limits, AppError> {
    static L: std::sync::OnceLock<Result<Limits, String>> = std::sync::OnceLock::new();
    L.get_or_init(|| Limits::embedded().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| AppError::Internal(format!("compiled-in legal limits: {e}")))
}

/// A tracking code: 12 characters from an alphabet without look-alikes, from the OS's random
/// source (about 60 bits: not guessable, and wrong guesses are throttled).
fn tracking_code() -> Result<String, AppError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 12];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    let s: String = buf.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    Ok(format!("{}-{}-{}", &s[..4], &s[4..8], &s[8..]))
}

/// What a case is filed with (portal form, officer's form, JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileInput {
    /// complaint | denunciation | petition
    pub kind: String,
    /// entitlement_decision | payment | officer_conduct | registry | other
    pub subject: String,
    pub title: String,
    pub content: String,
    pub filer_name: String,
    #[serde(default)]
    pub filer_personal_id: Option<String>,
    #[serde(default)]
    pub filer_phone: Option<String>,
    #[serde(default)]
    pub filer_address: Option<String>,
    /// 5-digit commune code of the matter
    pub commune_code: String,
    /// the decision complained about (number and date as written)
    #[serde(default)]
    pub decision_ref: Option<String>,
    /// the personal ID of the person whose entitlement, payment or record the case is about
    /// (may differ from the filer): links the case to that dossier
    #[serde(default)]
    pub person_personal_id: Option<String>,
    /// dd/mm/yyyy: when the decision was received or known (complaints: the 90-day limit)
    #[serde(default)]
    pub decision_known_on: Option<String>,
    /// reception | letter | phone (officers); the portal sets `portal`
    #[serde(default)]
    pub channel: Option<String>,
}

fn field(f: &'static str, vi: impl Into<String>, en: impl Into<String>) -> AppError {
    AppError::Field { field: f, vi: vi.into(), en: en.into() }
}

/// Files a case. `portal`: filed by a citizen (anonymous web request); else by an officer
/// with `complaints.handle` in the commune. The agency handling it: the commune's People's
/// Committee for cases about a commune's acts, Sở Nội vụ for entitlement decisions and
/// payments (the province's people-with-merit and payment office).
pub async fn file(
    store: &Store,
    g: &domain::Gazetteer,
    ctx: &Ctx,
    province: &str,
    input: &FileInput,
    portal: bool,
    files: Vec<(String, Vec<u8>)>,
) -> Result<ComplaintRow, AppError> {
    let channel = if portal {
        "portal".to_string()
    } else {
        let p = ctx.authorize(perm::COMPLAINTS_HANDLE)?;
        if let Some(p) = p {
            p.require_commune(input.commune_code.trim())?;
        }
        let c = input.channel.clone().unwrap_or_else(|| "reception".into());
        if !matches!(c.as_str(), "reception" | "letter" | "phone") {
            return Err(field(
                "channel",
                "kênh tiếp nhận phải là reception, letter hoặc phone",
                "channel must be reception, letter or phone",
            ));
        }
        c
    };
    let kind = input.kind.trim();
    if !KINDS.iter().any(|(k, _, _)| *k == kind) {
        return Err(field(
            "kind",
            "chọn loại đơn: khiếu nại, tố cáo hoặc kiến nghị",
            "choose complaint, denunciation or petition",
        ));
    }
    let subject = input.subject.trim();
    if !SUBJECTS.iter().any(|(k, _, _)| *k == subject) {
        return Err(field("subject", "chọn nội dung đơn", "choose the subject"));
    }
    let text = |f: &'static str, v: &str, max: usize, vi: &str, en: &str| -> Result<String, AppError> {
        let v = domain::text::nfc(v.trim());
        if v.is_empty() {
            return Err(field(f, format!("{vi}: bắt buộc"), format!("{en}: required")));
        }
        if v.chars().count() > max {
            return Err(field(f, format!("{vi}: tối đa {max} ký tự"), format!("{en}: at most {max} characters")));
        }
        Ok(v)
    };
    let title = text("title", &input.title, 200, "Tiêu đề", "Title")?;
    let content = text("content", &input.content, 10_000, "Nội dung", "Content")?;
    let filer_name = text("filer_name", &input.filer_name, 200, "Họ tên người gửi", "Filer's name")?;
    let commune = input.commune_code.trim();
    if g.commune(commune).is_none_or(|c| c.province_code != province) {
        return Err(field(
            "commune_code",
            format!("{commune:?} không phải xã/phường của tỉnh"),
            format!("{commune:?} is not a commune of the province"),
        ));
    }
    let personal_id = match input.filer_personal_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            domain::PersonalId::parse(s)
                .map_err(|e| {
                    field("filer_personal_id", format!("số định danh {s:?}: {e}"), format!("personal ID {s:?}: {e}"))
                })?
                .to_string(),
        ),
    };
    let opt = |v: &Option<String>, max: usize| {
        v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| s.chars().take(max).collect::<String>())
    };
    let today = today_vn();
    let cal = calendar()?;
    let lim = limits()?;
    let known = match input.decision_known_on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let d = domain::calendar::parse_date(s)
                .map_err(|e| field("decision_known_on", format!("{s:?}: {}", e.vi()), format!("{s:?}: {e}")))?;
            if d > today {
                return Err(field(
                    "decision_known_on",
                    "ngày biết quyết định không thể ở tương lai",
                    "the day the decision was known cannot be in the future",
                ));
            }
            if d < NaiveDate::from_ymd_opt(1945, 9, 2).unwrap_or(d) {
                return Err(field(
                    "decision_known_on",
                    "ngày biết quyết định không hợp lệ",
                    "the day the decision was known is not plausible",
                ));
            }
            Some(d)
        }
    };
    let late_note = match (kind, known) {
        ("complaint", Some(k)) if lim.filed_late(k, today, &cal).map_err(|e| AppError::Internal(e.to_string()))? => Some(format!(
            "Quá thời hiệu khiếu nại 90 ngày (Luật Khiếu nại 2011 Điều 9): biết quyết định ngày {}, nộp đơn ngày {}; vẫn ghi nhận để xem xét lý do",
            domain::calendar::format_date(k),
            domain::calendar::format_date(today)
        )),
        _ => None,
    };
    let code = match kind {
        "denunciation" => "denunciation_processing",
        _ => "complaint_acceptance",
    };
    let due = lim.due(code, "normal", today, &[], &cal).map_err(|e| AppError::Internal(e.to_string()))?;
    // the dossier the case is about: an officer is told when there is none in their area; the
    // portal never says whether an ID is registered (the link is simply not made)
    let person_id = match input.person_personal_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let pid = domain::PersonalId::parse(s).map_err(|e| {
                field("person_personal_id", format!("số định danh {s:?}: {e}"), format!("personal ID {s:?}: {e}"))
            })?;
            let found = store.person_by_personal_id(&pid.to_string()).await?;
            let in_area =
                |c: &str| ctx.operator || ctx.principal.as_ref().is_some_and(|p| p.require_commune(c).is_ok());
            match found {
                Some(p) if portal || in_area(&p.commune_code) => Some(p.id),
                _ if portal => None,
                _ => {
                    return Err(field(
                        "person_personal_id",
                        format!("không có hồ sơ với số định danh {s} trong địa bàn"),
                        format!("no dossier with personal ID {s} in your area"),
                    ))
                }
            }
        }
    };
    let attachments = crate::services::uploads::check_all(files)?;
    let agency = match subject {
        "entitlement_decision" | "payment" | "registry" => "SO_NOI_VU",
        _ => "UBND_XA",
    };
    let c = NewComplaint {
        tracking_code: tracking_code()?,
        kind: kind.into(),
        channel,
        subject: subject.into(),
        title,
        content,
        filer_name,
        filer_personal_id: personal_id,
        filer_phone: opt(&input.filer_phone, 20),
        filer_address: opt(&input.filer_address, 300),
        person_id,
        decision_ref: opt(&input.decision_ref, 200),
        commune_code: commune.into(),
        agency_code: agency.into(),
        received_on: iso(today),
        decision_known_on: known.map(iso),
        late_note,
        acceptance_due: due.date.map(iso).unwrap_or_default(),
        instance: 1,
        parent_id: None,
        attachments,
    };
    let actor = if portal { "portal".to_string() } else { ctx.actor() };
    let mut audit = ctx.audit("complaint.file", "complaint", None);
    audit.actor = actor.clone();
    audit.detail = Some(format!("{kind} via {}", c.channel));
    let id = store.insert_complaint(&c, &actor, &audit).await?;
    store.complaint(id).await?.ok_or_else(|| AppError::Internal("complaint just filed".into()))
}

/// A case as an officer sees it, with the time left to its current deadline.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub case: ComplaintRow,
    /// the deadline now running (acceptance, then resolution), None once decided
    pub due: Option<String>,
    pub days_left: Option<i64>,
    /// green (> 5 days), amber (0–5), red (overdue), none
    pub light: &'static str,
    pub identity_hidden: bool,
    /// the case page only; hidden with a denouncer's identity (a scanned letter names them)
    pub attachments: Vec<store::complaints::AttachmentMeta>,
}

fn view(c: ComplaintRow, ctx: &Ctx, today: NaiveDate, detail: bool) -> CaseView {
    let due = match c.status.as_str() {
        "received" => Some(c.acceptance_due.clone()),
        "accepted" | "verifying" => c.resolution_due.clone(),
        _ => None,
    };
    let days_left = due.as_deref().and_then(date).map(|d| (d - today).num_days());
    let light = match days_left {
        None => "none",
        Some(d) if d < 0 => "red",
        Some(d) if d <= 5 => "amber",
        Some(_) => "green",
    };
    // a denouncer's identity: only the handling officer and inspectors (and the operator)
    // (lists never show it: the case page does, and records the read)
    let sees_identity = detail
        && (ctx.operator
            || ctx
                .principal
                .as_ref()
                .is_some_and(|p| p.role == "inspector" || c.assigned_to.as_deref() == Some(p.username.as_str())));
    let mut case = c;
    // the tracking code is the citizen's credential: officers see it only on the case they recorded
    if !(ctx.operator || ctx.principal.as_ref().is_some_and(|p| p.username == case.created_by)) {
        case.tracking_code = format!("••••-••••-{}", case.tracking_code.get(10..).unwrap_or(""));
    }
    let hidden = case.kind == "denunciation" && !sees_identity;
    if hidden {
        case.filer_name = "(được bảo vệ theo Luật Tố cáo)".into();
        case.filer_personal_id = None;
        case.filer_phone = None;
        case.filer_address = None;
        case.person_id = None;
    }
    CaseView { case, due, days_left, light, identity_hidden: hidden, attachments: Vec::new() }
}

fn area(ctx: &Ctx) -> Result<Option<Vec<String>>, AppError> {
    if ctx.operator {
        return Ok(None);
    }
    let p = ctx.require(perm::COMPLAINTS_READ)?;
    Ok(match &p.scope {
        Scope::Province => None,
        Scope::Communes(c) => Some(c.iter().cloned().collect()),
        Scope::Agency(_) | Scope::SelfOnly => Some(Vec::new()),
    })
}

/// The cases within the caller's area, open ones with the least time left first.
pub async fn list(store: &Store, ctx: &Ctx, status: Option<&str>) -> Result<Vec<CaseView>, AppError> {
    let communes = area(ctx)?;
    let today = today_vn();
    let mut v: Vec<CaseView> = store
        .complaints(status.filter(|s| !s.is_empty()), communes.as_deref())
        .await?
        .into_iter()
        .map(|c| view(c, ctx, today, false))
        .collect();
    v.sort_by_key(|c| (c.days_left.is_none(), c.days_left.unwrap_or(i64::MAX), -c.case.id));
    Ok(v)
}

/// One case with its history (reading a denunciation's identity is audited).
pub async fn case(
    store: &Store,
    ctx: &Ctx,
    id: i64,
) -> Result<(CaseView, Vec<store::complaints::ComplaintEvent>), AppError> {
    let communes = area(ctx)?;
    let c = store.complaint(id).await?.ok_or_else(|| AppError::NotFound(format!("complaint {id}")))?;
    if let Some(a) = &communes {
        if !a.contains(&c.commune_code) {
            return Err(AppError::Forbidden(format!("complaint {id} is outside the caller's area")));
        }
    }
    let mut v = view(c, ctx, today_vn(), true);
    if v.case.kind == "denunciation" && !v.identity_hidden {
        let audit = ctx.audit("complaint.identity_read", "complaint", Some(id.to_string()));
        store.audit_append(&audit).await?;
    }
    if !v.identity_hidden {
        v.attachments = store.attachments(id).await?;
    }
    Ok((v, store.complaint_events(id).await?))
}

/// An officer adds scans to an open case in their area.
pub async fn attach(store: &Store, ctx: &Ctx, id: i64, files: Vec<(String, Vec<u8>)>) -> Result<usize, AppError> {
    let p = ctx.authorize(perm::COMPLAINTS_HANDLE)?;
    let c = store.complaint(id).await?.ok_or_else(|| AppError::NotFound(format!("complaint {id}")))?;
    if let Some(p) = p {
        p.require_commune(&c.commune_code)?;
    }
    handled_here(p, &c)?;
    // a denunciation's files may name the denouncer: only its handling officer adds them
    if c.kind == "denunciation" && view(c.clone(), ctx, today_vn(), true).identity_hidden {
        return Err(AppError::Forbidden("a denunciation's files: its handling officer".into()));
    }
    let files = crate::services::uploads::check_all(files)?;
    if files.is_empty() {
        return Err(field("attachments", "chưa chọn tệp", "no file chosen"));
    }
    let mut audit = ctx.audit("complaint.attach", "complaint", Some(id.to_string()));
    audit.detail = Some(files.iter().map(|f| format!("{} {}", f.file_name, f.sha256)).collect::<Vec<_>>().join("; "));
    if !store.add_attachments(id, &files, &ctx.actor(), &audit).await? {
        return Err(AppError::Denied {
            vi: "Đơn đã kết thúc: không bổ sung tệp được".into(),
            en: "The case is over: no more files can be added".into(),
        });
    }
    Ok(files.len())
}

/// One attachment of a case the caller may read in full (for a denunciation: the handling
/// officer and inspectors); every download is audited.
pub async fn attachment(
    store: &Store,
    ctx: &Ctx,
    id: i64,
    attachment_id: i64,
) -> Result<(store::complaints::AttachmentMeta, Vec<u8>), AppError> {
    let communes = area(ctx)?;
    let c = store.complaint(id).await?.ok_or_else(|| AppError::NotFound(format!("complaint {id}")))?;
    if let Some(a) = &communes {
        if !a.contains(&c.commune_code) {
            return Err(AppError::Forbidden(format!("complaint {id} is outside the caller's area")));
        }
    }
    if view(c, ctx, today_vn(), true).identity_hidden {
        return Err(AppError::Forbidden("a denunciation's files: the handling officer and inspectors".into()));
    }
    let (meta, data) = store
        .attachment(id, attachment_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("attachment {attachment_id} of complaint {id}")))?;
    let mut audit = ctx.audit("complaint.attachment_read", "complaint", Some(id.to_string()));
    audit.detail = Some(format!("{} {}", meta.id, meta.file_name));
    store.audit_append(&audit).await?;
    Ok((meta, data))
}

/// What an officer decides at a step.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepInput {
    /// accept | refuse | verify | decide | notify | close
    pub action: String,
    /// accept: the handling officer (username); default the caller
    #[serde(default)]
    pub assigned_to: Option<String>,
    /// accept: normal | complex | remote | remote_complex (complaints), complex | very_complex (denunciations)
    #[serde(default)]
    pub variant: Option<String>,
    /// refuse: the reasons; accept with a complex variant: the written determination; decide: the reasoning
    #[serde(default)]
    pub note: String,
    /// decide: upheld | partly_upheld | rejected | withdrawn | forwarded
    #[serde(default)]
    pub outcome: Option<String>,
}

/// Takes a workflow step on a case in the caller's area.
pub async fn step(store: &Store, ctx: &Ctx, id: i64, input: &StepInput) -> Result<(), AppError> {
    let p = ctx.authorize(perm::COMPLAINTS_HANDLE)?;
    let c = store.complaint(id).await?.ok_or_else(|| AppError::NotFound(format!("complaint {id}")))?;
    if let Some(p) = p {
        p.require_commune(&c.commune_code)?;
    }
    let today = today_vn();
    let note = input.note.trim().chars().take(4000).collect::<String>();
    handled_here(p, &c)?;
    match input.action.as_str() {
        "suspend" => {
            if note.chars().count() < 10 {
                return Err(field("note", "tạm đình chỉ phải nêu rõ lý do", "a suspension needs its reason"));
            }
            let audit = ctx.audit("complaint.suspend", "complaint", Some(id.to_string()));
            if !store.suspend_complaint(id, &iso(today), &note, &ctx.actor(), &audit).await? {
                return Err(AppError::Denied {
                    vi: "Chỉ tạm đình chỉ được đơn đã thụ lý, chưa có kết quả và chưa bị tạm đình chỉ".into(),
                    en: "Only an accepted, undecided case that is not suspended can be suspended".into(),
                });
            }
            return Ok(());
        }
        "resume" => {
            let mut susp: Vec<domain::deadlines::Suspension> = Vec::new();
            for (from, to) in store.complaint_suspensions(id).await? {
                let from = date(&from).ok_or_else(|| AppError::Internal("suspension date".into()))?;
                susp.push((from, Some(to.as_deref().and_then(date).unwrap_or(today))));
            }
            let accepted = c.accepted_on.as_deref().and_then(date).unwrap_or(today);
            let due = limits()?
                .due(resolution_code(&c), &c.variant, accepted, &susp, calendar()?.as_ref())
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let audit = ctx.audit("complaint.resume", "complaint", Some(id.to_string()));
            let due = due.date.map(iso).unwrap_or_default();
            if !store.resume_complaint(id, &iso(today), &due, &ctx.actor(), &audit).await? {
                return Err(AppError::Denied {
                    vi: "Đơn không bị tạm đình chỉ".into(),
                    en: "The case is not suspended".into(),
                });
            }
            return Ok(());
        }
        _ => {}
    }
    if input.action == "extend" {
        return extend(store, ctx, &c, &note, today).await;
    }
    let step = match input.action.as_str() {
        "accept" => {
            let variant = input.variant.clone().filter(|v| !v.is_empty()).unwrap_or_else(|| "normal".into());
            // a denunciation's time is extended during handling, each time by a determination
            // (Luật Tố cáo 2018 Art. 30), not set long at acceptance
            if c.kind == "denunciation" && variant != "normal" {
                return Err(field(
                    "variant",
                    "tố cáo được thụ lý với thời hạn 30 ngày; gia hạn sau khi xác định vụ việc phức tạp",
                    "a denunciation is accepted with 30 days; extend it once it is determined complex",
                ));
            }
            let complex = variant.contains("complex");
            if complex && note.chars().count() < 10 {
                return Err(field(
                    "note",
                    "vụ việc phức tạp cần văn bản xác định lý do (ghi rõ căn cứ)",
                    "a complex case needs the written determination (its grounds)",
                ));
            }
            let lim = limits()?;
            let due = lim.due(resolution_code(&c), &variant, today, &[], calendar()?.as_ref()).map_err(|_| {
                field(
                    "variant",
                    format!("{variant:?} không áp dụng cho loại đơn này"),
                    format!("{variant:?} does not apply to this kind of case"),
                )
            })?;
            let assignee = input
                .assigned_to
                .clone()
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| p.map_or_else(|| ctx.actor(), |p| p.username.clone()));
            let handles = match store.user_by_username(assignee.trim()).await? {
                Some(u) => crate::services::authz::Policy::load(store)
                    .await?
                    .permissions_of(&u.role_code)
                    .contains(perm::COMPLAINTS_HANDLE),
                None => false,
            };
            if !handles && !ctx.operator {
                return Err(field(
                    "assigned_to",
                    format!("{assignee:?} không phải cán bộ giải quyết khiếu nại"),
                    format!("{assignee:?} is not an officer who handles complaints"),
                ));
            }
            Step::Accept {
                accepted_on: iso(today),
                resolution_due: due.date.map(iso).unwrap_or_default(),
                assigned_to: assignee.trim().to_string(),
                variant,
                complex_note: complex.then(|| note.clone()),
            }
        }
        "refuse" => {
            if note.chars().count() < 10 {
                return Err(field("note", "không thụ lý phải nêu rõ lý do", "a refusal needs its reasons"));
            }
            Step::Refuse { note: note.clone(), on: iso(today) }
        }
        "verify" => Step::Verify,
        "decide" => {
            let outcome = input.outcome.clone().unwrap_or_default();
            if !OUTCOMES.iter().any(|(o, _, _)| *o == outcome) {
                return Err(field("outcome", "chọn kết quả giải quyết", "choose the outcome"));
            }
            if note.chars().count() < 10 {
                return Err(field("note", "ghi rõ nội dung kết luận", "the decision's reasoning is required"));
            }
            Step::Decide { outcome, note: note.clone(), on: iso(today) }
        }
        "notify" => Step::Notify { on: iso(today) },
        "close" => Step::Close { on: iso(today) },
        other => {
            return Err(field(
                "action",
                format!("thao tác {other:?} không hợp lệ"),
                format!("unknown action {other:?}"),
            ))
        }
    };
    let audit = ctx.audit(&format!("complaint.{}", input.action), "complaint", Some(id.to_string()));
    if !store.complaint_step(id, &step, &ctx.actor(), &note, &audit).await? {
        let (vi, en) = status_label(&c.status);
        return Err(AppError::Denied {
            vi: format!("Không thực hiện được \"{}\" khi đơn đang ở trạng thái \"{vi}\"", input.action),
            en: format!("Cannot {} a case that is {en}", input.action),
        });
    }
    Ok(())
}

/// Extends the handling time of an accepted case by a written determination (a denunciation up
/// to twice, a complaint once): the next variant and the deadline recomputed from acceptance,
/// suspensions included.
async fn extend(store: &Store, ctx: &Ctx, c: &ComplaintRow, note: &str, today: NaiveDate) -> Result<(), AppError> {
    let code = resolution_code(c);
    let Some(next) = domain::deadlines::extension_of(code, &c.variant) else {
        return Err(AppError::Denied {
            vi: "Thời hạn giải quyết của đơn này không được gia hạn thêm".into(),
            en: "The handling time of this case cannot be extended further".into(),
        });
    };
    // an extension is decided within the time limit, not to cover a missed one
    if c.resolution_due.as_deref().and_then(date).is_some_and(|due| today > due) {
        return Err(AppError::Denied {
            vi: "Đã quá hạn giải quyết: không gia hạn được nữa".into(),
            en: "The resolution deadline has passed: it can no longer be extended".into(),
        });
    }
    if note.chars().count() < 10 {
        return Err(field(
            "note",
            "gia hạn phải có văn bản xác định lý do (vụ việc phức tạp)",
            "an extension needs the written determination (why the case is complex)",
        ));
    }
    let mut susp: Vec<domain::deadlines::Suspension> = Vec::new();
    for (from, to) in store.complaint_suspensions(c.id).await? {
        let from = date(&from).ok_or_else(|| AppError::Internal("suspension date".into()))?;
        susp.push((from, to.as_deref().and_then(date)));
    }
    let accepted = c.accepted_on.as_deref().and_then(date).unwrap_or(today);
    let due = limits()?
        .due(code, next, accepted, &susp, calendar()?.as_ref())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut audit = ctx.audit("complaint.extend", "complaint", Some(c.id.to_string()));
    audit.detail = Some(format!("{} → {next}", c.variant));
    let due = due.date.map(iso);
    if !store.extend_complaint(c.id, &c.variant, next, due.as_deref(), note, &ctx.actor(), &audit).await? {
        return Err(AppError::Denied {
            vi: "Chỉ gia hạn được đơn đã thụ lý và chưa có kết quả".into(),
            en: "Only an accepted case without a decision can be extended".into(),
        });
    }
    Ok(())
}

/// Who may act on a case at all: a second-instance complaint and a denunciation of an officer
/// are handled at the province, not by a commune.
fn handled_here(p: Option<&crate::services::authz::Principal>, c: &ComplaintRow) -> Result<(), AppError> {
    if c.instance == 2 && p.is_some_and(|p| p.scope != Scope::Province) {
        return Err(AppError::Forbidden("a second-instance complaint is handled at the province".into()));
    }
    // a denunciation of an officer is not handled by the officer's own commune
    if c.kind == "denunciation" && c.subject == "officer_conduct" && p.is_some_and(|p| p.scope != Scope::Province) {
        return Err(AppError::Forbidden("a denunciation of an officer is handled at the province".into()));
    }
    Ok(())
}

/// The limit that governs a case's resolution.
fn resolution_code(c: &ComplaintRow) -> &'static str {
    match (c.kind.as_str(), c.instance) {
        ("denunciation", _) => "denunciation_resolution",
        (_, 2) => "complaint_second",
        _ => "complaint_first",
    }
}

/// The complainant disagrees with a first-instance decision and complains to the next level
/// (from the portal, with the tracking code): a new case, instance 2, handled at the province;
/// after the 30-day limit it is recorded and flagged.
pub async fn second_instance(store: &Store, ctx: &Ctx, code: &str, reason: &str) -> Result<ComplaintRow, AppError> {
    let t = track(store, code).await?;
    let c = store.complaint_by_code(&t.tracking_code).await?.ok_or_else(|| AppError::NotFound("case".into()))?;
    if !t.can_escalate {
        return Err(AppError::Denied {
            vi: "Chỉ khiếu nại lần hai được với khiếu nại lần đầu đã có quyết định giải quyết (không đúng hoặc đúng một phần)".into(),
            en: "Only a decided first-instance complaint (rejected or partly upheld) can go to the second instance".into(),
        });
    }
    let reason = domain::text::nfc(reason.trim());
    if reason.chars().count() < 10 {
        return Err(field(
            "reason",
            "nêu rõ lý do không đồng ý với quyết định lần đầu",
            "say why you disagree with the first decision",
        ));
    }
    let today = today_vn();
    // the 30 days (45 in remote areas) run from the day the complainant received the decision
    let decided = c.notified_on.as_deref().and_then(date).unwrap_or(today);
    let (late, limit) = limits()?
        .second_filed_late(&c.variant, decided, today, calendar()?.as_ref())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let late_note = late.then(|| {
        format!(
            "Quá thời hạn khiếu nại lần hai {} ngày kể từ ngày nhận quyết định lần đầu ({}, {}); vẫn ghi nhận để xem xét lý do",
            limit.days,
            domain::calendar::format_date(decided),
            limit.citation
        )
    });
    let due = limits()?
        .due("complaint_acceptance", "normal", today, &[], calendar()?.as_ref())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let n = NewComplaint {
        tracking_code: tracking_code()?,
        kind: "complaint".into(),
        channel: "portal".into(),
        subject: c.subject.clone(),
        title: format!("Khiếu nại lần hai: {}", c.title).chars().take(200).collect(),
        content: format!("{reason}\n\n— Khiếu nại lần đầu: {}", c.content).chars().take(10_000).collect(),
        filer_name: c.filer_name.clone(),
        filer_personal_id: c.filer_personal_id.clone(),
        filer_phone: c.filer_phone.clone(),
        filer_address: c.filer_address.clone(),
        person_id: c.person_id,
        decision_ref: c.decision_ref.clone(),
        commune_code: c.commune_code.clone(),
        agency_code: "UBND_TINH".into(),
        received_on: iso(today),
        decision_known_on: c.decided_on.clone(),
        late_note,
        acceptance_due: due.date.map(iso).unwrap_or_default(),
        instance: 2,
        parent_id: Some(c.id),
        attachments: Vec::new(),
    };
    let mut audit = ctx.audit("complaint.second_instance", "complaint", None);
    audit.actor = "portal".into();
    audit.detail = Some(format!("after case {}", c.id));
    let id = store.insert_complaint(&n, "portal", &audit).await.map_err(|e| match e {
        store::StoreError::Conflict(_) => AppError::Denied {
            vi: "Khiếu nại này đã được chuyển giải quyết lần hai".into(),
            en: "This complaint has already gone to the second instance".into(),
        },
        other => other.into(),
    })?;
    store.complaint(id).await?.ok_or_else(|| AppError::Internal("case just filed".into()))
}

/// What the public tracking page shows: no names, no content, no officer's notes beyond the
/// outcome.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tracking {
    pub tracking_code: String,
    pub kind: String,
    pub subject: String,
    pub status: String,
    pub received_on: String,
    pub acceptance_due: String,
    pub accepted_on: Option<String>,
    pub resolution_due: Option<String>,
    pub outcome: Option<String>,
    pub decided_on: Option<String>,
    pub late_note: Option<String>,
    pub can_rate: bool,
    pub rated: bool,
    pub instance: i64,
    /// a decided first-instance complaint the complainant may take to the next level
    pub can_escalate: bool,
}

/// Looks a case up by its tracking code. A wrong code says only that it is wrong; guesses from
/// one address are throttled by the caller.
pub async fn track(store: &Store, code: &str) -> Result<Tracking, AppError> {
    let code = code.trim().to_uppercase();
    let c = store.complaint_by_code(&code).await?.ok_or_else(|| AppError::Denied {
        vi: "Không tìm thấy đơn với mã này. Kiểm tra lại mã trên giấy biên nhận.".into(),
        en: "No case with this code. Check the code on your receipt.".into(),
    })?;
    let rated = store.complaint_rated(c.id).await?;
    let can_escalate = c.kind == "complaint"
        && c.instance == 1
        && matches!(c.status.as_str(), "notified" | "closed")
        && matches!(c.outcome.as_deref(), Some("rejected" | "partly_upheld"))
        && !store.complaint_escalated(c.id).await?;
    Ok(Tracking {
        instance: c.instance,
        can_escalate,
        can_rate: c.status == "closed" && !rated,
        rated,
        tracking_code: c.tracking_code,
        kind: c.kind,
        subject: c.subject,
        status: c.status,
        received_on: c.received_on,
        acceptance_due: c.acceptance_due,
        accepted_on: c.accepted_on,
        resolution_due: c.resolution_due,
        outcome: c.outcome,
        decided_on: c.decided_on,
        late_note: c.late_note,
    })
}

/// The citizen rates a closed case (1–5), once.
pub async fn rate(store: &Store, ctx: &Ctx, code: &str, score: &str, comment: &str) -> Result<(), AppError> {
    let t = track(store, code).await?;
    let score: i64 = score
        .trim()
        .parse()
        .ok()
        .filter(|s| (1..=5).contains(s))
        .ok_or_else(|| field("score", "chọn mức hài lòng từ 1 đến 5", "choose a score from 1 to 5"))?;
    let c = store.complaint_by_code(&t.tracking_code).await?.ok_or_else(|| AppError::NotFound("case".into()))?;
    let mut audit = ctx.audit("complaint.rate", "complaint", Some(c.id.to_string()));
    audit.actor = "portal".into();
    let comment: String = comment.trim().chars().take(1000).collect();
    if !store.rate_complaint(c.id, score, &comment, &audit).await? {
        return Err(AppError::Denied {
            vi: "Chỉ đánh giá được một lần, sau khi đơn đã kết thúc".into(),
            en: "A case is rated once, after it is closed".into(),
        });
    }
    Ok(())
}

/// The satisfaction index per agency (and per commune): mean score (1–5, in thousandths) and
/// the number of ratings.
#[derive(Debug, Clone, Serialize)]
pub struct IndexRow {
    pub agency_code: String,
    pub commune_code: Option<String>,
    pub ratings: i64,
    /// mean × 1000, half up
    pub mean_milli: i64,
}

pub async fn satisfaction_index(store: &Store, ctx: &Ctx) -> Result<Vec<IndexRow>, AppError> {
    if !ctx.operator {
        let p = ctx.user()?;
        if !(p.can(perm::COMPLAINTS_READ) || p.can(perm::DASHBOARDS_READ)) {
            return Err(AppError::Forbidden(format!("permission {}", perm::COMPLAINTS_READ)));
        }
    }
    let rows = store.satisfaction().await?;
    let mean = |sum: i64, n: i64| if n > 0 { (sum * 1000 * 2 + n) / (2 * n) } else { 0 };
    let mut out: Vec<IndexRow> = Vec::new();
    let mut agencies: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for r in &rows {
        let e = agencies.entry(r.agency_code.clone()).or_default();
        e.0 += r.ratings;
        e.1 += r.score_sum;
    }
    for (a, (n, sum)) in agencies {
        out.push(IndexRow { agency_code: a, commune_code: None, ratings: n, mean_milli: mean(sum, n) });
    }
    for r in rows {
        out.push(IndexRow {
            mean_milli: mean(r.score_sum, r.ratings),
            agency_code: r.agency_code,
            commune_code: Some(r.commune_code),
            ratings: r.ratings,
        });
    }
    Ok(out)
}

/// The demo's cases: a complaint about a payment resolved and rated, a complaint about an
/// entitlement decision being verified, a denunciation awaiting acceptance, a petition resolved
/// and rated, and a complaint filed after the 90-day limit.
pub async fn demo(store: &Store, g: &domain::Gazetteer, province: &str) -> Result<(), AppError> {
    let op = Ctx::cli();
    let today = today_vn();
    let case =
        |kind: &str, subject: &str, commune: &str, title: &str, name: &str, known: Option<NaiveDate>| FileInput {
            kind: kind.into(),
            subject: subject.into(),
            title: title.into(),
            content: format!("{title}. Đề nghị cơ quan có thẩm quyền xem xét, giải quyết theo quy định."),
            filer_name: name.into(),
            commune_code: commune.into(),
            decision_known_on: known.map(domain::calendar::format_date),
            channel: Some("reception".into()),
            ..Default::default()
        };
    let go = |action: &str, outcome: Option<&str>| StepInput {
        action: action.into(),
        outcome: outcome.map(str::to_string),
        note: "Đã xác minh, đối chiếu hồ sơ và làm việc với người gửi đơn.".into(),
        assigned_to: Some("sonoivu".into()),
        ..Default::default()
    };
    let steps = |n: usize| -> Vec<StepInput> {
        let all = vec![
            go("accept", None),
            go("verify", None),
            go("decide", Some("partly_upheld")),
            go("notify", None),
            go("close", None),
        ];
        all.into_iter().take(n).collect()
    };
    let cases = [
        (case("complaint", "payment", "25210", "Chưa nhận được trợ cấp tháng trước", "Trần Văn Bảy", None), 5, Some(4)),
        (
            case(
                "complaint",
                "entitlement_decision",
                "25195",
                "Khiếu nại quyết định thôi hưởng trợ cấp",
                "Lê Thị Thu",
                Some(today - chrono::Duration::days(20)),
            ),
            2,
            None,
        ),
        (
            case(
                "denunciation",
                "officer_conduct",
                "26068",
                "Tố cáo cán bộ xã thu tiền khi làm hồ sơ",
                "Nguyễn Văn Tư",
                None,
            ),
            0,
            None,
        ),
        (
            case(
                "petition",
                "registry",
                "25210",
                "Đề nghị sửa ngày sinh trong hồ sơ người có công",
                "Phạm Thị Năm",
                None,
            ),
            5,
            Some(5),
        ),
        (
            case(
                "complaint",
                "entitlement_decision",
                "25195",
                "Khiếu nại mức trợ cấp xã hội",
                "Võ Văn Sáu",
                Some(today - chrono::Duration::days(200)),
            ),
            0,
            None,
        ),
    ];
    for (i, (input, n, rating)) in cases.into_iter().enumerate() {
        // the complaint about a decision comes with the decision's scan
        let files = if i == 1 {
            let pdf =
                crate::services::uploads::demo_pdf("Quyet dinh thoi huong tro cap (ban chup minh hoa cho ban demo)");
            vec![("quyet-dinh-thoi-huong.pdf".to_string(), pdf)]
        } else {
            Vec::new()
        };
        let c = file(store, g, &op, province, &input, false, files).await?;
        for s in steps(n) {
            step(store, &op, c.id, &s).await?;
        }
        if let Some(score) = rating {
            rate(store, &op, &c.tracking_code, &score.to_string(), "Cán bộ hướng dẫn tận tình.").await?;
        }
    }
    Ok(())
}

/// One line of the public posting (niêm yết) of a commune's social-assistance beneficiaries:
/// name, birth year, the group — never the HIV groups (shown as a neutral label), a disability
/// level, an ID number or bank data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostedBeneficiary {
    pub full_name: String,
    pub birth_year: String,
    pub group: String,
    pub decision: String,
    pub from: String,
}

/// The group as it may be posted: disability without its level. HIV groups never reach the
/// posting (the store leaves those persons out); should one, it is shown as the neutral label.
pub fn posted_group(code: &str, hiv: bool) -> &'static str {
    match code {
        _ if hiv => "Đối tượng bảo trợ xã hội (Nghị định 20/2021/NĐ-CP)",
        "k3" | "k8" => "Đối tượng bảo trợ xã hội (Nghị định 20/2021/NĐ-CP)",
        "k6" => "Người khuyết tật",
        other => domain::categories::find(other).map_or("Đối tượng bảo trợ xã hội", |c| c.1),
    }
}

/// The public posting of a commune of the province (no login).
pub async fn posting(
    store: &Store,
    g: &domain::Gazetteer,
    province: &str,
    commune: &str,
) -> Result<Vec<PostedBeneficiary>, AppError> {
    let commune = commune.trim();
    if g.commune(commune).is_none_or(|c| c.province_code != province) {
        return Err(field(
            "commune",
            format!("{commune:?} không phải xã/phường của tỉnh"),
            format!("{commune:?} is not a commune of the province"),
        ));
    }
    let today = today_vn();
    Ok(store
        .posting(commune, &iso(today))
        .await?
        .into_iter()
        .map(|r| PostedBeneficiary {
            group: posted_group(&r.group_code, r.hiv).to_string(),
            decision: format!(
                "{} ({})",
                r.decision_no,
                date(&r.decision_date).map(domain::calendar::format_date).unwrap_or_default()
            ),
            from: date(&r.valid_from).map(domain::calendar::format_date).unwrap_or_default(),
            full_name: r.full_name,
            birth_year: r.birth_year,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_posting_never_names_an_hiv_group_or_a_disability_level() {
        for code in ["k3", "k8"] {
            assert!(!super::posted_group(code, false).contains("HIV"));
        }
        assert!(!super::posted_group("k5c", true).contains("80"), "a record marked HIV shows no group");
        assert_eq!(super::posted_group("k6", false), "Người khuyết tật");
        assert_eq!(super::posted_group("k5c", false), "Từ 80 tuổi không lương hưu");
    }
}

/// Open cases past their running deadline, per handling agency (the list the law's supervisors
/// ask for), most overdue first.
pub fn overdue_by_agency(cases: &[CaseView]) -> Vec<(String, usize, i64)> {
    let mut m: std::collections::BTreeMap<String, (usize, i64)> = Default::default();
    for c in cases.iter().filter(|c| c.light == "red") {
        let e = m.entry(c.case.agency_code.clone()).or_insert((0, 0));
        e.0 += 1;
        e.1 = e.1.max(-c.days_left.unwrap_or(0));
    }
    let mut v: Vec<(String, usize, i64)> = m.into_iter().map(|(a, (n, worst))| (a, n, worst)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod overdue_tests {
    use super::*;

    fn case(agency: &str, days_left: Option<i64>, light: &'static str) -> CaseView {
        let row: ComplaintRow = serde_json::from_value(serde_json::json!({
            "id": 1, "tracking_code": "X", "kind": "complaint", "channel": "portal", "subject": "other", "title": "t",
            "content": "c", "filer_name": "n", "filer_personal_id": null, "filer_phone": null, "filer_address": null,
            "person_id": null, "decision_ref": null, "commune_code": "25210", "agency_code": agency, "received_on": "2026-11-01",
            "decision_known_on": null, "late_note": null, "instance": 1, "parent_id": null, "status": "received",
            "variant": "normal", "complex_note": null, "acceptance_due": "2026-11-10", "accepted_on": null,
            "resolution_due": null, "assigned_to": null, "outcome": null, "outcome_note": null, "decided_on": null,
            "notified_on": null, "closed_on": null, "created_by": "portal", "created_at": "2026-11-01T00:00:00.000000Z"
        }))
        .unwrap();
        CaseView { case: row, due: None, days_left, light, identity_hidden: false, attachments: Vec::new() }
    }

    #[test]
    fn overdue_cases_are_counted_per_agency() {
        let cases = [
            case("UBND_XA", Some(-3), "red"),
            case("UBND_XA", Some(-10), "red"),
            case("SO_NOI_VU", Some(-1), "red"),
            case("SO_NOI_VU", Some(4), "amber"),
            case("SO_Y_TE", None, "none"),
        ];
        assert_eq!(overdue_by_agency(&cases), [("UBND_XA".to_string(), 2, 10), ("SO_NOI_VU".to_string(), 1, 1)]);
    }
}
