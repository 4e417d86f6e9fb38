//! Monthly payment cycles (chi trả hằng tháng): generation from the registry through the
//! rules engine, the two-person workflow, pay-point lists and bank files, reconciliation
//! of the post office's or bank's results, holds and stop reasons.
//!
//! How a cycle for month M is computed (docs/payments.md): for every beneficiary, what the
//! engine says is due for each month from the start of the arrears window to M, minus what
//! approved cycles already scheduled for that month and item (lines held, failed or
//! returned do not count). The non-zero differences are the line's items: `regular` and
//! `one_off` when nothing was scheduled before, `carried` when an earlier line failed,
//! `arrears` (truy lĩnh) or `recovery` (truy thu) otherwise. One rule covers retroactive
//! decisions, failed payments and corrections; approved cycles are never edited.

use std::collections::BTreeMap;

use domain::{Money, Month};
use rules::engine::{explain, Engine, LineKind};
use rules::{Packs, PersonFacts};
use store::payments::{
    Claimant, CycleRow, Generation, LineQuery, LineResult, LineRow, NewItem, NewLine, Payee, Scheduled, Summary,
    Uncollected,
};
use store::registry::{AssistanceRecord, BeneficiaryRow, MeritRecord};
use store::{Page, Paged};

use super::authz::{Ctx, Principal, Scope};
use super::entitlements::{facts_of, iso, PackSource};
use super::import::RowError;
use crate::error::AppError;

mod perm {
    pub use crate::services::authz::perm::{
        PAYMENTS_APPROVE as APPROVE, PAYMENTS_CHECK as CHECK, PAYMENTS_HOLD as HOLD, PAYMENTS_PREPARE as PREPARE,
        PAYMENTS_READ as READ,
    };
}

/// The start of the reason of a line held because its entitlements cannot be computed.
const CANNOT_COMPUTE: &str = "Không tính được trợ cấp (cần sửa hồ sơ)";

/// An item as shown where health data must not appear (pay-point lists, readers without
/// `registry.sensitive`): the groups of people with HIV (Decree 20/2021 Art. 5.3 and 5.8)
/// become the general social-assistance allowance.
pub fn public_item(item: &str) -> &str {
    match item {
        "tgxh.k3" | "tgxh.k8" => "tgxh",
        _ => item,
    }
}

/// Problems listed for one results file (the rest are counted, not listed).
const MAX_RESULT_ERRORS: usize = 1000;

/// Months before M compared for arrears by a monthly cycle (older differences need an
/// ad-hoc cycle with an explicit window).
pub const ARREARS_MONTHS: i64 = 12;

/// A generation lock older than this is taken over (its generation died).
const STALE_LOCK_MINUTES: i64 = 30;

/// Failed or returned lines in this many consecutive monthly cycles flag a beneficiary.
pub const UNCOLLECTED_CYCLES: i64 = 3;

fn denied(vi: impl Into<String>, en: impl Into<String>) -> AppError {
    AppError::Denied { vi: vi.into(), en: en.into() }
}

/// A cycle status as people read it: (Vietnamese, English).
pub fn status_label(s: &str) -> (&'static str, &'static str) {
    match s {
        "draft" => ("Dự thảo", "Draft"),
        "checked" => ("Đã kiểm tra", "Checked"),
        "approved" => ("Đã phê duyệt", "Approved"),
        "exported" => ("Đã xuất file", "Exported"),
        "reconciled" => ("Đã đối soát", "Reconciled"),
        "closed" => ("Đã khóa sổ", "Closed"),
        _ => ("?", "?"),
    }
}

/// A cycle status inside a Vietnamese sentence.
fn status_vi(s: &str) -> String {
    status_label(s).0.to_lowercase()
}

/// Vietnamese name of a line status.
pub fn line_status_vi(s: &str) -> &'static str {
    match s {
        "pay" => "chi trả",
        "held" => "tạm giữ",
        "stopped" => "dừng chi",
        "recovery" => "truy thu",
        _ => "?",
    }
}

/// Vietnamese name of an item kind.
pub fn item_kind_vi(s: &str) -> &'static str {
    match s {
        "regular" => "hằng tháng",
        "one_off" => "một lần",
        "arrears" => "truy lĩnh",
        "recovery" => "truy thu",
        "carried" => "chi bù (lần trước không nhận được)",
        _ => "?",
    }
}

/// Who pays for an item: allowances of people with merit from the central budget
/// (Decree 75/2021 Art. 3 and the Ordinance's Art. 4 as amended), social assistance and the
/// social pension from the local budget (Decree 20/2021 Art. 36).
pub fn funding_source(item: &str) -> &'static str {
    if item.starts_with("tgxh") || item.starts_with("htxh") || item == "them_nhom" {
        "ngan_sach_dia_phuong"
    } else {
        "ngan_sach_trung_uong"
    }
}

pub fn funding_source_vi(code: &str) -> &'static str {
    match code {
        "ngan_sach_dia_phuong" => "Ngân sách địa phương (trợ giúp xã hội)",
        _ => "Ngân sách trung ương (ưu đãi người có công)",
    }
}

fn province_only(p: &Principal) -> Result<(), AppError> {
    match p.scope {
        Scope::Province => Ok(()),
        _ => Err(denied(
            "Chỉ cán bộ cấp tỉnh được thực hiện bước này của kỳ chi trả",
            "only provincial staff can take this step of a payment cycle",
        )),
    }
}

pub async fn cycle_or_404(store: &store::Store, id: i64) -> Result<CycleRow, AppError> {
    store.cycle(id).await?.ok_or_else(|| AppError::NotFound(format!("payment cycle {id}")))
}

pub async fn list(store: &store::Store, ctx: &Ctx, page: Page) -> Result<Paged<CycleRow>, AppError> {
    ctx.require(perm::READ)?;
    Ok(store.cycles(page).await?)
}

/// Creates an empty draft cycle (a month has one monthly cycle; ad-hoc ones are free).
pub async fn create(store: &store::Store, ctx: &Ctx, month: Month, adhoc: bool) -> Result<CycleRow, AppError> {
    let p = ctx.require(perm::PREPARE)?;
    province_only(p)?;
    let kind = if adhoc { "adhoc" } else { "monthly" };
    let title = if adhoc {
        format!("Chi bổ sung (truy lĩnh, một lần) tháng {month}")
    } else {
        format!("Chi trả tháng {month}")
    };
    let mut a = ctx.audit("payments.create", "payment_cycle", None);
    a.detail = Some(format!("{kind} {}", iso(month)));
    let id = match store.create_cycle(&iso(month), kind, &title, &ctx.actor(), &a).await {
        Ok(id) => id,
        Err(store::StoreError::Conflict(_)) => {
            return Err(denied(
                format!("Tháng {month} đã có kỳ chi trả hằng tháng; mở kỳ đó hoặc tạo kỳ chi bổ sung"),
                format!("month {month} already has a monthly payment cycle; open it or create an ad-hoc cycle"),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    cycle_or_404(store, id).await
}

/// What a generation did.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct GenerateReport {
    pub cycle_id: i64,
    pub lines: usize,
    pub payable_lines: usize,
    pub total: i64,
    pub held: usize,
    pub stopped: usize,
    pub recovery: usize,
    pub arrears_from: Option<String>,
    pub pack_version: String,
    pub seconds: f64,
    /// Phases: reading the registry and the payment history, computing, writing.
    pub read_seconds: f64,
    pub compute_seconds: f64,
    pub write_seconds: f64,
}

/// One beneficiary's inputs, borrowed from the set-based reads.
struct PersonIn<'a> {
    row: &'a BeneficiaryRow,
    merits: &'a [MeritRecord],
    assistance: &'a [AssistanceRecord],
    scheduled: &'a [Scheduled],
    hold: Option<&'a str>,
    claimant: Option<&'a Claimant>,
    payee: Option<&'a Payee>,
    was_paid: bool,
}

/// Advances `i` over `v` (sorted by key) past keys < `id` and returns the run == `id`.
fn run_of<'a, T>(v: &'a [T], i: &mut usize, id: i64, key: impl Fn(&T) -> i64) -> &'a [T] {
    while v.get(*i).is_some_and(|x| key(x) < id) {
        *i += 1;
    }
    let start = *i;
    while v.get(*i).is_some_and(|x| key(x) == id) {
        *i += 1;
    }
    &v[start..*i]
}

