//! The beneficiary categories the registry records, with their legal basis and their
//! names in Vietnamese and English.
//!
//! - People with meritorious services: Pháp lệnh Ưu đãi người có công với cách mạng
//!   02/2020/UBTVQH14, Art. 3.1 a–m (the letter đ is stored as `dd`), plus `relative`
//!   for relatives of people with merit (Art. 3.2).
//! - Social assistance: Decree 20/2021/NĐ-CP, Art. 5 (groups 1–8; group 5 in its four
//!   points a–d), stored as `k1` … `k8`.

/// (code, short Vietnamese name for lists, Vietnamese name, English name)
pub type Category = (&'static str, &'static str, &'static str, &'static str);

/// Pháp lệnh 02/2020 Art. 3.
pub const MERIT: [Category; 13] = [
    (
        "a",
        "Lão thành cách mạng",
        "Người hoạt động cách mạng trước ngày 01/01/1945",
        "Revolutionary active before 1945-01-01",
    ),
    (
        "b",
        "Tiền khởi nghĩa",
        "Người hoạt động cách mạng từ 01/01/1945 đến trước Tổng khởi nghĩa 19/8/1945",
        "Revolutionary active from 1945-01-01 to the August 1945 uprising",
    ),
    ("c", "Liệt sĩ", "Liệt sĩ", "Martyr"),
    ("d", "Bà mẹ Việt Nam anh hùng", "Bà mẹ Việt Nam anh hùng", "Vietnamese Heroic Mother"),
    ("dd", "Anh hùng LLVTND", "Anh hùng lực lượng vũ trang nhân dân", "Hero of the People's Armed Forces"),
    ("e", "Anh hùng lao động", "Anh hùng lao động trong thời kỳ kháng chiến", "Labour Hero of the resistance period"),
    ("g", "Thương binh", "Thương binh, người hưởng chính sách như thương binh", "War invalid (or treated as one)"),
    ("h", "Bệnh binh", "Bệnh binh", "Sick soldier"),
    (
        "i",
        "Nhiễm chất độc hóa học",
        "Người hoạt động kháng chiến bị nhiễm chất độc hóa học",
        "Resistance participant exposed to toxic chemicals",
    ),
    (
        "k",
        "Bị địch bắt tù, đày",
        "Người hoạt động cách mạng, kháng chiến bị địch bắt tù, đày",
        "Revolutionary or resistance participant imprisoned by the enemy",
    ),
    (
        "l",
        "Tham gia kháng chiến",
        "Người hoạt động kháng chiến giải phóng dân tộc, bảo vệ Tổ quốc, làm nghĩa vụ quốc tế",
        "Participant in the resistance, national defence or international duty",
    ),
    ("m", "Giúp đỡ cách mạng", "Người có công giúp đỡ cách mạng", "Person who helped the revolution"),
    ("relative", "Thân nhân người có công", "Thân nhân người có công", "Relative of a person with merit"),
];

/// Decree 20/2021 Art. 5.
pub const ASSISTANCE: [Category; 11] = [
    (
        "k1",
        "Trẻ em không nguồn nuôi dưỡng",
        "Trẻ em dưới 16 tuổi không có nguồn nuôi dưỡng",
        "Child under 16 without support",
    ),
    (
        "k2",
        "16–22 tuổi đang học",
        "Người 16–22 tuổi thuộc khoản 1 đang học",
        "Person aged 16–22 of group 1 still studying",
    ),
    (
        "k3",
        "Trẻ em nhiễm HIV hộ nghèo",
        "Trẻ em nhiễm HIV/AIDS thuộc hộ nghèo",
        "Child with HIV/AIDS in a poor household",
    ),
    (
        "k4",
        "Đơn thân nghèo nuôi con",
        "Người đơn thân thuộc hộ nghèo, cận nghèo đang nuôi con",
        "Poor or near-poor single parent raising a child",
    ),
    (
        "k5a",
        "Cao tuổi hộ nghèo, không người phụng dưỡng",
        "Người cao tuổi thuộc hộ nghèo không có người phụng dưỡng",
        "Elderly in a poor household with nobody to support them",
    ),
    (
        "k5b",
        "75–80 tuổi vùng khó khăn",
        "Người 75–80 tuổi thuộc hộ nghèo, cận nghèo ở xã dân tộc thiểu số, miền núi đặc biệt khó khăn",
        "Aged 75–80, poor or near-poor, in an especially difficult commune",
    ),
    (
        "k5c",
        "Từ 80 tuổi không lương hưu",
        "Người từ đủ 80 tuổi không có lương hưu, trợ cấp BHXH",
        "Aged 80+ without pension or social insurance",
    ),
    (
        "k5d",
        "Cao tuổi chăm sóc tại cộng đồng",
        "Người cao tuổi hộ nghèo không người phụng dưỡng, được nhận chăm sóc tại cộng đồng",
        "Poor elderly without supporter cared for in the community",
    ),
    (
        "k6",
        "Người khuyết tật nặng",
        "Người khuyết tật nặng, đặc biệt nặng",
        "Person with severe or especially severe disability",
    ),
    (
        "k7",
        "Trẻ dưới 3 tuổi vùng khó khăn",
        "Trẻ em dưới 3 tuổi thuộc hộ nghèo, cận nghèo ở vùng đặc biệt khó khăn",
        "Child under 3, poor or near-poor, in an especially difficult area",
    ),
    (
        "k8",
        "Nhiễm HIV hộ nghèo",
        "Người nhiễm HIV/AIDS thuộc hộ nghèo không có thu nhập ổn định",
        "Person with HIV/AIDS, poor, no stable income",
    ),
];

/// The category with this code, merit or assistance.
pub fn find(code: &str) -> Option<&'static Category> {
    MERIT.iter().chain(ASSISTANCE.iter()).find(|c| c.0 == code)
}

/// The code as it is printed: `đ` for the stored `dd`.
pub fn printed(code: &str) -> &str {
    if code == "dd" {
        "đ"
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_found() {
        let mut codes: Vec<&str> = MERIT.iter().chain(ASSISTANCE.iter()).map(|c| c.0).collect();
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
        assert_eq!(find("g").map(|c| c.2), Some("Thương binh, người hưởng chính sách như thương binh"));
        assert_eq!(find("k6").map(|c| c.3), Some("Person with severe or especially severe disability"));
        assert_eq!(find("k7").map(|c| c.1), Some("Trẻ dưới 3 tuổi vùng khó khăn"));
        assert!(find("z").is_none());
        assert_eq!(printed("dd"), "đ");
    }
}
