//! Policy packs and entitlements for the CLI, the server and the dossier page.
//!
//! The packs of `policies/` are compiled into the binary; `--policies DIR` reads a
//! directory instead (for a legal officer trying a change before it is released).

use std::path::Path;

use domain::{Money, Month};
use rules::engine::{compute, explain, Engine};
use rules::{Packs, PersonFacts};

use crate::error::AppError;

/// The pack files as compiled in.
fn embedded(file: &str) -> Option<String> {
    let text = match file {
        "nguoi-co-cong/pack.toml" => include_str!("../../../../policies/nguoi-co-cong/pack.toml"),
        "nguoi-co-cong/monthly_amounts.csv" => include_str!("../../../../policies/nguoi-co-cong/monthly_amounts.csv"),
        "nguoi-co-cong/war_invalid_by_rate.csv" => {
            include_str!("../../../../policies/nguoi-co-cong/war_invalid_by_rate.csv")
        }
        "nguoi-co-cong/one_off_coefficients.csv" => {
            include_str!("../../../../policies/nguoi-co-cong/one_off_coefficients.csv")
        }
        "tro-giup-xa-hoi/pack.toml" => include_str!("../../../../policies/tro-giup-xa-hoi/pack.toml"),
        "tro-giup-xa-hoi/coefficients.csv" => include_str!("../../../../policies/tro-giup-xa-hoi/coefficients.csv"),
        _ => return None,
    };
    Some(text.to_string())
}

/// Loads the packs (embedded, or from `dir`), refusing a broken one with its file and line.
pub fn load(dir: Option<&Path>) -> Result<Packs, AppError> {
    let packs = match dir {
        None => Packs::load(&embedded),
        Some(d) => Packs::load(&|f| std::fs::read_to_string(d.join(f)).ok()),
    };
    packs.map_err(|e| AppError::Refused(format!("policy pack error: {e}")))
}

/// A report of `rules check`: what was loaded and what a legal officer should look at.
pub fn check_report(p: &Packs) -> String {
    let mut out = String::new();
    for info in [&p.merit, &p.assistance] {
        out.push_str(&format!("{} — {} (from {})\n", info.id, info.title, info.covers_from));
        for b in &info.basis {
            out.push_str(&format!("  basis: {b}\n"));
        }
        for (name, title, rows) in &info.tables {
            out.push_str(&format!("  table {name}: {rows} rows — {title}\n"));
        }
    }
    for (name, (title, s)) in &p.params {
        let latest = s.0.last().map(|d| format!("{} from {}", d.value, d.from)).unwrap_or_default();
        out.push_str(&format!("parameter {name}: {} rows, latest {latest} — {title}\n", s.0.len()));
    }
    let unconfirmed = p.unconfirmed();
    if !unconfirmed.is_empty() {
        out.push_str("values to confirm (marked 'check' in the pack):\n");
        for (name, from, why) in unconfirmed {
            out.push_str(&format!("  {name} from {from}: {why}\n"));
        }
    }
    let unused = rules::engine::unused_items(p);
    if !unused.is_empty() {
        out.push_str(&format!(
            "Appendix I items not yet used by any rule (caregiver, study and other allowances): {}\n",
            unused.join(", ")
        ));
    }
    out.push_str("ok: the packs are valid\n");
    out
}

/// Reads facts as JSON Lines; an error names the line and the field.
pub fn read_facts(text: &str) -> Result<Vec<PersonFacts>, AppError> {
    rules::facts::read_jsonl(text).map_err(|(line, msg)| AppError::Invalid(format!("facts line {line}: {msg}")))
}

/// Reads payments already made: CSV `person,month,item,amount` (month yyyy-mm or mm/yyyy).
pub fn read_paid(text: &str) -> Result<Vec<rules::arrears::Paid>, AppError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| AppError::Invalid(format!("paid file line 1: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    if header != ["person", "month", "item", "amount"] {
        return Err(AppError::Invalid("paid file line 1: the columns must be person,month,item,amount".into()));
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| AppError::Invalid(format!("paid file line {line}: {e}")))?;
        let field = |k: usize| rec.get(k).unwrap_or("").trim().to_string();
        let month: Month = field(1).parse().map_err(|e: domain::calendar::DateError| {
            AppError::Invalid(format!("paid file line {line}, month: {e}"))
        })?;
        let amount = Money::parse_vnd(&field(3))
            .map_err(|e| AppError::Invalid(format!("paid file line {line}, amount: {e}")))?;
        out.push(rules::arrears::Paid { person: field(0), month, item: field(2), amount });
    }
    Ok(out)
}