fn relation_rank(kind: &str) -> u8 {
    match kind {
        "spouse" => 0,
        "child" => 1,
        "father" | "mother" => 2,
        _ => 3,
    }
}

/// Parameters of one generation.
struct Gen<'e> {
    engine: &'e Engine<'e>,
    month: Month,
    from: Month,
    adhoc: bool,
}

/// Computes one person's line (None = nothing due, nothing to explain).
fn person_line<'e>(g: &Gen<'e>, p: &PersonIn<'_>, due: &mut Vec<rules::engine::Line<'e>>) -> Option<NewLine> {
    let facts = facts_of(
        &p.row.personal_id,
        &p.row.birth_date,
        p.row.deceased_on.as_deref(),
        p.row.poor,
        p.merits,
        p.assistance,
    );
    let mut line = NewLine {
        person_id: p.row.id,
        personal_id: p.row.personal_id.clone(),
        full_name: p.payee.map(|x| x.full_name.clone()).unwrap_or_default(),
        commune_code: p.row.commune_code.clone(),
        method: "cash",
        status: "pay",
        facts: serde_json::to_string(&facts).unwrap_or_default(),
        ..NewLine::default()
    };
    // a bank transfer needs an account number; without one the person is paid in cash
    let has_account = |x: &&Payee| x.account_no.as_deref().is_some_and(|a| !a.trim().is_empty());
    if let Some(x) = p.payee.filter(|x| x.method.as_deref() == Some("bank") && has_account(x)) {
        line.method = "bank";
        line.bank_name = x.bank_name.clone();
        line.account_no = x.account_no.clone();
    }
    // fail closed: a person whose entitlements cannot be computed is held with the reason
    let computed = facts.check().map_err(|e| e.to_string()).and_then(|c| {
        due.clear();
        g.engine.person(&c, g.from, g.month, due, None).map_err(|e| e.to_string())
    });
    if let Err(e) = computed {
        line.status = "held";
        line.reason = Some(format!("{CANNOT_COMPUTE}: {e}"));
        return Some(line);
    }
    // due per (month, item), in the order of the scheduled rows (yyyy-mm sorts as text)
    let mut by_key: BTreeMap<(String, &str), (i64, LineKind)> = BTreeMap::new();
    for l in due.iter() {
        if g.adhoc && l.month == g.month && l.kind == LineKind::Monthly {
            continue;
        }
        let e = by_key.entry((iso(l.month), l.item)).or_insert((0, l.kind));
        e.0 += l.amount.dong();
    }
    let this = iso(g.month);
    let mut items = Vec::new();
    let mut sched = p.scheduled.iter().peekable();
    let mut push = |month: &str, item: &str, due: i64, kind: Option<LineKind>, s: Option<&Scheduled>| {
        let paid = s.map_or(0, |s| s.amount);
        let diff = due - paid;
        if diff == 0 {
            return;
        }
        let failed = s.is_some_and(|s| s.failed);
        let kind = if paid == 0 && !failed && kind == Some(LineKind::OneOff) {
            "one_off"
        } else if paid == 0 && !failed && month == this && kind == Some(LineKind::Monthly) {
            "regular"
        } else if failed && diff > 0 {
            "carried"
        } else if diff > 0 {
            "arrears"
        } else {
            "recovery"
        };
        items.push(NewItem { item: item.to_string(), for_month: month.to_string(), kind, amount: diff });
    };
    for ((month, item), (amount, kind)) in &by_key {
        // scheduled rows before this key have nothing due: recover them in full
        while let Some(s) = sched.next_if(|s| (s.for_month.as_str(), s.item.as_str()) < (month.as_str(), *item)) {
            if !(g.adhoc && s.for_month == this) {
                push(&s.for_month, &s.item, 0, None, Some(s));
            }
        }
        let s = sched.next_if(|s| s.for_month == *month && s.item == *item);
        push(month, item, *amount, Some(*kind), s);
    }
    for s in sched {
        if !(g.adhoc && s.for_month == this) {
            push(&s.for_month, &s.item, 0, None, Some(s));
        }
    }
    if items.is_empty() {
        if !p.was_paid || g.adhoc {
            return None;
        }
        // an active beneficiary with nothing due this month: stopped, with the reason
        line.status = "stopped";
        line.reason = Some(stop_reason(g, p, &facts));
        return Some(line);
    }
    line.amount = items.iter().map(|i| i.amount).sum();
    line.items = items;
    if let Some(h) = p.hold {
        line.status = "held";
        line.reason = Some(format!("Tạm dừng chi trả: {h}"));
    } else if line.amount <= 0 {
        line.status = "recovery";
        let died =
            p.row.deceased_on.as_deref().map(|d| format!("Người hưởng đã mất ngày {}; ", super::registry::vn_date(d)));
        line.reason = Some(format!(
            "{}Truy thu {}: đã chi nhiều hơn mức được hưởng (thu hồi theo quyết định, không chi)",
            died.unwrap_or_default(),
            Money::from_dong(-line.amount)
        ));
    } else if let Some(died) = p.row.deceased_on.as_deref() {
        match p.claimant {
            Some(c) => {
                line.payee_name = Some(c.full_name.clone());
                line.payee_personal_id = Some(c.personal_id.clone());
                line.method = "cash";
                line.bank_name = None;
                line.account_no = None;
                line.reason = Some(format!(
                    "Người hưởng đã mất ngày {}; thân nhân ({}) nhận thay",
                    super::registry::vn_date(died),
                    super::registry::relation_vi(&c.kind)
                ));
            }
            None => {
                line.status = "held";
                line.reason = Some(format!(
                    "Người hưởng đã mất ngày {}; chưa có thân nhân trong sổ để nhận thay (bổ sung quan hệ)",
                    super::registry::vn_date(died)
                ));
            }
        }
    }
    Some(line)
}

/// Why an active beneficiary gets nothing this month.
fn stop_reason(g: &Gen<'_>, p: &PersonIn<'_>, facts: &PersonFacts) -> String {
    if let Some(d) = p.row.deceased_on.as_deref() {
        return format!("Đã mất ngày {}: dừng chi trả hằng tháng", super::registry::vn_date(d));
    }
    let first = g.month.first_day().format("%Y-%m-%d").to_string();
    let ends: Vec<Option<&str>> = p
        .merits
        .iter()
        .map(|m| m.valid_to.as_deref())
        .chain(p.assistance.iter().map(|a| a.valid_to.as_deref()))
        .collect();
    if !ends.is_empty() && ends.iter().all(|e| e.is_some_and(|e| e < first.as_str())) {
        let last = ends.iter().flatten().max().copied().unwrap_or_default();
        return format!("Hồ sơ hết hiệu lực từ sau ngày {}", super::registry::vn_date(last));
    }
    // (the rules' explanation names groups and rates: it is shown on the line's
    // explanation page, to roles that may see it, not in the reason every reader sees)
    let _ = facts;
    format!(
        "Không còn đủ điều kiện hưởng tháng {} theo quy định (tuổi, thời gian học, hộ nghèo…): xem giải trình",
        g.month
    )
}

