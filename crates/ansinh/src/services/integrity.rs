//! Integrity (chống trục lợi chính sách): the anti-fraud checks over the registry and the
//! payments, and the review queue of the cases they open.
//!
//! A run reads the registry and the payments once, runs every check, and records each
//! finding as a case keyed by what it is about; a rerun does not reopen a case with the
//! same key, whatever its status, so a false positive is never flagged again and a
//! confirmed one is not counted twice. Resolving a case is one transaction with its
//! consequences: confirmed → the record's payments are suspended (a hold the payment
//! cycles respect) and a recovery (truy thu) is opened; false positive → for a pair, the
//! two records are marked as different people.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use domain::{PartialDate, PersonalId, Sex};
use serde::Serialize;
use store::integrity::{CaseQuery, CaseRow, CaseStat, CheckPerson, NewCase, RecoveryRow, Resolution};
use store::{Page, Paged, Store};

use super::authz::{perm, Ctx};
use crate::error::AppError;

/// The checks, in the order the pages list them: (code, Vietnamese, English).
pub const CHECKS: [(&str, &str, &str); 9] = [
    ("paid_twice", "Một người hưởng ở hai hồ sơ/xã", "One person paid on two records"),
    ("duplicate", "Hồ sơ trùng lặp", "Duplicate records"),
    ("deceased_paid", "Đã chết vẫn được chi trả", "Paid after death"),
    ("implausible_age", "Tuổi bất thường, chưa xác nhận còn sống", "Implausibly old, no proof of life"),
    ("shared_account", "Một tài khoản nhận cho nhiều người", "One account for unrelated beneficiaries"),
    (
        "id_inconsistent",
        "Số định danh không khớp năm sinh/giới tính/tỉnh",
        "ID inconsistent with birth year, sex or province",
    ),
    ("incompatible_benefits", "Hưởng đồng thời chế độ không được hưởng cùng", "Incompatible benefits together"),
    ("age_lapsed", "Hết điều kiện theo tuổi", "Eligibility lapsed by age"),
    ("uncollected", "Nhiều tháng không nhận tiền", "Allowance uncollected for months"),
];

pub fn check_label(code: &str) -> (&'static str, &'static str) {
    CHECKS.iter().find(|c| c.0 == code).map_or(("?", "?"), |c| (c.1, c.2))
}

pub fn status_label(s: &str) -> (&'static str, &'static str) {
    match s {
        "open" => ("Chờ xử lý", "Open"),
        "confirmed" => ("Xác nhận vi phạm", "Confirmed"),
        "false_positive" => ("Không vi phạm", "False positive"),
        _ => ("?", "?"),
    }
}

/// A linkage comparison's name as officers read it: (Vietnamese, English).
pub fn comparison_label(name: &str) -> (&'static str, &'static str) {
    match name {
        "given_name" => ("Tên", "Given name"),
        "surname" => ("Họ", "Surname"),
        "middle_names" => ("Tên đệm", "Middle names"),
        "birth_date" => ("Ngày sinh", "Birth date"),
        "personal_id" => ("Số định danh", "Personal ID"),
        "commune" => ("Xã/phường", "Commune"),
        "sex" => ("Giới tính", "Sex"),
        _ => ("?", "?"),
    }
}

/// A comparison level in Vietnamese (the English text is the engine's own).
pub fn level_vi(level: &str) -> &'static str {
    match level {
        "no information" => "không có thông tin",
        "same" => "trùng",
        "same letters, other diacritics" => "cùng chữ, khác dấu",
        "similar (typo)" => "gần giống (lỗi gõ)",
        "different" => "khác",
        "one dropped or added" => "thiếu hoặc thừa một tên đệm",
        "same date" => "trùng ngày",
        "day and month swapped" => "đảo ngày và tháng",
        "same year, day or month unknown" => "cùng năm (một bên thiếu ngày/tháng)",
        "same year and month, another day" => "cùng tháng năm, khác ngày",
        "same day and month, year one apart" => "cùng ngày tháng, lệch một năm",
        "year one apart, day or month unknown" => "lệch một năm (thiếu ngày/tháng)",
        "same year, another day and month" => "cùng năm, khác ngày tháng",
        "one digit wrong, swapped, missing or extra" => "sai, đảo, thiếu hoặc thừa một chữ số",
        _ => "?",
    }
}

