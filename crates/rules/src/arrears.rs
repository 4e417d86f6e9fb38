//! Arrears (truy lĩnh) and overpayments (truy thu): what is due now, with the facts and
//! parameters as now known, against what was actually paid, per person, month and item.

use std::collections::BTreeMap;

use domain::{Money, Month};

/// A payment already made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub person: String,
    pub month: Month,
    pub item: String,
    pub amount: Money,
}

/// A difference between due and paid: positive = arrears owed to the person, negative =
/// overpayment to recover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub person: String,
    pub month: Month,
    pub item: String,
    pub due: Money,
    pub paid: Money,
    pub difference: Money,
    pub citation: String,
}

impl Difference {
    pub fn kind(&self) -> &'static str {
        if self.difference > Money::ZERO {
            "truy_linh"
        } else {
            "truy_thu"
        }
    }
}

/// Compares due lines (person, month, item, amount, citation) with payments; returns the
/// non-zero differences in (person, month, item) order. An item paid but no longer due is
/// an overpayment of its whole amount; an item due but unpaid is arrears in full.
pub fn differences<'a>(
    due: impl IntoIterator<Item = (&'a str, Month, &'a str, Money, &'a str)>,
    paid: &[Paid],
) -> Vec<Difference> {
    let mut by_key: BTreeMap<(String, Month, String), (Money, Money, String)> = BTreeMap::new();
    for (person, month, item, amount, citation) in due {
        let e = by_key.entry((person.to_string(), month, item.to_string())).or_insert((
            Money::ZERO,
            Money::ZERO,
            String::new(),
        ));
        e.0 = e.0.checked_add(amount).unwrap_or(e.0);
        e.2 = citation.to_string();
    }
    for p in paid {
        let e = by_key.entry((p.person.clone(), p.month, p.item.clone())).or_insert((
            Money::ZERO,
            Money::ZERO,
            String::new(),
        ));
        e.1 = e.1.checked_add(p.amount).unwrap_or(e.1);
    }
    by_key
        .into_iter()
        .filter_map(|((person, month, item), (due, paid, citation))| {
            let difference = due.checked_sub(paid)?;
            (difference != Money::ZERO).then_some(Difference { person, month, item, due, paid, difference, citation })
        })
        .collect()
}
