//! Cumulation, stop rules, fail-closed errors, arrears and the properties of the engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use domain::{Money, Month};
use proptest::prelude::*;
use rules::arrears::{differences, Paid};
use rules::engine::{compute, explain, Engine};
use rules::{AssistanceFact, MeritFact, PersonFacts};

fn m(s: &str) -> Month {
    s.parse().unwrap()
}

fn person(merit: Vec<MeritFact>, assistance: Vec<AssistanceFact>) -> PersonFacts {
    PersonFacts {
        person: "075050000001".into(),
        birth_date: "1950".into(),
        deceased_on: None,
        merit,
        assistance,
        has_pension: Some(false),
        poor_household: false,
    }
}

fn merit(category: &str) -> MeritFact {
    MeritFact { category: category.into(), from: "2021-07-01".into(), ..Default::default() }
}

fn group(g: &str) -> AssistanceFact {
    AssistanceFact { group: g.into(), from: "2021-07-01".into(), ..Default::default() }
}

fn items(lines: &[rules::Line<'_>]) -> Vec<(String, i64)> {
    lines.iter().map(|l| (l.item.to_string(), l.amount.dong())).collect()
}

#[test]
fn every_category_is_paid_but_survivor_allowances_are_limited() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    // an invalid 61 % who is also imprisoned by the enemy: both (Art. 6: every category)
    let p = person(vec![MeritFact { injury_rate: Some(61), ..merit("g") }, merit("k")], vec![]);
    let got = items(&compute(&e, &p, m("2024-07"), m("2024-07")).unwrap());
    assert_eq!(got, vec![("II".into(), 5_450_000), ("9".into(), 1_673_000)]);
    // relative of three people with merit (not martyrs): the two highest survivor allowances
    let rel = |of: &str, rate: Option<u8>| MeritFact {
        of_category: Some(of.into()),
        of_injury_rate: rate,
        of_deceased: Some(true),
        ..merit("relative")
    };
    let p = person(vec![rel("b", None), rel("a", None), rel("h", Some(70))], vec![]);
    let got = items(&compute(&e, &p, m("2024-07"), m("2024-07")).unwrap());
    assert_eq!(got, vec![("1.2".into(), 2_789_000), ("2.2".into(), 1_565_000)]);
    // relative of 2 martyrs and of an invalid: only the multi-martyr rate
    let martyrs = MeritFact { martyrs_count: Some(2), of_category: Some("c".into()), ..merit("relative") };
    let p = person(vec![martyrs, rel("g", Some(81))], vec![]);
    let got = items(&compute(&e, &p, m("2024-07"), m("2024-07")).unwrap());
    assert_eq!(got, vec![("3.2".into(), 5_578_000)]);
    // the extra nurture allowance at most once
    let nurture = |of: &str| MeritFact {
        of_category: Some(of.into()),
        nurture: true,
        of_deceased: Some(true),
        ..merit("relative")
    };
    let p = person(vec![nurture("a"), nurture("b")], vec![]);
    let got = items(&compute(&e, &p, m("2024-07"), m("2024-07")).unwrap());
    assert_eq!(got.iter().filter(|(i, _)| i.ends_with('n')).count(), 1, "{got:?}");
    // a relative of a living person with merit: no survivor allowance; unknown: an error
    let living = MeritFact { of_deceased: Some(false), ..rel("g", Some(81)) };
    assert!(compute(&e, &person(vec![living], vec![]), m("2024-07"), m("2024-07")).unwrap().is_empty());
    let unknown = MeritFact { of_deceased: None, ..rel("g", Some(81)) };
    let err = compute(&e, &person(vec![unknown], vec![]), m("2024-07"), m("2024-07")).unwrap_err();
    assert!(err.message.contains("of_deceased"), "{err}");
    // caregiver allowances: only the single highest (a Heroic Mother who is also an especially
    // severe invalid with a caregiver: 6.1cs 3,582,000, not also 4c)
    let p = person(
        vec![
            MeritFact { caregiver: true, ..merit("d") },
            MeritFact { injury_rate: Some(95), especially_severe: true, caregiver: true, ..merit("g") },
        ],
        vec![],
    );
    let got = items(&compute(&e, &p, m("2024-07"), m("2024-07")).unwrap());
    assert!(got.contains(&("6.1cs".into(), 3_582_000)) && !got.iter().any(|(i, _)| i == "4c"), "{got:?}");
}

