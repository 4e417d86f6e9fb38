//! Properties of the linkage engine: forms of one name normalise alike; one edit is found
//! whichever way round; the same records give the same result in any chunking; a record
//! typed again with a typical error is found.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use linkage::compare::within_one_edit;
use linkage::normalize::{normalize, Normalizer, Record};
use linkage::{dedup, Config, Decision};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

const SURNAMES: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Khúc"];
const MIDDLES: [&str; 6] = ["Văn", "Thị", "Hữu", "Ngọc", "Minh", "Thanh"];
const GIVEN: [&str; 10] = ["Hòa", "Thủy", "An", "Dũng", "Hương", "Tuấn", "Hạnh", "Khoa", "Quý", "Lan"];

fn name() -> impl Strategy<Value = String> {
    (0..SURNAMES.len(), 0..MIDDLES.len(), 0..GIVEN.len())
        .prop_map(|(s, m, g)| format!("{} {} {}", SURNAMES[s], MIDDLES[m], GIVEN[g]))
}

fn record(id: usize, name: &str, dob: &str, pid: &str) -> Record {
    Record {
        id: id.to_string(),
        full_name: name.into(),
        birth_date: dob.into(),
        sex: String::new(),
        personal_id: pid.into(),
        commune: "26041".into(),
    }
}

proptest! {
    #[test]
    fn typed_forms_of_a_name_normalise_alike(n in name()) {
        let variants = [
            n.clone(),
            n.to_uppercase(),
            n.nfd().collect::<String>(),
            format!("  {}  ", n.replace(' ', "   ")),
            domain::text::place_tones(&n, domain::text::ToneStyle::Modern),
        ];
        let recs: Vec<Record> = variants.iter().enumerate().map(|(i, v)| record(i, v, "", "")).collect();
        let out = normalize(&recs);
        for r in &out.records[1..] {
            prop_assert_eq!(r.surname, out.records[0].surname);
            prop_assert_eq!(r.given, out.records[0].given);
            prop_assert_eq!(r.given_marked, out.records[0].given_marked);
            prop_assert_eq!(r.middle, out.records[0].middle);
        }
    }

    #[test]
    fn one_edit_is_symmetric_and_finds_every_single_edit(s in "[0-9]{12}", at in 0usize..12, d in 0u8..10) {
        let a = s.as_bytes().to_vec();
        let mut sub = a.clone();
        sub[at] = b'0' + d;
        prop_assert!(within_one_edit(&a, &sub) && within_one_edit(&sub, &a));
        let mut del = a.clone();
        del.remove(at);
        prop_assert!(within_one_edit(&a, &del) && within_one_edit(&del, &a));
        if at < 11 {
            let mut swap = a.clone();
            swap.swap(at, at + 1);
            prop_assert!(within_one_edit(&a, &swap));
        }
        let mut two = a.clone();
        two[0] = if two[0] == b'9' { b'0' } else { two[0] + 1 };
        two[11] = if two[11] == b'9' { b'0' } else { two[11] + 1 };
        prop_assert!(!within_one_edit(&a, &two));
    }

    #[test]
    fn chunking_does_not_change_the_normalised_records(names in prop::collection::vec(name(), 1..40), cut in 0usize..40) {
        let recs: Vec<Record> = names.iter().enumerate().map(|(i, n)| record(i, n, "1950", "")).collect();
        let whole = normalize(&recs);
        let cut = cut.min(recs.len());
        let mut n = Normalizer::new();
        n.push(&recs[..cut]);
        n.push(&recs[cut..]);
        let parts = n.finish();
        for (a, b) in whole.records.iter().zip(&parts.records) {
            prop_assert_eq!((a.surname, a.given, a.middle), (b.surname, b.given, b.middle));
        }
    }
}

/// A small registry of distinct people, each with a unique ID and date, plus one of them typed
/// again with a typical error: the pair is found, nothing else is, and twice the same.
#[test]
fn a_retyped_record_is_found_and_nothing_else_is() {
    let mut recs = Vec::new();
    for i in 0..400usize {
        let n = format!("{} {} {}", SURNAMES[i % 8], MIDDLES[(i / 8) % 6], GIVEN[(i / 48) % 10]);
        let dob = format!("{:02}/{:02}/{}", 1 + i % 28, 1 + (i / 28) % 12, 1940 + i % 50);
        let pid = format!("0750{:02}{:06}", (40 + i % 50) % 100, 100_000 + i * 37);
        recs.push(record(i, &n, &dob, &pid));
    }
    let original = recs[123].clone();
    let mut typed = original.clone();
    typed.id = "again".into();
    typed.full_name = domain::text::search_key(&original.full_name).to_uppercase();
    let mut digits: Vec<u8> = original.personal_id.bytes().collect();
    digits.swap(8, 9);
    typed.personal_id = String::from_utf8(digits).unwrap();
    recs.push(typed);
    let config = Config { random_pairs: 50_000, ..Config::default() };
    let out = dedup(&recs, &config);
    let dups: Vec<(u32, u32)> =
        out.pairs.iter().filter(|p| p.decision == Decision::Duplicate).map(|p| (p.a, p.b)).collect();
    assert_eq!(dups, vec![(123, 400)], "{:?}", out.pairs);
    assert_eq!(out.cluster[400], 123);
    let (prior, parts) = out.explain(&out.pairs[0]);
    assert!(prior < 0.0);
    assert_eq!(
        parts.iter().find(|p| p.comparison == "personal_id").unwrap().level,
        "one digit wrong, swapped, missing or extra"
    );
    let again = dedup(&recs, &config);
    assert_eq!(again.pairs.len(), out.pairs.len());
    assert_eq!(again.pairs[0].weight.to_bits(), out.pairs[0].weight.to_bits(), "deterministic");
}