/// (Re)generates a draft or checked cycle: computes every line and replaces the cycle's
/// lines in one transaction. Idempotent: the same registry gives the same lines.
pub async fn generate(
    store: &store::Store,
    packs: &Packs,
    source: &PackSource,
    ctx: &Ctx,
    id: i64,
) -> Result<GenerateReport, AppError> {
    let p = ctx.require(perm::PREPARE)?;
    province_only(p)?;
    let started = std::time::Instant::now();
    let cycle = cycle_or_404(store, id).await?;
    if !matches!(cycle.status.as_str(), "draft" | "checked") {
        return Err(denied(
            format!("Kỳ chi trả {id} đã {}: không tính lại được; điều chỉnh đưa vào kỳ sau", status_vi(&cycle.status)),
            format!(
                "payment cycle {id} is {}: it cannot be regenerated; corrections go into a later cycle",
                cycle.status
            ),
        ));
    }
    let month: Month = cycle.month.parse().map_err(|_| AppError::Internal(format!("cycle {id} month")))?;
    let stale = store::time_text(chrono::Utc::now() - chrono::Duration::minutes(STALE_LOCK_MINUTES));
    if !store.lock_generation(id, &stale).await? {
        return Err(denied(
            format!("Kỳ chi trả {id} đang được tính ở phiên khác; chờ xong rồi thử lại"),
            format!("payment cycle {id} is being generated by another request; try again when it is done"),
        ));
    }
    // released by the write's own transaction on success; here on failure; and by the
    // guard if the request is dropped midway (a timeout), so the cycle is not left locked
    let mut guard = Unlock { store, id, armed: true };
    let res = generate_locked(store, packs, source, ctx, &cycle, month).await;
    guard.armed = false;
    if res.is_err() {
        // the write either committed (and released the lock) or did nothing
        store.unlock_generation(id).await?;
    }
    let mut r = res?;
    r.seconds = started.elapsed().as_secs_f64();
    Ok(r)
}

/// Releases a cycle's generation lock when a generation is abandoned (its future dropped).
struct Unlock<'a> {
    store: &'a store::Store,
    id: i64,
    armed: bool,
}

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, id) = (self.store.clone(), self.id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.unlock_generation(id).await {
                    tracing::warn!(cycle = id, error = %e, "releasing an abandoned generation lock");
                }
            });
        }
    }
}

