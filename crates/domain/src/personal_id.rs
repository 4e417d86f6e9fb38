//! The 12-digit personal identification number (số định danh cá nhân), which the
//! plan makes the social security number.
//!
//! Structure (Circular 59/2021/TT-BCA; see `data/admin/SOURCES.md`):
//! `PPP` birth-registration code of the pre-2025 province (or country) +
//! `C` century and sex (0/1 = 1900s male/female, 2/3 = 2000s, 4/5 = 2100s, …) +
//! `YY` last two digits of the birth year + 6 random digits. There is no check digit,
//! so validation is structural plus a consistency check against the recorded facts.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::calendar::PartialDate;

const ID_CODES_CSV: &str = include_str!("../../../data/admin/id_birth_registration_codes.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn label_vi(self) -> &'static str {
        match self {
            Sex::Male => "Nam",
            Sex::Female => "Nữ",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalIdError {
    #[error("personal ID '{input}' must contain digits only")]
    NotDigits { input: String },
    #[error("personal ID '{input}' has {len} digits; it must have 12 (a 9-digit number is an old CMND, record it as a legacy identifier)")]
    LooksLikeCmnd { input: String, len: usize },
    #[error("personal ID '{input}' has {len} digits; it must have 12 (a 10-digit number is an old social-insurance code, record it as a legacy identifier)")]
    LooksLikeSocialInsuranceCode { input: String, len: usize },
    #[error("personal ID '{input}' has {len} digits; it must have 12")]
    WrongLength { input: String, len: usize },
}

impl PersonalIdError {
    /// The message for end users, in Vietnamese (`Display` is the English one for logs).
    pub fn vi(&self) -> String {
        match self {
            PersonalIdError::NotDigits { input } => format!("số định danh '{input}' chỉ được gồm chữ số"),
            PersonalIdError::LooksLikeCmnd { input, len } => format!(
                "số định danh '{input}' có {len} chữ số, phải đủ 12 (số 9 chữ số là CMND cũ: ghi vào mục giấy tờ cũ)"
            ),
            PersonalIdError::LooksLikeSocialInsuranceCode { input, len } => format!(
                "số định danh '{input}' có {len} chữ số, phải đủ 12 (số 10 chữ số là mã số BHXH: ghi vào mục giấy tờ cũ)"
            ),
            PersonalIdError::WrongLength { input, len } => {
                format!("số định danh '{input}' có {len} chữ số, phải đủ 12")
            }
        }
    }
}

/// A structurally valid personal ID number. Spaces and dots typed between groups are
/// removed on parsing; the stored form is exactly 12 ASCII digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonalId([u8; 12]);

/// What the ID number itself says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub prefix: String,
    /// Pre-2025 province of birth registration, if the prefix is a known province code.
    pub birth_province_before_2025: Option<&'static str>,
    /// Province since 2025-07-01 that succeeded it.
    pub birth_province_since_2025: Option<&'static str>,
    pub sex: Sex,
    pub birth_year: i32,
}

/// A specific mismatch between the ID number and the recorded facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdInconsistency {
    #[error("birth-registration code {prefix} is not a known province code")]
    UnknownPrefix { prefix: String },
    #[error("the ID says born in the {id_century}s but the recorded birth year is {recorded_year}")]
    Century { id_century: i32, recorded_year: i32 },
    #[error("the ID says birth year {id_year} but the recorded birth year is {recorded_year}")]
    BirthYear { id_year: i32, recorded_year: i32 },
    #[error("the ID says {} but the recorded sex is {}", id_sex.label_vi(), recorded_sex.label_vi())]
    Sex { id_sex: Sex, recorded_sex: Sex },
}

impl IdInconsistency {
    /// The message for end users, in Vietnamese (`Display` is the English one for logs).
    pub fn vi(&self) -> String {
        match self {
            IdInconsistency::UnknownPrefix { prefix } => {
                format!("mã nơi đăng ký khai sinh {prefix} không phải mã tỉnh nào")
            }
            IdInconsistency::Century { id_century, recorded_year } => {
                format!("số định danh cho biết sinh vào thế kỷ {id_century} nhưng năm sinh ghi là {recorded_year}")
            }
            IdInconsistency::BirthYear { id_year, recorded_year } => {
                format!("số định danh cho biết năm sinh {id_year} nhưng năm sinh ghi là {recorded_year}")
            }
            IdInconsistency::Sex { id_sex, recorded_sex } => format!(
                "số định danh cho biết giới tính {} nhưng giới tính ghi là {}",
                id_sex.label_vi(),
                recorded_sex.label_vi()
            ),
        }
    }
}

