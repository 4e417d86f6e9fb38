//! Golden cases written from the decree tables (Appendices I, II, III, VI of Decree 75/2021 in
//! its three versions; Decree 20/2021 Art. 6 at both standard levels): `golden/appendix.jsonl`,
//! one case per line — facts, a month and the lines expected, amounts typed from the tables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use rules::engine::{compute, Engine};
use rules::PersonFacts;

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    facts: PersonFacts,
    month: String,
    expected: Vec<(String, i64)>,
}

#[test]
fn every_appendix_row_gives_the_amount_of_the_decree() {
    let packs = common::packs();
    let engine = Engine::new(&packs).unwrap();
    let text = include_str!("golden/appendix.jsonl");
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let case: Case = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let m: domain::Month = case.month.parse().unwrap();
        let lines = compute(&engine, &case.facts, m, m).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let got: Vec<(String, i64)> = lines.iter().map(|l| (l.item.to_string(), l.amount.dong())).collect();
        assert_eq!(got, case.expected, "{}", case.name);
        assert!(lines.iter().all(|l| !l.citation.is_empty()), "{}: a line without citation", case.name);
        n += 1;
    }
    assert!(n > 600, "{n} cases");
}