async fn generate_locked(
    store: &store::Store,
    packs: &Packs,
    source: &PackSource,
    ctx: &Ctx,
    cycle: &CycleRow,
    month: Month,
) -> Result<GenerateReport, AppError> {
    let adhoc = cycle.kind == "adhoc";
    let t0 = std::time::Instant::now();
    let started_at = store::now_text();
    let first_paid: Option<Month> = store.first_paid_month().await?.and_then(|m| m.parse().ok());
    let window = month.add_months(-ARREARS_MONTHS).unwrap_or(month);
    let from = match first_paid {
        Some(f) if f < month => f.max(window),
        _ => month,
    };
    let (from_iso, month_iso) = (iso(from), iso(month));
    // on SQLite the three large reads run on blocking threads of their own (rusqlite)
    let (inputs, scheduled, payees, holds, mut claimants) = tokio::try_join!(
        store.entitlement_inputs(None, false),
        store.scheduled(&from_iso, &month_iso),
        store.payees(),
        store.open_holds(),
        store.claimants(),
    )?;
    // the active beneficiaries: paid last month (whose stop this cycle must explain)
    let last = iso(month.add_months(-1).unwrap_or(month));
    let mut previous: Vec<i64> = if adhoc {
        Vec::new()
    } else {
        scheduled.iter().filter(|s| s.for_month == last && s.amount > 0).map(|s| s.person_id).collect()
    };
    previous.dedup();
    claimants.sort_by_key(|c| (c.person_id, relation_rank(&c.kind)));

    let (mut mi, mut ai, mut si, mut hi, mut ci, mut pi, mut vi) = (0, 0, 0, 0, 0, 0, 0);
    let people: Vec<PersonIn<'_>> = inputs
        .persons
        .iter()
        .map(|row| PersonIn {
            row,
            merits: run_of(&inputs.merits, &mut mi, row.id, |m| m.person_id),
            assistance: run_of(&inputs.assistance, &mut ai, row.id, |a| a.person_id),
            scheduled: run_of(&scheduled, &mut si, row.id, |s| s.person_id),
            hold: run_of(&holds, &mut hi, row.id, |h| h.0).first().map(|h| h.1.as_str()),
            claimant: run_of(&claimants, &mut ci, row.id, |c| c.person_id).first(),
            payee: run_of(&payees, &mut pi, row.id, |x| x.person_id).first(),
            was_paid: !run_of(&previous, &mut vi, row.id, |x| *x).is_empty(),
        })
        .collect();
    let t_read = t0.elapsed();
    let engine = Engine::new(packs).map_err(|e| AppError::Refused(format!("policy pack error: {e}")))?;
    let g = Gen { engine: &engine, month, from, adhoc };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let per = people.len().div_ceil(threads).max(1);
    let compute = || {
        std::thread::scope(|s| {
            let hs: Vec<_> = people
                .chunks(per)
                .map(|chunk| {
                    let g = &g;
                    s.spawn(move || {
                        let mut due = Vec::with_capacity(64);
                        chunk.iter().filter_map(|p| person_line(g, p, &mut due)).collect::<Vec<_>>()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join()).collect::<Result<Vec<_>, _>>()
        })
    };
    let computed = super::cpu_bound(compute);
    let lines: Vec<NewLine> = computed
        .map_err(|_| AppError::Internal("a worker of the payment generation failed".into()))?
        .into_iter()
        .flatten()
        .collect();
    drop(people);
    drop(inputs);
    drop(scheduled);
    let mut r = GenerateReport {
        cycle_id: cycle.id,
        lines: lines.len(),
        arrears_from: (from < month).then(|| iso(from)),
        pack_version: source.version.clone(),
        ..GenerateReport::default()
    };
    for l in &lines {
        match l.status {
            "pay" => {
                r.payable_lines += 1;
                r.total += l.amount;
            }
            "held" => r.held += 1,
            "stopped" => r.stopped += 1,
            _ => r.recovery += 1,
        }
    }
    let gen = Generation {
        pack_version: source.version.clone(),
        pack_files: source.files.clone(),
        arrears_from: r.arrears_from.clone(),
        by: ctx.actor(),
        started_at,
    };
    let mut a = ctx.audit("payments.generate", "payment_cycle", Some(cycle.id.to_string()));
    a.detail = Some(format!(
        "{} lines, {} to pay, total {} đ, held {}, stopped {}, recovery {}, pack {}",
        r.lines,
        r.payable_lines,
        r.total,
        r.held,
        r.stopped,
        r.recovery,
        &source.version[..12.min(source.version.len())]
    ));
    let t_compute = t0.elapsed() - t_read;
    store.write_cycle(cycle.id, &gen, lines, &a).await?;
    r.read_seconds = t_read.as_secs_f64();
    r.compute_seconds = t_compute.as_secs_f64();
    r.write_seconds = (t0.elapsed() - t_read - t_compute).as_secs_f64();
    Ok(r)
}

/// A stored timestamp for a guard in SQL text: only the characters our timestamps have.
fn stamp(t: Option<&str>) -> Result<&str, AppError> {
    t.filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b"-:.TZ".contains(&b)))
        .ok_or_else(|| AppError::Internal("cycle without a generation time".into()))
}

/// Second officer's check: not the maker, and only a draft that is not being generated.
pub async fn check(store: &store::Store, ctx: &Ctx, id: i64) -> Result<CycleRow, AppError> {
    let p = ctx.require(perm::CHECK)?;
    province_only(p)?;
    let c = cycle_or_404(store, id).await?;
    if c.status != "draft" || c.generated_at.is_none() {
        return Err(denied(
            format!("Chỉ kiểm tra được kỳ dự thảo đã tính xong (kỳ {id} đang {})", status_vi(&c.status)),
            format!("only a generated draft can be checked (cycle {id} is {})", c.status),
        ));
    }
    if c.generated_by.as_deref() == Some(p.username.as_str()) {
        return Err(denied(
            "Người lập kỳ chi trả không được tự kiểm tra; cần cán bộ thứ hai",
            "the officer who prepared the cycle cannot check it; a second officer must",
        ));
    }
    let a = ctx.audit("payments.check", "payment_cycle", Some(id.to_string()));
    // the maker rule and the generation looked at, again in the UPDATE itself
    let guard = format!("AND generated_by <> $2 AND generated_at = '{}'", stamp(c.generated_at.as_deref())?);
    if !store.advance_cycle(id, (&["draft"], "checked"), &p.username, &guard, None, &a).await? {
        return Err(denied("Kỳ chi trả vừa thay đổi; tải lại trang", "the cycle changed meanwhile; reload"));
    }
    cycle_or_404(store, id).await
}

/// The head of department's approval: a checked cycle, by someone who neither prepared
/// nor checked it, whose basis is still current (no other cycle approved since it was
/// generated). Fixes the digest of the lines in the cycle and in the audit trail.
pub async fn approve(store: &store::Store, ctx: &Ctx, id: i64) -> Result<CycleRow, AppError> {
    let p = ctx.require(perm::APPROVE)?;
    province_only(p)?;
    let c = cycle_or_404(store, id).await?;
    if c.status != "checked" {
        return Err(denied(
            format!("Chỉ phê duyệt được kỳ đã kiểm tra (kỳ {id} đang {})", status_vi(&c.status)),
            format!("only a checked cycle can be approved (cycle {id} is {})", c.status),
        ));
    }
    if [c.generated_by.as_deref(), c.checked_by.as_deref()].contains(&Some(p.username.as_str())) {
        return Err(denied(
            "Người lập hoặc người kiểm tra không được phê duyệt kỳ chi trả",
            "the officer who prepared or checked the cycle cannot approve it",
        ));
    }
    if let Some(other) = store
        .cycles(Page::new(Some(1), Some(Page::MAX_PER_PAGE)))
        .await?
        .items
        .iter()
        .find(|o| o.id != id && o.approved_at.as_deref().zip(c.generated_at.as_deref()).is_some_and(|(a, g)| a > g))
    {
        return Err(denied(
            format!("Kỳ {} đã được phê duyệt sau khi kỳ này được tính: tính lại kỳ {id} để tránh chi trùng", other.id),
            format!(
                "cycle {} was approved after this one was generated: regenerate cycle {id} to avoid paying twice",
                other.id
            ),
        ));
    }
    let digest = store.cycle_digest(id).await?;
    let mut a = ctx.audit("payments.approve", "payment_cycle", Some(id.to_string()));
    a.detail = Some(format!("digest {digest}; {} lines to pay, total {} đ", c.payable_lines, c.total));
    let guard = format!(
        "AND generated_by <> $2 AND checked_by <> $2 AND generated_at = '{}' \
         AND NOT EXISTS (SELECT 1 FROM payment_cycles o WHERE o.id <> payment_cycles.id \
         AND o.approved_at > payment_cycles.generated_at)",
        stamp(c.generated_at.as_deref())?
    );
    if !store.advance_cycle(id, (&["checked"], "approved"), &p.username, &guard, Some(&digest), &a).await? {
        return Err(denied("Kỳ chi trả vừa thay đổi; tải lại trang", "the cycle changed meanwhile; reload"));
    }
    cycle_or_404(store, id).await
}

/// Marks the files as handed over (approved → exported). Lists and files can be
/// downloaded again afterwards.
pub async fn export(store: &store::Store, ctx: &Ctx, id: i64) -> Result<CycleRow, AppError> {
    let p = ctx.require(perm::PREPARE)?;
    province_only(p)?;
    let c = cycle_or_404(store, id).await?;
    if c.status != "approved" {
        return Err(denied(
            format!("Chỉ xuất file kỳ đã phê duyệt (kỳ {id} đang {})", status_vi(&c.status)),
            format!("only an approved cycle can be exported (cycle {id} is {})", c.status),
        ));
    }
    verify_digest(store, &c).await?;
    let a = ctx.audit("payments.export", "payment_cycle", Some(id.to_string()));
    if !store.advance_cycle(id, (&["approved"], "exported"), &p.username, "", None, &a).await? {
        return Err(denied("Kỳ chi trả vừa thay đổi; tải lại trang", "the cycle changed meanwhile; reload"));
    }
    cycle_or_404(store, id).await
}

/// Closes a reconciled cycle.
pub async fn close(store: &store::Store, ctx: &Ctx, id: i64) -> Result<CycleRow, AppError> {
    let p = ctx.require(perm::PREPARE)?;
    province_only(p)?;
    let c = cycle_or_404(store, id).await?;
    // a cycle with no line to pay has no results to wait for
    let nothing_to_pay = c.status == "exported" && c.payable_lines == 0;
    if c.status != "reconciled" && !nothing_to_pay {
        return Err(denied(
            format!("Chỉ khóa sổ kỳ đã đối soát xong (kỳ {id} đang {})", status_vi(&c.status)),
            format!("only a reconciled cycle can be closed (cycle {id} is {})", c.status),
        ));
    }
    let a = ctx.audit("payments.close", "payment_cycle", Some(id.to_string()));
    let (from, guard): (&[&str], &str) =
        if nothing_to_pay { (&["exported"], "AND payable_lines = 0") } else { (&["reconciled"], "") };
    if !store.advance_cycle(id, (from, "closed"), &p.username, guard, None, &a).await? {
        return Err(denied("Kỳ chi trả vừa thay đổi; tải lại trang", "the cycle changed meanwhile; reload"));
    }
    cycle_or_404(store, id).await
}

/// Refuses to hand out files of an approved cycle whose lines no longer match the digest
/// fixed at approval (a quiet edit of the database).
async fn verify_digest(store: &store::Store, c: &CycleRow) -> Result<(), AppError> {
    let Some(fixed) = c.digest.as_deref() else { return Ok(()) };
    let now = store.cycle_digest(c.id).await?;
    if now != fixed {
        tracing::error!(cycle = c.id, fixed, now, "payment cycle digest mismatch");
        return Err(AppError::Refused(format!(
            "payment cycle {} does not match the digest fixed at approval: its lines were altered outside ansinh; \
             see `ansinh payments verify {}` and the audit trail",
            c.id, c.id
        )));
    }
    Ok(())
}

/// The policy packs a cycle was computed with, from the text stored with it (None: the cycle
/// was never generated).
async fn frozen_packs(store: &store::Store, c: &CycleRow) -> Result<Option<Packs>, AppError> {
    let Some(json) = store.policy_snapshot(c.pack_version.as_deref().unwrap_or_default()).await? else {
        return Ok(None);
    };
    let files: BTreeMap<String, String> =
        serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("policy snapshot: {e}")))?;
    Packs::load(&|f| files.get(f).cloned())
        .map(Some)
        .map_err(|e| AppError::Refused(format!("the cycle's policy pack no longer loads: {e}")))
}

/// `payments verify`: the digest, the line totals, and every line's due amounts
/// recomputed from its frozen facts with the pack text the cycle was computed with.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    pub cycle_id: i64,
    pub digest_ok: Option<bool>,
    pub totals_ok: bool,
    pub lines: usize,
    /// Lines whose regular/one-off items differ from a recomputation from their facts.
    pub mismatches: Vec<String>,
}

