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

/// The text of the pack files as loaded, and its version (SHA-256 of the files as JSON):
/// stored with every payment cycle so that it can be recomputed later.
#[derive(Debug, Clone)]
pub struct PackSource {
    pub version: String,
    /// JSON object: file → text.
    pub files: String,
}

/// Reads the pack files (embedded, or from `dir`) as [`load`] does.
pub fn pack_source(dir: Option<&Path>) -> Result<PackSource, AppError> {
    let mut files = std::collections::BTreeMap::new();
    for f in rules::pack::FILES {
        let text = match dir {
            None => embedded(f),
            Some(d) => std::fs::read_to_string(d.join(f)).ok(),
        }
        .ok_or_else(|| AppError::Refused(format!("policy pack error: {f}: file missing")))?;
        files.insert(f.to_string(), text);
    }
    let files = serde_json::to_string(&files).map_err(|e| AppError::Internal(format!("pack source: {e}")))?;
    Ok(PackSource { version: super::auth::sha256_hex(&files), files })
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
    let start = match domain::PartialDate::parse(from).ok()? {
        domain::PartialDate::Full(d) => d,
        domain::PartialDate::MonthYear(m) => m.first_day(),
        domain::PartialDate::Year(y) => chrono::NaiveDate::from_ymd_opt(y, 7, 1)?,
    };
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
pub fn facts_of(
    personal_id: &str,
    birth_date: &str,
    deceased_on: Option<&str>,
    poor: bool,
    merits: &[store::registry::MeritRecord],
    assistance: &[store::registry::AssistanceRecord],
) -> PersonFacts {
    let rate = |r: Option<i64>| r.and_then(|r| u8::try_from(r).ok());
    PersonFacts {
        person: personal_id.to_string(),
        birth_date: birth_date.to_string(),
        deceased_on: deceased_on.map(str::to_string),
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
                of_deceased: m.of_deceased,
                remarried: m.remarried,
                ao_child: m.ao_child,
                caregiver: m.caregiver,
                studying: m.studying,
                seniority_months: m.seniority_months.and_then(|n| u16::try_from(n).ok()),
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
    }
}

/// One registry person's facts.
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
    Ok(facts_of(&person.personal_id, &person.birth_date, person.deceased_on.as_deref(), poor, &merits, &assistance))
}

/// Every beneficiary of the registry (or of one commune) as facts, with their commune;
/// `everyone`: every person, with or without a record.
pub async fn registry_people(
    store: &store::Store,
    commune: Option<&str>,
    everyone: bool,
) -> Result<Vec<(String, PersonFacts)>, AppError> {
    let inputs = store.entitlement_inputs(commune, everyone).await?;
    let (mut mi, mut ai) = (0usize, 0usize);
    let mut out = Vec::with_capacity(inputs.persons.len());
    for p in &inputs.persons {
        // records of persons the persons query did not return (a write between the queries)
        // are skipped, not taken for the next person
        while inputs.merits.get(mi).is_some_and(|m| m.person_id < p.id) {
            mi += 1;
        }
        while inputs.assistance.get(ai).is_some_and(|a| a.person_id < p.id) {
            ai += 1;
        }
        let m0 = mi;
        while inputs.merits.get(mi).is_some_and(|m| m.person_id == p.id) {
            mi += 1;
        }
        let a0 = ai;
        while inputs.assistance.get(ai).is_some_and(|a| a.person_id == p.id) {
            ai += 1;
        }
        let facts = facts_of(
            &p.personal_id,
            &p.birth_date,
            p.deceased_on.as_deref(),
            p.poor,
            &inputs.merits[m0..mi],
            &inputs.assistance[a0..ai],
        );
        out.push((p.commune_code.clone(), facts));
    }
    Ok(out)
}

/// Totals of a run over many people: by month, commune and item, in đồng.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub persons: usize,
    pub by_month: std::collections::BTreeMap<String, i64>,
    pub by_commune: std::collections::BTreeMap<String, i64>,
    pub by_item: std::collections::BTreeMap<String, i64>,
    pub total: i64,
    /// People whose entitlements cannot be computed (fail closed), with the first reasons.
    pub errors: usize,
    pub first_errors: Vec<String>,
}

