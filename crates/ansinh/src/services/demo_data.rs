//! A realistic synthetic registry for the Đồng Nai demo: deterministic for a seed.
//!
//! Vietnamese names with realistic surname frequencies; personal ID numbers consistent
//! with birth year, sex and birth province; households; merit categories in plausible
//! proportions (many martyrs' relatives and war invalids, few pre-1945 revolutionaries,
//! elderly ages); some deceased; social-assistance beneficiaries; bank or cash payment;
//! and a few planted data problems for the integrity checks to find.

use std::collections::HashSet;

use domain::Gazetteer;
use store::registry::{AssistanceRecord, MeritRecord, NewHousehold, NewPerson, PaymentMethod, PersonBatch};

/// Small deterministic generator (xorshift64*): reproducible demo data without a
/// dependency; not for anything secret.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    pub fn chance(&mut self, per_10000: u64) -> bool {
        self.below(10_000) < per_10000
    }
    /// Picks by weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut r = self.below(total);
        for (t, w) in items {
            if r < u64::from(*w) {
                return t;
            }
            r -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Surname shares in Viet Nam (per mille, rounded; the rest spread over rarer names).
const SURNAMES: [(&str, u32); 24] = [
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 30),
    ("Huỳnh", 21),
    ("Phan", 45),
    ("Vũ", 20),
    ("Võ", 19),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 8),
    ("Trương", 8),
    ("Lâm", 6),
    ("Mai", 5),
    ("Đoàn", 5),
    ("Cao", 4),
    ("Lương", 4),
    ("Khúc", 1),
];
const MIDDLE_M: [&str; 9] = ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Xuân", "Ngọc"];
const MIDDLE_F: [&str; 8] = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ"];
const GIVEN_M: [&str; 28] = [
    "An", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hòa", "Hùng", "Huy", "Khánh", "Long", "Minh", "Nam", "Nghĩa",
    "Phong", "Phúc", "Quang", "Sơn", "Tài", "Thắng", "Thành", "Tiến", "Toàn", "Trung", "Tuấn", "Việt", "Vinh", "Quý",
];
const GIVEN_F: [&str; 27] = [
    "Anh", "Bích", "Chi", "Dung", "Hà", "Hạnh", "Hoa", "Hòa", "Hương", "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai",
    "Nga", "Ngọc", "Nhung", "Phương", "Quỳnh", "Tâm", "Thảo", "Thủy", "Trang", "Vân", "Yến", "Khỏe",
];
const ETHNICITIES: [(&str, u32); 8] =
    [("Kinh", 880), ("Hoa", 35), ("Xtiêng", 25), ("Khmer", 15), ("Tày", 12), ("Nùng", 15), ("Chơ Ro", 8), ("Mạ", 10)];
/// Birth-registration codes of migrants' home provinces (pre-2025 codes).
const MIGRANT_PREFIXES: [&str; 8] = ["038", "040", "036", "034", "042", "044", "079", "052"];
const BANKS: [&str; 5] = ["Agribank", "Vietcombank", "BIDV", "VietinBank", "LPBank"];

