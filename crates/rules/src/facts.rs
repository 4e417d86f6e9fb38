//! A person's facts as the engine reads them: effective-dated merit and assistance records
//! and the few personal facts the rules depend on. The schema (JSON Lines, one person per
//! line) is documented with worked examples in `docs/entitlements.md`.

use chrono::NaiveDate;
use domain::{Month, PartialDate};
use serde::{Deserialize, Serialize};

/// One person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonFacts {
    /// The person's identifier (the personal ID number in the registry).
    pub person: String,
    /// `yyyy-mm-dd`, `yyyy-mm` or `yyyy` (also `dd/mm/yyyy`).
    pub birth_date: String,
    #[serde(default)]
    pub deceased_on: Option<String>,
    #[serde(default)]
    pub merit: Vec<MeritFact>,
    #[serde(default)]
    pub assistance: Vec<AssistanceFact>,
    /// Receives a pension or a monthly social-insurance allowance. The social pension is
    /// assessed only when this is known (`false`); absent, the explanation says so.
    #[serde(default)]
    pub has_pension: Option<bool>,
    /// Member of a poor or near-poor household (social pension from 70).
    #[serde(default)]
    pub poor_household: bool,
}

/// A merit record (Pháp lệnh 02/2020 Art. 3), in force from `from` to `to` (inclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeritFact {
    /// `a` … `m` (`dd` for đ), or `relative`.
    pub category: String,
    /// The date the entitlement starts (the decision's effective date).
    pub from: String,
    #[serde(default)]
    pub to: Option<String>,
    /// Body-injury (or illness) rate in percent: categories g, h, i.
    #[serde(default)]
    pub injury_rate: Option<u8>,
    /// Type-B war invalid (Appendix III).
    #[serde(default)]
    pub type_b: bool,
    /// Especially severe wounds or illness (supplements 6.1ps, 7.1ps, 8.1ps).
    #[serde(default)]
    pub especially_severe: bool,
    /// Category a: `true` for diện thoát ly (1.1a + seniority), `false` otherwise (1.1b).
    #[serde(default)]
    pub thoat_ly: Option<bool>,
    /// Category a thoát ly: whole years of seniority for the 1.1a supplement.
    #[serde(default)]
    pub seniority_years: Option<u8>,
    /// Category m: `to_quoc_ghi_cong` (10.1) or `huan_chuong_khang_chien` (10.2).
    #[serde(default)]
    pub award: Option<String>,
    /// Relatives: the category of the person with merit (`a`, `b`, `c`, `g`, `h`, `i`).
    #[serde(default)]
    pub of_category: Option<String>,
    /// Relatives of a martyr (`of_category` = `c`): number of martyrs.
    #[serde(default)]
    pub martyrs_count: Option<u8>,
    /// Relatives of an invalid, sick soldier or Agent Orange victim: the deceased's rate.
    #[serde(default)]
    pub of_injury_rate: Option<u8>,
    /// Relatives: also entitled to the extra nurture allowance (tuất nuôi dưỡng); category
    /// m: living alone (nurture allowance 10.3).
    #[serde(default)]
    pub nurture: bool,
    /// Relatives of a, b, g, h, i: whether the person with merit has died (survivor
    /// allowances are paid only then).
    #[serde(default)]
    pub of_deceased: Option<bool>,
    /// Relative of a martyr: the spouse who remarried but raised the martyr's child or cared
    /// for the martyr's parents (3.5).
    #[serde(default)]
    pub remarried: bool,
    /// Relative of an Agent Orange victim: a living biological child affected (8.2k1, 8.2k2).
    #[serde(default)]
    pub ao_child: bool,
    /// Categories d, g, h, i: a caregiver looks after the person at home (4c, 6.1c, 7.1c, 8.1c).
    #[serde(default)]
    pub caregiver: bool,
    /// Studying (boarding ethnic school, vocational school, college, university): the monthly
    /// study allowance 11.1 or 11.2.
    #[serde(default)]
    pub studying: bool,
    /// Category l: months of resistance activity, for the one-off of Appendix IV item 7.
    #[serde(default)]
    pub seniority_months: Option<u16>,
}

/// A social-assistance record (Decree 20/2021 Art. 5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistanceFact {
    /// `k1` … `k8`.
    pub group: String,
    pub from: String,
    #[serde(default)]
    pub to: Option<String>,
    /// Group k6: `severe` or `especially_severe`.
    #[serde(default)]
    pub disability_level: Option<String>,
}

/// A fact that cannot be read: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FactError {
    pub field: String,
    pub reason: String,
}

fn bad(field: &str, reason: impl Into<String>) -> FactError {
    FactError { field: field.to_string(), reason: reason.into() }
}

/// A date range in months, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: Month,
    pub to: Option<Month>,
}

impl Span {
    pub fn covers(self, m: Month) -> bool {
        self.from <= m && self.to.is_none_or(|t| m <= t)
    }
}

fn date(field: &str, s: &str) -> Result<NaiveDate, FactError> {
    domain::calendar::parse_date(s).map_err(|e| bad(field, e.to_string()))
}