fn prefix_table() -> &'static HashMap<String, (&'static str, &'static str)> {
    static TABLE: OnceLock<HashMap<String, (&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The file is compiled in and covered by a unit test; a malformed line is skipped
        // rather than panicking at run time.
        ID_CODES_CSV
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut it = line.splitn(3, ',');
                Some((it.next()?.to_string(), (it.next()?, it.next()?)))
            })
            .collect()
    })
}

impl PersonalId {
    pub fn parse(input: &str) -> Result<PersonalId, PersonalIdError> {
        let cleaned: String = input.chars().filter(|c| !c.is_whitespace() && *c != '.' && *c != '-').collect();
        if !cleaned.chars().all(|c| c.is_ascii_digit()) || cleaned.is_empty() {
            return Err(PersonalIdError::NotDigits { input: input.to_string() });
        }
        let len = cleaned.len();
        let input = input.to_string();
        match len {
            12 => {}
            9 => return Err(PersonalIdError::LooksLikeCmnd { input, len }),
            10 => return Err(PersonalIdError::LooksLikeSocialInsuranceCode { input, len }),
            _ => return Err(PersonalIdError::WrongLength { input, len }),
        }
        let mut digits = [0u8; 12];
        digits.copy_from_slice(cleaned.as_bytes());
        Ok(PersonalId(digits))
    }

    pub fn as_str(&self) -> &str {
        // Invariant: exactly 12 ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    pub fn prefix(&self) -> &str {
        &self.as_str()[..3]
    }

    fn digit(&self, i: usize) -> i32 {
        i32::from(self.0[i] - b'0')
    }

    pub fn sex(&self) -> Sex {
        if self.digit(3).rem_euclid(2) == 0 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// First year of the century encoded by the fourth digit (1900, 2000, 2100, …).
    pub fn century_start(&self) -> i32 {
        1900 + 100 * (self.digit(3) / 2)
    }

    pub fn birth_year(&self) -> i32 {
        self.century_start() + self.digit(4) * 10 + self.digit(5)
    }

    pub fn decode(&self) -> Decoded {
        let known = prefix_table().get(self.prefix());
        Decoded {
            prefix: self.prefix().to_string(),
            birth_province_before_2025: known.map(|k| k.0),
            birth_province_since_2025: known.map(|k| k.1),
            sex: self.sex(),
            birth_year: self.birth_year(),
        }
    }

    /// Compares the number with the recorded birth date and sex and lists every specific
    /// inconsistency (empty = consistent). A century mismatch is reported instead of a
    /// plain year mismatch when the last two digits agree.
    pub fn check_against(&self, birth: Option<PartialDate>, sex: Option<Sex>) -> Vec<IdInconsistency> {
        let mut out = Vec::new();
        if !prefix_table().contains_key(self.prefix()) {
            out.push(IdInconsistency::UnknownPrefix { prefix: self.prefix().to_string() });
        }
        if let Some(b) = birth {
            let recorded_year = b.year();
            let id_year = self.birth_year();
            if recorded_year != id_year {
                if recorded_year.rem_euclid(100) == id_year.rem_euclid(100) {
                    out.push(IdInconsistency::Century { id_century: self.century_start(), recorded_year });
                } else {
                    out.push(IdInconsistency::BirthYear { id_year, recorded_year });
                }
            }
        }
        if let Some(recorded_sex) = sex {
            if recorded_sex != self.sex() {
                out.push(IdInconsistency::Sex { id_sex: self.sex(), recorded_sex });
            }
        }
        out
    }

    /// Number of known birth-registration codes (for diagnostics and tests).
    pub fn known_prefix_count() -> usize {
        prefix_table().len()
    }
}

impl fmt::Display for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PersonalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonalId({})", self.as_str())
    }
}

impl FromStr for PersonalId {
    type Err = PersonalIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonalId::parse(s)
    }
}

impl TryFrom<String> for PersonalId {
    type Error = PersonalIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PersonalId::parse(&s)
    }
}