/// Keys of a case's evidence as officers read them: (Vietnamese, English).
pub fn evidence_label(key: &str) -> (&'static str, &'static str) {
    match key {
        "personal_id" => ("Số định danh", "Personal ID"),
        "birth_date" => ("Ngày sinh", "Birth date"),
        "sex" => ("Giới tính", "Sex"),
        "inconsistencies" => ("Điểm không khớp", "Inconsistencies"),
        "age" => ("Tuổi", "Age"),
        "latest_proof_of_life" => ("Xác nhận còn sống gần nhất", "Latest proof of life"),
        "paid_in_latest_cycle" => ("Được chi kỳ gần nhất", "Paid in the latest cycle"),
        "paid_month" => ("Kỳ chi gần nhất", "Latest cycle"),
        "deceased_on" => ("Ngày mất", "Died on"),
        "months" => ("Số tháng đã chi sau khi mất", "Months paid after death"),
        "first_month" => ("Từ tháng", "From month"),
        "last_month" => ("Đến tháng", "To month"),
        "amount" => ("Số tiền", "Amount"),
        "account" => ("Tài khoản", "Account"),
        "bank" => ("Ngân hàng", "Bank"),
        "persons" => ("Người nhận", "Beneficiaries"),
        "groups" => ("Nhóm trợ cấp", "Assistance groups"),
        "group" => ("Nhóm", "Group"),
        "limit" => ("Giới hạn tuổi", "Age limit"),
        "citation" => ("Căn cứ", "Legal basis"),
        "since" => ("Hưởng từ", "Since"),
        "cycles" => ("Số kỳ", "Cycles"),
        "until" => ("Đến kỳ", "Until"),
        "probability" => ("Xác suất trùng", "Match probability"),
        _ => ("", ""),
    }
}

/// Age from which a record without a recent proof of life is flagged.
const IMPLAUSIBLE_AGE: i32 = 100;
/// A proof of life counts for this many months.
const LIFE_PROOF_MONTHS: u32 = 12;
/// Monthly cycles in a row with failed or returned payments before a case is opened.
const UNCOLLECTED_CYCLES: i64 = 3;
/// Social-assistance groups that end at an age (Decree 20/2021 Art. 5): group, age, citation.
const AGE_LIMITS: [(&str, i32, &str); 4] = [
    ("k1", 16, "Nghị định 20/2021/NĐ-CP Điều 5 khoản 1 (trẻ em dưới 16 tuổi)"),
    ("k2", 22, "Nghị định 20/2021/NĐ-CP Điều 5 khoản 2 (từ 16 đến 22 tuổi)"),
    ("k3", 16, "Nghị định 20/2021/NĐ-CP Điều 5 khoản 3 (trẻ em dưới 16 tuổi)"),
    ("k7", 3, "Nghị định 20/2021/NĐ-CP Điều 5 khoản 7 (trẻ em dưới 3 tuổi)"),
];

/// What a run found.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    /// Findings per check (new or seen before).
    pub found: BTreeMap<String, usize>,
    pub new_cases: u64,
    pub persons: usize,
    pub candidate_pairs: usize,
    pub seconds: f64,
}

/// The registry as linkage records (record id = personal ID), for `ansinh dedup --registry`.
pub async fn registry_records(store: &Store) -> Result<super::dedup::Input, AppError> {
    let persons = store.check_persons().await?;
    Ok(input_of(&persons))
}

