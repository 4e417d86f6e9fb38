//! From what was typed to what is compared.
//!
//! Names: NFC, canonical tone placement, case and spacing (`domain::text`), then split into
//! surname (first word), given name (last word) and middle names (the rest, compared as a
//! set so that a dropped or reordered middle name still agrees). Every word is kept twice:
//! folded (no diacritics, `đ` → `d`) for blocking and similarity, and with its diacritics so
//! that `Hòa` and `Hóa` — different names — do not count as the same name while `Hoa`
//! typed without any diacritics still may.
//!
//! Dates: `dd/mm/yyyy`, `yyyy-mm-dd`, `mm/yyyy`, `yyyy`; `01/01/yyyy` is the placeholder old
//! records use for an unknown day and is compared as year-only. ID numbers: digits only,
//! kept even when a digit is missing or extra (that is what the comparison looks for).

use chrono::Datelike;
use domain::text;
use domain::PartialDate;
use serde::Serialize;

/// One input record, as typed.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub id: String,
    pub full_name: String,
    pub birth_date: String,
    pub sex: String,
    pub personal_id: String,
    pub commune: String,
}

/// Why a record, or one of its fields, could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Index of the record in the input.
    pub record: usize,
    pub field: &'static str,
    pub value: String,
    pub reason: String,
    /// True when the whole record was left out of the comparison; false when only the
    /// field was ignored (the record was compared on the rest).
    pub excluded: bool,
}

/// A birth date as compared: year, month, day; 0 = unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Dob {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Dob {
    pub fn known(self) -> bool {
        self.year != 0
    }
    /// Day and month both known (and not the 01/01 placeholder).
    pub fn full(self) -> bool {
        self.day != 0 && self.month != 0
    }
}

/// Sex as compared: 0 unknown, 1 male, 2 female.
pub type SexCode = u8;

/// A personal ID's digits, kept inline (11 to 13 digits; a missing or extra digit is what
/// the comparison looks for). Empty when missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pid {
    digits: [u8; 13],
    len: u8,
}

impl Pid {
    pub fn new(d: &[u8]) -> Pid {
        let mut p = Pid::default();
        let n = d.len().min(13);
        p.digits[..n].copy_from_slice(&d[..n]);
        p.len = n as u8;
        p
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.digits[..self.len as usize]
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn len(&self) -> usize {
        self.len as usize
    }
}

/// A record ready for blocking and comparison: 48 bytes, no allocation. Words are
/// interned: equal ids mean equal text; the [`Normalized`] set maps ids back to text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Norm {
    /// Folded surname and given name.
    pub surname: u32,
    pub given: u32,
    /// The set of middle names (sorted, folded), interned; 0 = none.
    pub middle: u32,
    /// The same words with diacritics (canonical, lower case).
    pub surname_marked: u32,
    pub given_marked: u32,
    /// Commune code as an interned id; 0 = unknown.
    pub commune: u32,
    pub dob: Dob,
    pub pid: Pid,
    pub sex: SexCode,
    /// The name carries diacritics at all (a name typed without any is compared folded).
    pub marked: bool,
}

/// Interned words.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    map: rustc_hash::FxHashMap<String, u32>,
    words: Vec<String>,
}

impl Interner {
    pub fn new() -> Interner {
        // id 0 is the empty word, so that "unknown" has an id
        let mut i = Interner::default();
        i.id("");
        i
    }
    pub fn id(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.map.get(w) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(w.to_string());
        self.map.insert(w.to_string(), id);
        id
    }
    pub fn get(&self, id: u32) -> &str {
        self.words.get(id as usize).map_or("", String::as_str)
    }
    pub fn len(&self) -> usize {
        self.words.len()
    }
    pub fn is_empty(&self) -> bool {
        self.words.len() <= 1
    }
}

/// The normalised records with their word tables; `ok[i]` is false for records left out.
#[derive(Debug, Default, Clone)]
pub struct Normalized {
    pub records: Vec<Norm>,
    pub ok: Vec<bool>,
    pub words: Interner,
    /// Middle-name sets: the id is `Norm::middle`, the text the sorted words joined by a
    /// space, and `middle_words[id]` the word ids.
    pub middles: Interner,
    pub middle_words: Vec<Vec<u32>>,
    pub communes: Interner,
    pub issues: Vec<Issue>,
}

