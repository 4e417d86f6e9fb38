//! Policy packs: parameters and tables as dated rows with citations, parsed and checked.
//!
//! A pack is a directory with `pack.toml` (metadata, dated parameters, the list of tables)
//! and CSV tables. The loader gets each file's text through a callback, so that the binary
//! can embed the packs or read a directory a legal officer is editing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::{Coefficient, Money, Month};
use serde::Deserialize;

/// Where a pack is wrong: the file, the line (0 = the file as a whole) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", if *line > 0 { format!(" line {line}") } else { String::new() })]
pub struct PackError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

fn err(file: &str, line: usize, message: impl Into<String>) -> PackError {
    PackError { file: file.to_string(), line, message: message.into() }
}

/// A value that holds from a month on, with its legal citation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dated<T> {
    pub from: Month,
    pub value: T,
    pub citation: String,
    /// Why the value is not confirmed, if it is not (shown by `rules check`).
    pub check: Option<String>,
}

/// Rows sorted by `from`; the row in force in a month is the last one starting at or before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series<T>(pub Vec<Dated<T>>);

impl<T> Series<T> {
    pub fn at(&self, m: Month) -> Option<&Dated<T>> {
        let i = self.0.partition_point(|d| d.from <= m);
        i.checked_sub(1).and_then(|i| self.0.get(i))
    }

    pub fn first_month(&self) -> Option<Month> {
        self.0.first().map(|d| d.from)
    }
}

/// Dated rows with the line each came from.
type Rows<T> = Vec<(usize, Dated<T>)>;