fn input_of(persons: &[CheckPerson]) -> super::dedup::Input {
    let mut input = super::dedup::Input::new(Vec::new());
    for (i, p) in persons.iter().enumerate() {
        input.push(
            i + 1,
            false,
            linkage::Record {
                id: p.personal_id.clone(),
                full_name: p.full_name.clone(),
                birth_date: p.birth_date.clone(),
                sex: p.sex.clone(),
                personal_id: p.personal_id.clone(),
                commune: p.commune_code.clone(),
            },
        );
    }
    input
}

/// Runs every check and records the cases. Needs `integrity.run` (or the CLI operator).
pub async fn run(store: &Store, ctx: &Ctx, today: NaiveDate) -> Result<RunReport, AppError> {
    ctx.authorize(perm::INTEGRITY_RUN)?;
    let started = std::time::Instant::now();
    let actor = ctx.actor();
    let run_id = store.start_integrity_run(&actor).await?;
    let persons = store.check_persons().await?;
    let index: HashMap<i64, usize> = persons.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    let (paid_month, paid_rows) = store.paid_in_latest_cycle().await?;
    let paid: HashMap<i64, String> = paid_rows.into_iter().collect();
    let distinct: HashSet<(i64, i64)> = store.distinct_pairs().await?.into_iter().collect();

    let mut cases: Vec<NewCase> = Vec::new();

    // 1. duplicates and one person paid on two records: the linkage engine on all cores
    let mut input = input_of(&persons);
    let outcome = super::cpu_bound(|| super::dedup::run(&mut input, &linkage::Config::default()));
    for pair in &outcome.pairs {
        let (a, b) = (&persons[pair.a as usize], &persons[pair.b as usize]);
        let (lo, hi) = if a.id < b.id { (a, b) } else { (b, a) };
        if distinct.contains(&(lo.id, hi.id)) {
            continue;
        }
        let both_paid = paid.contains_key(&lo.id) && paid.contains_key(&hi.id);
        let (prior, parts) = outcome.explain(pair);
        let evidence = serde_json::json!({
            "probability": pair.probability,
            "match_weight": pair.weight,
            "prior_weight": prior,
            "parts": parts,
            "decision": pair.decision,
            "paid_month": paid_month,
            "paid": [paid.get(&lo.id), paid.get(&hi.id)],
        });
        let pct = (pair.probability * 100.0).round();
        let (check, summary) = if both_paid {
            (
                "paid_twice",
                format!(
                    "{} và {} có vẻ là một người ({pct}%), cả hai được chi trả kỳ {} (xã {} và {})",
                    lo.full_name,
                    hi.full_name,
                    paid_month.as_deref().unwrap_or(""),
                    paid.get(&lo.id).map_or("", String::as_str),
                    paid.get(&hi.id).map_or("", String::as_str)
                ),
            )
        } else {
            ("duplicate", format!("{} và {} có vẻ là một người ({pct}%)", lo.full_name, hi.full_name))
        };
        cases.push(NewCase {
            check_code: check,
            case_key: format!("pair:{}:{}", lo.id, hi.id),
            person_id: lo.id,
            other_person_id: Some(hi.id),
            commune_code: lo.commune_code.clone(),
            score: Some(pair.probability),
            summary,
            evidence: evidence.to_string(),
        });
    }

    // 2. ID number vs recorded birth year, sex and birth-registration province
    let proofs: HashMap<i64, String> = store.latest_life_proofs().await?.into_iter().collect();
    let proof_since = today.checked_sub_months(chrono::Months::new(LIFE_PROOF_MONTHS)).unwrap_or(today);
    for p in &persons {
        let birth = PartialDate::parse(&p.birth_date).ok();
        if let Ok(id) = PersonalId::parse(&p.personal_id) {
            let sex = match p.sex.as_str() {
                "male" => Some(Sex::Male),
                "female" => Some(Sex::Female),
                _ => None,
            };
            let found = id.check_against(birth, sex);
            if !found.is_empty() {
                let reasons: Vec<String> = found.iter().map(|i| i.vi()).collect();
                cases.push(NewCase {
                    check_code: "id_inconsistent",
                    case_key: format!("id:{}:{}:{}:{}", p.id, p.personal_id, p.birth_date, p.sex),
                    person_id: p.id,
                    other_person_id: None,
                    commune_code: p.commune_code.clone(),
                    score: None,
                    summary: format!("{}: {}", p.full_name, reasons.join("; ")),
                    evidence: serde_json::json!({"personal_id": p.personal_id, "birth_date": p.birth_date,
                        "sex": p.sex, "inconsistencies": reasons})
                    .to_string(),
                });
            }
        }
        // 3. implausibly old without a recent proof of life
        if p.deceased_on.is_none() {
            if let Some(b) = birth {
                let age = age_on(b.latest(), today);
                let proved = proofs.get(&p.id).filter(|d| d.as_str() >= proof_since.to_string().as_str());
                if age >= IMPLAUSIBLE_AGE && proved.is_none() {
                    let paid_here = paid.contains_key(&p.id);
                    cases.push(NewCase {
                        check_code: "implausible_age",
                        case_key: format!("old:{}:{}", p.id, today.year()),
                        person_id: p.id,
                        other_person_id: None,
                        commune_code: p.commune_code.clone(),
                        score: None,
                        summary: format!(
                            "{}: {age} tuổi, chưa có xác nhận còn sống trong {LIFE_PROOF_MONTHS} tháng{}",
                            p.full_name,
                            if paid_here { ", vẫn được chi trả" } else { "" }
                        ),
                        evidence: serde_json::json!({"birth_date": p.birth_date, "age": age,
                            "latest_proof_of_life": proofs.get(&p.id), "paid_in_latest_cycle": paid_here,
                            "paid_month": paid_month})
                        .to_string(),
                    });
                }
            }
        }
    }

    // 4. deceased but still paid
    for d in store.paid_after_death().await? {
        let Some(&i) = index.get(&d.person_id) else { continue };
        let p = &persons[i];
        cases.push(NewCase {
            check_code: "deceased_paid",
            case_key: format!("deceased_paid:{}:{}", p.id, d.last_month),
            person_id: p.id,
            other_person_id: None,
            commune_code: p.commune_code.clone(),
            score: None,
            summary: format!(
                "{} mất ngày {} nhưng vẫn được chi trả {} tháng ({}–{}): {}",
                p.full_name,
                iso_to_vn(&d.deceased_on),
                d.months,
                d.first_month,
                d.last_month,
                domain::Money::from_dong(d.amount)
            ),
            evidence: serde_json::json!({"deceased_on": d.deceased_on, "months": d.months,
                "first_month": d.first_month, "last_month": d.last_month, "amount": d.amount})
            .to_string(),
        });
    }

    // 5. one bank account for unrelated beneficiaries
    let holders = store.shared_accounts().await?;
    let ids: Vec<i64> = holders.iter().map(|h| h.person_id).collect();
    let related: HashSet<(i64, i64)> =
        store.relationships_among(&ids).await?.into_iter().flat_map(|(a, b)| [(a, b), (b, a)]).collect();
    for group in holders.chunk_by(|a, b| a.account_no == b.account_no) {
        // unrelated: not in one household, no recorded relationship, with anyone else on it
        let unrelated: Vec<&store::integrity::AccountHolder> = group
            .iter()
            .filter(|h| {
                group.iter().any(|o| {
                    o.person_id != h.person_id
                        && !(h.household_id.is_some() && h.household_id == o.household_id)
                        && !related.contains(&(h.person_id, o.person_id))
                })
            })
            .collect();
        if unrelated.len() < 2 {
            continue;
        }
        let mut who: Vec<i64> = unrelated.iter().map(|h| h.person_id).collect();
        who.sort_unstable();
        let first = &persons[index[&who[0]]];
        let names: Vec<serde_json::Value> = who
            .iter()
            .filter_map(|id| index.get(id))
            .map(|&i| {
                let q = &persons[i];
                serde_json::json!({"person_id": q.id, "personal_id": q.personal_id, "full_name": q.full_name,
                    "commune_code": q.commune_code})
            })
            .collect();
        let account = &group[0].account_no;
        cases.push(NewCase {
            check_code: "shared_account",
            case_key: format!(
                "account:{}:{}",
                short_hash(account),
                who.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            ),
            person_id: who[0],
            other_person_id: who.get(1).copied(),
            commune_code: first.commune_code.clone(),
            score: None,
            summary: format!("Tài khoản {} nhận tiền cho {} người không có quan hệ", mask(account), who.len()),
            evidence: serde_json::json!({"account": mask(account), "bank": group[0].bank_name, "persons": names})
                .to_string(),
        });
    }

    // 6. incompatible benefits and 7. eligibility lapsed by age (assistance records in force)
    let groups = store.assistance_in_force(&today.to_string()).await?;
    for per_person in groups.chunk_by(|a, b| a.person_id == b.person_id) {
        let Some(&i) = index.get(&per_person[0].person_id) else { continue };
        let p = &persons[i];
        if per_person.len() > 1 {
            let codes: Vec<&str> = per_person.iter().map(|g| g.group_code.as_str()).collect();
            cases.push(NewCase {
                check_code: "incompatible_benefits",
                case_key: format!("groups:{}:{}", p.id, codes.join(",")),
                person_id: p.id,
                other_person_id: None,
                commune_code: p.commune_code.clone(),
                score: None,
                summary: format!(
                    "{}: đồng thời {} nhóm trợ cấp xã hội ({}); chỉ được hưởng một mức cao nhất (Nghị định 20/2021/NĐ-CP Điều 6 khoản 2)",
                    p.full_name,
                    codes.len(),
                    codes.join(", ")
                ),
                evidence: serde_json::json!({"groups": codes}).to_string(),
            });
        }
        let Ok(birth) = PartialDate::parse(&p.birth_date) else { continue };
        for g in per_person {
            if let Some((_, limit, citation)) = AGE_LIMITS.iter().find(|l| l.0 == g.group_code) {
                // the youngest the record allows: no flag unless surely past the limit
                let age = age_on(birth.latest(), today);
                if age >= *limit {
                    cases.push(NewCase {
                        check_code: "age_lapsed",
                        case_key: format!("age:{}:{}", p.id, g.group_code),
                        person_id: p.id,
                        other_person_id: None,
                        commune_code: p.commune_code.clone(),
                        score: None,
                        summary: format!(
                            "{}: {age} tuổi, vẫn hưởng nhóm {} (đến {limit} tuổi: {citation})",
                            p.full_name, g.group_code
                        ),
                        evidence: serde_json::json!({"group": g.group_code, "age": age, "limit": limit,
                            "citation": citation, "birth_date": p.birth_date, "since": g.valid_from})
                        .to_string(),
                    });
                }
            }
        }
    }

    // 8. allowances uncollected for months
    if let Some(month) = &paid_month {
        for u in store.uncollected(month, UNCOLLECTED_CYCLES, None).await? {
            cases.push(NewCase {
                check_code: "uncollected",
                case_key: format!("uncollected:{}:{}", u.person_id, month),
                person_id: u.person_id,
                other_person_id: None,
                commune_code: u.commune_code.clone(),
                score: None,
                summary: format!(
                    "{}: không nhận tiền {} kỳ liền (đến kỳ {month}), {}",
                    u.full_name,
                    u.cycles,
                    domain::Money::from_dong(u.amount)
                ),
                evidence: serde_json::json!({"cycles": u.cycles, "amount": u.amount, "until": month}).to_string(),
            });
        }
    }

    let mut found: BTreeMap<String, usize> = CHECKS.iter().map(|c| (c.0.to_string(), 0)).collect();
    for c in &cases {
        *found.entry(c.check_code.to_string()).or_default() += 1;
    }
    let summary = serde_json::json!({"found": found, "linkage": outcome.stats}).to_string();
    let mut a = ctx.audit("integrity.run", "integrity_run", Some(run_id.to_string()));
    a.detail = Some(serde_json::json!({"found": found}).to_string());
    let new_cases = store.record_integrity_run(run_id, &cases, &summary, &a).await?;
    Ok(RunReport {
        run_id,
        found,
        new_cases,
        persons: persons.len(),
        candidate_pairs: outcome.stats.candidate_pairs,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

fn iso_to_vn(iso: &str) -> String {
    PartialDate::parse(iso).map_or_else(|_| iso.to_string(), |d| d.to_string())
}

/// Account numbers are sensitive: cases show the last three digits, as payment lines do.
use super::payments::mask;

fn short_hash(s: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(s.as_bytes())[..8])
}

/// The review queue within the caller's area.
pub async fn cases(store: &Store, ctx: &Ctx, mut q: CaseQuery, page: Page) -> Result<Paged<CaseRow>, AppError> {
    let p = ctx.require(perm::INTEGRITY_READ)?;
    q.communes = super::registry::area(p)?;
    for (field, v, allowed) in [
        ("check", &q.check_code, CHECKS.iter().map(|c| c.0).collect::<Vec<_>>()),
        ("status", &q.status, vec!["open", "confirmed", "false_positive"]),
    ] {
        if let Some(v) = v {
            if !allowed.contains(&v.as_str()) {
                return Err(AppError::field(field, format!("Giá trị không hợp lệ: {v}"), format!("unknown value {v}")));
            }
        }
    }
    Ok(store.integrity_cases(&q, page).await?)
}

pub async fn stats(store: &Store, ctx: &Ctx) -> Result<Vec<CaseStat>, AppError> {
    let p = ctx.require(perm::INTEGRITY_READ)?;
    Ok(store.integrity_stats(super::registry::area(p)?.as_deref()).await?)
}

/// A person's side of the evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub person: store::registry::PersonRow,
    pub categories: String,
    /// Paid in the latest cycle (commune), when so.
    pub payments: Vec<store::payments::PersonPaymentRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    pub case: CaseRow,
    pub evidence: serde_json::Value,
    pub a: Side,
    pub b: Option<Side>,
    pub recoveries: Vec<RecoveryRow>,
    /// What a confirmation would open as a recovery by default (đồng).
    pub suggested_recovery: i64,
}

async fn side(store: &Store, person_id: i64) -> Result<Side, AppError> {
    let person = store.person(person_id).await?.ok_or_else(|| AppError::NotFound(format!("person {person_id}")))?;
    let payments = store.person_payments(person_id).await?.into_iter().take(6).collect();
    Ok(Side { categories: person.categories.clone(), person, payments })
}

/// A case with its evidence side by side. Reading a case is recorded in the audit trail:
/// its evidence shows who may have defrauded (and the registry records behind it).
pub async fn case(store: &Store, ctx: &Ctx, id: i64) -> Result<CaseDetail, AppError> {
    let p = ctx.require(perm::INTEGRITY_READ)?;
    let c = store
        .integrity_case(id)
        .await?
        .filter(|c| p.scope.allows_commune(&c.commune_code))
        .ok_or_else(|| AppError::NotFound(format!("case {id} in the caller's area")))?;
    let evidence = serde_json::from_str(&c.evidence).unwrap_or(serde_json::Value::Null);
    let a = side(store, c.person_id).await?;
    let b = match c.other_person_id {
        Some(o) => Some(side(store, o).await?),
        None => None,
    };
    let recoveries = store.case_recoveries(id).await?;
    let suggested_recovery = match c.check_code.as_str() {
        "deceased_paid" => evidence.get("amount").and_then(serde_json::Value::as_i64).unwrap_or(0),
        // the later record of a pair is taken as the duplicate by default
        "paid_twice" | "duplicate" => store.paid_total(c.other_person_id.unwrap_or(c.person_id)).await?,
        _ => 0,
    };
    store.audit_append(&ctx.audit("integrity.case_read", "integrity_case", Some(id.to_string()))).await?;
    Ok(CaseDetail { case: c, evidence, a, b, recoveries, suggested_recovery })
}

/// Officers a case can be assigned to: those who may resolve cases.
pub async fn assignees(store: &Store, ctx: &Ctx) -> Result<Vec<(String, String)>, AppError> {
    ctx.require(perm::INTEGRITY_READ)?;
    let mut out = Vec::new();
    for role in ["provincial_officer", "inspector"] {
        let f = store::UserFilter { role: Some(role.into()), ..Default::default() };
        for u in store.list_users(&f, Page::new(Some(1), Some(200))).await?.items {
            out.push((u.username, u.full_name));
        }
    }
    Ok(out)
}

pub async fn assign(store: &Store, ctx: &Ctx, id: i64, to: &str) -> Result<(), AppError> {
    let p = ctx.require(perm::INTEGRITY_RESOLVE)?;
    let c = store
        .integrity_case(id)
        .await?
        .filter(|c| p.scope.allows_commune(&c.commune_code))
        .ok_or_else(|| AppError::NotFound(format!("case {id} in the caller's area")))?;
    let to = to.trim();
    let user = store.user_by_username(to).await?.filter(|u| !u.disabled);
    if user.is_none() {
        return Err(AppError::field("assigned_to", format!("Không có cán bộ {to}"), format!("no active user {to}")));
    }
    let mut a = ctx.audit("integrity.assign", "integrity_case", Some(id.to_string()));
    a.before = c.assigned_to.clone();
    a.after = Some(to.to_string());
    if !store.assign_case(id, to, &p.username, &a).await? {
        return Err(AppError::Denied {
            vi: format!("Vụ việc {id} đã được xử lý"),
            en: format!("case {id} is already resolved"),
        });
    }
    Ok(())
}

/// How an officer resolves a case.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct ResolveInput {
    /// `confirmed` or `false_positive`.
    pub outcome: String,
    /// For a confirmed pair: the personal ID of the record whose payments are suspended
    /// (default: the later record of the pair).
    #[serde(default)]
    pub suspend_personal_id: Option<String>,
    /// Amount to recover in đồng (default: what the check computed; 0 = no recovery).
    #[serde(default)]
    pub recovery: Option<String>,
    pub note: String,
}