/// One worker's sums (see `run`).
#[derive(Default)]
struct Partial<'a> {
    persons: usize,
    errors: usize,
    first_errors: Vec<String>,
    total: i64,
    /// By month offset from `from`.
    by_month: Vec<i64>,
    by_commune: std::collections::HashMap<&'a str, i64>,
    by_item: std::collections::HashMap<&'a str, i64>,
}

/// Computes everyone's entitlements for `from..=to` on all cores and adds them up.
pub fn run<'b>(
    packs: &'b Packs,
    people: &'b [(String, PersonFacts)],
    from: Month,
    to: Month,
    extra: Option<&ExtraGroup>,
) -> Result<Totals, AppError> {
    let engine = Engine::new(packs).map_err(|e| AppError::Refused(format!("policy pack error: {e}")))?;
    let level = packs.param("muc_chuan_tro_giup");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let per = people.len().div_ceil(threads).max(1);
    let months = usize::try_from(from.count_through(to)).unwrap_or(0);
    // per worker, keyed by borrowed names and month offsets: no allocation per line
    let part = |chunk: &'b [(String, PersonFacts)]| -> Partial<'b> {
        let mut p = Partial { by_month: vec![0; months], ..Partial::default() };
        let mut out = Vec::with_capacity(32);
        for (commune, f) in chunk {
            p.persons += 1;
            out.clear();
            let res = f.check().map_err(|e| e.to_string()).and_then(|c| {
                engine.person(&c, from, to, &mut out, None).map_err(|e| e.to_string())?;
                if let (Some(x), Some(level)) = (extra, level) {
                    x.top_up(&c, level, from, to, &mut out);
                }
                Ok(())
            });
            if let Err(e) = res {
                p.errors += 1;
                if p.first_errors.len() < 20 {
                    p.first_errors.push(e);
                }
                continue;
            }
            let mut person_total = 0i64;
            for l in &out {
                let a = l.amount.dong();
                if let Some(slot) =
                    usize::try_from(l.month.index() - from.index()).ok().and_then(|i| p.by_month.get_mut(i))
                {
                    *slot += a;
                }
                *p.by_item.entry(l.item).or_default() += a;
                person_total += a;
            }
            if person_total != 0 {
                *p.by_commune.entry(commune.as_str()).or_default() += person_total;
            }
            p.total += person_total;
        }
        p
    };
    let parts: Vec<Partial<'b>> = std::thread::scope(|s| {
        let hs: Vec<_> = people.chunks(per).map(|c| s.spawn(move || part(c))).collect();
        hs.into_iter().map(|h| h.join()).collect::<Result<Vec<_>, _>>()
    })
    .map_err(|_| AppError::Internal("a worker of the entitlement run failed".into()))?;
    let mut t = Totals::default();
    for m in from.through(to) {
        t.by_month.insert(iso(m), 0);
    }
    for p in parts {
        t.persons += p.persons;
        t.errors += p.errors;
        t.total += p.total;
        for e in p.first_errors {
            if t.first_errors.len() < 20 {
                t.first_errors.push(e);
            }
        }
        for (m, v) in from.through(to).zip(p.by_month) {
            *t.by_month.entry(iso(m)).or_default() += v;
        }
        for (k, v) in p.by_commune {
            *t.by_commune.entry(k.to_string()).or_default() += v;
        }
        for (k, v) in p.by_item {
            *t.by_item.entry(k.to_string()).or_default() += v;
        }
    }
    Ok(t)
}

/// An eligibility group added in a simulation (as a People's Council resolution may add one):
/// everyone of at least `min_age` (only in poor or near-poor households if `poor_only`) receives
/// `coefficient` × the social-assistance standard level from `from` — or, if they already
/// receive social assistance or the social pension, the higher of the two (Decree 20/2021
/// Art. 6.2), as a top-up line `them_nhom`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub struct AddedGroup {
    pub min_age: i32,
    #[serde(default)]
    pub poor_only: bool,
    /// e.g. "1.0"
    pub coefficient: String,
    /// yyyy-mm
    pub from: String,
}

impl std::str::FromStr for AddedGroup {
    type Err = String;
    /// `75+=1.0@2027-01` or `70+:poor=1.5@2027-01`
    fn from_str(s: &str) -> Result<AddedGroup, String> {
        let bad = || "expected AGE+[:poor]=COEFFICIENT@yyyy-mm, e.g. 75+=1.0@2027-01".to_string();
        let (who, rest) = s.split_once('=').ok_or_else(bad)?;
        let (coefficient, from) = rest.split_once('@').ok_or_else(bad)?;
        let (age, poor) = match who.split_once(':') {
            Some((a, "poor")) => (a, true),
            Some(_) => return Err(bad()),
            None => (who, false),
        };
        let min_age = age.trim().trim_end_matches('+').parse::<i32>().map_err(|_| bad())?;
        Ok(AddedGroup { min_age, poor_only: poor, coefficient: coefficient.trim().into(), from: from.trim().into() })
    }
}

