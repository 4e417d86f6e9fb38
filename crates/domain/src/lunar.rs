//! The Vietnamese lunisolar calendar (âm lịch), for the holidays that move every year: Tết
//! Nguyên đán (1/1 lunar) and the Hùng Kings' day (10/3 lunar).
//!
//! Written by hand because no maintained crate computes the *Vietnamese* calendar: it differs
//! from the Chinese one in that new moons and solar terms are taken at UTC+7 (so Tết 1985 fell a
//! month apart in the two countries). The method is Hồ Ngọc Đức's published algorithm: new moons
//! and the sun's longitude from Jean Meeus' "Astronomical Algorithms" (truncated series, accurate
//! to well under a day for 1900–2100), the 11th month holding the winter solstice, a leap month
//! being the first month without a major solar term in a 13-month year. Floating point is used
//! for the astronomy only; every result is a whole day, checked by tests against the published
//! dates of Tết and of the Hùng Kings' day.

use std::f64::consts::PI;

use chrono::{Datelike, NaiveDate};

/// Viet Nam's time zone for the astronomy (hours east of UTC).
const TZ: f64 = 7.0;

/// A lunar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LunarDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub leap: bool,
}

fn jd_from_date(d: NaiveDate) -> i64 {
    let (dd, mm, yy) = (i64::from(d.day()), i64::from(d.month()), i64::from(d.year()));
    let a = (14 - mm) / 12;
    let y = yy + 4800 - a;
    let m = mm + 12 * a - 3;
    dd + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045
}

