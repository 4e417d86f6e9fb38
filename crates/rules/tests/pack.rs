//! `Packs::load` refuses a broken pack, saying where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rules::Packs;

fn load_with(file: &str, edit: impl Fn(String) -> String) -> Result<Packs, rules::PackError> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    Packs::load(&|f| {
        let text = std::fs::read_to_string(dir.join(f)).ok()?;
        Some(if f == file { edit(text) } else { text })
    })
}

#[test]
fn the_repository_packs_load_and_list_what_is_unconfirmed() {
    let p = load_with("", |t| t).unwrap();
    assert_eq!(p.merit.id, "nguoi-co-cong");
    assert_eq!(p.assistance.tables[0].2, 17);
    let flags = p.unconfirmed();
    assert!(flags.iter().any(|(n, _, _)| n == "muc_chuan_tro_giup"), "{flags:?}");
    // every item of Appendix I is used by a rule (an unused one would be reported)
    assert_eq!(rules::engine::unused_items(&p), Vec::<String>::new());
}

#[test]
fn broken_packs_are_refused_with_file_and_line() {
    let e = load_with("nguoi-co-cong/monthly_amounts.csv", |t| t.replacen("2023-07,2297000", "2021-07,2297000", 1))
        .unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("nguoi-co-cong/monthly_amounts.csv", 3));
    assert!(e.message.contains("two rows from"), "{e}");
    let e = load_with("nguoi-co-cong/war_invalid_by_rate.csv", |t| {
        t.replacen("\n21,thuong_binh,2021-07,1094000,", "\n150,thuong_binh,2021-07,1094000,", 1)
    })
    .unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("21 to 100"), "{e}");
    let e = load_with("nguoi-co-cong/war_invalid_by_rate.csv", |t| {
        t.lines().filter(|l| !l.starts_with("55,thuong_binh_loai_b")).collect::<Vec<_>>().join("\n")
    })
    .unwrap_err();
    assert!(e.message.contains("rate 55%"), "{e}");
    let e = load_with("tro-giup-xa-hoi/coefficients.csv", |t| t.replacen("k2,any", "k2,teenager", 1)).unwrap_err();
    assert_eq!(e.line, 4);
    assert!(e.message.contains("teenager"), "{e}");
    let e = load_with("nguoi-co-cong/monthly_amounts.csv", |t| t.replacen("3117000,", "3117500,", 1)).unwrap_err();
    assert!(e.message.contains("thousands"), "{e}");
    let e = load_with("nguoi-co-cong/one_off_coefficients.csv", |t| {
        t.replacen(",\"Nghị định 75/2021/NĐ-CP, Phụ lục VI, mục a\"", ",", 1)
    })
    .unwrap_err();
    assert!(e.message.contains("citation"), "{e}");
    let e = load_with("nguoi-co-cong/pack.toml", |t| t.replace("name = \"luong_co_so\"", "name = \"luong_toi_thieu\""))
        .unwrap_err();
    assert!(e.message.contains("luong_co_so is not defined"), "{e}");
    let e = load_with("nguoi-co-cong/pack.toml", |t| {
        t.replace("covers_from = \"2021-07\"", "covers_from = \"2021-07\"\nextra = 1")
    })
    .unwrap_err();
    assert_eq!(e.file, "nguoi-co-cong/pack.toml");
    assert!(e.line > 0 && e.message.contains("extra"), "{e}");
    let e = load_with("nguoi-co-cong/monthly_amounts.csv", |t| {
        t.lines().filter(|l| !l.starts_with("6.1p,")).collect::<Vec<_>>().join("\n")
    })
    .unwrap_err();
    assert!(e.message.contains("item 6.1p, used by the rules, is missing"), "{e}");
}