#[test]
fn social_assistance_pays_the_highest_except_for_single_parents() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    // disabled (especially severe, adult: 2.0) and elderly-poor is impossible at 40; k8 1.5 → 2.0 only
    let mut p = person(
        vec![],
        vec![AssistanceFact { disability_level: Some("especially_severe".into()), ..group("k6") }, group("k8")],
    );
    p.birth_date = "1985".into();
    assert_eq!(items(&compute(&e, &p, m("2024-07"), m("2024-07")).unwrap()), vec![("tgxh.k6".into(), 1_000_000)]);
    // a poor single parent also receives the highest other benefit (Art. 6.2)
    p.assistance.push(group("k4"));
    assert_eq!(
        items(&compute(&e, &p, m("2024-07"), m("2024-07")).unwrap()),
        vec![("tgxh.k6".into(), 1_000_000), ("tgxh.k4".into(), 500_000)]
    );
    // the standard level changed in July 2024: 360,000 → 500,000
    let lines = compute(&e, &p, m("2024-06"), m("2024-07")).unwrap();
    assert_eq!(lines[0].amount, Money::from_dong(720_000));
    assert_eq!(lines[2].amount, Money::from_dong(1_000_000));
}

#[test]
fn social_pension_or_assistance_whichever_is_higher() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    // 76 years old, no pension: the social pension from 2025-07 (500,000) against k5c (1.0 × 500,000 = equal: assistance kept)
    let mut p = person(vec![], vec![group("k5c")]);
    p.birth_date = "1949-01-01".into();
    assert_eq!(items(&compute(&e, &p, m("2025-07"), m("2025-07")).unwrap()), vec![("tgxh.k5c".into(), 500_000)]);
    // without assistance: the social pension alone, only from 2025-07
    p.assistance.clear();
    let got = items(&compute(&e, &p, m("2025-06"), m("2025-07")).unwrap());
    assert_eq!(got, vec![("htxh".into(), 500_000)]);
    // 71 in a poor household qualifies; 71 otherwise does not
    p.birth_date = "1954-01-01".into();
    assert!(compute(&e, &p, m("2025-07"), m("2025-07")).unwrap().is_empty());
    p.poor_household = true;
    assert_eq!(items(&compute(&e, &p, m("2025-07"), m("2025-07")).unwrap()), vec![("htxh".into(), 500_000)]);
    // with a pension: nothing
    p.has_pension = Some(true);
    assert!(compute(&e, &p, m("2025-07"), m("2025-07")).unwrap().is_empty());
}

#[test]
fn death_stops_payment_and_pays_three_months_and_the_funeral() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    let mut p = person(vec![merit("k")], vec![]);
    p.deceased_on = Some("2024-09-20".into());
    let lines = compute(&e, &p, m("2024-08"), m("2024-11")).unwrap();
    let got: Vec<(String, String, i64)> =
        lines.iter().map(|l| (l.month.to_string(), l.item.to_string(), l.amount.dong())).collect();
    assert_eq!(
        got,
        vec![
            ("08/2024".into(), "9".into(), 1_673_000),
            ("09/2024".into(), "9".into(), 1_673_000),
            ("09/2024".into(), "tu_tran.3_thang".into(), 5_019_000),
            ("09/2024".into(), "mai_tang".into(), 23_400_000),
        ]
    );
}