pub async fn verify(store: &store::Store, ctx: &Ctx, id: i64) -> Result<VerifyReport, AppError> {
    ctx.authorize(perm::READ)?;
    let c = cycle_or_404(store, id).await?;
    let mut r = VerifyReport { cycle_id: id, ..VerifyReport::default() };
    if let Some(fixed) = &c.digest {
        r.digest_ok = Some(store.cycle_digest(id).await? == *fixed);
    }
    let lines = store.cycle_lines_all(id, None, None, None).await?;
    let items = store.cycle_items(id, None).await?;
    let payable: i64 = lines.iter().filter(|l| l.status == "pay").map(|l| l.amount).sum();
    let mut by_line: BTreeMap<i64, Vec<&store::payments::ItemRow>> = BTreeMap::new();
    for i in &items {
        by_line.entry(i.line_id).or_default().push(i);
    }
    r.totals_ok = payable == c.total
        && lines.iter().all(|l| by_line.get(&l.id).map_or(0, |v| v.iter().map(|i| i.amount).sum::<i64>()) == l.amount);
    r.lines = lines.len();
    // recompute regular and one-off items from the frozen facts with the frozen packs
    let Some(packs) = frozen_packs(store, &c).await? else { return Ok(r) };
    let engine = Engine::new(&packs).map_err(|e| AppError::Refused(format!("policy pack error: {e}")))?;
    let month: Month = c.month.parse().map_err(|_| AppError::Internal("cycle month".into()))?;
    let by_id: BTreeMap<i64, &LineRow> = lines.iter().map(|l| (l.id, l)).collect();
    let mut after = 0;
    'pages: loop {
        let page = store.cycle_facts(id, after, 20_000).await?;
        let Some(last) = page.last() else { break };
        after = last.0;
        for (line_id, json) in &page {
            let (Some(l), Some(its)) = (by_id.get(line_id), by_line.get(line_id)) else { continue };
            let fresh: Vec<_> = its.iter().filter(|i| matches!(i.kind.as_str(), "regular" | "one_off")).collect();
            if fresh.is_empty() {
                continue;
            }
            let facts: PersonFacts = match serde_json::from_str(json) {
                Ok(f) => f,
                Err(e) => {
                    r.mismatches.push(format!("line {line_id}: facts unreadable: {e}"));
                    continue;
                }
            };
            let first = fresh.iter().filter_map(|i| i.for_month.parse::<Month>().ok()).min().unwrap_or(month);
            let due = match rules::engine::compute(&engine, &facts, first, month) {
                Ok(d) => d,
                Err(e) => {
                    r.mismatches.push(format!("line {line_id}: {e}"));
                    continue;
                }
            };
            for i in fresh {
                let want: i64 = due
                    .iter()
                    .filter(|d| iso(d.month) == i.for_month && d.item == i.item)
                    .map(|d| d.amount.dong())
                    .sum();
                if want != i.amount {
                    r.mismatches.push(format!(
                        "line {line_id} ({}), {} {}: stored {} đ, recomputed {} đ",
                        l.personal_id, i.item, i.for_month, i.amount, want
                    ));
                }
            }
            if r.mismatches.len() >= 100 {
                break 'pages;
            }
        }
    }
    Ok(r)
}

/// One line explained: its items, and for every month they are for, the rules engine's
/// explanation from the facts frozen on the line with the pack text frozen on the cycle.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LineExplanation {
    #[schema(value_type = Object)]
    pub line: LineRow,
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<store::payments::ItemRow>,
    /// (yyyy-mm, explanation lines in Vietnamese, total due that month in đồng)
    pub months: Vec<(String, Vec<String>, i64)>,
    /// The pack version the line was computed with.
    pub pack_version: Option<String>,
}

/// Explains a line. The explanation shows the facts behind an amount (groups, rates,
/// disability levels): only for roles that may see sensitive data, and each read is audited.
pub async fn explain_line(store: &store::Store, ctx: &Ctx, id: i64, line_id: i64) -> Result<LineExplanation, AppError> {
    let p = ctx.require(perm::READ)?;
    let cycle = cycle_or_404(store, id).await?;
    let line = store
        .cycle_line(line_id)
        .await?
        .filter(|l| l.cycle_id == id)
        .ok_or_else(|| AppError::NotFound(format!("line {line_id} of payment cycle {id}")))?;
    p.require_commune(&line.commune_code)?;
    p.require(super::authz::perm::REGISTRY_SENSITIVE)?;
    let mut a = ctx.audit("payments.explain", "payment_line", Some(line_id.to_string()));
    a.detail = Some(format!("cycle {id}, {}", line.personal_id));
    store.audit_append(&a).await?;
    let items = store.line_items(&[line_id]).await?;
    let json = store
        .cycle_facts(id, line_id - 1, 1)
        .await?
        .into_iter()
        .find(|(l, _)| *l == line_id)
        .map(|(_, f)| f)
        .unwrap_or_default();
    let facts: PersonFacts =
        serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("line {line_id} facts: {e}")))?;
    let packs = frozen_packs(store, &cycle)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("the policy pack text of payment cycle {id}")))?;
    let engine = Engine::new(&packs).map_err(|e| AppError::Refused(format!("policy pack error: {e}")))?;
    let mut months: Vec<String> = items.iter().map(|i| i.for_month.clone()).collect();
    if months.is_empty() {
        months.push(cycle.month.clone());
    }
    months.sort();
    months.dedup();
    let months = months
        .into_iter()
        .filter_map(|m| {
            let month: Month = m.parse().ok()?;
            Some(match explain(&engine, &facts, month) {
                Ok((trace, total)) => (m, trace, total.dong()),
                Err(e) => (m, vec![e.to_string()], 0),
            })
        })
        .collect();
    Ok(LineExplanation { line, items, months, pack_version: cycle.pack_version })
}

/// A cycle with its sums, restricted to the caller's area.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CycleDetail {
    #[schema(value_type = Object)]
    pub cycle: CycleRow,
    #[schema(value_type = Object)]
    pub summary: Summary,
    /// (funding source, amount)
    pub by_source: Vec<(String, i64)>,
    #[schema(value_type = Vec<Object>)]
    pub uncollected: Vec<Uncollected>,
    /// The caller sees only some communes.
    pub partial: bool,
    /// Lines to pay and their amount within the caller's area (the whole cycle's when not
    /// partial).
    pub area_lines: i64,
    pub area_total: i64,
}

pub async fn detail(store: &store::Store, ctx: &Ctx, id: i64) -> Result<CycleDetail, AppError> {
    let p = ctx.require(perm::READ)?;
    let communes = super::registry::area(p)?;
    let cycle = cycle_or_404(store, id).await?;
    let summary = store.cycle_summary(id, communes.as_deref()).await?;
    let mut by_source: BTreeMap<&str, i64> = BTreeMap::new();
    for (item, _, amount) in &summary.by_item {
        *by_source.entry(funding_source(item)).or_default() += amount;
    }
    let uncollected = store.uncollected(&cycle.month, UNCOLLECTED_CYCLES, communes.as_deref()).await?;
    let (area_lines, area_total) = summary.by_commune.iter().fold((0, 0), |(n, a), (_, ln, am)| (n + ln, a + am));
    Ok(CycleDetail {
        area_lines,
        area_total,
        cycle,
        summary,
        by_source: by_source.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        uncollected,
        partial: communes.is_some(),
    })
}

/// A line with its items, for lists and the API.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LineView {
    #[schema(value_type = Object)]
    pub line: LineRow,
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<store::payments::ItemRow>,
}

