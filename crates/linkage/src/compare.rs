//! Comparison of two records, field by field, into levels.
//!
//! Each comparison has a few ordered levels, from the strongest agreement to disagreement;
//! level 0 means "no information" (a field missing on either side) and weighs nothing.
//! The model ([`crate::model`]) learns how likely each level is among duplicates (m) and
//! among different people (u).

use rustc_hash::FxHashMap;

use crate::normalize::{Norm, Normalized};

/// A comparison and the labels of its levels (index 0 = no information).
#[derive(Debug, Clone, Copy)]
pub struct Comparison {
    pub name: &'static str,
    pub levels: &'static [&'static str],
}

pub const GIVEN: usize = 0;
pub const SURNAME: usize = 1;
pub const MIDDLE: usize = 2;
pub const DOB: usize = 3;
pub const PID: usize = 4;
pub const COMMUNE: usize = 5;
pub const SEX: usize = 6;
/// Number of comparisons.
pub const N: usize = 7;

const NAME_LEVELS: &[&str] =
    &["no information", "same", "same letters, other diacritics", "similar (typo)", "different"];

pub const COMPARISONS: [Comparison; N] = [
    Comparison { name: "given_name", levels: NAME_LEVELS },
    Comparison { name: "surname", levels: NAME_LEVELS },
    Comparison {
        name: "middle_names",
        levels: &["no information", "same", "one dropped or added", "similar (typo)", "different"],
    },
    Comparison {
        name: "birth_date",
        levels: &[
            "no information",
            "same date",
            "day and month swapped",
            "same year, day or month unknown",
            "same year and month, another day",
            "same day and month, year one apart",
            "year one apart, day or month unknown",
            "same year, another day and month",
            "different",
        ],
    },
    Comparison {
        name: "personal_id",
        levels: &["no information", "same", "one digit wrong, swapped, missing or extra", "different"],
    },
    Comparison { name: "commune", levels: &["no information", "same", "different"] },
    Comparison { name: "sex", levels: &["no information", "same", "different"] },
];

/// Levels of a pair, one per comparison.
pub type Levels = [u8; N];

/// Number of distinct level patterns: a pattern packs into a `u16` ([`encode`]).
pub const PATTERNS: usize = {
    let mut n = 1;
    let mut c = 0;
    while c < N {
        n *= COMPARISONS[c].levels.len();
        c += 1;
    }
    n
};

/// A pattern of levels as one number (mixed radix), two bytes per candidate pair.
pub fn encode(l: &Levels) -> u16 {
    let mut code = 0usize;
    for c in 0..N {
        code = code * COMPARISONS[c].levels.len() + l[c] as usize;
    }
    code as u16
}

pub fn decode(code: u16) -> Levels {
    let mut l = [0u8; N];
    let mut code = code as usize;
    for c in (0..N).rev() {
        let k = COMPARISONS[c].levels.len();
        l[c] = (code % k) as u8;
        code /= k;
    }
    l
}

/// Name and middle-name similarities already computed, per thread: the same pairs of
/// words come back millions of times.
#[derive(Debug, Default)]
pub struct Cache {
    words: FxHashMap<(u32, u32), u8>,
    middles: FxHashMap<(u32, u32), u8>,
}

/// Jaro–Winkler at or above this counts a name as similar.
const SIMILAR_JW: f64 = 0.9;

pub fn compare(a: &Norm, b: &Norm, n: &Normalized, cache: &mut Cache) -> Levels {
    let mut l = [0u8; N];
    let both_marked = a.marked && b.marked;
    l[GIVEN] = name_level(a.given, b.given, a.given_marked, b.given_marked, both_marked, n, cache);
    l[SURNAME] = name_level(a.surname, b.surname, a.surname_marked, b.surname_marked, both_marked, n, cache);
    l[MIDDLE] = middle_level(a.middle, b.middle, n, cache);
    l[DOB] = dob_level(a, b);
    l[PID] = if a.pid.is_empty() || b.pid.is_empty() {
        0
    } else if a.pid == b.pid {
        1
    } else if within_one_edit(a.pid.as_slice(), b.pid.as_slice()) {
        2
    } else {
        3
    };
    l[COMMUNE] = match (a.commune, b.commune) {
        (0, _) | (_, 0) => 0,
        (x, y) if x == y => 1,
        _ => 2,
    };
    l[SEX] = match (a.sex, b.sex) {
        (0, _) | (_, 0) => 0,
        (x, y) if x == y => 1,
        _ => 2,
    };
    l
}

#[allow(clippy::too_many_arguments)]
fn name_level(fa: u32, fb: u32, ma: u32, mb: u32, both_marked: bool, n: &Normalized, cache: &mut Cache) -> u8 {
    if fa == 0 || fb == 0 {
        return 0;
    }
    if fa == fb {
        // a name typed without any diacritics agrees with any marking of it
        return if !both_marked || ma == mb { 1 } else { 2 };
    }
    *cache.words.entry((fa.min(fb), fa.max(fb))).or_insert_with(|| similar(n.words.get(fa), n.words.get(fb)))
}

/// Level 3 (similar) or 4 (different) for two different texts.
fn similar(x: &str, y: &str) -> u8 {
    if within_one_edit(x.as_bytes(), y.as_bytes()) || strsim::jaro_winkler(x, y) >= SIMILAR_JW {
        3
    } else {
        4
    }
}