#[test]
fn a_record_replaced_during_a_month_is_paid_once_and_one_offs_once() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    // re-assessed from 61 % to 71 % on 15/03/2024: March is paid once, at the new rate
    let p = person(
        vec![
            MeritFact { injury_rate: Some(61), to: Some("2024-03-14".into()), ..merit("g") },
            MeritFact { injury_rate: Some(71), from: "2024-03-15".into(), ..merit("g") },
        ],
        vec![],
    );
    let got: Vec<(String, i64)> = compute(&e, &p, m("2024-02"), m("2024-03"))
        .unwrap()
        .iter()
        .map(|l| (l.month.to_string(), l.amount.dong()))
        .collect();
    let rate = |r: u8, mm: &str| packs.invalid[&(false, r)].at(m(mm)).unwrap().value.dong();
    assert_eq!(got, vec![("02/2024".into(), rate(61, "2024-02")), ("03/2024".into(), rate(71, "2024-03"))]);
    // a martyr's record corrected (closed, and a new one opened): the one-offs are not paid again
    let mut martyr = person(
        vec![
            MeritFact { from: "2024-03-10".into(), to: Some("2024-05-31".into()), ..merit("c") },
            MeritFact { from: "2024-06-01".into(), ..merit("c") },
        ],
        vec![],
    );
    martyr.deceased_on = Some("1972-04-30".into());
    let items: Vec<String> =
        compute(&e, &martyr, m("2024-01"), m("2024-12")).unwrap().iter().map(|l| l.item.to_string()).collect();
    assert_eq!(items, ["IV.3a", "IV.3b"]);
    // the nurture allowance only with a survivor allowance that is paid: a relative of two
    // martyrs (3.2 alone) and of an invalid with nurture (6.2 and 6.2n dropped)
    let p = person(
        vec![
            MeritFact { martyrs_count: Some(2), of_category: Some("c".into()), ..merit("relative") },
            MeritFact {
                of_category: Some("g".into()),
                of_injury_rate: Some(81),
                of_deceased: Some(true),
                nurture: true,
                ..merit("relative")
            },
        ],
        vec![],
    );
    assert_eq!(items_of(&compute(&e, &p, m("2024-07"), m("2024-07")).unwrap()), vec![("3.2".to_string(), 5_578_000)]);
}

fn items_of(lines: &[rules::Line<'_>]) -> Vec<(String, i64)> {
    lines.iter().map(|l| (l.item.to_string(), l.amount.dong())).collect()
}

#[test]
fn records_count_from_their_month_to_their_end() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    let p = person(vec![MeritFact { from: "2024-03-15".into(), to: Some("2024-05-31".into()), ..merit("k") }], vec![]);
    let months: Vec<String> =
        compute(&e, &p, m("2024-01"), m("2024-12")).unwrap().iter().map(|l| l.month.to_string()).collect();
    assert_eq!(months, ["03/2024", "04/2024", "05/2024"]);
}

#[test]
fn missing_facts_are_errors_naming_person_rule_and_fact() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    let err = compute(&e, &person(vec![merit("g")], vec![]), m("2024-07"), m("2024-07")).unwrap_err();
    assert_eq!((err.person.as_str(), err.rule.as_str()), ("075050000001", "6.1"));
    assert!(err.message.contains("injury_rate"), "{err}");
    let err = compute(&e, &person(vec![merit("a")], vec![]), m("2024-07"), m("2024-07")).unwrap_err();
    assert!(err.message.contains("thoat_ly"), "{err}");
    let err = compute(&e, &person(vec![merit("relative")], vec![]), m("2024-07"), m("2024-07")).unwrap_err();
    assert!(err.message.contains("of_category"), "{err}");
    let err = compute(&e, &person(vec![], vec![group("k6")]), m("2024-07"), m("2024-07")).unwrap_err();
    assert!(err.message.contains("disability_level"), "{err}");
    let err = compute(&e, &person(vec![merit("zz")], vec![]), m("2024-07"), m("2024-07")).unwrap_err();
    assert!(err.message.contains("'zz'"), "{err}");
    let mut bad_rate = person(vec![MeritFact { injury_rate: Some(150), ..merit("g") }], vec![]);
    let err = compute(&e, &bad_rate, m("2024-07"), m("2024-07")).unwrap_err();
    assert!(err.message.contains("merit[0].injury_rate"), "{err}");
    bad_rate.merit[0].injury_rate = Some(30);
    let err = compute(&e, &bad_rate, m("2020-01"), m("2020-01")).unwrap_err();
    assert!(err.message.contains("cover months from"), "{err}");
}