pub async fn resolve(store: &Store, ctx: &Ctx, id: i64, input: &ResolveInput) -> Result<(), AppError> {
    let p = ctx.require(perm::INTEGRITY_RESOLVE)?;
    let c = store
        .integrity_case(id)
        .await?
        .filter(|c| p.scope.allows_commune(&c.commune_code))
        .ok_or_else(|| AppError::NotFound(format!("case {id} in the caller's area")))?;
    let note = input.note.trim();
    if note.chars().count() < 5 {
        return Err(AppError::field(
            "note",
            "Cần ghi kết quả xác minh (ít nhất 5 ký tự)",
            "the verification's result (at least 5 characters) is required",
        ));
    }
    let resolution = match input.outcome.as_str() {
        "confirmed" => {
            let suspend = match input.suspend_personal_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => c.other_person_id.unwrap_or(c.person_id),
                Some(pid) => {
                    let person = store.person_by_personal_id(pid).await?;
                    match person {
                        Some(x) if x.id == c.person_id || Some(x.id) == c.other_person_id => x.id,
                        _ => {
                            return Err(AppError::field(
                                "suspend_personal_id",
                                format!("{pid} không thuộc vụ việc này"),
                                format!("{pid} is not a record of this case"),
                            ))
                        }
                    }
                }
            };
            let recovery = match input.recovery.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(s) => Some(
                    domain::Money::parse_vnd(s)
                        .map_err(|e| {
                            AppError::field(
                                "recovery",
                                format!("Số tiền không hợp lệ: {e}"),
                                format!("invalid amount: {e}"),
                            )
                        })?
                        .dong(),
                ),
                None => match c.check_code.as_str() {
                    "deceased_paid" => serde_json::from_str::<serde_json::Value>(&c.evidence)
                        .ok()
                        .and_then(|e| e.get("amount").and_then(serde_json::Value::as_i64)),
                    "paid_twice" | "duplicate" => Some(store.paid_total(suspend).await?),
                    _ => None,
                },
            };
            if recovery.is_some_and(|r| r < 0) {
                return Err(AppError::field("recovery", "Số tiền không được âm", "the amount cannot be negative"));
            }
            let (vi, _) = check_label(&c.check_code);
            Resolution::Confirmed {
                suspend, hold_reason: format!("Vụ việc liêm chính #{id} ({vi}): {note}"), recovery
            }
        }
        "false_positive" => Resolution::FalsePositive,
        other => {
            return Err(AppError::field(
                "outcome",
                format!("Kết quả không hợp lệ: {other} (confirmed hoặc false_positive)"),
                format!("unknown outcome {other} (confirmed or false_positive)"),
            ))
        }
    };
    let mut a = ctx.audit("integrity.resolve", "integrity_case", Some(id.to_string()));
    a.after = Some(input.outcome.clone());
    a.detail = Some(note.to_string());
    if !store.resolve_case(id, &resolution, note, &p.username, &a).await? {
        return Err(AppError::Denied {
            vi: format!("Vụ việc {id} đã được xử lý"),
            en: format!("case {id} is already resolved"),
        });
    }
    Ok(())
}