/// Sorts the rows and refuses two rows starting in the same month.
fn series<T>(file: &str, what: &str, mut rows: Vec<(usize, Dated<T>)>) -> Result<Series<T>, PackError> {
    rows.sort_by_key(|(_, d)| d.from);
    for w in rows.windows(2) {
        if let [(_, a), (line, b)] = w {
            if a.from == b.from {
                return Err(err(file, *line, format!("{what}: two rows from {}", b.from)));
            }
        }
    }
    Ok(Series(rows.into_iter().map(|(_, d)| d).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackToml {
    id: String,
    title: String,
    basis: Vec<String>,
    covers_from: String,
    #[serde(default)]
    parameter: Vec<ParamToml>,
    #[serde(default)]
    table: Vec<TableToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamToml {
    name: String,
    title: String,
    rows: Vec<ParamRowToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamRowToml {
    from: String,
    value: i64,
    citation: String,
    #[serde(default)]
    check: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableToml {
    name: String,
    file: String,
    title: String,
}

/// Metadata of a loaded pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackInfo {
    pub id: String,
    pub title: String,
    pub basis: Vec<String>,
    pub covers_from: Month,
    /// (table name, title, rows)
    pub tables: Vec<(String, String, usize)>,
}

/// Who a social-assistance coefficient applies to (Decree 20/2021 Art. 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeCondition {
    Any,
    Under4,
    From4,
    From4Under16,
    From60Under80,
    From80,
    /// 16 to 59 (disability coefficients)
    Adult,
    /// under 16 or 60 and over
    ChildOrElderly,
}

impl AgeCondition {
    fn parse(s: &str) -> Option<AgeCondition> {
        Some(match s {
            "any" => AgeCondition::Any,
            "age<4" => AgeCondition::Under4,
            "age>=4" => AgeCondition::From4,
            "4<=age<16" => AgeCondition::From4Under16,
            "60<=age<80" => AgeCondition::From60Under80,
            "age>=80" => AgeCondition::From80,
            "adult" => AgeCondition::Adult,
            "child_or_elderly" => AgeCondition::ChildOrElderly,
            _ => return None,
        })
    }

    pub fn holds(self, age: i32) -> bool {
        match self {
            AgeCondition::Any => true,
            AgeCondition::Under4 => age < 4,
            AgeCondition::From4 => age >= 4,
            AgeCondition::From4Under16 => (4..16).contains(&age),
            AgeCondition::From60Under80 => (60..80).contains(&age),
            AgeCondition::From80 => age >= 80,
            AgeCondition::Adult => (16..60).contains(&age),
            AgeCondition::ChildOrElderly => !(16..60).contains(&age),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AgeCondition::Any => "mọi độ tuổi",
            AgeCondition::Under4 => "dưới 4 tuổi",
            AgeCondition::From4 => "từ đủ 4 tuổi",
            AgeCondition::From4Under16 => "từ đủ 4 đến dưới 16 tuổi",
            AgeCondition::From60Under80 => "từ đủ 60 đến dưới 80 tuổi",
            AgeCondition::From80 => "từ đủ 80 tuổi",
            AgeCondition::Adult => "từ đủ 16 đến dưới 60 tuổi",
            AgeCondition::ChildOrElderly => "trẻ em hoặc người cao tuổi",
        }
    }
}

/// One row of the social-assistance coefficient table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoefficientRow {
    pub group: String,
    pub condition: AgeCondition,
    pub disability_level: Option<String>,
    pub coefficient: Coefficient,
    pub citation: String,
}

/// Both packs, loaded and checked.
#[derive(Debug, Clone)]
pub struct Packs {
    pub merit: PackInfo,
    pub assistance: PackInfo,
    /// Parameters by name (both packs; names are unique across them).
    pub params: BTreeMap<String, (String, Series<Money>)>,
    /// Appendix I: item → amounts.
    pub monthly: HashMap<String, Series<Money>>,
    /// Appendix I: item → (kind, beneficiary).
    pub monthly_meta: BTreeMap<String, (String, String)>,
    /// Appendices II and III: (type B?, rate 21–100) → amounts.
    pub invalid: HashMap<(bool, u8), Series<Money>>,
    /// Appendices IV and VI: item → (coefficient, citation).
    pub one_off: BTreeMap<String, (Coefficient, String)>,
    /// Decree 20/2021 Art. 6.
    pub coefficients: Vec<CoefficientRow>,
}

/// The files of the two packs, relative to the policies directory.
pub const FILES: [&str; 6] = [
    "nguoi-co-cong/pack.toml",
    "nguoi-co-cong/monthly_amounts.csv",
    "nguoi-co-cong/war_invalid_by_rate.csv",
    "nguoi-co-cong/one_off_coefficients.csv",
    "tro-giup-xa-hoi/pack.toml",
    "tro-giup-xa-hoi/coefficients.csv",
];

fn month(file: &str, line: usize, s: &str) -> Result<Month, PackError> {
    s.parse::<Month>().map_err(|e| err(file, line, format!("'{s}' is not a month (yyyy-mm): {e}")))
}

fn money(file: &str, line: usize, v: i64) -> Result<Money, PackError> {
    if v <= 0 || v % 1000 != 0 {
        return Err(err(file, line, format!("amount {v} must be a positive whole number of thousands of đồng")));
    }
    Ok(Money::from_dong(v))
}

/// Reads a CSV table: the header must be exactly `columns`; every row is returned with its
/// line number (the header is line 1).
fn csv_rows(file: &str, text: &str, columns: &[&str]) -> Result<Vec<(usize, Vec<String>)>, PackError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let header: Vec<String> =
        rdr.headers().map_err(|e| err(file, 1, e.to_string()))?.iter().map(str::to_string).collect();
    if header != columns {
        return Err(err(file, 1, format!("columns must be {}, found {}", columns.join(","), header.join(","))));
    }
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| err(file, line, e.to_string()))?;
        let row: Vec<String> = rec.iter().map(|c| c.trim().to_string()).collect();
        if row.iter().last().is_none_or(String::is_empty) {
            return Err(err(file, line, "every row needs its citation (last column)"));
        }
        out.push((line, row));
    }
    Ok(out)
}

fn parse_toml(file: &str, text: &str) -> Result<PackToml, PackError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].lines().count().max(1));
        err(file, line, e.message().to_string())
    })
}

