//! From a person's facts to entitlement lines, month by month.
//!
//! The rules — which facts select which appendix item — are code; every amount,
//! coefficient and standard level comes from the packs, dated. The engine fails closed: a
//! fact a rule needs but is missing, or an amount the pack does not have for a month, is a
//! [`RuleError`] naming the person, the rule and what is missing — never a silent zero.
//!
//! Cumulation (Pháp lệnh 02/2020 Art. 6; Decree 20/2021 Art. 6.2; Decree 176/2025):
//! - a person with merit in several categories receives the allowances of every category;
//! - survivor allowances (tuất): a relative of 2 or more martyrs receives only the
//!   multi-martyr rate; otherwise at most two, the highest; the extra nurture allowance once;
//! - social assistance: only the highest coefficient, except that a poor single parent (k4)
//!   also receives the highest of the others;
//! - social pension and social assistance: the higher of the two (k4 still paid).
//!
//! Months: a record counts from the month of its `from` date through the month of its
//! `to` date; nothing is paid for the months after the month of death; ages are completed
//! years on the first day of the month (a year-only birth date counts as 1 July).

use domain::{Coefficient, Money, Month};

use crate::facts::{age_at, Checked, MeritFact, Span};
use crate::pack::{PackError, Packs, Series};

/// Monthly or one-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LineKind {
    Monthly,
    OneOff,
}

impl LineKind {
    pub fn code(self) -> &'static str {
        match self {
            LineKind::Monthly => "monthly",
            LineKind::OneOff => "one_off",
        }
    }
}

/// One entitlement: the amount due to a person for a benefit item in a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'p> {
    pub month: Month,
    /// The appendix item (`6.1p`, `IV.3a`) or the pack's item (`tgxh.k6`, `htxh`).
    pub item: &'p str,
    pub kind: LineKind,
    pub amount: Money,
    pub citation: &'p str,
}

/// Why a person's entitlements cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("person {person}, rule {rule}: {message}")]
pub struct RuleError {
    pub person: String,
    pub rule: String,
    pub message: String,
}

/// The explanation of a computation, line by line (Vietnamese).
pub type Trace = Vec<String>;

/// Items of Appendix I the rules use; `rules check` verifies each exists in the pack.
const MONTHLY_ITEMS: &[&str] = &[
    "1.1a", "1.1at", "1.1b", "1.2", "1.2n", "2.1", "2.2", "2.2n", "3.1", "3.2", "3.3", "3.4", "4", "4p", "5", "6.1p",
    "6.1ps", "6.2", "6.2n", "7.1a", "7.1b", "7.1c", "7.1d", "7.1e", "7.1f", "7.1p", "7.1ps", "7.2", "7.2n", "8.1a",
    "8.1b", "8.1c", "8.1d", "8.1p", "8.1ps", "8.2", "8.2n", "9", "10.1", "10.2", "3.5", "4c", "6.1c", "6.1cs", "7.1c1",
    "7.1c2", "8.1cg", "8.2k1", "8.2k2", "10.3", "11.1", "11.2",
];
/// Items of Appendices IV and VI the rules use.
const ONE_OFF_ITEMS: [&str; 15] = [
    "VI.a", "VI.b", "VI.c", "IV.3a", "IV.3b", "IV.7", "IV.1.1", "IV.1.2", "IV.2.1", "IV.2.2", "IV.4", "IV.5", "IV.6",
    "IV.9", "IV.10",
];

/// Checks that every item and parameter the rules use is in the packs (part of loading).
pub(crate) fn check_references(p: &Packs) -> Result<(), PackError> {
    for &item in MONTHLY_ITEMS {
        if !p.monthly.contains_key(item) {
            return Err(PackError {
                file: "nguoi-co-cong/monthly_amounts.csv".into(),
                line: 0,
                message: format!("item {item}, used by the rules, is missing"),
            });
        }
    }
    for item in ONE_OFF_ITEMS {
        if !p.one_off.contains_key(item) {
            return Err(PackError {
                file: "nguoi-co-cong/one_off_coefficients.csv".into(),
                line: 0,
                message: format!("item {item}, used by the rules, is missing"),
            });
        }
    }
    Ok(())
}