fn middle_level(a: u32, b: u32, n: &Normalized, cache: &mut Cache) -> u8 {
    if a == b {
        return 1;
    }
    if a == 0 || b == 0 {
        return 2;
    }
    *cache.middles.entry((a.min(b), a.max(b))).or_insert_with(|| {
        let (wa, wb) = (&n.middle_words[a as usize], &n.middle_words[b as usize]);
        if wa.iter().all(|w| wb.contains(w)) || wb.iter().all(|w| wa.contains(w)) {
            2
        } else {
            similar(n.middles.get(a), n.middles.get(b))
        }
    })
}

fn dob_level(a: &Norm, b: &Norm) -> u8 {
    let (x, y) = (a.dob, b.dob);
    if !x.known() || !y.known() {
        return 0;
    }
    let both_full = x.full() && y.full();
    // day and month agree as far as both records know them
    let compatible =
        (x.month == 0 || y.month == 0 || x.month == y.month) && (x.day == 0 || y.day == 0 || x.day == y.day);
    match x.year.abs_diff(y.year) {
        0 if both_full && x == y => 1,
        0 if both_full && x.day == y.month && x.month == y.day => 2,
        0 if !both_full && compatible => 3,
        0 if both_full && x.month == y.month => 4,
        0 => 7,
        1 if both_full && compatible => 5,
        1 if compatible => 6,
        _ => 8,
    }
}

/// True when `a` becomes `b` by one substitution, insertion, deletion or swap of two
/// adjacent characters (bytes). Written by hand: a bounded check is all that is needed and
/// it is much cheaper than computing a full edit distance for millions of pairs.
pub fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if la == lb {
        // substitution at p, or transposition of p and p+1
        if a[p + 1..] == b[p + 1..] {
            return true;
        }
        return p + 1 < la && a[p] == b[p + 1] && a[p + 1] == b[p] && a[p + 2..] == b[p + 2..];
    }
    let (long, short) = if la > lb { (a, b) } else { (b, a) };
    long[p + 1..] == short[p..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{normalize, Record};

    fn levels(x: (&str, &str, &str, &str, &str), y: (&str, &str, &str, &str, &str)) -> Levels {
        let r = |t: (&str, &str, &str, &str, &str)| Record {
            id: String::new(),
            full_name: t.0.into(),
            birth_date: t.1.into(),
            sex: t.2.into(),
            personal_id: t.3.into(),
            commune: t.4.into(),
        };
        let n = normalize(&[r(x), r(y)]);
        compare(&n.records[0], &n.records[1], &n, &mut Cache::default())
    }

    #[test]
    fn patterns_pack_into_two_bytes() {
        assert!(PATTERNS <= usize::from(u16::MAX));
        for l in [[0u8; N], [4, 4, 4, 8, 3, 2, 2], [1, 2, 3, 4, 2, 1, 0]] {
            assert_eq!(decode(encode(&l)), l);
        }
        assert_eq!(encode(&[4, 4, 4, 8, 3, 2, 2]) as usize, PATTERNS - 1);
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit(b"075048001234", b"075048001243"));
        assert!(within_one_edit(b"075048001234", b"075048001235"));
        assert!(within_one_edit(b"075048001234", b"07504800123"));
        assert!(within_one_edit(b"07504800123", b"075048001234"));
        assert!(within_one_edit(b"lan", b"lna"));
        assert!(!within_one_edit(b"075048001234", b"075048001432"));
        assert!(!within_one_edit(b"lan", b"lam1"));
        assert!(within_one_edit(b"", b"a"));
    }

    #[test]
    fn the_same_person_typed_twice() {
        let l = levels(
            ("Nguyễn Văn Hòa", "03/05/1950", "male", "075050001234", "26041"),
            ("NGUYEN VAN HOA", "05/03/1950", "Nam", "075050001243", "26041"),
        );
        assert_eq!(l, [1, 1, 1, 2, 2, 1, 1]);
        let l = levels(("A B", "03/05/1950", "", "", ""), ("A B", "09/05/1950", "", "", ""));
        assert_eq!(l[DOB], 4);
        let l = levels(("A B", "03/05/1950", "", "", ""), ("A B", "03/05/1951", "", "", ""));
        assert_eq!(l[DOB], 5);
        let l = levels(("A B", "03/05/1950", "", "", ""), ("A B", "04/11/1950", "", "", ""));
        assert_eq!(l[DOB], 7);
    }

    #[test]
    fn different_diacritics_are_a_weaker_agreement() {
        let l = levels(("Trần Thị Hòa", "1950", "", "", ""), ("Trần Thị Hóa", "1951", "", "", ""));
        assert_eq!(l[GIVEN], 2);
        assert_eq!(l[DOB], 6);
        assert_eq!(l[PID], 0, "missing ID is no information");
        assert_eq!(l[SEX], 0);
    }

    #[test]
    fn typos_and_dropped_middle_names() {
        let l = levels(("Lê Thị Ngọc Hân", "12/07/1960", "", "", "1"), ("Lê Hâm", "12/08/1960", "", "", "2"));
        assert_eq!(l[GIVEN], 3);
        assert_eq!(l[MIDDLE], 2);
        assert_eq!(l[DOB], 7);
        assert_eq!(l[COMMUNE], 2);
        let l = levels(("Phạm Minh Tuấn", "1960", "", "", ""), ("Phạm Minh Hùng", "03/1960", "", "", ""));
        assert_eq!(l[GIVEN], 4);
        assert_eq!(l[DOB], 3);
    }
}