/// An `AddedGroup` checked.
#[derive(Debug, Clone, Copy)]
pub struct ExtraGroup {
    min_age: i32,
    poor_only: bool,
    coefficient: domain::Coefficient,
    from: Month,
}

pub const ADDED_GROUP_ITEM: &str = "them_nhom";

impl ExtraGroup {
    pub fn new(g: &AddedGroup) -> Result<ExtraGroup, AppError> {
        if !(0..=120).contains(&g.min_age) {
            return Err(AppError::field("min_age", "tuổi từ 0 đến 120", "an age from 0 to 120"));
        }
        let coefficient = domain::Coefficient::parse(&g.coefficient)
            .map_err(|e| AppError::field("coefficient", format!("hệ số không hợp lệ: {e}"), e.to_string()))?;
        let from = g.from.parse::<Month>().map_err(|e: domain::calendar::DateError| {
            AppError::field("from", format!("tháng không hợp lệ: {}", e.vi()), e.to_string())
        })?;
        Ok(ExtraGroup { min_age: g.min_age, poor_only: g.poor_only, coefficient, from })
    }

    /// Adds the top-up lines of one person (whose computed lines are in `out`).
    fn top_up<'p>(
        &self,
        c: &rules::facts::Checked,
        level: &'p rules::pack::Series<Money>,
        from: Month,
        to: Month,
        out: &mut Vec<rules::Line<'p>>,
    ) {
        if self.poor_only && !c.poor_household {
            return;
        }
        for m in self.from.max(from).through(to) {
            if c.died.is_some_and(|d| m > d) || rules::facts::age_at(c.born, m) < self.min_age {
                continue;
            }
            let Some(l) = level.at(m) else { continue };
            let Ok(new) = l.value.mul_coefficient_round_thousand(self.coefficient) else { continue };
            let existing: i64 = out
                .iter()
                .filter(|x| x.month == m && (x.item == "htxh" || (x.item.starts_with("tgxh.") && x.item != "tgxh.k4")))
                .map(|x| x.amount.dong())
                .sum();
            if new.dong() > existing {
                out.push(rules::Line {
                    month: m,
                    item: ADDED_GROUP_ITEM,
                    kind: rules::LineKind::Monthly,
                    amount: Money::from_dong(new.dong() - existing),
                    citation: "mô phỏng: nhóm đối tượng bổ sung",
                });
            }
        }
    }
}

/// A change to simulate: a parameter (`muc_chuan`, `muc_chuan_tro_giup`, `luong_co_so`,
/// `tro_cap_huu_tri_xa_hoi`) or an Appendix I item (`item:6.1p`) takes `value` from `from`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub struct Override {
    pub name: String,
    /// Đồng.
    pub value: i64,
    /// yyyy-mm
    pub from: String,
}

impl std::str::FromStr for Override {
    type Err = String;
    /// `muc_chuan=3000000@2027-01`
    fn from_str(s: &str) -> Result<Override, String> {
        let (name, rest) = s.split_once('=').ok_or("expected NAME=VALUE@yyyy-mm")?;
        let (value, from) = rest.split_once('@').ok_or("expected NAME=VALUE@yyyy-mm")?;
        let value =
            value.replace(['.', ',', '_'], "").parse::<i64>().map_err(|_| format!("'{value}' is not an amount"))?;
        Ok(Override { name: name.trim().to_string(), value, from: from.trim().to_string() })
    }
}