#[test]
fn arrears_of_decree_55_paid_late() {
    // Decree 55/2023 came into force on 2023-09-05 but applies from 2023-07-01: July and
    // August were paid at the old amounts and are owed the difference.
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    let p = person(vec![MeritFact { injury_rate: Some(21), ..merit("g") }], vec![]);
    let lines = compute(&e, &p, m("2023-06"), m("2023-09")).unwrap();
    let paid: Vec<Paid> = ["2023-06", "2023-07", "2023-08", "2023-09"]
        .iter()
        .map(|mm| Paid {
            person: p.person.clone(),
            month: m(mm),
            item: "II".into(),
            amount: Money::from_dong(if *mm < "2023-09" { 1_094_000 } else { 1_384_000 }),
        })
        .collect();
    let diff = differences(lines.iter().map(|l| (p.person.as_str(), l.month, l.item, l.amount, l.citation)), &paid);
    let got: Vec<(String, i64, &str)> =
        diff.iter().map(|d| (d.month.to_string(), d.difference.dong(), d.kind())).collect();
    assert_eq!(got, vec![("07/2023".into(), 290_000, "truy_linh"), ("08/2023".into(), 290_000, "truy_linh")]);
}

#[test]
fn arrears_of_a_reassessed_rate_and_overpayment_after_a_late_death() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    // re-assessed from 41 % to 61 % with effect from 2024-07: paid at 41 % for July–September
    let p = person(
        vec![
            MeritFact { injury_rate: Some(41), to: Some("2024-06-30".into()), ..merit("g") },
            MeritFact { injury_rate: Some(61), from: "2024-07-01".into(), ..merit("g") },
        ],
        vec![],
    );
    let due = compute(&e, &p, m("2024-07"), m("2024-09")).unwrap();
    let old = compute(
        &e,
        &person(vec![MeritFact { injury_rate: Some(41), ..merit("g") }], vec![]),
        m("2024-07"),
        m("2024-09"),
    )
    .unwrap();
    let paid: Vec<Paid> = old
        .iter()
        .map(|l| Paid { person: p.person.clone(), month: l.month, item: l.item.into(), amount: l.amount })
        .collect();
    let diff = differences(due.iter().map(|l| (p.person.as_str(), l.month, l.item, l.amount, l.citation)), &paid);
    assert_eq!(diff.len(), 3);
    assert!(diff.iter().all(|d| d.difference == Money::from_dong(5_450_000 - 3_667_000)), "{diff:?}");
    // a death on 2024-05-10 recorded only in September: June–August were overpaid
    let mut dead = person(vec![merit("k")], vec![]);
    let paid: Vec<Paid> = ["2024-05", "2024-06", "2024-07", "2024-08"]
        .iter()
        .map(|mm| Paid {
            person: dead.person.clone(),
            month: m(mm),
            item: "9".into(),
            amount: Money::from_dong(if *mm < "2024-07" { 1_233_000 } else { 1_673_000 }),
        })
        .collect();
    dead.deceased_on = Some("2024-05-10".into());
    let due = compute(&e, &dead, m("2024-05"), m("2024-08")).unwrap();
    let diff = differences(due.iter().map(|l| (dead.person.as_str(), l.month, l.item, l.amount, l.citation)), &paid);
    let got: Vec<(String, String, i64)> =
        diff.iter().map(|d| (d.month.to_string(), d.item.clone(), d.difference.dong())).collect();
    assert_eq!(
        got,
        vec![
            ("05/2024".into(), "mai_tang".into(), 18_000_000),
            ("05/2024".into(), "tu_tran.3_thang".into(), 3_699_000),
            ("06/2024".into(), "9".into(), -1_233_000),
            ("07/2024".into(), "9".into(), -1_673_000),
            ("08/2024".into(), "9".into(), -1_673_000),
        ]
    );
}