/// Appendix I items present in the pack that no rule uses (reported by `rules check`).
pub fn unused_items(p: &Packs) -> Vec<String> {
    p.monthly
        .keys()
        .filter(|k| !MONTHLY_ITEMS.contains(&k.as_str()))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

const DEATH_ITEM: &str = "tu_tran.3_thang";
const DEATH_CITATION: &str =
    "Pháp lệnh 02/2020/UBTVQH14 (người đang hưởng trợ cấp hằng tháng từ trần: thân nhân được trợ cấp một lần bằng 03 tháng trợ cấp, phụ cấp)";
const FUNERAL_ITEM: &str = "mai_tang";
const FUNERAL_CITATION: &str =
    "Pháp lệnh 02/2020/UBTVQH14; Nghị định 75/2021/NĐ-CP (trợ cấp mai táng bằng 10 lần mức lương cơ sở)";
const PENSION_ITEM: &str = "htxh";

/// The engine over loaded packs.
pub struct Engine<'p> {
    p: &'p Packs,
    /// Appendix I by item with a fast hasher (the rules look items up by name every month).
    monthly: rustc_hash::FxHashMap<&'p str, &'p Series<Money>>,
    /// Appendices II and III densely: `type_b as usize * 80 + rate - 21`.
    invalid: Vec<&'p Series<Money>>,
    /// Decree 20/2021 Art. 6 rows by group, with the group's position in Art. 5.
    coefficients: rustc_hash::FxHashMap<&'p str, (usize, Vec<&'p crate::pack::CoefficientRow>)>,
    muc_chuan: &'p Series<Money>,
    luong_co_so: &'p Series<Money>,
    muc_chuan_tgxh: &'p Series<Money>,
    pension: &'p Series<Money>,
    covers_from: Month,
}

/// Line items of the social-assistance groups.
const GROUP_ITEMS: [(&str, &str); 11] = [
    ("k1", "tgxh.k1"),
    ("k2", "tgxh.k2"),
    ("k3", "tgxh.k3"),
    ("k4", "tgxh.k4"),
    ("k5a", "tgxh.k5a"),
    ("k5b", "tgxh.k5b"),
    ("k5c", "tgxh.k5c"),
    ("k5d", "tgxh.k5d"),
    ("k6", "tgxh.k6"),
    ("k7", "tgxh.k7"),
    ("k8", "tgxh.k8"),
];

fn missing<T>(person: &str, rule: &str, message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError { person: person.to_string(), rule: rule.to_string(), message: message.into() })
}