/// A page of lines within the caller's area. Bank details are masked unless the caller
/// may see sensitive data (then the read is audited).
pub async fn lines(
    store: &store::Store,
    ctx: &Ctx,
    id: i64,
    mut q: LineQuery,
    page: Page,
) -> Result<Paged<LineView>, AppError> {
    let p = ctx.require(perm::READ)?;
    q.communes = super::registry::area(p)?;
    cycle_or_404(store, id).await?;
    let lines = store.cycle_lines(id, &q, page).await?;
    let ids: Vec<i64> = lines.items.iter().map(|l| l.id).collect();
    let items = store.line_items(&ids).await?;
    let sensitive = p.can(super::authz::perm::REGISTRY_SENSITIVE);
    if sensitive && lines.items.iter().any(|l| l.account_no.is_some()) {
        let mut a = ctx.audit("payments.read_bank_details", "payment_cycle", Some(id.to_string()));
        a.detail = Some(format!("{} lines (page {})", lines.items.len(), page.page));
        store.audit_append(&a).await?;
    }
    let mut by_line: BTreeMap<i64, Vec<store::payments::ItemRow>> = BTreeMap::new();
    for i in items {
        by_line.entry(i.line_id).or_default().push(i);
    }
    Ok(Paged {
        items: lines
            .items
            .into_iter()
            .map(|mut l| {
                let mut items = by_line.remove(&l.id).unwrap_or_default();
                if !sensitive {
                    l.account_no = l.account_no.map(|a| mask(&a));
                    if l.reason.as_deref().is_some_and(|r| r.starts_with(CANNOT_COMPUTE)) {
                        l.reason = Some(format!("{CANNOT_COMPUTE} (chi tiết: người có quyền xem dữ liệu nhạy cảm)"));
                    }
                    for i in &mut items {
                        i.item = public_item(&i.item).to_string();
                    }
                }
                LineView { line: l, items }
            })
            .collect(),
        total: lines.total,
        page: lines.page,
        per_page: lines.per_page,
    })
}

pub(crate) fn mask(account: &str) -> String {
    let n = account.chars().count();
    let tail: String = account.chars().skip(n.saturating_sub(3)).collect();
    format!("•••{tail}")
}

fn require_issued(c: &CycleRow) -> Result<(), AppError> {
    if matches!(c.status.as_str(), "approved" | "exported" | "reconciled" | "closed") {
        Ok(())
    } else {
        Err(denied(
            format!("Kỳ {} chưa được phê duyệt: chưa in danh sách, chưa xuất file", c.id),
            format!("cycle {} is not approved yet: no lists or files", c.id),
        ))
    }
}

/// One row of a pay-point list (danh sách chi trả).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PayRow {
    pub no: usize,
    pub line_id: i64,
    pub full_name: String,
    pub personal_id: String,
    pub payee: Option<String>,
    pub what: String,
    pub amount: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PayList {
    pub cycle: CycleRow,
    pub commune_code: String,
    pub commune_name: String,
    pub rows: Vec<PayRow>,
    pub total: i64,
}

/// The cash pay-point list of one commune: lines to pay in cash, with what each amount is.
pub async fn pay_list(
    store: &store::Store,
    g: &domain::Gazetteer,
    packs: &Packs,
    ctx: &Ctx,
    id: i64,
    commune: &str,
) -> Result<PayList, AppError> {
    let p = ctx.require(perm::READ)?;
    p.require_commune(commune)?;
    let cycle = cycle_or_404(store, id).await?;
    require_issued(&cycle)?;
    // (the digest is checked when the cycle is exported and with the bank file; a list is
    // one commune's lines, which the database refuses to change past draft)
    let lines = store.cycle_lines_all(id, Some(commune), Some("cash"), Some("pay")).await?;
    let items = store.cycle_items(id, Some(commune)).await?;
    let mut by_line: BTreeMap<i64, Vec<&store::payments::ItemRow>> = BTreeMap::new();
    for i in &items {
        by_line.entry(i.line_id).or_default().push(i);
    }
    let rows: Vec<PayRow> = lines
        .iter()
        .enumerate()
        .map(|(n, l)| PayRow {
            no: n + 1,
            line_id: l.id,
            full_name: l.full_name.clone(),
            personal_id: l.personal_id.clone(),
            payee: l
                .payee_name
                .as_ref()
                .map(|name| format!("{name} ({})", l.payee_personal_id.clone().unwrap_or_default())),
            what: by_line.get(&l.id).map_or_else(String::new, |its| describe_items(packs, its)),
            amount: l.amount,
        })
        .collect();
    let total = rows.iter().map(|r| r.amount).sum();
    let mut a = ctx.audit("payments.pay_list", "payment_cycle", Some(id.to_string()));
    a.detail = Some(format!("commune {commune}: {} lines, {total} đ", rows.len()));
    store.audit_append(&a).await?;
    Ok(PayList {
        commune_name: g.commune(commune).map_or_else(|| commune.to_string(), |c| c.name.clone()),
        commune_code: commune.to_string(),
        cycle,
        rows,
        total,
    })
}