/// Records a proof of life (xác nhận còn sống) of a person in the caller's area.
pub async fn record_life_proof(
    store: &Store,
    ctx: &Ctx,
    personal_id: &str,
    proved_on: &str,
    how: &str,
) -> Result<i64, AppError> {
    // those who resolve cases, and commune officers who suspend and resume payments
    let p = ctx.require(perm::INTEGRITY_RESOLVE).or_else(|_| ctx.require(perm::PAYMENTS_HOLD))?;
    let person = store
        .person_by_personal_id(personal_id.trim())
        .await?
        .ok_or_else(|| AppError::NotFound(format!("person {}", personal_id.trim())))?;
    p.require_commune(&person.commune_code)?;
    let date = domain::calendar::parse_date(proved_on)
        .map_err(|e| AppError::field("proved_on", e.vi(), "invalid date".to_string()))?;
    let how = how.trim();
    if how.is_empty() {
        return Err(AppError::field("how", "Cần ghi cách xác nhận", "how the person was seen is required"));
    }
    let a = ctx.audit("integrity.life_proof", "person", Some(person.id.to_string()));
    Ok(store.record_life_proof(person.id, &date.to_string(), how, &p.username, &a).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_count_birthdays() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(age_on(d("1926-06-01"), d("2026-05-31")), 99);
        assert_eq!(age_on(d("1926-06-01"), d("2026-06-01")), 100);
        assert_eq!(mask("0123456789"), "•••789");
        assert_eq!(check_label("paid_twice").1, "One person paid on two records");
    }

    #[test]
    fn every_comparison_and_level_reads_in_vietnamese() {
        for c in linkage::COMPARISONS {
            assert_ne!(comparison_label(c.name).0, "?", "{}", c.name);
            for level in c.levels {
                assert_ne!(level_vi(level), "?", "{}: {level}", c.name);
            }
        }
    }
}
