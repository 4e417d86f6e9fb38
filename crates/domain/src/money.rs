//! Money in whole Vietnamese đồng.
//!
//! Invariant: no floating point anywhere on a money path. Amounts are `i64` đồng;
//! coefficients (e.g. `0.6734 ×` or `31 ×` the standard level) are fixed-point with
//! four decimal places and multiplied in `i128` before rounding.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

/// An amount of money in whole đồng (VND has no minor unit in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "amount '{input}' is not a whole number of đồng (use digits, optionally grouped with '.' as in 2.789.000)"
    )]
    Invalid { input: String },
    #[error("amount '{input}' is too large")]
    Overflow { input: String },
    #[error("arithmetic overflow on money")]
    ArithmeticOverflow,
    #[error("coefficient '{input}' is invalid: {reason}")]
    InvalidCoefficient { input: String, reason: &'static str },
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_dong(dong: i64) -> Self {
        Money(dong)
    }

    pub const fn dong(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn checked_mul_int(self, n: i64) -> Option<Money> {
        self.0.checked_mul(n).map(Money)
    }

    /// Rounds half-up (away from zero at exactly 500) to the nearest 1,000 đồng, the rule
    /// of Decree 75/2021 for amounts computed as coefficient × standard level. `None` only
    /// within 500 đồng of the `i64` limits, where the result cannot be represented.
    pub fn round_half_up_thousand(self) -> Option<Money> {
        let r = round_half_up_i128(i128::from(self.0), 1000) * 1000;
        i64::try_from(r).ok().map(Money)
    }

    /// `self × coefficient`, rounded half-up to the nearest 1,000 đồng.
    pub fn mul_coefficient_round_thousand(self, c: Coefficient) -> Result<Money, MoneyError> {
        // exact product in ten-thousandths of a đồng, then round to thousands of đồng
        let scaled = i128::from(self.0) * i128::from(c.0);
        let thousands = round_half_up_i128(scaled, i128::from(Coefficient::SCALE) * 1000);
        let dong = thousands.checked_mul(1000).ok_or(MoneyError::ArithmeticOverflow)?;
        i64::try_from(dong).map(Money).map_err(|_| MoneyError::ArithmeticOverflow)
    }

    /// Sums amounts, failing on overflow instead of wrapping.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(items: I) -> Option<Money> {
        items.into_iter().try_fold(Money::ZERO, |acc, m| acc.checked_add(m))
    }

    /// Parses what an officer types: `2789000`, `2.789.000`, `2 789 000`, with an
    /// optional trailing `đ`, `₫`, `VND` or `đồng`. A leading `-` is allowed.
    pub fn parse_vnd(input: &str) -> Result<Money, MoneyError> {
        let invalid = || MoneyError::Invalid { input: input.to_string() };
        let mut s = input.trim();
        for suffix in ["₫", "đồng", "đ", "VND", "vnd", "VNĐ"] {
            if let Some(rest) = s.strip_suffix(suffix) {
                s = rest.trim_end();
                break;
            }
        }
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, s),
        };
        if digits.is_empty() {
            return Err(invalid());
        }
        // Grouping: either no separators, or groups of exactly three after the first.
        let groups: Vec<&str> = digits.split(['.', ' ', '\u{a0}']).collect();
        if groups.len() > 1 {
            let first_ok = (1..=3).contains(&groups[0].len());
            let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
            if !first_ok || !rest_ok {
                return Err(invalid());
            }
        }
        let mut value: i64 = 0;
        for g in &groups {
            for ch in g.chars() {
                let d = ch.to_digit(10).ok_or_else(invalid)?;
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i64::from(d)))
                    .ok_or_else(|| MoneyError::Overflow { input: input.to_string() })?;
            }
        }
        Ok(Money(if neg { -value } else { value }))
    }

    /// Digits grouped with '.' without the currency sign: `2.789.000`.
    pub fn format_grouped(self) -> String {
        let digits = self.0.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if self.0 < 0 {
            out.push('-');
        }
        let lead = digits.len() % 3;
        for (i, ch) in digits.chars().enumerate() {
            if i != 0 && (i + 3 - lead).is_multiple_of(3) {
                out.push('.');
            }
            out.push(ch);
        }
        out
    }
}

/// Half-up division used for rounding: `round(n / d)` with ties away from zero.
fn round_half_up_i128(n: i128, d: i128) -> i128 {
    let q = n / d;
    let r = n % d;
    if r.abs() * 2 >= d {
        q + n.signum()
    } else {
        q
    }
}

/// Vietnamese display: `2.789.000 ₫` (no-break space before the sign).
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\u{a0}₫", self.format_grouped())
    }
}

impl Add for Money {
    type Output = Money;
    /// Panics on overflow in debug builds like any integer; use `checked_add` on input paths.
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}
impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}
impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}
impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 -= rhs.0;
    }
}
impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

/// A non-negative multiplier with four decimal places, e.g. `0.6734`, `2.5`, `31`.
/// Stored as ten-thousandths so that legal tables are reproduced exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Coefficient(i64);

impl Coefficient {
    pub const SCALE: i64 = 10_000;

    pub const fn from_ten_thousandths(v: i64) -> Self {
        Coefficient(v)
    }

    pub const fn ten_thousandths(self) -> i64 {
        self.0
    }