fn date_from_jd(jd: i64) -> Option<NaiveDate> {
    let a = jd + 32044;
    let b = (4 * a + 3) / 146097;
    let c = a - (b * 146097) / 4;
    let d = (4 * c + 3) / 1461;
    let e = c - (1461 * d) / 4;
    let m = (5 * e + 2) / 153;
    let day = e - (153 * m + 2) / 5 + 1;
    let month = m + 3 - 12 * (m / 10);
    let year = b * 100 + d - 4800 + m / 10;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The Julian day (fractional) of the k-th new moon after 1900-01-01 (Meeus, ch. 49).
fn new_moon(k: i64) -> f64 {
    let k = k as f64;
    let t = k / 1236.85;
    let (t2, t3) = (t * t, t * t * t);
    let dr = PI / 180.0;
    let mut jd1 = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3;
    jd1 += 0.00033 * ((166.56 + 132.87 * t - 0.009173 * t2) * dr).sin();
    let m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3;
    let mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3;
    let f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3;
    let c1 = (0.1734 - 0.000393 * t) * (m * dr).sin() + 0.0021 * (2.0 * dr * m).sin() - 0.4068 * (mpr * dr).sin()
        + 0.0161 * (dr * 2.0 * mpr).sin()
        - 0.0004 * (dr * 3.0 * mpr).sin()
        + 0.0104 * (dr * 2.0 * f).sin()
        - 0.0051 * (dr * (m + mpr)).sin()
        - 0.0074 * (dr * (m - mpr)).sin()
        + 0.0004 * (dr * (2.0 * f + m)).sin()
        - 0.0004 * (dr * (2.0 * f - m)).sin()
        - 0.0006 * (dr * (2.0 * f + mpr)).sin()
        + 0.0010 * (dr * (2.0 * f - mpr)).sin()
        + 0.0005 * (dr * (2.0 * mpr + m)).sin();
    let delta_t = if t < -11.0 {
        0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
    } else {
        -0.000278 + 0.000265 * t + 0.000262 * t2
    };
    jd1 + c1 - delta_t
}

/// The day (Julian day number, in Viet Nam) of the k-th new moon.
fn new_moon_day(k: i64) -> i64 {
    (new_moon(k) + 0.5 + TZ / 24.0).floor() as i64
}

/// The sun's apparent longitude, radians in [0, 2π), at Julian day `jdn` (Meeus, ch. 25).
fn sun_longitude(jdn: f64) -> f64 {
    let t = (jdn - 2451545.0) / 36525.0;
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2;
    let l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2;
    let mut dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * (dr * m).sin();
    dl += (0.019993 - 0.000101 * t) * (dr * 2.0 * m).sin() + 0.000290 * (dr * 3.0 * m).sin();
    let l = (l0 + dl) * dr;
    l - 2.0 * PI * (l / (2.0 * PI)).floor()
}

/// Which of the 12 major solar terms (30° sectors) the sun is in at the start of a day.
fn sun_sector(day: i64) -> i64 {
    (sun_longitude(day as f64 - 0.5 - TZ / 24.0) / PI * 6.0).floor() as i64
}

/// The first day of the 11th lunar month (the one holding the winter solstice) of `year`.
fn month11(year: i32) -> Option<i64> {
    let off = jd_from_date(NaiveDate::from_ymd_opt(year, 12, 31)?) - 2415021;
    let k = (off as f64 / 29.530588853).floor() as i64;
    let nm = new_moon_day(k);
    Some(if sun_sector(nm) >= 9 { new_moon_day(k - 1) } else { nm })
}

/// Which month after the 11th is the leap month of a 13-month year starting at `a11`.
fn leap_month_offset(a11: i64) -> i64 {
    let k = ((a11 as f64 - 2415021.076998695) / 29.530588853 + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = sun_sector(new_moon_day(k + i));
    loop {
        let last = arc;
        i += 1;
        arc = sun_sector(new_moon_day(k + i));
        if arc == last || i >= 14 {
            break;
        }
    }
    i - 1
}

/// The lunar date of a solar date.
pub fn to_lunar(d: NaiveDate) -> Option<LunarDate> {
    let day = jd_from_date(d);
    let k = ((day as f64 - 2415021.076998695) / 29.530588853).floor() as i64;
    let mut month_start = new_moon_day(k + 1);
    if month_start > day {
        month_start = new_moon_day(k);
    }
    let mut a11 = month11(d.year())?;
    let mut b11 = a11;
    let mut year = d.year();
    if a11 >= month_start {
        a11 = month11(d.year() - 1)?;
    } else {
        year += 1;
        b11 = month11(d.year() + 1)?;
    }
    let lunar_day = day - month_start + 1;
    let diff = ((month_start - a11) as f64 / 29.0).floor() as i64;
    let mut leap = false;
    let mut month = diff + 11;
    if b11 - a11 > 365 {
        let leap_diff = leap_month_offset(a11);
        if diff >= leap_diff {
            month = diff + 10;
            leap = diff == leap_diff;
        }
    }
    if month > 12 {
        month -= 12;
    }
    if month >= 11 && diff < 4 {
        year -= 1;
    }
    Some(LunarDate { year, month: u32::try_from(month).ok()?, day: u32::try_from(lunar_day).ok()?, leap })
}

/// The solar date of a lunar date (None for a leap month the year does not have, or a date
/// out of range).
pub fn to_solar(l: LunarDate) -> Option<NaiveDate> {
    let (a11, b11) =
        if l.month < 11 { (month11(l.year - 1)?, month11(l.year)?) } else { (month11(l.year)?, month11(l.year + 1)?) };
    let k = (0.5 + (a11 as f64 - 2415021.076998695) / 29.530588853).floor() as i64;
    let mut off = i64::from(l.month) - 11;
    if off < 0 {
        off += 12;
    }
    if b11 - a11 > 365 {
        let leap_off = leap_month_offset(a11);
        let mut leap_month = leap_off - 2;
        if leap_month < 0 {
            leap_month += 12;
        }
        if l.leap && i64::from(l.month) != leap_month {
            return None;
        }
        if l.leap || off >= leap_off {
            off += 1;
        }
    } else if l.leap {
        return None;
    }
    let start = new_moon_day(k + off);
    let d = date_from_jd(start + i64::from(l.day) - 1)?;
    // a day past the month's end (the 30th of a 29-day month) is refused
    (to_lunar(d)? == l).then_some(d)
}

/// Tết Nguyên đán (1/1 lunar) of the lunar year that starts in solar `year`.
pub fn tet(year: i32) -> Option<NaiveDate> {
    to_solar(LunarDate { year, month: 1, day: 1, leap: false })
}

/// The Hùng Kings' commemoration (10/3 lunar) in solar `year`.
pub fn hung_kings(year: i32) -> Option<NaiveDate> {
    to_solar(LunarDate { year, month: 3, day: 10, leap: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn tet_and_hung_kings_day_match_the_published_dates() {
        // Tết as announced each year (and printed on every Vietnamese calendar)
        for (y, date) in [
            (1985, "1985-01-21"), // a month before the Chinese new year that year (new moons at UTC+7)
            (2000, "2000-02-05"),
            (2020, "2020-01-25"),
            (2021, "2021-02-12"),
            (2022, "2022-02-01"),
            (2023, "2023-01-22"),
            (2024, "2024-02-10"),
            (2025, "2025-01-29"),
            (2026, "2026-02-17"),
            (2027, "2027-02-06"),
            (2028, "2028-01-26"),
            (2030, "2030-02-02"), // the new moon at 23:07 in Hà Nội: a day before the Chinese new year
        ] {
            assert_eq!(tet(y), Some(d(date)), "Tết {y}");
        }
        for (y, date) in [(2023, "2023-04-29"), (2024, "2024-04-18"), (2025, "2025-04-07"), (2026, "2026-04-26")] {
            assert_eq!(hung_kings(y), Some(d(date)), "Giỗ Tổ {y}");
        }
    }

    #[test]
    fn leap_months_and_round_trips() {
        // 2023 had a leap 2nd month (tháng 2 nhuận: 22/3 – 19/4/2023)
        assert_eq!(to_lunar(d("2023-03-22")), Some(LunarDate { year: 2023, month: 2, day: 1, leap: true }));
        assert_eq!(to_lunar(d("2023-02-20")), Some(LunarDate { year: 2023, month: 2, day: 1, leap: false }));
        assert_eq!(to_solar(LunarDate { year: 2023, month: 2, day: 1, leap: true }), Some(d("2023-03-22")));
        assert_eq!(to_solar(LunarDate { year: 2024, month: 2, day: 1, leap: true }), None, "2024 has no leap month");
        assert_eq!(to_solar(LunarDate { year: 2024, month: 1, day: 31, leap: false }), None);
        // every day of 1990–2040 converts there and back
        let mut day = d("1990-01-01");
        while day < d("2040-12-31") {
            let l = to_lunar(day).unwrap();
            assert!((1..=30).contains(&l.day) && (1..=12).contains(&l.month), "{day}: {l:?}");
            assert_eq!(to_solar(l), Some(day), "{day}: {l:?}");
            day = day.succ_opt().unwrap();
        }
    }
}