impl<'p> Engine<'p> {
    pub fn new(p: &'p Packs) -> Result<Engine<'p>, PackError> {
        let param = |n: &str| {
            p.param(n).ok_or_else(|| PackError {
                file: "pack.toml".into(),
                line: 0,
                message: format!("parameter {n} missing"),
            })
        };
        let mut invalid = Vec::with_capacity(160);
        for type_b in [false, true] {
            for rate in 21..=100u8 {
                invalid.push(p.invalid.get(&(type_b, rate)).ok_or_else(|| PackError {
                    file: "nguoi-co-cong/war_invalid_by_rate.csv".into(),
                    line: 0,
                    message: format!("rate {rate}% missing"),
                })?);
            }
        }
        Ok(Engine {
            p,
            monthly: p.monthly.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            invalid,
            coefficients: GROUP_ITEMS
                .iter()
                .enumerate()
                .map(|(i, (g, _))| (*g, (i, p.coefficients.iter().filter(|c| c.group == *g).collect())))
                .collect(),
            muc_chuan: param("muc_chuan")?,
            luong_co_so: param("luong_co_so")?,
            muc_chuan_tgxh: param("muc_chuan_tro_giup")?,
            pension: param("tro_cap_huu_tri_xa_hoi")?,
            covers_from: p.merit.covers_from.max(p.assistance.covers_from),
        })
    }

    fn monthly_amount(&self, person: &str, item: &'p str, m: Month) -> Result<(Money, &'p str), RuleError> {
        match self.monthly.get(item).and_then(|s| s.at(m)) {
            Some(d) => Ok((d.value, d.citation.as_str())),
            None => missing(person, item, format!("the pack has no amount for {m}")),
        }
    }

    /// Computes `from..=to` for one person, appending to `out`. With `trace`, writes the
    /// explanation of each decision.
    pub fn person(
        &self,
        f: &Checked,
        from: Month,
        to: Month,
        out: &mut Vec<Line<'p>>,
        mut trace: Option<&mut Trace>,
    ) -> Result<(), RuleError> {
        if from < self.covers_from {
            return missing(&f.person, "pack", format!("the packs cover months from {} only", self.covers_from));
        }
        for m in from.through(to) {
            // recognised in this month after death (a martyr always; others who died before
            // receiving their benefits): one-offs of Appendix IV to the relatives
            for (i, (span, fact)) in f.merit.iter().enumerate() {
                // a correction (a record closed and another opened) does not pay a one-off again
                if span.from != m || (f.merit.len() > 1 && !first_of_kind(&f.merit, i)) {
                    continue;
                }
                let died_before = f.died.is_some_and(|d| d < m);
                let items: &[&'static str] = match fact.category.as_str() {
                    "c" => &["IV.3a", "IV.3b"],
                    "a" if died_before => &["IV.1.1", "IV.1.2"],
                    "b" if died_before => &["IV.2.1", "IV.2.2"],
                    "d" if died_before => &["IV.4"],
                    "dd" | "e" if died_before => &["IV.5"],
                    "k" if died_before => &["IV.6"],
                    "l" if died_before => &["IV.9"],
                    "m" if died_before => &["IV.10"],
                    _ => &[],
                };
                for item in items {
                    self.one_off(f, m, item, out, trace.as_deref_mut())?;
                }
            }
            if f.died.is_some_and(|d| m > d) {
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!(
                        "{m}: không chi trả — đã từ trần tháng {}",
                        f.died.map(|d| d.to_string()).unwrap_or_default()
                    ));
                }
                continue;
            }
            let start = out.len();
            self.merit_month(f, m, out, trace.as_deref_mut())?;
            let merit_monthly =
                Money::checked_sum(out[start..].iter().filter(|l| l.kind == LineKind::Monthly).map(|l| l.amount))
                    .unwrap_or(Money::ZERO);
            self.assistance_month(f, m, out, trace.as_deref_mut())?;
            if f.died == Some(m) && merit_monthly > Money::ZERO {
                let three = merit_monthly.checked_mul_int(3).unwrap_or(Money::ZERO);
                out.push(Line {
                    month: m,
                    item: DEATH_ITEM,
                    kind: LineKind::OneOff,
                    amount: three,
                    citation: DEATH_CITATION,
                });
                let base = self.luong_co_so.at(m).map(|d| d.value);
                let Some(base) = base else {
                    return missing(&f.person, FUNERAL_ITEM, format!("no base salary for {m}"));
                };
                let funeral = base.checked_mul_int(10).unwrap_or(Money::ZERO);
                out.push(Line {
                    month: m,
                    item: FUNERAL_ITEM,
                    kind: LineKind::OneOff,
                    amount: funeral,
                    citation: FUNERAL_CITATION,
                });
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!("{m}: từ trần — trợ cấp một lần 3 tháng = 3 × {merit_monthly} = {three}; mai táng = 10 × {base} = {funeral}"));
                }
            }
        }
        Ok(())
    }

    fn merit_month(
        &self,
        f: &Checked,
        m: Month,
        out: &mut Vec<Line<'p>>,
        mut trace: Option<&mut Trace>,
    ) -> Result<(), RuleError> {
        let person = f.person.as_str();
        // survivor allowances are collected, then limited (Art. 6)
        // (amount, item, citation, the nurture allowance that goes with it)
        type Nurture<'a> = Option<(Money, &'a str, &'a str)>;
        let mut tuat: Vec<(Money, &'p str, &'p str, Nurture<'p>)> = Vec::new();
        let mut multi_martyr = false;
        // caregiver and study allowances: only the single highest (Art. 6)
        let mut caregiver: Option<(Money, &'p str, &'p str)> = None;
        let mut study: Option<(Money, &'p str, &'p str)> = None;
        let highest = |slot: &mut Option<(Money, &'p str, &'p str)>, cand: (Money, &'p str, &'p str)| {
            if slot.is_none_or(|(a, i, _)| cand.0 > a || (cand.0 == a && cand.1 < i)) {
                *slot = Some(cand);
            }
        };
        for (i, (span, fact)) in f.merit.iter().enumerate() {
            // of two records of one kind covering this month (one closed and its successor
            // opened during the month), only the later counts
            if f.merit.len() > 1 && superseded(&f.merit, i, m) {
                continue;
            }
            // only asked in the month a record starts (one-offs)
            let first = span.from == m && (f.merit.len() == 1 || first_of_kind(&f.merit, i));
            // one-offs in the month a record takes effect: Appendix IV item 7 (category l, per
            // year of seniority)
            if first && fact.category == "l" && span.from == m {
                if let Some(months) = fact.seniority_months {
                    self.seniority_one_off(f, m, months, out, trace.as_deref_mut())?;
                }
            }
            // one-off for a 5–20 % injury, in the month the rate takes effect
            if first && fact.category == "g" && span.from == m {
                if let Some(r @ 5..=20) = fact.injury_rate {
                    let item: &'static str = match r {
                        5..=10 => "VI.a",
                        11..=15 => "VI.b",
                        _ => "VI.c",
                    };
                    self.one_off(f, m, item, out, trace.as_deref_mut())?;
                }
            }
            if !span.covers(m) {
                continue;
            }
            let push = |out: &mut Vec<Line<'p>>,
                        item: &'p str,
                        trace: Option<&mut Trace>,
                        why: &str|
             -> Result<(), RuleError> {
                let (amount, citation) = self.monthly_amount(person, item, m)?;
                out.push(Line { month: m, item, kind: LineKind::Monthly, amount, citation });
                if let Some(t) = trace {
                    t.push(format!("{m}: {why} → mục {item}: {amount} ({citation})"));
                }
                Ok(())
            };
            let rate = |rule: &str| -> Result<u8, RuleError> {
                fact.injury_rate.map_or_else(|| missing(person, rule, "the fact injury_rate is missing"), Ok)
            };
            match fact.category.as_str() {
                "a" => match fact.thoat_ly {
                    Some(true) => {
                        push(out, "1.1a", trace.as_deref_mut(), "lão thành cách mạng, diện thoát ly")?;
                        let years = fact
                            .seniority_years
                            .map_or_else(|| missing(person, "1.1at", "the fact seniority_years is missing"), Ok)?;
                        let (per_year, citation) = self.monthly_amount(person, "1.1at", m)?;
                        let amount = per_year.checked_mul_int(i64::from(years)).unwrap_or(Money::ZERO);
                        out.push(Line { month: m, item: "1.1at", kind: LineKind::Monthly, amount, citation });
                        if let Some(t) = trace.as_deref_mut() {
                            t.push(format!("{m}: phụ cấp thâm niên {years} năm × {per_year} = {amount} ({citation})"));
                        }
                    }
                    Some(false) => push(out, "1.1b", trace.as_deref_mut(), "lão thành cách mạng, diện không thoát ly")?,
                    None => return missing(person, "1.1", "the fact thoat_ly is missing (true: 1.1a, false: 1.1b)"),
                },
                "b" => push(out, "2.1", trace.as_deref_mut(), "tiền khởi nghĩa")?,
                "c" => {
                    if let Some(t) = trace.as_deref_mut() {
                        t.push(format!(
                            "{m}: liệt sĩ — không có trợ cấp hằng tháng cho chính người này (thân nhân hưởng tuất)"
                        ));
                    }
                }
                "d" => {
                    push(out, "4", trace.as_deref_mut(), "Bà mẹ Việt Nam anh hùng")?;
                    push(out, "4p", trace.as_deref_mut(), "Bà mẹ Việt Nam anh hùng: phụ cấp")?;
                    if fact.caregiver {
                        let (a, c) = self.monthly_amount(person, "4c", m)?;
                        highest(&mut caregiver, (a, "4c", c));
                    }
                }
                "dd" | "e" => {
                    push(out, "5", trace.as_deref_mut(), "anh hùng: phụ cấp")?;
                    if fact.studying {
                        let (a, c) = self.monthly_amount(person, "11.1", m)?;
                        highest(&mut study, (a, "11.1", c));
                    }
                }
                "g" => {
                    let r = rate("6.1")?;
                    if r < 5 {
                        return missing(person, "6.1", format!("injury rate {r}% is below 5%: not a war invalid"));
                    }
                    if r >= 21 {
                        let series = self.invalid.get(usize::from(fact.type_b) * 80 + usize::from(r) - 21);
                        let Some(d) = series.and_then(|s| s.at(m)) else {
                            return missing(person, "6.1", format!("the pack has no amount for rate {r}% in {m}"));
                        };
                        out.push(Line {
                            month: m,
                            item: if fact.type_b { "III" } else { "II" },
                            kind: LineKind::Monthly,
                            amount: d.value,
                            citation: &d.citation,
                        });
                        if let Some(t) = trace.as_deref_mut() {
                            t.push(format!(
                                "{m}: {} tỷ lệ {r}% → {}: {} ({})",
                                if fact.type_b { "thương binh loại B" } else { "thương binh" },
                                if fact.type_b { "Phụ lục III" } else { "Phụ lục II" },
                                d.value,
                                d.citation
                            ));
                        }
                        if r >= 81 {
                            let item = if fact.especially_severe { "6.1ps" } else { "6.1p" };
                            push(out, item, trace.as_deref_mut(), "thương binh từ 81%: phụ cấp")?;
                            if fact.caregiver {
                                let item = if fact.especially_severe { "6.1cs" } else { "6.1c" };
                                let (a, c) = self.monthly_amount(person, item, m)?;
                                highest(&mut caregiver, (a, item, c));
                            }
                        }
                        if fact.studying {
                            let (a, c) = self.monthly_amount(person, "11.1", m)?;
                            highest(&mut study, (a, "11.1", c));
                        }
                    } else if let Some(t) = trace.as_deref_mut() {
                        t.push(format!("{m}: thương binh tỷ lệ {r}% (dưới 21%) — không có trợ cấp hằng tháng (trợ cấp một lần Phụ lục VI)"));
                    }
                }
                "h" => {
                    let r = rate("7.1")?;
                    let item = match r {
                        41..=50 => "7.1a",
                        51..=60 => "7.1b",
                        61..=70 => "7.1c",
                        71..=80 => "7.1d",
                        81..=90 => "7.1e",
                        91..=100 => "7.1f",
                        _ => {
                            return missing(person, "7.1", format!("rate {r}%: sick soldiers are recognised from 41%"))
                        }
                    };
                    push(out, item, trace.as_deref_mut(), &format!("bệnh binh tỷ lệ {r}%"))?;
                    if r >= 81 {
                        let item = if fact.especially_severe { "7.1ps" } else { "7.1p" };
                        push(out, item, trace.as_deref_mut(), "bệnh binh từ 81%: phụ cấp")?;
                        if fact.caregiver {
                            let item = if fact.especially_severe { "7.1c2" } else { "7.1c1" };
                            let (a, c) = self.monthly_amount(person, item, m)?;
                            highest(&mut caregiver, (a, item, c));
                        }
                    }
                }
                "i" => {
                    let r = rate("8.1")?;
                    let item = match r {
                        21..=40 => "8.1a",
                        41..=60 => "8.1b",
                        61..=80 => "8.1c",
                        81..=100 => "8.1d",
                        _ => return missing(person, "8.1", format!("rate {r}%: the monthly allowance starts at 21%")),
                    };
                    push(out, item, trace.as_deref_mut(), &format!("nhiễm chất độc hóa học tỷ lệ {r}%"))?;
                    if r >= 81 {
                        let item = if fact.especially_severe { "8.1ps" } else { "8.1p" };
                        push(out, item, trace.as_deref_mut(), "nhiễm chất độc hóa học từ 81%: phụ cấp")?;
                        if fact.caregiver {
                            let (a, c) = self.monthly_amount(person, "8.1cg", m)?;
                            highest(&mut caregiver, (a, "8.1cg", c));
                        }
                    }
                }
                "k" => push(out, "9", trace.as_deref_mut(), "bị địch bắt tù, đày")?,
                "l" => {
                    if let Some(t) = trace.as_deref_mut() {
                        t.push(format!(
                            "{m}: tham gia kháng chiến — không có trợ cấp hằng tháng (trợ cấp một lần theo thâm niên)"
                        ));
                    }
                }
                "m" if fact.nurture && fact.award.is_some() => {
                    let item = if fact.award.as_deref() == Some("to_quoc_ghi_cong") { "10.1" } else { "10.2" };
                    push(out, item, trace.as_deref_mut(), "có công giúp đỡ cách mạng")?;
                    push(out, "10.3", trace.as_deref_mut(), "có công giúp đỡ cách mạng sống cô đơn: nuôi dưỡng")?;
                }
                "m" => match fact.award.as_deref() {
                    Some("to_quoc_ghi_cong") => {
                        push(out, "10.1", trace.as_deref_mut(), "có công giúp đỡ cách mạng, Kỷ niệm chương/Bằng")?
                    }
                    Some(_) => {
                        push(out, "10.2", trace.as_deref_mut(), "có công giúp đỡ cách mạng, Huân chương Kháng chiến")?
                    }
                    None => {
                        return missing(
                            person,
                            "10",
                            "the fact award is missing (to_quoc_ghi_cong or huan_chuong_khang_chien)",
                        )
                    }
                },
                "relative" => {
                    if fact.studying {
                        let rate = fact.of_injury_rate.unwrap_or(0);
                        let item = match fact.of_category.as_deref() {
                            Some("c" | "a" | "b") => "11.1",
                            Some("g" | "h" | "i") if rate >= 61 => "11.1",
                            Some("g" | "i") if rate >= 21 => "11.2",
                            Some("h") if rate >= 41 => "11.2",
                            _ => {
                                return missing(person, "11", "study allowance: of_category and of_injury_rate needed")
                            }
                        };
                        let (a, c) = self.monthly_amount(person, item, m)?;
                        highest(&mut study, (a, item, c));
                    }
                    if fact.ao_child {
                        let item = match fact.of_injury_rate {
                            Some(61..=80) => "8.2k1",
                            Some(81..) => "8.2k2",
                            _ => return missing(person, "8.2k", "the fact of_injury_rate (61% or more) is missing"),
                        };
                        push(out, item, trace.as_deref_mut(), "con đẻ người nhiễm chất độc hóa học")?;
                        continue;
                    }
                    let (item, nurture_item, why): (&'p str, &'p str, String) = match fact.of_category.as_deref() {
                        Some("c") => {
                            let n = fact
                                .martyrs_count
                                .map_or_else(|| missing(person, "3", "the fact martyrs_count is missing"), Ok)?;
                            if n >= 2 {
                                multi_martyr = true;
                            }
                            let item = match n {
                                0 => return missing(person, "3", "martyrs_count must be at least 1"),
                                1 if fact.remarried => "3.5",
                                1 => "3.1",
                                2 => "3.2",
                                _ => "3.3",
                            };
                            (item, "3.4", format!("thân nhân của {n} liệt sĩ"))
                        }
                        Some(_) if fact.of_deceased.is_none() => {
                            return missing(
                                person,
                                "tuat",
                                "the fact of_deceased is missing (has the person with merit died?)",
                            )
                        }
                        Some(_) if fact.of_deceased == Some(false) => {
                            if let Some(t) = trace.as_deref_mut() {
                                t.push(format!("{m}: người có công còn sống — thân nhân chưa hưởng tuất"));
                            }
                            continue;
                        }
                        Some("a") => ("1.2", "1.2n", "thân nhân lão thành cách mạng".to_string()),
                        Some("b") => ("2.2", "2.2n", "thân nhân tiền khởi nghĩa".to_string()),
                        Some(o @ ("g" | "h" | "i")) => {
                            let r = fact
                                .of_injury_rate
                                .map_or_else(|| missing(person, "tuat", "the fact of_injury_rate is missing"), Ok)?;
                            if r < 61 {
                                return missing(
                                    person,
                                    "tuat",
                                    format!("survivor allowance needs a rate of 61% or more, not {r}%"),
                                );
                            }
                            match o {
                                "g" => ("6.2", "6.2n", format!("thân nhân thương binh {r}%")),
                                "h" => ("7.2", "7.2n", format!("thân nhân bệnh binh {r}%")),
                                _ => ("8.2", "8.2n", format!("thân nhân người nhiễm chất độc hóa học {r}%")),
                            }
                        }
                        _ => return missing(person, "tuat", "the fact of_category is missing"),
                    };
                    let (amount, citation) = self.monthly_amount(person, item, m)?;
                    let with = if fact.nurture {
                        let (a, c) = self.monthly_amount(person, nurture_item, m)?;
                        Some((a, nurture_item, c))
                    } else {
                        None
                    };
                    tuat.push((amount, item, citation, with));
                    if let Some(t) = trace.as_deref_mut() {
                        t.push(format!("{m}: {why} → tuất mục {item}: {amount}"));
                    }
                }
                other => return missing(person, "category", format!("unknown category {other}")),
            }
        }
        if !tuat.is_empty() {
            // Art. 6: 2+ martyrs → only the multi-martyr rate; else at most two, the highest
            tuat.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
            let keep: Vec<_> = if multi_martyr {
                tuat.iter().filter(|t| t.1 == "3.2" || t.1 == "3.3").take(1).copied().collect()
            } else {
                tuat.iter().take(2).copied().collect()
            };
            if let Some(t) = trace.as_deref_mut() {
                if keep.len() < tuat.len() {
                    t.push(format!(
                        "{m}: Điều 6 Pháp lệnh 02/2020 — giữ {} trong {} khoản tuất: {}",
                        keep.len(),
                        tuat.len(),
                        keep.iter().map(|k| k.1).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            // the extra nurture allowance once, and only with a survivor allowance that is paid
            let mut nurture: Nurture<'p> = None;
            for (amount, item, citation, with) in keep {
                out.push(Line { month: m, item, kind: LineKind::Monthly, amount, citation });
                if let Some(n) = with {
                    if nurture.is_none_or(|(a, i, _)| n.0 > a || (n.0 == a && n.1 < i)) {
                        nurture = Some(n);
                    }
                }
            }
            if let Some((amount, item, citation)) = nurture {
                out.push(Line { month: m, item, kind: LineKind::Monthly, amount, citation });
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!("{m}: tuất nuôi dưỡng (một lần duy nhất) mục {item}: {amount} ({citation})"));
                }
            }
        }
        for (slot, why) in [(caregiver, "người phục vụ"), (study, "ưu đãi học tập")] {
            if let Some((amount, item, citation)) = slot {
                out.push(Line { month: m, item, kind: LineKind::Monthly, amount, citation });
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!("{m}: trợ cấp {why} (chỉ một, mức cao nhất) mục {item}: {amount} ({citation})"));
                }
            }
        }
        Ok(())
    }

    /// Appendix IV item 7: 0.3 × the standard level per year of seniority, computed on the
    /// total and then rounded; leftover months of 6 or more count as a year, fewer as half.
    fn seniority_one_off(
        &self,
        f: &Checked,
        m: Month,
        months: u16,
        out: &mut Vec<Line<'p>>,
        trace: Option<&mut Trace>,
    ) -> Result<(), RuleError> {
        let Some((per_year, citation)) = self.p.one_off.get("IV.7") else {
            return missing(&f.person, "IV.7", "the pack has no such one-off item");
        };
        let rest = months % 12;
        let halves = i64::from(months / 12) * 2 + if rest >= 6 { 2 } else { i64::from(rest > 0) };
        let Some(level) = self.muc_chuan.at(m) else {
            return missing(&f.person, "IV.7", format!("no standard level for {m}"));
        };
        let c = Coefficient::from_ten_thousandths(per_year.ten_thousandths() * halves / 2);
        let amount = level.value.mul_coefficient_round_thousand(c).map_err(|e| RuleError {
            person: f.person.clone(),
            rule: "IV.7".into(),
            message: e.to_string(),
        })?;
        out.push(Line { month: m, item: "IV.7", kind: LineKind::OneOff, amount, citation });
        if let Some(t) = trace {
            t.push(format!(
                "{m}: trợ cấp một lần theo thâm niên {months} tháng = {c} × mức chuẩn {} = {amount} ({citation})",
                level.value
            ));
        }
        Ok(())
    }

    fn one_off(
        &self,
        f: &Checked,
        m: Month,
        item: &'static str,
        out: &mut Vec<Line<'p>>,
        trace: Option<&mut Trace>,
    ) -> Result<(), RuleError> {
        let Some((c, citation)) = self.p.one_off.get(item) else {
            return missing(&f.person, item, "the pack has no such one-off item");
        };
        let Some(level) = self.muc_chuan.at(m) else {
            return missing(&f.person, item, format!("no standard level for {m}"));
        };
        let amount = level.value.mul_coefficient_round_thousand(*c).map_err(|e| RuleError {
            person: f.person.clone(),
            rule: item.to_string(),
            message: e.to_string(),
        })?;
        out.push(Line { month: m, item, kind: LineKind::OneOff, amount, citation });
        if let Some(t) = trace {
            t.push(format!("{m}: trợ cấp một lần mục {item}: {c} × mức chuẩn {} = {amount} ({citation})", level.value));
        }
        Ok(())
    }

    fn assistance_month(
        &self,
        f: &Checked,
        m: Month,
        out: &mut Vec<Line<'p>>,
        mut trace: Option<&mut Trace>,
    ) -> Result<(), RuleError> {
        let age = age_at(f.born, m);
        let mut best: Option<(Coefficient, usize, &'p str)> = None;
        let mut single_parent: Option<(Coefficient, usize, &'p str)> = None;
        for (span, a) in &f.assistance {
            if !span.covers(m) {
                continue;
            }
            if a.group == "k6" && a.disability_level.is_none() {
                return missing(&f.person, "tgxh.k6", "the fact disability_level is missing");
            }
            let Some((gi, rows)) = self.coefficients.get(a.group.as_str()) else {
                return missing(&f.person, "tgxh", format!("unknown group {}", a.group));
            };
            let gi = *gi;
            let row = rows.iter().copied().find(|c| {
                c.condition.holds(age) && (c.disability_level.is_none() || c.disability_level == a.disability_level)
            });
            let Some(row) = row else {
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!("{m}: nhóm {} — {age} tuổi: không có hệ số (hết điều kiện tuổi)", a.group));
                }
                continue;
            };
            if let Some(t) = trace.as_deref_mut() {
                t.push(format!(
                    "{m}: nhóm {} ({}, {age} tuổi) → hệ số {} ({})",
                    a.group,
                    row.condition.label(),
                    row.coefficient,
                    row.citation
                ));
            }
            let slot = if a.group == "k4" { &mut single_parent } else { &mut best };
            // the highest coefficient; between equal ones the first group in Art. 5 order, so
            // that the result never depends on the order of the records
            if slot.is_none_or(|(c, g, _)| row.coefficient > c || (row.coefficient == c && gi < g)) {
                *slot = Some((row.coefficient, gi, row.citation.as_str()));
            }
        }
        let Some(level) = self.muc_chuan_tgxh.at(m) else {
            if best.is_some() || single_parent.is_some() {
                return missing(&f.person, "tgxh", format!("no standard level for {m}"));
            }
            return Ok(());
        };
        let amount_of = |c: Coefficient| {
            level.value.mul_coefficient_round_thousand(c).map_err(|e| RuleError {
                person: f.person.clone(),
                rule: "tgxh".into(),
                message: e.to_string(),
            })
        };
        // social pension: ≥ 75 without pension, or 70–74 in a poor or near-poor household
        let pension_age = age >= 75 || (age >= 70 && f.poor_household);
        let pension = self.pension.at(m).filter(|_| pension_age && f.has_pension == Some(false));
        if pension_age && f.has_pension.is_none() && self.pension.at(m).is_some() {
            if let Some(t) = trace.as_deref_mut() {
                t.push(format!(
                    "{m}: {age} tuổi — chưa rõ có lương hưu hay không (has_pension): chưa xét trợ cấp hưu trí xã hội"
                ));
            }
        }
        let assistance = best.map(|(c, gi, cit)| amount_of(c).map(|a| (a, gi, cit))).transpose()?;
        match (assistance, pension) {
            (Some((a, _, _)), Some(p)) if p.value > a => {
                out.push(Line {
                    month: m,
                    item: PENSION_ITEM,
                    kind: LineKind::Monthly,
                    amount: p.value,
                    citation: &p.citation,
                });
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!(
                        "{m}: trợ cấp hưu trí xã hội {} cao hơn trợ cấp xã hội {a}: hưởng mức cao hơn",
                        p.value
                    ));
                }
            }
            (Some((a, gi, cit)), p) => {
                let item = GROUP_ITEMS.get(gi).map_or("tgxh", |g| g.1);
                out.push(Line { month: m, item, kind: LineKind::Monthly, amount: a, citation: cit });
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!(
                        "{m}: trợ cấp xã hội hằng tháng = mức chuẩn {} × hệ số cao nhất = {a}",
                        level.value
                    ));
                    if let Some(p) = p {
                        t.push(format!("{m}: trợ cấp hưu trí xã hội {} không cao hơn: không hưởng thêm", p.value));
                    }
                }
            }
            (None, Some(p)) => {
                out.push(Line {
                    month: m,
                    item: PENSION_ITEM,
                    kind: LineKind::Monthly,
                    amount: p.value,
                    citation: &p.citation,
                });
                if let Some(t) = trace.as_deref_mut() {
                    t.push(format!("{m}: trợ cấp hưu trí xã hội ({age} tuổi): {} ({})", p.value, p.citation));
                }
            }
            (None, None) => {}
        }
        if let Some((c, gi, cit)) = single_parent {
            let a = amount_of(c)?;
            let item = GROUP_ITEMS.get(gi).map_or("tgxh", |g| g.1);
            out.push(Line { month: m, item, kind: LineKind::Monthly, amount: a, citation: cit });
            if let Some(t) = trace {
                t.push(format!(
                    "{m}: người đơn thân nghèo nuôi con (k4) hưởng thêm, ngoài mức cao nhất (Điều 6 khoản 2): {a}"
                ));
            }
        }
        Ok(())
    }
}