#[test]
fn explanations_name_the_items_and_citations() {
    let packs = common::packs();
    let e = Engine::new(&packs).unwrap();
    let p = person(vec![MeritFact { injury_rate: Some(85), especially_severe: true, ..merit("g") }], vec![]);
    let (trace, total) = explain(&e, &p, m("2024-07")).unwrap();
    let text = trace.join("\n");
    assert!(text.contains("thương binh tỷ lệ 85%"), "{text}");
    assert!(text.contains("Nghị định 77/2024/NĐ-CP, Phụ lục II, tỷ lệ 85%"), "{text}");
    assert!(text.contains("mục 6.1ps"), "{text}");
    assert_eq!(total, Money::from_dong(packs.invalid[&(false, 85)].at(m("2024-07")).unwrap().value.dong() + 2_867_000));
}

fn arb_merit() -> impl Strategy<Value = MeritFact> {
    prop_oneof![
        (21u8..=100, any::<bool>(), any::<bool>()).prop_map(|(r, b, s)| MeritFact {
            injury_rate: Some(r),
            type_b: b,
            especially_severe: s,
            ..merit("g")
        }),
        (41u8..=100).prop_map(|r| MeritFact { injury_rate: Some(r), ..merit("h") }),
        (21u8..=100).prop_map(|r| MeritFact { injury_rate: Some(r), ..merit("i") }),
        Just(merit("k")),
        Just(merit("d")),
        (1u8..=4).prop_map(|n| MeritFact {
            martyrs_count: Some(n),
            of_category: Some("c".into()),
            ..merit("relative")
        }),
    ]
}

fn arb_group() -> impl Strategy<Value = AssistanceFact> {
    prop_oneof![
        Just(group("k4")),
        Just(group("k8")),
        Just(AssistanceFact { disability_level: Some("severe".into()), ..group("k6") }),
        Just(group("k5c")),
    ]
}

proptest! {
    #[test]
    fn order_of_facts_does_not_matter(
        merits in proptest::collection::vec(arb_merit(), 0..4),
        groups in proptest::collection::vec(arb_group(), 0..3),
        born in 1925i32..2020,
    ) {
        let packs = common::packs();
        let e = Engine::new(&packs).unwrap();
        let mut p = person(merits, groups);
        p.birth_date = born.to_string();
        let a = compute(&e, &p, m("2023-01"), m("2024-12")).unwrap();
        p.merit.reverse();
        p.assistance.reverse();
        let b = compute(&e, &p, m("2023-01"), m("2024-12")).unwrap();
        let key = |v: &[rules::Line<'_>]| {
            let mut k: Vec<(Month, String, i64)> = v.iter().map(|l| (l.month, l.item.to_string(), l.amount.dong())).collect();
            k.sort();
            k
        };
        prop_assert_eq!(key(&a), key(&b));
        // each line's citation exists in the pack
        for l in &a {
            prop_assert!(!l.citation.is_empty());
        }
    }

    #[test]
    fn a_person_with_no_facts_gets_nothing(born in 1960i32..2000) {
        let packs = common::packs();
        let e = Engine::new(&packs).unwrap();
        let mut p = person(vec![], vec![]);
        p.birth_date = born.to_string();
        prop_assert!(compute(&e, &p, m("2021-07"), m("2026-12")).unwrap().is_empty());
    }
}