/// Computes every person's lines for `from..=to` and renders them as CSV; with payments,
/// renders the differences (arrears and overpayments) instead. Nothing is returned unless
/// every person computes.
pub fn compute_csv(
    packs: &Packs,
    facts: &[PersonFacts],
    from: Month,
    to: Month,
    paid: Option<&[rules::arrears::Paid]>,
) -> Result<(Vec<u8>, usize, Money), AppError> {
    if to < from {
        return Err(AppError::Invalid(format!("--to {to} is before --from {from}")));
    }
    let engine = Engine::new(packs).map_err(|e| AppError::Refused(format!("policy pack error: {e}")))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut total = Money::ZERO;
    let mut rows = 0usize;
    let csv_err = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
    let mut due = Vec::new();
    for f in facts {
        let lines = compute(&engine, f, from, to).map_err(|e| AppError::Invalid(e.to_string()))?;
        for l in lines {
            due.push((f.person.as_str(), l));
        }
    }
    match paid {
        None => {
            w.write_record(["person", "month", "item", "kind", "amount", "citation"]).map_err(csv_err)?;
            for (p, l) in &due {
                total = total.checked_add(l.amount).unwrap_or(total);
                rows += 1;
                w.write_record([
                    p,
                    iso(l.month).as_str(),
                    l.item,
                    l.kind.code(),
                    &l.amount.dong().to_string(),
                    l.citation,
                ])
                .map_err(csv_err)?;
            }
        }
        Some(paid) => {
            let diffs =
                rules::arrears::differences(due.iter().map(|(p, l)| (*p, l.month, l.item, l.amount, l.citation)), paid);
            w.write_record(["person", "month", "item", "kind", "due", "paid", "difference", "citation"])
                .map_err(csv_err)?;
            for d in &diffs {
                total = total.checked_add(d.difference).unwrap_or(total);
                rows += 1;
                w.write_record([
                    d.person.as_str(),
                    &iso(d.month),
                    &d.item,
                    d.kind(),
                    &d.due.dong().to_string(),
                    &d.paid.dong().to_string(),
                    &d.difference.dong().to_string(),
                    &d.citation,
                ])
                .map_err(csv_err)?;
            }
        }
    }
    let bytes = w.into_inner().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
    Ok((bytes, rows, total))
}

/// `yyyy-mm`: sortable, and read back by `--paid`.
pub fn iso(m: Month) -> String {
    format!("{:04}-{:02}", m.year(), m.month())
}

/// The explanation of one person's month as text.
pub fn explain_text(packs: &Packs, facts: &[PersonFacts], person: &str, month: Month) -> Result<String, AppError> {
    let engine = Engine::new(packs).map_err(|e| AppError::Refused(format!("policy pack error: {e}")))?;
    let f = facts
        .iter()
        .find(|f| f.person == person)
        .ok_or_else(|| AppError::NotFound(format!("person {person} in the facts file")))?;
    let (trace, _) = explain(&engine, f, month).map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(trace.join("\n") + "\n")
}

// ---------- database mode ----------

/// Whole years of seniority before the August Revolution (19/08/1945) from the recorded
/// start; leftover months of 6 or more count as a year (docs/entitlements.md). An unknown
/// day or month counts from 1 July, as the registry records it.
fn seniority_years(from: &str) -> Option<u8> {
    let start = domain::PartialDate::parse(from).ok()?.earliest();
    let end = chrono::NaiveDate::from_ymd_opt(1945, 8, 19)?;
    if start >= end {
        return Some(0);
    }
    use chrono::Datelike;
    let months = (end.year() - start.year()) * 12 + end.month() as i32 - start.month() as i32;
    let years = months / 12 + i32::from(months % 12 >= 6);
    u8::try_from(years).ok()
}

/// A registry person's facts as the engine reads them. Whether the person draws a pension
/// is not recorded in the registry, so the social pension is not assessed here.
pub async fn registry_facts(
    store: &store::Store,
    person: &store::registry::PersonRow,
) -> Result<PersonFacts, AppError> {
    let merits = store.merit_records(person.id).await?;
    let assistance = store.assistance_records(person.id).await?;
    let poor = match person.household_id {
        Some(h) => store.household(h).await?.and_then(|(_, _, s)| s).is_some_and(|s| s == "poor" || s == "near_poor"),
        None => false,
    };
    let rate = |r: Option<i64>| r.and_then(|r| u8::try_from(r).ok());
    Ok(PersonFacts {
        person: person.personal_id.clone(),
        birth_date: person.birth_date.clone(),
        deceased_on: person.deceased_on.clone(),
        merit: merits
            .iter()
            .map(|m| rules::MeritFact {
                category: m.category.clone(),
                from: m.valid_from.clone(),
                to: m.valid_to.clone(),
                injury_rate: rate(m.injury_rate),
                type_b: m.type_b,
                especially_severe: m.especially_severe,
                thoat_ly: m.thoat_ly,
                seniority_years: m.seniority_from.as_deref().and_then(seniority_years),
                award: m.award.clone(),
                of_category: m.of_category.clone(),
                martyrs_count: m.martyrs_count.and_then(|n| u8::try_from(n).ok()),
                of_injury_rate: rate(m.of_injury_rate),
                nurture: m.nurture,
            })
            .collect(),
        assistance: assistance
            .iter()
            .map(|a| rules::AssistanceFact {
                group: a.group_code.clone(),
                from: a.valid_from.clone(),
                to: a.valid_to.clone(),
                disability_level: a.disability_level.clone(),
            })
            .collect(),
        has_pension: None,
        poor_household: poor,
    })
}