#[derive(Clone, Copy)]
enum Profile {
    /// Pháp lệnh 02/2020 Art. 3.1 category with birth-year range.
    Merit(&'static str, i64, i64),
    /// A martyr's relative (Art. 3.2).
    Relative,
    /// Decree 20/2021 group.
    Assistance(&'static str, i64, i64),
    /// A household member with no benefit.
    Member,
}

/// Shares per 10,000 persons.
const PROFILES: [(Profile, u32); 16] = [
    (Profile::Merit("a", 1918, 1928), 3),
    (Profile::Merit("b", 1920, 1930), 5),
    (Profile::Merit("c", 1920, 1960), 300),
    (Profile::Merit("d", 1900, 1935), 10),
    (Profile::Merit("g", 1935, 1965), 800),
    (Profile::Merit("h", 1935, 1965), 200),
    (Profile::Merit("i", 1940, 1965), 300),
    (Profile::Merit("k", 1930, 1960), 100),
    (Profile::Merit("l", 1930, 1965), 500),
    (Profile::Relative, 2500),
    (Profile::Assistance("k5b", 1935, 1950), 1000),
    (Profile::Assistance("k5c", 1925, 1945), 300),
    (Profile::Assistance("k6", 1940, 2015), 600),
    (Profile::Assistance("k4", 1980, 2000), 100),
    (Profile::Assistance("k1", 2010, 2022), 80),
    (Profile::Member, 2902),
];

/// A deterministic synthetic registry of `n` persons over the province's communes.
pub fn generate(g: &Gazetteer, province: &str, n: usize, seed: u64) -> PersonBatch {
    let mut rng = Rng::new(seed);
    let communes: Vec<&domain::Commune> = g.communes_of(province).collect();
    let mut batch = PersonBatch::default();
    let mut ids: HashSet<String> = HashSet::with_capacity(n);
    let mut household_no = 0usize;
    let mut i = 0usize;
    // the planted duplicates make up the rest of the n persons
    let dups = if n >= 50 { (n / 1000).max(1) } else { 0 };
    let n = n - dups;
    while i < n {
        let commune = *rng.pick(&communes);
        let preds = g.predecessors_of(&commune.code);
        household_no += 1;
        let hh_code = format!("HO-{}-{household_no:07}", commune.code);
        let street = if commune.kind == domain::CommuneKind::Phuong {
            format!("Tổ {}, khu phố {}", rng.range(1, 30), rng.range(1, 12))
        } else {
            format!("Ấp {}", rng.range(1, 15))
        };
        let poor = *rng.weighted(&[("none", 90u32), ("poor", 4), ("near_poor", 6)]);
        batch.households.push(NewHousehold {
            code: hh_code.clone(),
            commune_code: commune.code.clone(),
            address_line: street.clone(),
            status: poor.to_string(),
            status_from: "2022-01-01".into(),
        });
        let size = rng.range(1, 5) as usize;
        let family = *rng.weighted(&SURNAMES);
        let mut first_pid: Option<String> = None;
        for m in 0..size {
            if i >= n {
                break;
            }
            i += 1;
            let profile = *rng.weighted(&PROFILES);
            let (y_lo, y_hi) = match profile {
                Profile::Merit(_, lo, hi) | Profile::Assistance(_, lo, hi) => (lo, hi),
                Profile::Relative => (1925, 1975),
                Profile::Member => (1950, 2020),
            };
            let year = rng.range(y_lo, y_hi);
            let female = match profile {
                Profile::Merit("d", _, _) => true,
                Profile::Merit("g" | "h" | "c" | "k", _, _) => rng.chance(800),
                _ => rng.chance(5_200),
            };
            let surname = if m == 0 || rng.chance(7_000) { family } else { *rng.weighted(&SURNAMES) };
            let middle = if female { *rng.pick(&MIDDLE_F) } else { *rng.pick(&MIDDLE_M) };
            let given = if female { *rng.pick(&GIVEN_F) } else { *rng.pick(&GIVEN_M) };
            let full_name = domain::text::normalize_name(&format!("{surname} {middle} {given}"));
            let prefix = if rng.chance(1_500) {
                *rng.pick(&MIGRANT_PREFIXES)
            } else if commune.code.as_str() < "26000" {
                "070" // former Bình Phước
            } else {
                "075"
            };
            let century = (year - 1900) / 100 * 2 + i64::from(female);
            let mut pid;
            loop {
                pid = format!("{prefix}{century}{:02}{:06}", year % 100, rng.below(1_000_000));
                if ids.insert(pid.clone()) {
                    break;
                }
            }
            let birth_date = match rng.below(10) {
                0 => format!("{year}"),
                1 => format!("{year}-{:02}", rng.range(1, 12)),
                _ => format!("{year}-{:02}-{:02}", rng.range(1, 12), rng.range(1, 28)),
            };
            let dead = match profile {
                Profile::Merit("c", _, _) => Some(format!(
                    "{}-{:02}-{:02}",
                    rng.range(year + 18, 1989.min(year + 45)),
                    rng.range(1, 12),
                    rng.range(1, 28)
                )),
                Profile::Merit("d" | "a" | "b", _, _) => {
                    Some(format!("{}-{:02}-{:02}", rng.range(2000, 2024), rng.range(1, 12), rng.range(1, 28)))
                }
                // few live past 100: without this, one in a hundred of the demo's persons was
                // a centenarian for the integrity checks to flag
                _ if year < 1927 && rng.chance(9_700) => {
                    Some(format!("{}-{:02}-{:02}", rng.range(2012, 2025), rng.range(1, 12), rng.range(1, 28)))
                }
                _ if year < 1945 && rng.chance(2_500) => {
                    Some(format!("{}-{:02}-{:02}", rng.range(2015, 2025), rng.range(1, 12), rng.range(1, 28)))
                }
                _ => None,
            };
            let legacy =
                preds.get(rng.below(preds.len().max(1) as u64) as usize).map(|l| format!("{street}, {}", l.name));
            let person = NewPerson {
                personal_id: pid.clone(),
                full_name,
                birth_date,
                sex: if female { "female" } else { "male" }.into(),
                ethnicity: rng.weighted(&ETHNICITIES).to_string(),
                commune_code: commune.code.clone(),
                address_line: street.clone(),
                legacy_address: legacy,
                phone: rng.chance(6_000).then(|| format!("09{:08}", rng.below(100_000_000))),
                deceased_on: dead.clone(),
                cmnd: (year < 1990 && rng.chance(3_000)).then(|| format!("{:09}", rng.below(1_000_000_000))),
                bhxh_code: None,
                household_code: Some(hh_code.clone()),
                relation_to_head: Some(
                    if m == 0 { "chủ hộ" } else { *rng.pick(&["vợ", "chồng", "con", "cháu", "cha", "mẹ"]) }.to_string(),
                ),
                valid_from: "2025-07-01".into(),
                name_keys: None,
            };
            batch.persons.push(person);
            let decision_date = format!("{}-{:02}-{:02}", rng.range(1990, 2024), rng.range(1, 12), rng.range(1, 28));
            match profile {
                Profile::Merit(cat, _, _) => {
                    let (rate, severe) = if cat == "g" {
                        let r =
                            *rng.weighted(&[(21i64, 20u32), (31, 20), (41, 18), (51, 14), (61, 12), (71, 8), (81, 8)])
                                + rng.range(0, 9);
                        (Some(r), r >= 81 && rng.chance(4_000))
                    } else if cat == "h" {
                        (Some(rng.range(41, 90)), false)
                    } else if cat == "i" {
                        (Some(rng.range(21, 95)), false)
                    } else {
                        (None, false)
                    };
                    batch.merits.push((
                        pid.clone(),
                        MeritRecord {
                            category: cat.to_string(),
                            decision_no: format!("{}/QĐ-LĐTBXH", rng.range(100, 9999)),
                            decision_date: decision_date.clone(),
                            issuer: "Sở Lao động - Thương binh và Xã hội".into(),
                            injury_rate: rate,
                            type_b: cat == "g" && rng.chance(500),
                            especially_severe: severe,
                            seniority_from: matches!(cat, "a" | "b")
                                .then(|| format!("{}-07-01", rng.range(1936, 1945))),
                            martyrs_count: None,
                            thoat_ly: (cat == "a").then(|| rng.chance(5_000)),
                            valid_from: if dead.is_some() && cat == "c" {
                                decision_date.clone()
                            } else {
                                "2021-07-01".into()
                            },
                            ..Default::default()
                        },
                    ));
                }
                Profile::Relative => {
                    let martyrs = if rng.chance(300) { 2 } else { 1 };
                    batch.merits.push((
                        pid.clone(),
                        MeritRecord {
                            category: "relative".into(),
                            decision_no: format!("{}/QĐ-UBND", rng.range(100, 9999)),
                            decision_date,
                            issuer: "UBND tỉnh".into(),
                            martyrs_count: Some(martyrs),
                            of_category: Some("c".into()),
                            relation: Some(rng.pick(&["cha đẻ", "mẹ đẻ", "vợ", "chồng", "con"]).to_string()),
                            valid_from: "2021-07-01".into(),
                            ..Default::default()
                        },
                    ));
                }
                Profile::Assistance(group, _, _) => {
                    batch.assistance.push((
                        pid.clone(),
                        AssistanceRecord {
                            group_code: group.into(),
                            disability_level: (group == "k6")
                                .then(|| rng.pick(&["severe", "especially_severe"]).to_string()),
                            single_parent: group == "k4",
                            hiv: group == "k6" && rng.chance(150),
                            decision_no: format!("{}/QĐ-UBND", rng.range(100, 9999)),
                            decision_date: decision_date.clone(),
                            valid_from: decision_date,
                            ..Default::default()
                        },
                    ));
                }
                Profile::Member => {}
            }
            if !matches!(profile, Profile::Member) && dead.is_none() {
                let bank = rng.chance(3_000);
                batch.payments.push((
                    pid.clone(),
                    PaymentMethod {
                        method: if bank { "bank" } else { "cash" }.into(),
                        bank_name: bank.then(|| rng.pick(&BANKS).to_string()),
                        account_no: bank.then(|| format!("{:013}", rng.below(10_000_000_000_000))),
                        account_holder: None,
                        valid_from: "2024-01-01".into(),
                        ..Default::default()
                    },
                ));
            }
            match &first_pid {
                None => first_pid = Some(pid),
                Some(head) if m == 1 => batch.relationships.push((head.clone(), pid, "spouse".into())),
                Some(head) => batch.relationships.push((head.clone(), pid, "child".into())),
            }
        }
    }
    plant_problems(&mut batch, &mut rng, dups);
    batch
}

/// Renames personal IDs everywhere in the batch, in one pass.
fn rename(batch: &mut PersonBatch, renamed: &std::collections::HashMap<String, String>) {
    if renamed.is_empty() {
        return;
    }
    let fix = |p: &mut String| {
        if let Some(n) = renamed.get(p.as_str()) {
            *p = n.clone();
        }
    };
    batch.merits.iter_mut().for_each(|(p, _)| fix(p));
    batch.assistance.iter_mut().for_each(|(p, _)| fix(p));
    batch.payments.iter_mut().for_each(|(p, _)| fix(p));
    for (a, b, _) in batch.relationships.iter_mut() {
        fix(a);
        fix(b);
    }
}

/// Beneficiaries registered a second time in another commune, as a careless or fraudulent
/// registration looks: the name typed without diacritics, in the other tone style or with
/// a typo, one digit of the ID number wrong, the same merit record copied; both records
/// are then paid.
fn plant_duplicates(batch: &mut PersonBatch, rng: &mut Rng, k: usize, taken: &mut HashSet<String>) {
    let paid: HashSet<&str> = batch.payments.iter().map(|(p, _)| p.as_str()).collect();
    let candidates: Vec<usize> = batch
        .merits
        .iter()
        .enumerate()
        .filter(|(_, (p, m))| paid.contains(p.as_str()) && m.category != "relative")
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return;
    }
    let communes: Vec<String> = batch.persons.iter().map(|p| p.commune_code.clone()).collect();
    let by_pid: std::collections::HashMap<String, usize> =
        batch.persons.iter().enumerate().map(|(i, p)| (p.personal_id.clone(), i)).collect();
    let mut added = 0;
    for _ in 0..k * 50 {
        if added == k {
            break;
        }
        let (pid, merit) = batch.merits[*rng.pick(&candidates)].clone();
        let Some(&pi) = by_pid.get(&pid) else { continue };
        let mut dup = batch.persons[pi].clone();
        // one digit of the random part wrong
        let pos = 6 + rng.below(6) as usize;
        let mut digits: Vec<u8> = dup.personal_id.bytes().collect();
        digits[pos] = b'0' + ((digits[pos] - b'0' + 1 + rng.below(8) as u8) % 10);
        let new_pid = String::from_utf8(digits).unwrap_or_default();
        if !taken.insert(new_pid.clone()) {
            continue;
        }
        dup.personal_id = new_pid.clone();
        dup.full_name = match rng.below(3) {
            0 => domain::text::capitalize_words(&domain::text::search_key(&dup.full_name)),
            1 => domain::text::place_tones(&dup.full_name, domain::text::ToneStyle::Modern),
            _ => {
                let mut chars: Vec<char> = dup.full_name.chars().collect();
                let at = chars.len() - 2;
                chars.swap(at, at + 1);
                chars.into_iter().collect()
            }
        };
        dup.commune_code = rng.pick(&communes).clone();
        dup.household_code = None;
        dup.relation_to_head = None;
        dup.phone = None;
        dup.name_keys = None;
        batch.persons.push(dup);
        batch
            .merits
            .push((new_pid.clone(), MeritRecord { decision_no: format!("{}/QĐ-UBND", rng.range(100, 9999)), ..merit }));
        batch.payments.push((
            new_pid,
            PaymentMethod { method: "cash".into(), valid_from: "2024-01-01".into(), ..Default::default() },
        ));
        added += 1;
    }
}

/// A few data problems the integrity checks must find (about 1 in 1,000 persons each).
fn plant_problems(batch: &mut PersonBatch, rng: &mut Rng, dups: usize) {
    let n = batch.persons.len();
    if n + dups < 50 {
        return;
    }
    let k = (n / 1000).max(1);
    let mut taken: HashSet<String> = batch.persons.iter().map(|p| p.personal_id.clone()).collect();
    let mut renamed = std::collections::HashMap::new();
    for _ in 0..k {
        // ID inconsistent with the recorded birth year
        let p = &mut batch.persons[rng.below(n as u64) as usize];
        if p.birth_date.len() >= 4 {
            let y: i64 = p.birth_date[..4].parse().unwrap_or(1960);
            p.birth_date = format!("{}{}", y + 3, &p.birth_date[4..]);
        }
        // implausibly old without a death date
        let idx = rng.below(n as u64) as usize;
        let p = &mut batch.persons[idx];
        if p.deceased_on.is_none() && p.personal_id.as_bytes()[3] <= b'1' {
            let old = p.personal_id.clone();
            let new = format!("{}05{}", &old[..4], &old[6..]);
            if taken.insert(new.clone()) {
                let p = &mut batch.persons[idx];
                p.birth_date = "1905".into();
                p.personal_id = new.clone();
                renamed.insert(old, new);
            }
        }
    }
    rename(batch, &renamed);
    plant_duplicates(batch, rng, dups, &mut taken);
    // one bank account shared by unrelated beneficiaries
    let banked: Vec<usize> =
        batch.payments.iter().enumerate().filter(|(_, (_, p))| p.method == "bank").map(|(i, _)| i).collect();
    if banked.len() > 10 {
        let shared = batch.payments[banked[0]].1.account_no.clone();
        for &i in banked.iter().skip(1).step_by(banked.len() / 4).take(3) {
            batch.payments[i].1.account_no = shared.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--persons N` gives N persons, 1 in 1,000 of them planted duplicates, at any size
    /// (a size with more than 50 duplicates once skipped the planted problems altogether).
    #[test]
    fn sizes_are_exact_and_problems_are_planted() {
        let g = Gazetteer::embedded().unwrap();
        for n in [300, 60_000] {
            let b = generate(&g, domain::admin::DONG_NAI, n, 1);
            assert_eq!(b.persons.len(), n);
            let dups = b.persons.iter().filter(|p| p.household_code.is_none() && p.relation_to_head.is_none()).count();
            assert!(dups >= n / 1000, "{n}: {dups} planted duplicates");
            let ids: HashSet<&str> = b.persons.iter().map(|p| p.personal_id.as_str()).collect();
            assert_eq!(ids.len(), n, "IDs stay unique");
            let old = b.persons.iter().filter(|p| p.birth_date == "1905").count();
            assert!(old >= 1, "{n}: the implausibly old are planted");
        }
    }
}