    /// Parses `2.5`, `0,6734` (Vietnamese decimal comma), `31`.
    pub fn parse(input: &str) -> Result<Coefficient, MoneyError> {
        let bad = |reason| MoneyError::InvalidCoefficient { input: input.to_string(), reason };
        let s = input.trim();
        let (int, frac) = match s.split_once(['.', ',']) {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int.is_empty() || !int.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("expected digits such as 2.5 or 0,6734"));
        }
        if !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("expected digits after the decimal separator"));
        }
        if frac.len() > 4 {
            return Err(bad("at most four decimal places"));
        }
        let int_v: i64 = int.parse().map_err(|_| bad("too large"))?;
        let mut frac_v: i64 = 0;
        for i in 0..4 {
            let d = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
            frac_v = frac_v * 10 + d;
        }
        int_v
            .checked_mul(Self::SCALE)
            .and_then(|v| v.checked_add(frac_v))
            .map(Coefficient)
            .ok_or_else(|| bad("too large"))
    }
}

impl fmt::Display for Coefficient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.0 / Self::SCALE;
        let frac = self.0 % Self::SCALE;
        if frac == 0 {
            write!(f, "{int}")
        } else {
            let s = format!("{frac:04}");
            write!(f, "{int},{}", s.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_vietnamese() {
        assert_eq!(Money::from_dong(2_789_000).to_string(), "2.789.000\u{a0}₫");
        assert_eq!(Money::from_dong(0).format_grouped(), "0");
        assert_eq!(Money::from_dong(999).format_grouped(), "999");
        assert_eq!(Money::from_dong(1000).format_grouped(), "1.000");
        assert_eq!(Money::from_dong(-25_300_000).format_grouped(), "-25.300.000");
        assert_eq!(Money::from_dong(i64::MIN).format_grouped(), "-9.223.372.036.854.775.808");
    }

    #[test]
    fn rounds_half_up_to_thousand() {
        assert_eq!(Money::from_dong(1_499).round_half_up_thousand().unwrap().dong(), 1_000);
        assert_eq!(Money::from_dong(1_500).round_half_up_thousand().unwrap().dong(), 2_000);
        assert_eq!(Money::from_dong(-1_500).round_half_up_thousand().unwrap().dong(), -2_000);
        assert_eq!(Money::from_dong(2_789_499).round_half_up_thousand().unwrap().dong(), 2_789_000);
    }

    #[test]
    fn coefficient_times_standard_level() {
        let std = Money::from_dong(2_789_000);
        // Appendix IV: 31.0 × standard level
        let c = Coefficient::parse("31.0").unwrap();
        assert_eq!(std.mul_coefficient_round_thousand(c).unwrap().dong(), 86_459_000);
        // 0.6734 × 2,789,000 = 1,878,112.6 → 1,878,000
        let c = Coefficient::parse("0,6734").unwrap();
        assert_eq!(std.mul_coefficient_round_thousand(c).unwrap().dong(), 1_878_000);
        // social assistance: 1.5 × 500,000
        let c = Coefficient::parse("1.5").unwrap();
        assert_eq!(Money::from_dong(500_000).mul_coefficient_round_thousand(c).unwrap().dong(), 750_000);
        // a tie: 0.5 × 3,000 = 1,500 → 2,000
        let c = Coefficient::parse("0.5").unwrap();
        assert_eq!(Money::from_dong(3_000).mul_coefficient_round_thousand(c).unwrap().dong(), 2_000);
    }

    #[test]
    fn parses_officer_input() {
        assert_eq!(Money::parse_vnd("2.789.000").unwrap().dong(), 2_789_000);
        assert_eq!(Money::parse_vnd("2789000 đ").unwrap().dong(), 2_789_000);
        assert_eq!(Money::parse_vnd(" 2 789 000 ₫ ").unwrap().dong(), 2_789_000);
        assert_eq!(Money::parse_vnd("-500.000").unwrap().dong(), -500_000);
        for bad in ["", "2,5", "2.78.000", "1.0000", "abc", "12.34", "₫"] {
            assert!(Money::parse_vnd(bad).is_err(), "{bad} should be rejected");
        }
        assert!(matches!(Money::parse_vnd("99999999999999999999"), Err(MoneyError::Overflow { .. })));
    }

    #[test]
    fn coefficient_parse_and_display() {
        assert_eq!(Coefficient::parse("2.5").unwrap().ten_thousandths(), 25_000);
        assert_eq!(Coefficient::parse("0,6734").unwrap().to_string(), "0,6734");
        assert_eq!(Coefficient::parse("31").unwrap().to_string(), "31");
        assert!(Coefficient::parse("0.12345").is_err());
        assert!(Coefficient::parse("-1").is_err());
        assert!(Coefficient::parse("1.2.3").is_err());
    }

    proptest! {
        #[test]
        fn format_parse_roundtrip(v in -1_000_000_000_000i64..1_000_000_000_000i64) {
            let m = Money::from_dong(v);
            prop_assert_eq!(Money::parse_vnd(&m.to_string()).unwrap(), m);
            prop_assert_eq!(Money::parse_vnd(&m.format_grouped()).unwrap(), m);
        }

        #[test]
        fn rounding_is_within_half_and_multiple(v in -1_000_000_000_000i64..1_000_000_000_000i64) {
            let r = Money::from_dong(v).round_half_up_thousand().unwrap().dong();
            prop_assert_eq!(r % 1000, 0);
            prop_assert!((r - v).abs() <= 500);
            prop_assert!(Money::from_dong(r).round_half_up_thousand().unwrap().dong() == r);
            prop_assert!(Money::from_dong(i64::MAX).round_half_up_thousand().is_none());
        }

        #[test]
        fn coefficient_one_is_plain_rounding(v in 0i64..1_000_000_000_000i64) {
            let one = Coefficient::from_ten_thousandths(Coefficient::SCALE);
            prop_assert_eq!(
                Money::from_dong(v).mul_coefficient_round_thousand(one).unwrap(),
                Money::from_dong(v).round_half_up_thousand().unwrap()
            );
        }
    }
}