impl From<PersonalId> for String {
    fn from(id: PersonalId) -> String {
        id.as_str().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    #[test]
    fn errors_speak_vietnamese_to_users() {
        assert_eq!(
            PersonalId::parse("12345678901").unwrap_err().vi(),
            "số định danh '12345678901' có 11 chữ số, phải đủ 12"
        );
        let p = PersonalId::parse("075072000001").unwrap();
        let inc = p.check_against(Some(PartialDate::parse("1975").unwrap()), Some(Sex::Female));
        let vi: Vec<String> = inc.iter().map(IdInconsistency::vi).collect();
        assert_eq!(
            vi,
            [
                "số định danh cho biết năm sinh 1972 nhưng năm sinh ghi là 1975",
                "số định danh cho biết giới tính Nam nhưng giới tính ghi là Nữ"
            ]
        );
    }

    #[test]
    fn prefix_table_is_complete() {
        // 63 pre-2025 provinces
        assert_eq!(PersonalId::known_prefix_count(), 63);
    }

    #[test]
    fn decodes() {
        let id = PersonalId::parse("075 1 85 012345").unwrap();
        assert_eq!(id.as_str(), "075185012345");
        let d = id.decode();
        assert_eq!(d.birth_province_before_2025, Some("Tỉnh Đồng Nai"));
        assert_eq!(d.birth_province_since_2025, Some("Tỉnh Đồng Nai"));
        assert_eq!(d.sex, Sex::Female);
        assert_eq!(d.birth_year, 1985);
        // Bình Phước's code decodes through the pre-2025 table to today's Đồng Nai
        let d = PersonalId::parse("070203000001").unwrap().decode();
        assert_eq!(d.birth_province_before_2025, Some("Tỉnh Bình Phước"));
        assert_eq!(d.birth_province_since_2025, Some("Tỉnh Đồng Nai"));
        assert_eq!(d.sex, Sex::Male);
        assert_eq!(d.birth_year, 2003);
        assert_eq!(PersonalId::parse("001512000001").unwrap().birth_year(), 2112);
    }

    #[test]
    fn rejects_with_reason() {
        assert!(matches!(PersonalId::parse("27123456"), Err(PersonalIdError::WrongLength { len: 8, .. })));
        assert!(matches!(PersonalId::parse("271234567"), Err(PersonalIdError::LooksLikeCmnd { .. })));
        assert!(matches!(PersonalId::parse("7512345678"), Err(PersonalIdError::LooksLikeSocialInsuranceCode { .. })));
        assert!(matches!(PersonalId::parse("07518501234A"), Err(PersonalIdError::NotDigits { .. })));
        assert!(matches!(PersonalId::parse(""), Err(PersonalIdError::NotDigits { .. })));
    }

    #[test]
    fn checks_recorded_facts() {
        let id = PersonalId::parse("075185012345").unwrap();
        let born = PartialDate::Full(NaiveDate::from_ymd_opt(1985, 3, 4).unwrap());
        assert!(id.check_against(Some(born), Some(Sex::Female)).is_empty());
        assert!(id.check_against(Some(PartialDate::Year(1985)), None).is_empty());
        assert_eq!(
            id.check_against(Some(PartialDate::Year(1958)), Some(Sex::Male)),
            vec![
                IdInconsistency::BirthYear { id_year: 1985, recorded_year: 1958 },
                IdInconsistency::Sex { id_sex: Sex::Female, recorded_sex: Sex::Male },
            ]
        );
        assert_eq!(
            id.check_against(Some(PartialDate::Year(2085)), None),
            vec![IdInconsistency::Century { id_century: 1900, recorded_year: 2085 }]
        );
        let foreign = PersonalId::parse("999185012345").unwrap();
        assert_eq!(foreign.check_against(None, None), vec![IdInconsistency::UnknownPrefix { prefix: "999".into() }]);
    }

    #[test]
    fn serde_roundtrip_validates() {
        let id: PersonalId = serde_json_like("075185012345").unwrap();
        assert_eq!(id.as_str(), "075185012345");
        assert!(serde_json_like("12").is_err());
    }

    fn serde_json_like(s: &str) -> Result<PersonalId, PersonalIdError> {
        PersonalId::try_from(s.to_string())
    }

    proptest! {
        #[test]
        fn decode_inverts_encoding(
            prefix_i in 0usize..63,
            year in 1900i32..2100,
            female in any::<bool>(),
            rest in 0u32..1_000_000,
        ) {
            let mut prefixes: Vec<&String> = prefix_table().keys().collect();
            prefixes.sort();
            let prefix = prefixes[prefix_i];
            let c = (year - 1900) / 100 * 2 + i32::from(female);
            let s = format!("{prefix}{c}{:02}{rest:06}", year % 100);
            let id = PersonalId::parse(&s).unwrap();
            prop_assert_eq!(id.birth_year(), year);
            prop_assert_eq!(id.sex(), if female { Sex::Female } else { Sex::Male });
            prop_assert!(id.check_against(Some(PartialDate::Year(year)), Some(id.sex())).is_empty());
            prop_assert_eq!(id.to_string(), s);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = PersonalId::parse(&s);
        }
    }
}