/// Whether records `a` and `b` are of one kind: the same category and, for relatives, the
/// same category of the person with merit.
fn same_kind(a: &MeritFact, b: &MeritFact) -> bool {
    a.category == b.category && a.of_category == b.of_category
}

/// Whether record `i` is replaced in month `m` by a later-starting record of its kind that also
/// covers `m` (a rate re-assessed on the 15th: the new record counts for that month).
fn superseded(records: &[(Span, MeritFact)], i: usize, m: Month) -> bool {
    let Some((si, fi)) = records.get(i) else { return false };
    si.covers(m)
        && records.iter().enumerate().any(|(j, (sj, fj))| {
            j != i
                && sj.covers(m)
                && same_kind(fi, fj)
                && (sj.from > si.from || (sj.from == si.from && later(fj, fi, j, i)))
        })
}

/// Whether record `i` is the first of its kind (one-offs are paid for the first only).
fn first_of_kind(records: &[(Span, MeritFact)], i: usize) -> bool {
    let Some((si, fi)) = records.get(i) else { return false };
    !records.iter().enumerate().any(|(j, (sj, fj))| {
        j != i && same_kind(fi, fj) && (sj.from < si.from || (sj.from == si.from && later(fi, fj, i, j)))
    })
}

/// Between two records of one kind starting the same day: an order that depends on their
/// content, not on the order they were given in (the result must not depend on it).
fn later(a: &MeritFact, b: &MeritFact, ia: usize, ib: usize) -> bool {
    let (ka, kb) = (format!("{a:?}"), format!("{b:?}"));
    ka > kb || (ka == kb && ia > ib)
}

