//! The portal's policy pages: who is eligible and how much, generated from the policy packs in
//! force (so they never go stale: a new decree is new pack rows, and the page follows).

use serde::Serialize;

use domain::{Money, Month};

/// One social-assistance group with its coefficient(s) and monthly amount this month.
#[derive(Debug, Clone, Serialize)]
pub struct AssistanceLine {
    pub group: String,
    pub title: String,
    pub who: String,
    /// e.g. "từ đủ 4 tuổi; khuyết tật đặc biệt nặng"
    pub condition: String,
    pub coefficient: String,
    pub amount: Money,
    pub citation: String,
}

/// One monthly allowance of people with merit (Decree 75/2021 Appendix I) in force this month.
#[derive(Debug, Clone, Serialize)]
pub struct MeritLine {
    pub item: String,
    pub beneficiary: String,
    pub amount: Money,
    pub citation: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policies {
    pub month: Month,
    pub standard_level: Option<(Money, String)>,
    pub merit_standard_level: Option<(Money, String)>,
    pub assistance: Vec<AssistanceLine>,
    pub merit: Vec<MeritLine>,
    /// war invalids by injury rate: (lowest, highest, citation of the highest)
    pub invalid_range: Option<(Money, Money, String)>,
}

/// The policies in force in `month`, from the packs.
pub fn policies(packs: &rules::Packs, month: Month) -> Policies {
    let param = |name: &str| packs.param(name).and_then(|s| s.at(month)).map(|d| (d.value, d.citation.clone()));
    let standard_level = param("muc_chuan_tro_giup");
    let mut assistance = Vec::new();
    for row in &packs.coefficients {
        let Some((level, _)) = &standard_level else { break };
        let Ok(amount) = level.mul_coefficient_round_thousand(row.coefficient) else { continue };
        let (title, who) = domain::categories::find(&row.group).map_or(("", ""), |c| (c.1, c.2));
        let mut condition = row.condition.label().to_string();
        if let Some(d) = &row.disability_level {
            condition.push_str(match d.as_str() {
                "especially_severe" => "; khuyết tật đặc biệt nặng",
                _ => "; khuyết tật nặng",
            });
        }
        assistance.push(AssistanceLine {
            group: row.group.clone(),
            title: title.into(),
            who: who.into(),
            condition,
            coefficient: row.coefficient.to_string(),
            amount,
            citation: row.citation.clone(),
        });
    }
    let mut merit: Vec<MeritLine> = packs
        .monthly_meta
        .iter()
        .filter(|(_, (kind, _))| kind == "tro_cap")
        .filter_map(|(item, (_, beneficiary))| {
            let d = packs.monthly.get(item)?.at(month)?;
            Some(MeritLine {
                item: item.clone(),
                beneficiary: beneficiary.clone(),
                amount: d.value,
                citation: d.citation.clone(),
            })
        })
        .collect();
    merit.sort_by(|a, b| a.item.cmp(&b.item));
    let mut invalid: Vec<(Money, String)> = packs
        .invalid
        .iter()
        .filter(|((type_b, _), _)| !type_b)
        .filter_map(|(_, s)| s.at(month).map(|d| (d.value, d.citation.clone())))
        .collect();
    invalid.sort_by_key(|(m, _)| m.dong());
    let invalid_range = match (invalid.first(), invalid.last()) {
        (Some((lo, _)), Some((hi, c))) => Some((*lo, *hi, c.clone())),
        _ => None,
    };
    Policies { month, merit_standard_level: param("muc_chuan"), standard_level, assistance, merit, invalid_range }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pages_follow_the_packs() {
        let packs = crate::services::entitlements::load(None).unwrap();
        let p = super::policies(&packs, "2026-11".parse().unwrap());
        let (level, citation) = p.standard_level.clone().unwrap();
        assert_eq!(level.dong(), 500_000);
        assert!(citation.contains("76/2024"), "{citation}");
        let k5c = p.assistance.iter().find(|a| a.group == "k5c").unwrap();
        assert_eq!((k5c.coefficient.as_str(), k5c.amount.dong()), ("1", 500_000));
        assert!(p.merit.iter().any(|m| m.amount.dong() > 0 && m.citation.contains("Phụ lục I")));
        let (lo, hi, _) = p.invalid_range.unwrap();
        assert!(lo.dong() < hi.dong());
        // before the 2024 decree the pages show the amounts of the time
        let old = super::policies(&packs, "2023-01".parse().unwrap());
        assert_eq!(old.standard_level.unwrap().0.dong(), 360_000);
    }
}