fn span(field: &str, from: &str, to: Option<&str>) -> Result<Span, FactError> {
    let f = date(&format!("{field}.from"), from)?;
    let t = to.map(|t| date(&format!("{field}.to"), t)).transpose()?;
    if let Some(t) = t {
        if t < f {
            return Err(bad(&format!("{field}.to"), format!("{t} is before from {f}")));
        }
    }
    Ok(Span { from: Month::of(f), to: t.map(Month::of) })
}

/// Facts checked and turned into months, ready for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub person: String,
    /// Birth date as the age rules use it: a year alone counts as 1 July, a month as its 1st.
    pub born: NaiveDate,
    pub died: Option<Month>,
    pub merit: Vec<(Span, MeritFact)>,
    pub assistance: Vec<(Span, AssistanceFact)>,
    pub has_pension: Option<bool>,
    pub poor_household: bool,
}

impl PersonFacts {
    /// Checks every field the rules read; errors name the field.
    pub fn check(&self) -> Result<Checked, FactError> {
        if self.person.trim().is_empty() {
            return Err(bad("person", "must not be empty"));
        }
        let born = match PartialDate::parse(&self.birth_date).map_err(|e| bad("birth_date", e.to_string()))? {
            PartialDate::Full(d) => d,
            PartialDate::MonthYear(m) => m.first_day(),
            PartialDate::Year(y) => {
                NaiveDate::from_ymd_opt(y, 7, 1).ok_or_else(|| bad("birth_date", "impossible year"))?
            }
        };
        let died = self.deceased_on.as_deref().map(|d| date("deceased_on", d)).transpose()?;
        if died.is_some_and(|d| d < born) {
            return Err(bad("deceased_on", "before the birth date"));
        }
        let mut merit = Vec::new();
        for (i, m) in self.merit.iter().enumerate() {
            let f = |name: &str| format!("merit[{i}].{name}");
            if !domain::categories::MERIT.iter().any(|c| c.0 == m.category) {
                return Err(bad(
                    &f("category"),
                    format!("'{}' is not a category of Pháp lệnh 02/2020 Art. 3 (a … m, relative)", m.category),
                ));
            }
            for (name, v) in [("injury_rate", m.injury_rate), ("of_injury_rate", m.of_injury_rate)] {
                if v.is_some_and(|r| !(1..=100).contains(&r)) {
                    return Err(bad(&f(name), format!("{}% is not a rate (1–100)", v.unwrap_or_default())));
                }
            }
            if let Some(o) = &m.of_category {
                if !["a", "b", "c", "g", "h", "i"].contains(&o.as_str()) {
                    return Err(bad(
                        &f("of_category"),
                        format!("'{o}': survivor allowances exist for a, b, c, g, h, i"),
                    ));
                }
            }
            if let Some(a) = &m.award {
                if !["to_quoc_ghi_cong", "huan_chuong_khang_chien"].contains(&a.as_str()) {
                    return Err(bad(
                        &f("award"),
                        format!("'{a}' is neither to_quoc_ghi_cong nor huan_chuong_khang_chien"),
                    ));
                }
            }
            merit.push((span(&format!("merit[{i}]"), &m.from, m.to.as_deref())?, m.clone()));
        }
        let mut assistance = Vec::new();
        for (i, a) in self.assistance.iter().enumerate() {
            if !domain::categories::ASSISTANCE.iter().any(|c| c.0 == a.group) {
                return Err(bad(
                    &format!("assistance[{i}].group"),
                    format!("'{}' is not a group of Decree 20/2021 Art. 5 (k1 … k8)", a.group),
                ));
            }
            if let Some(d) = &a.disability_level {
                if !["severe", "especially_severe"].contains(&d.as_str()) {
                    return Err(bad(
                        &format!("assistance[{i}].disability_level"),
                        format!("'{d}' is neither severe nor especially_severe"),
                    ));
                }
            }
            assistance.push((span(&format!("assistance[{i}]"), &a.from, a.to.as_deref())?, a.clone()));
        }
        Ok(Checked {
            person: self.person.clone(),
            born,
            died: died.map(Month::of),
            merit,
            assistance,
            has_pension: self.has_pension,
            poor_household: self.poor_household,
        })
    }
}

/// Reads JSON Lines: one person per line; blank lines skipped. Errors name the line.
pub fn read_jsonl(text: &str) -> Result<Vec<PersonFacts>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: PersonFacts = serde_json::from_str(line).map_err(|e| (i + 1, e.to_string()))?;
        p.check().map_err(|e| (i + 1, e.to_string()))?;
        out.push(p);
    }
    Ok(out)
}

/// Completed years on the first day of month `m` (the age rules of the engine).
pub fn age_at(born: NaiveDate, m: Month) -> i32 {
    use chrono::Datelike;
    // integer arithmetic: this runs for every person and month of a batch
    let before_birthday = (m.month(), 1) < (born.month(), born.day());
    m.year() - born.year() - i32::from(before_birthday)
}