/// "Trợ cấp … 2.789.000 ₫ (tháng 12/2026); truy lĩnh …" — short, for a printed list.
pub fn describe_items(packs: &Packs, items: &[&store::payments::ItemRow]) -> String {
    items
        .iter()
        .map(|i| {
            let month = i.for_month.parse::<Month>().map(|m| m.to_string()).unwrap_or_else(|_| i.for_month.clone());
            let kind = if i.kind == "regular" { String::new() } else { format!("{}, ", item_kind_vi(&i.kind)) };
            let item = public_item(&i.item);
            let name = if item == "tgxh" {
                "Trợ cấp xã hội hằng tháng".to_string()
            } else {
                super::entitlements::item_name(packs, item)
            };
            format!("{name} ({kind}tháng {month}): {}", Money::from_dong(i.amount))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The pay-point list as XLSX, with a signature column and the total.
pub fn pay_list_xlsx(list: &PayList) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Danh sach chi tra").map_err(x)?;
    let bold = Format::new().set_bold();
    let head = Format::new().set_bold().set_border(FormatBorder::Thin).set_text_wrap();
    let cell = Format::new().set_border(FormatBorder::Thin).set_text_wrap();
    let money = Format::new().set_border(FormatBorder::Thin).set_num_format("#,##0");
    ws.write_string_with_format(0, 0, format!("DANH SÁCH CHI TRẢ — {}", list.cycle.title), &bold).map_err(x)?;
    ws.write_string(1, 0, format!("{} (mã {}) — kỳ số {}", list.commune_name, list.commune_code, list.cycle.id))
        .map_err(x)?;
    let cols = [
        "STT",
        "Mã tham chiếu",
        "Họ và tên",
        "Số định danh",
        "Người nhận thay",
        "Nội dung",
        "Số tiền (đồng)",
        "Ký nhận",
    ];
    for (i, c) in cols.iter().enumerate() {
        ws.write_string_with_format(3, i as u16, *c, &head).map_err(x)?;
    }
    let mut r = 4u32;
    for row in &list.rows {
        ws.write_number_with_format(r, 0, row.no as f64, &cell).map_err(x)?;
        ws.write_string_with_format(r, 1, reference(list.cycle.id, row.line_id), &cell).map_err(x)?;
        ws.write_string_with_format(r, 2, &row.full_name, &cell).map_err(x)?;
        ws.write_string_with_format(r, 3, &row.personal_id, &cell).map_err(x)?;
        ws.write_string_with_format(r, 4, row.payee.as_deref().unwrap_or(""), &cell).map_err(x)?;
        ws.write_string_with_format(r, 5, &row.what, &cell).map_err(x)?;
        // whole đồng: exact in an f64 far beyond any payroll
        ws.write_number_with_format(r, 6, row.amount as f64, &money).map_err(x)?;
        ws.write_string_with_format(r, 7, "", &cell).map_err(x)?;
        r += 1;
    }
    ws.write_string_with_format(r, 5, "Tổng cộng", &head).map_err(x)?;
    ws.write_number_with_format(r, 6, list.total as f64, &money).map_err(x)?;
    for (c, w) in [(1, 16), (2, 28), (3, 15), (4, 24), (5, 60), (6, 16), (7, 18)] {
        ws.set_column_width(c, w).map_err(x)?;
    }
    ws.write_string(r + 2, 2, "Người lập biểu").map_err(x)?;
    ws.write_string(r + 2, 5, "Cán bộ chi trả").map_err(x)?;
    wb.save_to_buffer().map_err(x)
}

/// The reference of a line in bank files and results files.
pub fn reference(cycle: i64, line: i64) -> String {
    format!("ANSINH-{cycle}-{line}")
}

/// The bank transfer file: lines to pay by bank transfer. Bank details are sensitive: the
/// caller must be allowed to see them, and the download is audited.
pub async fn bank_file(store: &store::Store, ctx: &Ctx, id: i64) -> Result<(Vec<u8>, usize, i64), AppError> {
    let p = ctx.require(perm::PREPARE)?;
    province_only(p)?;
    p.require(super::authz::perm::REGISTRY_SENSITIVE)?;
    let cycle = cycle_or_404(store, id).await?;
    require_issued(&cycle)?;
    verify_digest(store, &cycle).await?;
    let lines = store.cycle_lines_all(id, None, Some("bank"), Some("pay")).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    w.write_record(["account_no", "bank", "amount", "reference", "account_holder", "personal_id", "commune_code"])
        .map_err(e)?;
    let mut total = 0i64;
    for l in &lines {
        total += l.amount;
        w.write_record([
            l.account_no.as_deref().unwrap_or(""),
            l.bank_name.as_deref().unwrap_or(""),
            &l.amount.to_string(),
            &reference(id, l.id),
            &l.full_name,
            &l.personal_id,
            &l.commune_code,
        ])
        .map_err(e)?;
    }
    let bytes = w.into_inner().map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    let mut a = ctx.audit("payments.bank_file", "payment_cycle", Some(id.to_string()));
    a.detail = Some(format!("{} transfers, {total} đ", lines.len()));
    store.audit_append(&a).await?;
    Ok((bytes, lines.len(), total))
}

/// A results file to fill in: every line to pay with its reference and amount, the
/// result column empty (what the post office or bank sends back, filled).
pub async fn results_template(store: &store::Store, ctx: &Ctx, id: i64) -> Result<Vec<u8>, AppError> {
    let p = ctx.require(perm::PREPARE)?;
    province_only(p)?;
    let cycle = cycle_or_404(store, id).await?;
    require_issued(&cycle)?;
    let lines = store.cycle_lines_all(id, None, None, Some("pay")).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    w.write_record(["reference", "result", "amount", "note", "method", "commune_code", "personal_id", "full_name"])
        .map_err(e)?;
    for l in &lines {
        w.write_record([
            &reference(id, l.id),
            "",
            &l.amount.to_string(),
            "",
            &l.method,
            &l.commune_code,
            &l.personal_id,
            &l.full_name,
        ])
        .map_err(e)?;
    }
    w.into_inner().map_err(|e| AppError::Internal(format!("csv: {e}")))
}

/// What a results file did (or why nothing was applied).
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct ReconcileReport {
    pub cycle_id: i64,
    pub rows: usize,
    pub paid: usize,
    pub failed: usize,
    pub returned: usize,
    pub applied: bool,
    pub reconciled: bool,
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<RowError>,
}

fn result_code(s: &str) -> Option<&'static str> {
    let k = domain::text::search_key(s);
    match k.replace(' ', "_").as_str() {
        "paid" | "da_chi" | "da_nhan" | "thanh_cong" | "ok" => Some("paid"),
        "failed" | "that_bai" | "khong_thanh_cong" | "loi" => Some("failed"),
        "returned" | "tra_lai" | "hoan_tra" | "khong_nhan" => Some("returned"),
        _ => None,
    }
}

/// Reads the post office's or bank's results file (CSV, UTF-8: `reference,result,amount`
/// and an optional `note`) and records every line's result — all or nothing. Unknown,
/// duplicate or foreign references, amounts that differ from the line, unknown results and
/// a wrong encoding are reported by row and column.
pub async fn reconcile(store: &store::Store, ctx: &Ctx, id: i64, bytes: &[u8]) -> Result<ReconcileReport, AppError> {
    let p = ctx.require(perm::PREPARE)?;
    province_only(p)?;
    let cycle = cycle_or_404(store, id).await?;
    let mut r = ReconcileReport { cycle_id: id, ..ReconcileReport::default() };
    let err = |row: usize, column: &str, value: &str, reason: String| RowError {
        row,
        column: column.to_string(),
        value: value.chars().take(80).collect(),
        reason,
    };
    if cycle.status != "exported" {
        return Err(denied(
            format!("Chỉ đối soát kỳ đã xuất file (kỳ {id} đang {})", status_vi(&cycle.status)),
            format!("results are recorded for exported cycles (cycle {id} is {})", cycle.status),
        ));
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) || bytes.contains(&0) {
        r.errors.push(err(
            0,
            "",
            "",
            "tệp là UTF-16 hoặc tệp nhị phân, không phải CSV UTF-8: lưu lại dạng CSV UTF-8 / \
             the file is UTF-16 or binary, not CSV in UTF-8; save it as CSV UTF-8"
                .into(),
        ));
        return Ok(r);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim_start_matches('\u{feff}'),
        Err(e) => {
            r.errors.push(err(
                0,
                "",
                "",
                format!(
                    "tệp không phải UTF-8 (byte {}): lưu lại dạng CSV UTF-8 / the file is not UTF-8; save it as CSV UTF-8",
                    e.valid_up_to()
                ),
            ));
            return Ok(r);
        }
    };
    let lines = store.cycle_lines_all(id, None, None, None).await?;
    let by_id: BTreeMap<i64, &LineRow> = lines.iter().map(|l| (l.id, l)).collect();
    let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(domain::text::search_key).map(|h| h.replace(' ', "_")).collect(),
        Err(e) => {
            r.errors.push(err(1, "", "", format!("không đọc được dòng tiêu đề / cannot read the header: {e}")));
            return Ok(r);
        }
    };
    let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let (Some(c_ref), Some(c_res), Some(c_amt)) =
        (col(&["reference", "ma_tham_chieu", "tham_chieu"]), col(&["result", "ket_qua"]), col(&["amount", "so_tien"]))
    else {
        r.errors.push(err(
            1,
            "",
            &header.join(","),
            "cần các cột reference, result, amount (hoặc ma_tham_chieu, ket_qua, so_tien) / \
             the columns reference, result and amount are required"
                .into(),
        ));
        return Ok(r);
    };
    let c_note = col(&["note", "ghi_chu"]);
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut results = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let row = rec.as_ref().ok().and_then(|x| x.position()).map_or(i + 2, |p| p.line() as usize);
        r.rows += 1;
        if r.errors.len() >= MAX_RESULT_ERRORS {
            continue;
        }
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                r.errors.push(err(row, "", "", format!("dòng hỏng / malformed row: {e}")));
                continue;
            }
        };
        let get = |c: usize| rec.get(c).unwrap_or("");
        let reference_text = get(c_ref);
        let parsed = reference_text
            .strip_prefix("ANSINH-")
            .and_then(|s| s.split_once('-'))
            .and_then(|(c, l)| Some((c.parse::<i64>().ok()?, l.parse::<i64>().ok()?)));
        let Some((cyc, line_id)) = parsed else {
            r.errors.push(err(
                row,
                "reference",
                reference_text,
                "mã tham chiếu không đúng dạng ANSINH-<kỳ>-<dòng> / not a reference of the form ANSINH-<cycle>-<line>"
                    .into(),
            ));
            continue;
        };
        if cyc != id {
            r.errors.push(err(
                row,
                "reference",
                reference_text,
                format!("dòng của kỳ {cyc}, không phải kỳ {id} / a line of cycle {cyc}, not of cycle {id}"),
            ));
            continue;
        }
        let Some(line) = by_id.get(&line_id) else {
            r.errors.push(err(
                row,
                "reference",
                reference_text,
                format!("kỳ {id} không có dòng này / cycle {id} has no such line"),
            ));
            continue;
        };
        if let Some(first) = seen.insert(line_id, row) {
            r.errors.push(err(
                row,
                "reference",
                reference_text,
                format!("trùng với dòng {first} của tệp / duplicate of row {first}"),
            ));
            continue;
        }
        if line.status != "pay" {
            r.errors.push(err(
                row,
                "reference",
                reference_text,
                format!("dòng này không chi ({}) / this line is not to be paid", line_status_vi(&line.status)),
            ));
            continue;
        }
        if line.result.is_some() {
            r.errors.push(err(
                row,
                "reference",
                reference_text,
                "dòng đã có kết quả / the line has a result already".into(),
            ));
            continue;
        }
        let res_text = get(c_res);
        let Some(result) = result_code(res_text) else {
            r.errors.push(err(
                row,
                "result",
                res_text,
                "kết quả phải là paid/failed/returned (đã chi/thất bại/trả lại) / result must be paid, failed or returned".into(),
            ));
            continue;
        };
        let amt_text = get(c_amt);
        match Money::parse_vnd(amt_text) {
            Ok(a) if a.dong() == line.amount => {}
            Ok(a) => {
                r.errors.push(err(
                    row,
                    "amount",
                    amt_text,
                    format!(
                        "số tiền {a} khác số tiền của dòng {} / amount differs from the line's",
                        Money::from_dong(line.amount)
                    ),
                ));
                continue;
            }
            Err(_) => {
                r.errors.push(err(row, "amount", amt_text, "không phải số tiền / not an amount".into()));
                continue;
            }
        }
        match result {
            "paid" => r.paid += 1,
            "failed" => r.failed += 1,
            _ => r.returned += 1,
        }
        let note = c_note.map(get).filter(|n| !n.is_empty()).map(|n| n.chars().take(500).collect());
        results.push(LineResult { line_id, result: result.to_string(), note });
    }
    if r.errors.len() >= MAX_RESULT_ERRORS {
        r.errors.push(err(
            0,
            "",
            "",
            format!("dừng liệt kê sau {MAX_RESULT_ERRORS} lỗi / listing stopped after {MAX_RESULT_ERRORS} problems"),
        ));
    }
    if r.rows == 0 {
        r.errors.push(err(0, "", "", "tệp không có dòng kết quả nào / the file has no result rows".into()));
    }
    if !r.errors.is_empty() {
        return Ok(r);
    }
    let mut a = ctx.audit("payments.reconcile", "payment_cycle", Some(id.to_string()));
    a.detail = Some(format!("{} rows: {} paid, {} failed, {} returned", r.rows, r.paid, r.failed, r.returned));
    r.reconciled = store.record_results(id, &results, &a).await.map_err(|e| match e {
        store::StoreError::Invalid(m) => AppError::Refused(m),
        e => e.into(),
    })?;
    r.applied = true;
    Ok(r)
}