/// Convenience for one person: checks the facts and computes `from..=to`.
pub fn compute<'p>(
    engine: &Engine<'p>,
    facts: &crate::facts::PersonFacts,
    from: Month,
    to: Month,
) -> Result<Vec<Line<'p>>, RuleError> {
    let checked = facts.check().map_err(|e| RuleError {
        person: facts.person.clone(),
        rule: "facts".into(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    engine.person(&checked, from, to, &mut out, None)?;
    Ok(out)
}

/// The explanation of one person's month: the facts in force and every decision.
pub fn explain(
    engine: &Engine<'_>,
    facts: &crate::facts::PersonFacts,
    m: Month,
) -> Result<(Vec<String>, Money), RuleError> {
    let checked = facts.check().map_err(|e| RuleError {
        person: facts.person.clone(),
        rule: "facts".into(),
        message: e.to_string(),
    })?;
    let mut trace = Vec::new();
    for (span, f) in &checked.merit {
        if span.covers(m) {
            trace.push(describe_merit(*span, f));
        }
    }
    let mut out = Vec::new();
    engine.person(&checked, m, m, &mut out, Some(&mut trace))?;
    let total = Money::checked_sum(out.iter().map(|l| l.amount)).unwrap_or(Money::ZERO);
    trace.push(format!("Tổng tháng {m}: {total}"));
    Ok((trace, total))
}

fn describe_merit(span: Span, f: &MeritFact) -> String {
    let name = domain::categories::find(&f.category).map_or(f.category.as_str(), |c| c.2);
    format!(
        "Hồ sơ: diện {} ({name}), từ {}{}",
        domain::categories::printed(&f.category),
        span.from,
        span.to.map(|t| format!(" đến {t}")).unwrap_or_default()
    )
}