impl Packs {
    /// Loads both packs from their files (`FILES`, read through `read`) and checks them:
    /// column types, dates, positive amounts in thousands, a citation on every row, no two
    /// rows of one series from the same month, every series starting by the pack's first
    /// month, the parameters the engine needs defined, and the tables it needs present.
    pub fn load(read: &dyn Fn(&str) -> Option<String>) -> Result<Packs, PackError> {
        let get = |f: &str| read(f).ok_or_else(|| err(f, 0, "file missing"));
        let mut params = BTreeMap::new();
        let mut infos = Vec::new();
        for (dir, tables) in [
            ("nguoi-co-cong", &["monthly_amounts", "war_invalid_by_rate", "one_off_coefficients"][..]),
            ("tro-giup-xa-hoi", &["coefficients"][..]),
        ] {
            let file = format!("{dir}/pack.toml");
            let text = get(&file)?;
            let p = parse_toml(&file, &text)?;
            if p.id != dir {
                return Err(err(&file, 0, format!("id '{}' must be the directory name '{dir}'", p.id)));
            }
            let covers_from = month(&file, 0, &p.covers_from)?;
            for param in p.parameter {
                let rows = param
                    .rows
                    .into_iter()
                    .map(|r| {
                        Ok((
                            0,
                            Dated {
                                from: month(&file, 0, &r.from)?,
                                value: money(&file, 0, r.value)?,
                                citation: r.citation,
                                check: r.check,
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, PackError>>()?;
                if rows.iter().any(|(_, d)| d.citation.trim().is_empty()) {
                    return Err(err(&file, 0, format!("parameter {}: every row needs its citation", param.name)));
                }
                let s = series(&file, &param.name, rows)?;
                if s.first_month().is_none_or(|m| m > covers_from) && param.name != "tro_cap_huu_tri_xa_hoi" {
                    return Err(err(&file, 0, format!("parameter {} must start by {covers_from}", param.name)));
                }
                if params.insert(param.name.clone(), (param.title, s)).is_some() {
                    return Err(err(&file, 0, format!("parameter {} is defined twice", param.name)));
                }
            }
            let listed: BTreeSet<&str> = p.table.iter().map(|t| t.name.as_str()).collect();
            for t in tables {
                if !listed.contains(t) {
                    return Err(err(&file, 0, format!("table {t} is missing")));
                }
            }
            for t in &p.table {
                if !tables.contains(&t.name.as_str()) {
                    return Err(err(&file, 0, format!("table {} is not used by the engine", t.name)));
                }
                if t.file != format!("{}.csv", t.name) {
                    return Err(err(&file, 0, format!("table {} must be in {}.csv", t.name, t.name)));
                }
            }
            let table_titles: Vec<(String, String)> = p.table.into_iter().map(|t| (t.name, t.title)).collect();
            infos.push((
                dir,
                PackInfo { id: p.id, title: p.title, basis: p.basis, covers_from, tables: Vec::new() },
                table_titles,
            ));
        }
        for needed in ["muc_chuan", "luong_co_so", "muc_chuan_tro_giup", "tro_cap_huu_tri_xa_hoi"] {
            if !params.contains_key(needed) {
                return Err(err("pack.toml", 0, format!("parameter {needed} is not defined")));
            }
        }

        // Appendix I
        let file = "nguoi-co-cong/monthly_amounts.csv";
        let mut by_item: BTreeMap<String, Rows<Money>> = BTreeMap::new();
        let mut monthly_meta = BTreeMap::new();
        for (line, r) in
            csv_rows(file, &get(file)?, &["item", "kind", "applies_from", "amount_vnd", "beneficiary", "citation"])?
        {
            let amount: i64 =
                r[3].parse().map_err(|_| err(file, line, format!("amount '{}' is not a number", r[3])))?;
            let d = Dated {
                from: month(file, line, &r[2])?,
                value: money(file, line, amount)?,
                citation: r[5].clone(),
                check: None,
            };
            monthly_meta.insert(r[0].clone(), (r[1].clone(), r[4].clone()));
            by_item.entry(r[0].clone()).or_default().push((line, d));
        }
        let covers = infos[0].1.covers_from;
        let mut monthly = HashMap::new();
        for (item, rows) in by_item {
            let s = series(file, &format!("item {item}"), rows)?;
            if s.first_month().is_none_or(|m| m > covers) {
                return Err(err(file, 0, format!("item {item} must start by {covers}")));
            }
            monthly.insert(item, s);
        }

        // Appendices II and III
        let file = "nguoi-co-cong/war_invalid_by_rate.csv";
        let mut by_rate: BTreeMap<(bool, u8), Rows<Money>> = BTreeMap::new();
        for (line, r) in
            csv_rows(file, &get(file)?, &["injury_rate_pct", "series", "applies_from", "amount_vnd", "citation"])?
        {
            let rate: u8 = r[0]
                .parse()
                .ok()
                .filter(|r| (21..=100).contains(r))
                .ok_or_else(|| err(file, line, format!("rate '{}' must be a whole number from 21 to 100", r[0])))?;
            let type_b = match r[1].as_str() {
                "thuong_binh" => false,
                "thuong_binh_loai_b" => true,
                other => {
                    return Err(err(
                        file,
                        line,
                        format!("series '{other}' is neither thuong_binh nor thuong_binh_loai_b"),
                    ))
                }
            };
            let amount: i64 =
                r[3].parse().map_err(|_| err(file, line, format!("amount '{}' is not a number", r[3])))?;
            let d = Dated {
                from: month(file, line, &r[2])?,
                value: money(file, line, amount)?,
                citation: r[4].clone(),
                check: None,
            };
            by_rate.entry((type_b, rate)).or_default().push((line, d));
        }
        let mut invalid = HashMap::new();
        for type_b in [false, true] {
            for rate in 21..=100u8 {
                let rows = by_rate.remove(&(type_b, rate)).unwrap_or_default();
                let s = series(file, &format!("rate {rate}"), rows)?;
                if s.first_month().is_none_or(|m| m > covers) {
                    return Err(err(
                        file,
                        0,
                        format!(
                            "{} rate {rate}% is missing or starts after {covers}",
                            if type_b { "thuong_binh_loai_b" } else { "thuong_binh" }
                        ),
                    ));
                }
                invalid.insert((type_b, rate), s);
            }
        }

        // Appendices IV and VI
        let file = "nguoi-co-cong/one_off_coefficients.csv";
        let mut one_off = BTreeMap::new();
        for (line, r) in csv_rows(file, &get(file)?, &["item", "coefficient", "case", "citation"])? {
            let c = Coefficient::parse(&r[1]).map_err(|e| err(file, line, e.to_string()))?;
            if one_off.insert(r[0].clone(), (c, r[3].clone())).is_some() {
                return Err(err(file, line, format!("item {} appears twice", r[0])));
            }
        }

        // Decree 20/2021 Art. 6
        let file = "tro-giup-xa-hoi/coefficients.csv";
        let mut coefficients = Vec::new();
        for (line, r) in
            csv_rows(file, &get(file)?, &["group", "condition", "disability_level", "coefficient", "who", "citation"])?
        {
            if !domain::categories::ASSISTANCE.iter().any(|c| c.0 == r[0]) {
                return Err(err(
                    file,
                    line,
                    format!("group '{}' is not a group of Decree 20/2021 Art. 5 (k1 … k8)", r[0]),
                ));
            }
            let condition = AgeCondition::parse(&r[1]).ok_or_else(|| {
                err(file, line, format!("condition '{}' is not one of any, age<4, age>=4, 4<=age<16, 60<=age<80, age>=80, adult, child_or_elderly", r[1]))
            })?;
            let disability_level = match r[2].as_str() {
                "" => None,
                "severe" | "especially_severe" => Some(r[2].clone()),
                other => {
                    return Err(err(
                        file,
                        line,
                        format!("disability level '{other}' is neither severe nor especially_severe"),
                    ))
                }
            };
            let coefficient = Coefficient::parse(&r[3]).map_err(|e| err(file, line, e.to_string()))?;
            coefficients.push(CoefficientRow {
                group: r[0].clone(),
                condition,
                disability_level,
                coefficient,
                citation: r[5].clone(),
            });
        }
        for g in domain::categories::ASSISTANCE.iter() {
            if !coefficients.iter().any(|c| c.group == g.0) {
                return Err(err(file, 0, format!("group {} has no coefficient", g.0)));
            }
        }

        let mut infos = infos.into_iter();
        let mut next = |counts: &dyn Fn(&str) -> usize| {
            infos.next().map(|(_, mut info, titles)| {
                info.tables = titles
                    .into_iter()
                    .map(|(n, t)| {
                        let c = counts(&n);
                        (n, t, c)
                    })
                    .collect();
                info
            })
        };
        let n_monthly: usize = monthly.values().map(|s| s.0.len()).sum();
        let n_invalid: usize = invalid.values().map(|s| s.0.len()).sum();
        let n_one_off = one_off.len();
        let n_coef = coefficients.len();
        let merit = next(&|n: &str| match n {
            "monthly_amounts" => n_monthly,
            "war_invalid_by_rate" => n_invalid,
            _ => n_one_off,
        })
        .ok_or_else(|| err("pack.toml", 0, "pack missing"))?;
        let assistance = next(&|_: &str| n_coef).ok_or_else(|| err("pack.toml", 0, "pack missing"))?;
        let packs = Packs { merit, assistance, params, monthly, monthly_meta, invalid, one_off, coefficients };
        crate::engine::check_references(&packs)?;
        Ok(packs)
    }

    /// A parameter's series (the engine only asks for names `load` checked).
    pub fn param(&self, name: &str) -> Option<&Series<Money>> {
        self.params.get(name).map(|(_, s)| s)
    }

    /// Values that are not confirmed in the sources: (parameter, from, why).
    pub fn unconfirmed(&self) -> Vec<(String, Month, String)> {
        let mut out = Vec::new();
        for (name, (_, s)) in &self.params {
            for d in &s.0 {
                if let Some(c) = &d.check {
                    out.push((name.clone(), d.from, c.clone()));
                }
            }
        }
        out
    }
}