/// Suspends a person's payments (their lines are held until released).
pub async fn hold(store: &store::Store, ctx: &Ctx, personal_id: &str, reason: &str) -> Result<i64, AppError> {
    let p = ctx.require(perm::HOLD)?;
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        return Err(AppError::Field {
            field: "reason",
            vi: "Cần ghi lý do tạm dừng (ít nhất 5 ký tự)".into(),
            en: "a reason (at least 5 characters) is required".into(),
        });
    }
    let person = store
        .person_by_personal_id(personal_id.trim())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("person {}", personal_id.trim())))?;
    p.require_commune(&person.commune_code)?;
    let a = ctx.audit("payments.hold", "person", Some(person.id.to_string()));
    Ok(store.hold_person(person.id, reason, &p.username, &a).await?)
}

pub async fn release(store: &store::Store, ctx: &Ctx, hold_id: i64) -> Result<(), AppError> {
    let p = ctx.require(perm::HOLD)?;
    let open =
        store.hold(hold_id).await?.filter(|h| h.released_at.is_none() && p.scope.allows_commune(&h.commune_code));
    if open.is_none() {
        return Err(AppError::NotFound(format!("open hold {hold_id} in the caller's area")));
    }
    let a = ctx.audit("payments.release", "payment_hold", Some(hold_id.to_string()));
    if !store.release_hold(hold_id, &p.username, &a).await? {
        return Err(AppError::NotFound(format!("open hold {hold_id}")));
    }
    Ok(())
}

pub async fn holds(store: &store::Store, ctx: &Ctx) -> Result<Vec<store::payments::HoldRow>, AppError> {
    let p = ctx.require(perm::READ)?;
    Ok(store.holds(None, super::registry::area(p)?.as_deref(), false).await?)
}

/// Summary rows for files and pages: (dimension, key, label, lines, amount).
pub fn summary_csv(d: &CycleDetail, g: &domain::Gazetteer, packs: &Packs) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    w.write_record(["dimension", "key", "label", "lines", "amount"]).map_err(e)?;
    for (c, n, a) in &d.summary.by_commune {
        let name = g.commune(c).map_or_else(String::new, |x| x.name.clone());
        w.write_record(["commune", c, &name, &n.to_string(), &a.to_string()]).map_err(e)?;
    }
    for (item, kind, a) in &d.summary.by_item {
        let label = format!("{} ({})", super::entitlements::item_name(packs, item), item_kind_vi(kind));
        w.write_record(["item", &format!("{item}/{kind}"), &label, "", &a.to_string()]).map_err(e)?;
    }
    for (s, a) in &d.by_source {
        w.write_record(["funding_source", s, funding_source_vi(s), "", &a.to_string()]).map_err(e)?;
    }
    for (m, n, a) in &d.summary.by_method {
        w.write_record([
            "method",
            m,
            if m == "bank" { "Chuyển khoản" } else { "Tiền mặt" },
            &n.to_string(),
            &a.to_string(),
        ])
        .map_err(e)?;
    }
    let total: i64 = d.summary.by_commune.iter().map(|x| x.2).sum();
    w.write_record([
        "total",
        "",
        "Tổng cộng",
        &d.summary.by_commune.iter().map(|x| x.1).sum::<i64>().to_string(),
        &total.to_string(),
    ])
    .map_err(e)?;
    w.into_inner().map_err(|e| AppError::Internal(format!("csv: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_read_in_both_languages() {
        assert_eq!(result_code("paid"), Some("paid"));
        assert_eq!(result_code("Đã chi"), Some("paid"));
        assert_eq!(result_code("THẤT BẠI"), Some("failed"));
        assert_eq!(result_code("trả lại"), Some("returned"));
        assert_eq!(result_code("maybe"), None);
    }

    #[test]
    fn hiv_groups_are_not_named_in_public() {
        assert_eq!(public_item("tgxh.k3"), "tgxh");
        assert_eq!(public_item("tgxh.k8"), "tgxh");
        assert_eq!(public_item("tgxh.k6"), "tgxh.k6");
        assert_eq!(public_item("6.1p"), "6.1p");
    }

    #[test]
    fn guard_timestamps_are_checked() {
        assert_eq!(stamp(Some("2026-11-29T18:13:42.384790Z")).ok(), Some("2026-11-29T18:13:42.384790Z"));
        assert!(stamp(Some("2026' OR 1=1 --")).is_err());
        assert!(stamp(None).is_err());
    }

    #[test]
    fn funding_sources() {
        assert_eq!(funding_source("tgxh.k1"), "ngan_sach_dia_phuong");
        assert_eq!(funding_source("htxh"), "ngan_sach_dia_phuong");
        assert_eq!(funding_source("6.1p"), "ngan_sach_trung_uong");
        assert_eq!(funding_source("IV.3a"), "ngan_sach_trung_uong");
    }

    #[test]
    fn account_numbers_are_masked() {
        assert_eq!(mask("0123456789"), "•••789");
        assert_eq!(mask("12"), "•••12");
    }

    #[test]
    fn runs_skip_missing_keys() {
        let v = [1i64, 1, 3, 5, 5, 5];
        let mut i = 0;
        assert_eq!(run_of(&v, &mut i, 1, |x| *x).len(), 2);
        assert_eq!(run_of(&v, &mut i, 2, |x| *x).len(), 0);
        assert_eq!(run_of(&v, &mut i, 4, |x| *x).len(), 0);
        assert_eq!(run_of(&v, &mut i, 5, |x| *x).len(), 3);
        assert_eq!(run_of(&v, &mut i, 9, |x| *x).len(), 0);
    }
}
