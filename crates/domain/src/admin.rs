//! Administrative units since the 2025 reform, and Đồng Nai's pre-2025 communes.
//!
//! Since 2025-07-01 there are two tiers: 34 provinces and 3,321 communes (xã, phường,
//! đặc khu), coded by Quyết định 19/2025/QĐ-TTg. Records made before the reform carry
//! old commune codes; for Đồng Nai (code 75, the old Đồng Nai plus Bình Phước) the
//! succession old → new is in `data/admin/dong_nai_communes_2025.csv`.
//! The data files are compiled in; `data/admin/SOURCES.md` cites them.

use std::collections::HashMap;

use serde::Serialize;

use crate::text::search_key;

pub const PROVINCES_CSV: &str = include_str!("../../../data/admin/provinces_2025.csv");
pub const COMMUNES_CSV: &str = include_str!("../../../data/admin/communes_2025.csv");
pub const DONG_NAI_SUCCESSION_CSV: &str = include_str!("../../../data/admin/dong_nai_communes_2025.csv");

/// Version of the compiled-in unit data; bump it when a file in `data/admin/` changes so
/// that databases reload their reference tables.
pub const DATA_VERSION: &str = "admin-units-2025-07-01.1";

/// Province code of Đồng Nai (unchanged by the merger with Bình Phước).
pub const DONG_NAI: &str = "75";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminDataError {
    #[error("{file} line {line}: {reason}")]
    Malformed { file: &'static str, line: usize, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommuneKind {
    Xa,
    Phuong,
    DacKhu,
}

impl CommuneKind {
    pub fn code(self) -> &'static str {
        match self {
            CommuneKind::Xa => "xa",
            CommuneKind::Phuong => "phuong",
            CommuneKind::DacKhu => "dac_khu",
        }
    }

    pub fn parse(s: &str) -> Option<CommuneKind> {
        match s {
            "xa" => Some(CommuneKind::Xa),
            "phuong" => Some(CommuneKind::Phuong),
            "dac_khu" => Some(CommuneKind::DacKhu),
            _ => None,
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            CommuneKind::Xa => "Xã",
            CommuneKind::Phuong => "Phường",
            CommuneKind::DacKhu => "Đặc khu",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            CommuneKind::Xa => "Commune",
            CommuneKind::Phuong => "Ward",
            CommuneKind::DacKhu => "Special zone",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Province {
    pub code: String,
    pub name: String,
    /// Codes of the pre-2025 provinces it was formed from.
    pub predecessor_codes: Vec<String>,
    pub commune_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commune {
    pub code: String,
    pub name: String,
    pub kind: CommuneKind,
    pub province_code: String,
}

/// A pre-2025 commune and the commune of today it went into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegacyCommune {
    pub code: String,
    pub name: String,
    pub successor_code: String,
    /// Only part of the old unit went into this successor (it was split).
    pub partial: bool,
}

/// Result of mapping an address recorded before the reform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyMapping<'a> {
    /// One successor: the address is in this commune today.
    Unique(&'a Commune),
    /// The old unit was split: the hamlet or street decides among these.
    Split(Vec<&'a Commune>),
    /// Several different old units bear this name (e.g. two `Xã Tân Thành` in different
    /// former districts): the old code or the district decides among these.
    Ambiguous(Vec<&'a Commune>),
    NotFound,
}

/// An address recorded before the reform, split into what stays (hamlet, street, house
/// number) and the commune it maps to today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressMapping<'a> {
    /// The part before the commune, as recorded (`Ấp 3`, `Tổ 5, khu phố 2`).
    pub local_part: String,
    /// The old commune as recorded in the address.
    pub old_commune: String,
    pub mapping: LegacyMapping<'a>,
}

/// All administrative units, indexed for lookup.
#[derive(Debug, Clone)]
pub struct Gazetteer {
    provinces: Vec<Province>,
    communes: Vec<Commune>,
    legacy: Vec<LegacyCommune>,
    commune_by_code: HashMap<String, usize>,
    communes_by_key: HashMap<String, Vec<usize>>,
    legacy_by_code: HashMap<String, Vec<usize>>,
    legacy_by_key: HashMap<String, Vec<usize>>,
}

fn malformed(file: &'static str, line: usize, reason: impl Into<String>) -> AdminDataError {
    AdminDataError::Malformed { file, line, reason: reason.into() }
}

fn records(file: &'static str, data: &str) -> Result<Vec<(usize, csv::StringRecord)>, AdminDataError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(data.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| malformed(file, i + 2, e.to_string()))?;
        out.push((i + 2, rec));
    }
    Ok(out)
}

fn field<'r>(file: &'static str, line: usize, rec: &'r csv::StringRecord, i: usize) -> Result<&'r str, AdminDataError> {
    rec.get(i).map(str::trim).ok_or_else(|| malformed(file, line, format!("missing column {}", i + 1)))
}

/// Strips the unit-type word so `Biên Hòa` finds `Phường Biên Hòa`.
fn bare_key(name: &str) -> String {
    let key = search_key(name);
    for prefix in ["phuong ", "xa ", "dac khu ", "thi tran ", "tinh ", "thanh pho "] {
        if let Some(rest) = key.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    key
}

impl Gazetteer {
    /// The units compiled into the binary.
    pub fn embedded() -> Result<Gazetteer, AdminDataError> {
        Gazetteer::from_csv(PROVINCES_CSV, COMMUNES_CSV, DONG_NAI_SUCCESSION_CSV)
    }

    pub fn from_csv(
        provinces_csv: &str,
        communes_csv: &str,
        succession_csv: &str,
    ) -> Result<Gazetteer, AdminDataError> {
        const P: &str = "provinces_2025.csv";
        const C: &str = "communes_2025.csv";
        const S: &str = "dong_nai_communes_2025.csv";
        let mut provinces = Vec::new();
        for (line, rec) in records(P, provinces_csv)? {
            let count = field(P, line, &rec, 3)?;
            provinces.push(Province {
                code: field(P, line, &rec, 0)?.to_string(),
                name: field(P, line, &rec, 1)?.to_string(),
                predecessor_codes: field(P, line, &rec, 2)?.split(';').map(|s| s.trim().to_string()).collect(),
                commune_count: count
                    .parse()
                    .map_err(|_| malformed(P, line, format!("commune_count '{count}' is not a number")))?,
            });
        }
        let mut communes = Vec::new();
        for (line, rec) in records(C, communes_csv)? {
            let kind_s = field(C, line, &rec, 2)?;
            let code = field(C, line, &rec, 0)?;
            if code.len() != 5 || !code.chars().all(|c| c.is_ascii_digit()) {
                return Err(malformed(C, line, format!("commune code '{code}' is not 5 digits")));
            }
            communes.push(Commune {
                code: code.to_string(),
                name: field(C, line, &rec, 1)?.to_string(),
                kind: CommuneKind::parse(kind_s)
                    .ok_or_else(|| malformed(C, line, format!("unknown kind '{kind_s}'")))?,
                province_code: field(C, line, &rec, 3)?.to_string(),
            });
        }
        let known_codes: std::collections::HashSet<&str> = communes.iter().map(|c: &Commune| c.code.as_str()).collect();
        let mut legacy = Vec::new();
        for (line, rec) in records(S, succession_csv)? {
            let successor = field(S, line, &rec, 0)?.to_string();
            if !known_codes.contains(successor.as_str()) {
                return Err(malformed(S, line, format!("successor {successor} is not a 2025 commune")));
            }
            for part in field(S, line, &rec, 2)?.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                // "Xã Xuân Tâm (26449,partial)"
                let (name, rest) = part
                    .rsplit_once('(')
                    .ok_or_else(|| malformed(S, line, format!("predecessor '{part}' has no (code)")))?;
                let inner = rest.trim_end_matches(')');
                let mut bits = inner.split(',').map(str::trim);
                let code = bits.next().unwrap_or("").to_string();
                let partial = bits.any(|b| b == "partial");
                if code.len() != 5 || !code.chars().all(|c| c.is_ascii_digit()) {
                    return Err(malformed(S, line, format!("predecessor code '{code}' is not 5 digits")));
                }
                legacy.push(LegacyCommune {
                    code,
                    name: name.trim().to_string(),
                    successor_code: successor.clone(),
                    partial,
                });
            }
        }
        let mut g = Gazetteer {
            provinces,
            communes,
            legacy,
            commune_by_code: HashMap::new(),
            communes_by_key: HashMap::new(),
            legacy_by_code: HashMap::new(),
            legacy_by_key: HashMap::new(),
        };
        for (i, c) in g.communes.iter().enumerate() {
            if g.commune_by_code.insert(c.code.clone(), i).is_some() {
                return Err(malformed(C, i + 2, format!("duplicate commune code {}", c.code)));
            }
            g.communes_by_key.entry(search_key(&c.name)).or_default().push(i);
            g.communes_by_key.entry(bare_key(&c.name)).or_default().push(i);
        }
        for (i, l) in g.legacy.iter().enumerate() {
            g.legacy_by_code.entry(l.code.clone()).or_default().push(i);
            g.legacy_by_key.entry(search_key(&l.name)).or_default().push(i);
            g.legacy_by_key.entry(bare_key(&l.name)).or_default().push(i);
        }
        for v in g.communes_by_key.values_mut().chain(g.legacy_by_key.values_mut()) {
            v.sort_unstable();
            v.dedup();
        }
        Ok(g)
    }

    pub fn provinces(&self) -> &[Province] {
        &self.provinces
    }

    pub fn communes(&self) -> &[Commune] {
        &self.communes
    }

    pub fn legacy_communes(&self) -> &[LegacyCommune] {
        &self.legacy
    }

    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.iter().find(|p| p.code == code)
    }

    /// A province by name with or without diacritics and unit word (`dong nai`,
    /// `Tỉnh Đồng Nai`, `TP Hồ Chí Minh`).
    pub fn find_province(&self, name: &str) -> Option<&Province> {
        let key = bare_key(name);
        let key = key.strip_prefix("tp ").unwrap_or(&key).to_string();
        self.provinces.iter().find(|p| bare_key(&p.name) == key)
    }

    pub fn commune(&self, code: &str) -> Option<&Commune> {
        self.commune_by_code.get(code).map(|&i| &self.communes[i])
    }

    pub fn communes_of(&self, province_code: &str) -> impl Iterator<Item = &Commune> {
        let code = province_code.to_string();
        self.communes.iter().filter(move |c| c.province_code == code)
    }

    /// Communes whose name matches `name` with or without diacritics and with or without
    /// the unit word (`bien hoa`, `Phường Biên Hòa`), optionally within one province.
    pub fn find_communes(&self, name: &str, province_code: Option<&str>) -> Vec<&Commune> {
        let key = search_key(name);
        let mut idx: Vec<usize> = self.communes_by_key.get(&key).cloned().unwrap_or_default();
        if idx.is_empty() {
            idx = self.communes_by_key.get(&bare_key(name)).cloned().unwrap_or_default();
        }
        idx.into_iter()
            .map(|i| &self.communes[i])
            .filter(|c| province_code.is_none_or(|p| c.province_code == p))
            .collect()
    }

    /// Maps a pre-2025 commune (by its old 5-digit code) to today's commune.
    pub fn map_legacy_code(&self, old_code: &str) -> LegacyMapping<'_> {
        self.mapping(self.legacy_by_code.get(old_code.trim()))
    }

    /// Maps a pre-2025 commune recorded by name (diacritics optional) to today's commune.
    pub fn map_legacy_name(&self, old_name: &str) -> LegacyMapping<'_> {
        let hits =
            self.legacy_by_key.get(&search_key(old_name)).or_else(|| self.legacy_by_key.get(&bare_key(old_name)));
        let Some(hits) = hits else { return LegacyMapping::NotFound };
        let mut old_codes: Vec<&str> = hits.iter().map(|&i| self.legacy[i].code.as_str()).collect();
        old_codes.sort_unstable();
        old_codes.dedup();
        match self.mapping(Some(hits)) {
            LegacyMapping::Split(c) if old_codes.len() > 1 => LegacyMapping::Ambiguous(c),
            other => other,
        }
    }

    /// Maps a full address recorded before the reform, such as
    /// `Ấp 3, xã Tân Lợi, huyện Đồng Phú, tỉnh Bình Phước`: finds the comma-separated part
    /// that names a pre-2025 commune (with its unit word), keeps what precedes it as the
    /// local part, and maps the commune. District and province parts are not needed.
    pub fn map_legacy_address(&self, address: &str) -> Option<AddressMapping<'_>> {
        let parts: Vec<&str> = address.split(',').map(str::trim).collect();
        for (i, part) in parts.iter().enumerate() {
            let key = search_key(part);
            let has_unit_word = ["xa ", "phuong ", "thi tran "].iter().any(|w| key.starts_with(w));
            if !has_unit_word || !self.legacy_by_key.contains_key(&key) {
                continue;
            }
            return Some(AddressMapping {
                local_part: parts[..i].join(", "),
                old_commune: part.to_string(),
                mapping: self.map_legacy_name(part),
            });
        }
        None
    }

    fn mapping(&self, hits: Option<&Vec<usize>>) -> LegacyMapping<'_> {
        let Some(hits) = hits else { return LegacyMapping::NotFound };
        let mut succ: Vec<&Commune> =
            hits.iter().filter_map(|&i| self.commune(&self.legacy[i].successor_code)).collect();
        succ.sort_by(|a, b| a.code.cmp(&b.code));
        succ.dedup_by(|a, b| a.code == b.code);
        match succ.len() {
            0 => LegacyMapping::NotFound,
            1 => LegacyMapping::Unique(succ[0]),
            _ => LegacyMapping::Split(succ),
        }
    }

    /// Pre-2025 units that went into the given commune.
    pub fn predecessors_of(&self, code: &str) -> Vec<&LegacyCommune> {
        self.legacy.iter().filter(|l| l.successor_code == code).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> Gazetteer {
        Gazetteer::embedded().unwrap()
    }

    #[test]
    fn counts_match_the_reform() {
        let g = g();
        assert_eq!(g.provinces().len(), 34);
        assert_eq!(g.communes().len(), 3321);
        let kinds = |k| g.communes().iter().filter(|c| c.kind == k).count();
        assert_eq!(kinds(CommuneKind::Xa), 2621);
        assert_eq!(kinds(CommuneKind::Phuong), 687);
        assert_eq!(kinds(CommuneKind::DacKhu), 13);
        assert_eq!(g.communes_of(DONG_NAI).count(), 95);
        for p in g.provinces() {
            assert_eq!(g.communes_of(&p.code).count() as u32, p.commune_count, "{}", p.name);
        }
        assert_eq!(g.province(DONG_NAI).unwrap().predecessor_codes, vec!["70", "75"]);
        assert_eq!(g.find_province("dong nai").unwrap().code, DONG_NAI);
        assert_eq!(g.find_province("TP Hồ Chí Minh").unwrap().code, "79");
        assert!(g.find_province("Bình Phước").is_none(), "merged into Đồng Nai in 2025");
    }

    #[test]
    fn finds_by_folded_name() {
        let g = g();
        let hits = g.find_communes("phuong dong xoai", None);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].code, "25210");
        let hits = g.find_communes("Đồng Xoài", Some(DONG_NAI));
        assert_eq!(hits.len(), 1);
        assert!(g.find_communes("khong co xa nay", None).is_empty());
        assert_eq!(g.commune("25210").unwrap().name, "Phường Đồng Xoài");
    }

    #[test]
    fn maps_pre_reform_addresses() {
        let g = g();
        // Xã Tân Thành (25207) went into Phường Đồng Xoài (25210)
        assert!(matches!(g.map_legacy_code("25207"), LegacyMapping::Unique(c) if c.code == "25210"));
        assert!(matches!(g.map_legacy_name("xa tan thanh"), LegacyMapping::Ambiguous(_)));
        assert!(matches!(g.map_legacy_name("Phường Tiến Thành"), LegacyMapping::Unique(c) if c.code == "25210"));
        // Xã Xuân Tâm (26449) was split between Xuân Đông and Xuân Hòa
        match g.map_legacy_code("26449") {
            LegacyMapping::Split(c) => {
                let codes: Vec<&str> = c.iter().map(|c| c.code.as_str()).collect();
                assert_eq!(codes, vec!["26359", "26446"]);
            }
            other => panic!("expected split, got {other:?}"),
        }
        assert_eq!(g.map_legacy_code("99999"), LegacyMapping::NotFound);
        let preds = g.predecessors_of("25210");
        assert_eq!(preds.len(), 2);
    }

    #[test]
    fn maps_pre_reform_full_addresses() {
        let g = g();
        let m = g.map_legacy_address("Ấp 3, xã Tiến Hưng, thành phố Đồng Xoài, tỉnh Bình Phước").unwrap();
        assert_eq!(m.local_part, "Ấp 3");
        assert_eq!(m.old_commune, "xã Tiến Hưng");
        assert!(matches!(m.mapping, LegacyMapping::Unique(c) if c.code == "25195"), "{m:?}");
        // typed without diacritics
        let m = g.map_legacy_address("To 5, khu pho 2, phuong Tien Thanh, TP Dong Xoai").unwrap();
        assert_eq!(m.local_part, "To 5, khu pho 2");
        assert!(matches!(m.mapping, LegacyMapping::Unique(c) if c.code == "25210"));
        // two former communes named Tân Thành: the name alone cannot decide
        let m = g.map_legacy_address("Ấp 1, Xã Tân Thành, Bình Phước").unwrap();
        match m.mapping {
            LegacyMapping::Ambiguous(c) => {
                assert_eq!(c.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), vec!["25210", "25318"])
            }
            other => panic!("expected ambiguous, got {other:?}"),
        }
        // a split unit
        assert!(matches!(
            g.map_legacy_address("Xã Xuân Tâm, huyện Xuân Lộc").unwrap().mapping,
            LegacyMapping::Split(_)
        ));
        assert!(g.map_legacy_address("12 Lê Lợi, Quận 1, TP Hồ Chí Minh").is_none());
    }

    #[test]
    fn malformed_data_is_an_error_not_a_panic() {
        let err =
            Gazetteer::from_csv("province_code,name,predecessor_codes_2004,commune_count\n01,Hà Nội,01,abc\n", "", "")
                .unwrap_err();
        assert!(err.to_string().contains("provinces_2025.csv line 2"), "{err}");
        let err = Gazetteer::from_csv(
            "province_code,name,predecessor_codes_2004,commune_count\n",
            "commune_code,name,kind,province_code,province_name\n123,X,xa,01,Y\n",
            "",
        )
        .unwrap_err();
        assert!(err.to_string().contains("not 5 digits"), "{err}");
    }
}