/// One entitlement line as the dossier and the API show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EntitlementView {
    /// `yyyy-mm`
    pub month: String,
    pub item: String,
    /// What the item is, in Vietnamese.
    pub name: String,
    /// `monthly` or `one_off`.
    pub kind: String,
    /// Đồng.
    pub amount: i64,
    pub citation: String,
}

/// A person's entitlements over a range of months, or why they cannot be computed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Entitlements {
    pub from: String,
    pub to: String,
    pub lines: Vec<EntitlementView>,
    /// (month, total in đồng), one per month of the range.
    pub totals: Vec<(String, i64)>,
    /// The rule error (fail closed: a missing fact is named, never taken as zero).
    pub error: Option<String>,
}

/// The name of a line's item, in Vietnamese.
pub fn item_name(packs: &Packs, item: &str) -> String {
    match item {
        "II" => "Trợ cấp thương binh (Phụ lục II)".into(),
        "III" => "Trợ cấp thương binh loại B (Phụ lục III)".into(),
        "htxh" => "Trợ cấp hưu trí xã hội".into(),
        "tu_tran.3_thang" => "Trợ cấp một lần khi từ trần (3 tháng)".into(),
        "mai_tang" => "Trợ cấp mai táng".into(),
        "VI.a" | "VI.b" | "VI.c" => format!("Trợ cấp một lần thương tật 5–20% (mục {item})"),
        _ => {
            if let Some(g) = item.strip_prefix("tgxh.") {
                let name = domain::categories::find(g).map_or(g, |c| c.1);
                return format!("Trợ cấp xã hội hằng tháng — {g}: {name}");
            }
            let kind = packs.monthly_meta.get(item).map_or("", |(k, _)| k.as_str());
            let what = match kind {
                "tro_cap" => "Trợ cấp hằng tháng",
                "phu_cap" => "Phụ cấp hằng tháng",
                "phu_cap_per_year" => "Phụ cấp thâm niên",
                "tuat" => "Trợ cấp tuất hằng tháng",
                "tuat_nuoi_duong" => "Trợ cấp tuất nuôi dưỡng",
                "nguoi_phuc_vu" => "Trợ cấp người phục vụ",
                "hoc_tap" => "Trợ cấp ưu đãi học tập",
                _ => "Khoản",
            };
            format!("{what} (Phụ lục I, mục {item})")
        }
    }
}

/// A registry person's entitlements for `from..=to` (same authorization as the dossier).
pub async fn person_entitlements(
    store: &store::Store,
    packs: &Packs,
    ctx: &crate::services::authz::Ctx,
    id: i64,
    from: Month,
    to: Month,
) -> Result<Entitlements, AppError> {
    if to < from || from.count_through(to) > 120 {
        return Err(AppError::field(
            "to",
            "khoảng tháng không hợp lệ (tối đa 120 tháng)",
            "invalid month range (at most 120)",
        ));
    }
    let (person, principal) = crate::services::registry::load_in_area(store, ctx, id).await?;
    // a citation of Appendix II/III names the injury rate: sensitive
    let sensitive = principal.can(crate::services::authz::perm::REGISTRY_SENSITIVE);
    let cite = |c: &str| match c.find("tỷ lệ ") {
        Some(i) if !sensitive => format!("{}tỷ lệ …", &c[..i]),
        _ => c.to_string(),
    };
    let facts = registry_facts(store, &person).await?;
    let engine = Engine::new(packs).map_err(|e| AppError::Refused(format!("policy pack error: {e}")))?;
    let mut out = Entitlements { from: iso(from), to: iso(to), lines: Vec::new(), totals: Vec::new(), error: None };
    match compute(&engine, &facts, from, to) {
        Ok(lines) => {
            for m in from.through(to) {
                let total = lines.iter().filter(|l| l.month == m).map(|l| l.amount.dong()).sum();
                out.totals.push((iso(m), total));
            }
            out.lines = lines
                .iter()
                .map(|l| EntitlementView {
                    month: iso(l.month),
                    item: l.item.to_string(),
                    name: item_name(packs, l.item),
                    kind: l.kind.code().to_string(),
                    amount: l.amount.dong(),
                    citation: cite(l.citation),
                })
                .collect();
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    Ok(out)
}