/// The packs with the overrides applied (each a new dated row, as a decree would add).
pub fn with_overrides(packs: &Packs, overrides: &[Override]) -> Result<Packs, AppError> {
    let mut p = packs.clone();
    for o in overrides {
        let from: Month = o.from.parse().map_err(|e: domain::calendar::DateError| {
            AppError::field("from", format!("tháng không hợp lệ: {}", e.vi()), e.to_string())
        })?;
        if o.value <= 0 || o.value % 1000 != 0 {
            return Err(AppError::field(
                "value",
                "số tiền phải là bội số dương của 1.000 đồng",
                "the amount must be a positive multiple of 1,000 đồng",
            ));
        }
        if o.name == "muc_chuan" {
            // Appendices I–III are absolute amounts per decree, not multiples of the standard
            // level; each decree so far re-tabulated them roughly in proportion to it. A new
            // standard level is simulated the same way: every amount scaled by new/old level.
            let old = p.param("muc_chuan").and_then(|s| s.at(from)).map(|d| d.value.dong());
            if let Some(old) = old.filter(|o| *o > 0) {
                let scale = |series: &mut rules::pack::Series<Money>| {
                    if let Some(cur) = series.at(from).map(|d| d.value.dong()) {
                        let v = (i128::from(cur) * i128::from(o.value) * 2 / i128::from(old) / 1000 + 1) / 2 * 1000;
                        series.0.retain(|d| d.from != from);
                        series.0.push(rules::pack::Dated {
                            from,
                            value: Money::from_dong(i64::try_from(v).unwrap_or(cur)),
                            citation: format!("mô phỏng: theo tỷ lệ mức chuẩn {} từ {from}", Money::from_dong(o.value)),
                            check: Some("simulation".into()),
                        });
                        series.0.sort_by_key(|d| d.from);
                    }
                };
                p.monthly.values_mut().for_each(scale);
                p.invalid.values_mut().for_each(scale);
            }
        }
        let series = match o.name.strip_prefix("item:") {
            Some(item) => p.monthly.get_mut(item),
            None => p.params.get_mut(&o.name).map(|(_, s)| s),
        }
        .ok_or_else(|| {
            AppError::field("name", format!("không có tham số {}", o.name), format!("no parameter {}", o.name))
        })?;
        series.0.retain(|d| d.from != from);
        series.0.push(rules::pack::Dated {
            from,
            value: Money::from_dong(o.value),
            citation: format!("mô phỏng: {} = {} từ {from}", o.name, Money::from_dong(o.value)),
            check: Some("simulation".into()),
        });
        series.0.sort_by_key(|d| d.from);
    }
    Ok(p)
}

/// Baseline and scenario over the registry (or one commune).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Simulation {
    pub from: String,
    pub to: String,
    pub baseline: Totals,
    pub scenario: Totals,
}

pub async fn simulate(
    store: &store::Store,
    packs: &Packs,
    commune: Option<&str>,
    from: Month,
    to: Month,
    overrides: &[Override],
    added: Option<&AddedGroup>,
) -> Result<Simulation, AppError> {
    if to < from || from.count_through(to) > 120 {
        return Err(AppError::field(
            "to",
            "khoảng tháng không hợp lệ (tối đa 120 tháng)",
            "invalid month range (at most 120)",
        ));
    }
    let scenario_packs = with_overrides(packs, overrides)?;
    let extra = added.map(ExtraGroup::new).transpose()?;
    // an added group can reach people who have no record yet: then everyone is read
    let people = registry_people(store, commune, extra.is_some()).await?;
    // CPU-bound: on the blocking pool, so that the server keeps answering meanwhile
    let base_packs = packs.clone();
    let (baseline, scenario) = tokio::task::spawn_blocking(move || {
        Ok::<_, AppError>((
            run(&base_packs, &people, from, to, None)?,
            run(&scenario_packs, &people, from, to, extra.as_ref())?,
        ))
    })
    .await
    .map_err(|e| AppError::Internal(format!("simulation task: {e}")))??;
    let (mut baseline, mut scenario) = (baseline, scenario);
    for t in [&mut baseline, &mut scenario] {
        conceal_hiv_groups(t);
    }
    Ok(Simulation { from: iso(from), to: iso(to), baseline, scenario })
}

/// The item under which the simulation reports the two groups defined by HIV status.
pub const HIV_GROUPS_ITEM: &str = "tgxh.k3+k8";