/// Words of a name in their two forms, before interning.
struct Parsed {
    folded: Vec<String>,
    marked: Vec<String>,
    has_marks: bool,
    dob: Dob,
    sex: SexCode,
    pid: Pid,
    commune: String,
    issues: Vec<(&'static str, String, String, bool)>,
}

/// Words already normalised by a worker: raw word → (canonical lower case, folded). A
/// million names are made of a few thousand words, so the Unicode work is done once each.
pub type WordCache = rustc_hash::FxHashMap<String, (String, String)>;

fn parse_record(r: &Record, cache: &mut WordCache) -> Parsed {
    let mut issues = Vec::new();
    let mut marked: Vec<String> = Vec::with_capacity(4);
    let mut folded: Vec<String> = Vec::with_capacity(4);
    let separator = |c: char| c.is_whitespace() || c == '-' || matches!(c, '\u{200B}'..='\u{200D}' | '\u{FEFF}');
    for raw in r.full_name.split(separator).filter(|w| !w.is_empty()) {
        let (m, f) = match cache.get(raw) {
            Some(v) => v.clone(),
            None => {
                let m = text::canonical(raw).to_lowercase();
                let v = (m.clone(), text::search_key(&m));
                cache.insert(raw.to_string(), v.clone());
                v
            }
        };
        if m.chars().any(char::is_alphabetic) {
            marked.push(m);
            folded.push(f);
        }
    }
    let has_marks = marked.iter().zip(&folded).any(|(m, f)| m != f);
    if marked.is_empty() {
        issues.push(("full_name", r.full_name.clone(), "empty name: the record cannot be compared".to_string(), true));
    } else if r.full_name.chars().any(|c| c.is_ascii_digit()) {
        issues.push(("full_name", r.full_name.clone(), "digits in the name were ignored".to_string(), false));
    }
    let dob = match r.birth_date.trim() {
        "" => Dob::default(),
        s => match PartialDate::parse(s) {
            Ok(PartialDate::Full(d)) => {
                let (y, m, dd) = (d.year() as u16, d.month() as u8, d.day() as u8);
                if m == 1 && dd == 1 {
                    // the placeholder of old records: the year is all it says
                    Dob { year: y, month: 0, day: 0 }
                } else {
                    Dob { year: y, month: m, day: dd }
                }
            }
            Ok(PartialDate::MonthYear(m)) => Dob { year: m.year() as u16, month: m.month() as u8, day: 0 },
            Ok(PartialDate::Year(y)) => Dob { year: y as u16, month: 0, day: 0 },
            Err(e) => {
                issues.push(("birth_date", r.birth_date.clone(), format!("{}; compared without it", e.vi()), false));
                Dob::default()
            }
        },
    };
    let sex = match text::search_key(&r.sex).as_str() {
        "" => 0,
        "male" | "nam" | "m" | "1" => 1,
        "female" | "nu" | "f" | "2" => 2,
        _ => {
            issues.push(("sex", r.sex.clone(), "unknown sex (male/female, Nam/Nữ); compared without it".into(), false));
            0
        }
    };
    let digits: Vec<u8> = r.personal_id.bytes().filter(u8::is_ascii_digit).collect();
    let other = r.personal_id.chars().any(|c| !c.is_ascii_digit() && !c.is_whitespace() && c != '.' && c != '-');
    let pid = if digits.is_empty() && !other {
        Pid::default()
    } else if other || !(11..=13).contains(&digits.len()) {
        issues.push((
            "personal_id",
            r.personal_id.clone(),
            "not a 12-digit personal ID; compared without it".into(),
            false,
        ));
        Pid::default()
    } else {
        Pid::new(&digits)
    };
    Parsed { folded, marked, has_marks, dob, sex, pid, commune: r.commune.trim().to_string(), issues }
}

/// Builds a [`Normalized`] set chunk by chunk, so that a caller reading a large file never
/// holds all of it as text: the text work of a chunk runs on all cores, the interning in
/// input order, so the result is the same on any machine and for any chunking.
pub struct Normalizer {
    out: Normalized,
    caches: Vec<WordCache>,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::new()
    }
}

impl Normalizer {
    pub fn new() -> Normalizer {
        Normalizer {
            out: Normalized {
                words: Interner::new(),
                middles: Interner::new(),
                middle_words: vec![Vec::new()],
                communes: Interner::new(),
                ..Normalized::default()
            },
            caches: Vec::new(),
        }
    }

    pub fn push(&mut self, records: &[Record]) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
        let chunk = records.len().div_ceil(threads).max(1);
        self.caches.resize_with(threads, WordCache::default);
        let parsed: Vec<Vec<Parsed>> = std::thread::scope(|s| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .zip(self.caches.iter_mut())
                .map(|(part, cache)| s.spawn(move || part.iter().map(|r| parse_record(r, cache)).collect()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        let out = &mut self.out;
        for p in parsed.into_iter().flatten() {
            let i = out.records.len();
            let mut excluded = false;
            for (field, value, reason, ex) in p.issues {
                excluded |= ex;
                out.issues.push(Issue { record: i, field, value, reason, excluded: ex });
            }
            let n = p.folded.len();
            let mut norm = Norm { dob: p.dob, sex: p.sex, pid: p.pid, marked: p.has_marks, ..Norm::default() };
            if n > 0 {
                norm.surname = out.words.id(&p.folded[0]);
                norm.surname_marked = out.words.id(&p.marked[0]);
                norm.given = out.words.id(&p.folded[n - 1]);
                norm.given_marked = out.words.id(&p.marked[n - 1]);
                if n > 2 {
                    let mut middle: Vec<&str> = p.folded[1..n - 1].iter().map(String::as_str).collect();
                    middle.sort_unstable();
                    let text = middle.join(" ");
                    let id = out.middles.id(&text);
                    if id as usize == out.middle_words.len() {
                        let mut ids: Vec<u32> = middle.iter().map(|w| out.words.id(w)).collect();
                        ids.sort_unstable();
                        out.middle_words.push(ids);
                    }
                    norm.middle = id;
                }
            }
            norm.commune = if p.commune.is_empty() { 0 } else { out.communes.id(&p.commune) };
            out.records.push(norm);
            out.ok.push(!excluded);
        }
    }

    pub fn finish(self) -> Normalized {
        self.out
    }

    /// Records pushed so far.
    pub fn len(&self) -> usize {
        self.out.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.records.is_empty()
    }
}

/// Normalises all records at once.
pub fn normalize(records: &[Record]) -> Normalized {
    let mut n = Normalizer::new();
    n.push(records);
    n.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, dob: &str) -> Record {
        Record { id: "x".into(), full_name: name.into(), birth_date: dob.into(), ..Record::default() }
    }

    #[test]
    fn forms_of_one_name_have_the_same_words() {
        let n = normalize(&[
            rec("Nguyễn Văn Hòa", "03/05/1950"),
            rec("  NGUYỄN   văn hoà ", "1950-05-03"),
            rec("Nguye\u{302}\u{303}n Va\u{306}n Ho\u{300}a", "3/5/1950"),
            rec("Nguyen Van Hoa", "03/05/1950"),
        ]);
        let r = &n.records;
        for other in &r[1..] {
            assert_eq!(other.surname, r[0].surname);
            assert_eq!(other.given, r[0].given);
            assert_eq!(other.middle, r[0].middle);
            assert_eq!(n.middles.get(other.middle), "van");
            assert_eq!(other.dob, Dob { year: 1950, month: 5, day: 3 });
        }
        assert_eq!(r[1].given_marked, r[0].given_marked, "tone placement is canonical");
        assert_eq!(r[2].given_marked, r[0].given_marked, "decomposed Unicode is composed");
        assert!(r[0].marked && !r[3].marked);
        assert_eq!(n.words.get(r[0].given), "hoa");
        assert_eq!(n.words.get(r[0].given_marked), "hòa");
    }

    #[test]
    fn placeholder_and_partial_dates_are_year_only() {
        let n = normalize(&[rec("A B", "01/01/1948"), rec("A B", "1948"), rec("A B", "05/1948")]);
        assert_eq!(n.records[0].dob, Dob { year: 1948, month: 0, day: 0 });
        assert_eq!(n.records[1].dob, Dob { year: 1948, month: 0, day: 0 });
        assert_eq!(n.records[2].dob, Dob { year: 1948, month: 5, day: 0 });
    }

    #[test]
    fn bad_fields_are_reported_and_the_record_is_kept_or_left_out() {
        let mut bad = rec("Trần Thị Lan", "31/02/1950");
        bad.personal_id = "07519abc".into();
        bad.sex = "x".into();
        let n = normalize(&[bad, rec("   ", "1950")]);
        assert!(n.ok[0], "a record with a bad date is still compared on the rest");
        assert!(!n.ok[1], "an empty name cannot be compared");
        let fields: Vec<(usize, &str, bool)> = n.issues.iter().map(|i| (i.record, i.field, i.excluded)).collect();
        assert_eq!(
            fields,
            vec![(0, "birth_date", false), (0, "sex", false), (0, "personal_id", false), (1, "full_name", true)]
        );
        assert!(n.issues[0].reason.contains("compared without it"));
        assert_eq!(n.records[0].dob, Dob::default());
    }

    #[test]
    fn middle_names_are_a_set() {
        let n = normalize(&[rec("Lê Thị Ngọc Hân", ""), rec("Lê Ngọc Thị Hân", ""), rec("Lê Hân", "")]);
        assert_eq!(n.records[0].middle, n.records[1].middle);
        assert_eq!(n.middle_words[n.records[0].middle as usize].len(), 2);
        assert_eq!(n.records[2].middle, 0);
    }
}