/// Aggregates never show the groups defined by HIV status (k3, k8) on their own: in a small
/// commune their totals would give away how many people live with HIV. They are reported
/// together (and both with the other groups in the commune totals).
fn conceal_hiv_groups(t: &mut Totals) {
    let hiv: i64 = ["tgxh.k3", "tgxh.k8"].iter().filter_map(|k| t.by_item.remove(*k)).sum();
    if hiv != 0 {
        *t.by_item.entry(HIV_GROUPS_ITEM.to_string()).or_default() += hiv;
    }
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
        ADDED_GROUP_ITEM => "Nhóm đối tượng bổ sung (mô phỏng)".into(),
        HIV_GROUPS_ITEM => "Trợ cấp xã hội hằng tháng — nhóm k3 và k8 (gộp, bảo mật)".into(),
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
    let (person, _) = crate::services::registry::load_in_area(store, ctx, id).await?;
    // amounts reveal injury rates and disability levels (each amount belongs to one rate):
    // only for roles that may see sensitive fields, and each read is audited
    ctx.require(crate::services::authz::perm::REGISTRY_SENSITIVE)?;
    let mut audit = ctx.audit("person.read_entitlements", "person", Some(id.to_string()));
    audit.detail = Some(format!("{} {}–{}", person.personal_id, iso(from), iso(to)));
    store.audit_append(&audit).await?;
    entitlements_of(store, packs, &person, from, to).await
}

/// A registry person's entitlements for `from..=to`, computed from the registry as of now
/// (the caller has authorized and audited the read).
pub async fn entitlements_of(
    store: &store::Store,
    packs: &Packs,
    person: &store::registry::PersonRow,
    from: Month,
    to: Month,
) -> Result<Entitlements, AppError> {
    let facts = registry_facts(store, person).await?;
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
                    citation: l.citation.to_string(),
                })
                .collect();
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    Ok(out)
}

/// Rows of a simulation: (dimension, key, baseline, scenario).
pub fn simulation_rows(sim: &Simulation) -> Vec<(&'static str, String, i64, i64)> {
    let mut rows = Vec::new();
    type Sums = std::collections::BTreeMap<String, i64>;
    let dims: [(&'static str, &Sums, &Sums); 3] = [
        ("month", &sim.baseline.by_month, &sim.scenario.by_month),
        ("commune", &sim.baseline.by_commune, &sim.scenario.by_commune),
        ("item", &sim.baseline.by_item, &sim.scenario.by_item),
    ];
    for (dim, b, s) in dims {
        let keys: std::collections::BTreeSet<&String> = b.keys().chain(s.keys()).collect();
        for k in keys {
            rows.push((dim, k.clone(), b.get(k).copied().unwrap_or(0), s.get(k).copied().unwrap_or(0)));
        }
    }
    rows.push(("total", String::new(), sim.baseline.total, sim.scenario.total));
    rows
}

pub fn simulation_csv(sim: &Simulation) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
    w.write_record(["dimension", "key", "baseline", "scenario", "difference"]).map_err(err)?;
    for (dim, key, b, s) in simulation_rows(sim) {
        w.write_record([dim, key.as_str(), &b.to_string(), &s.to_string(), &(s - b).to_string()]).map_err(err)?;
    }
    w.into_inner().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))
}

/// The simulation as a short report for the terminal.
pub fn simulation_text(sim: &Simulation, g: &domain::Gazetteer) -> String {
    let m = |v: i64| Money::from_dong(v).to_string();
    let mut out = format!("{:<10} {:>22} {:>22} {:>20}\n", "month", "baseline", "scenario", "difference");
    for (k, b) in &sim.baseline.by_month {
        let s = sim.scenario.by_month.get(k).copied().unwrap_or(0);
        out.push_str(&format!("{:<10} {:>22} {:>22} {:>20}\n", k, m(*b), m(s), m(s - b)));
    }
    let (b, s) = (sim.baseline.total, sim.scenario.total);
    out.push_str(&format!("{:<10} {:>22} {:>22} {:>20}\n", "total", m(b), m(s), m(s - b)));
    let mut communes: Vec<(String, i64)> = sim
        .scenario
        .by_commune
        .iter()
        .map(|(c, s)| (c.clone(), s - sim.baseline.by_commune.get(c).copied().unwrap_or(0)))
        .collect();
    communes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if communes.iter().any(|c| c.1 != 0) {
        out.push_str("largest differences by commune:\n");
        for (c, d) in communes.iter().take(5) {
            let name = g.commune(c).map_or(c.as_str(), |x| x.name.as_str());
            out.push_str(&format!("  {c} {name}: {}\n", m(*d)));
        }
    }
    if sim.baseline.errors > 0 {
        out.push_str(&format!(
            "{} persons could not be computed (missing facts), e.g.: {}\n",
            sim.baseline.errors,
            sim.baseline.first_errors.first().map_or("", String::as_str)
        ));
    }
    out
}
