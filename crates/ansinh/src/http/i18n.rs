//! Vietnamese first, English switchable (`?lang=en`, remembered in a cookie).

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim() {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// `?lang=` wins, then the `lang` cookie, then Vietnamese.
    pub fn negotiate(query: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(l) = query.and_then(Lang::parse) {
            return l;
        }
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix("lang="))
            .find_map(Lang::parse)
            .unwrap_or_default()
    }

    /// The Vietnamese or the English text.
    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    pub fn t(self, key: Key) -> &'static str {
        use Key::*;
        match (self, key) {
            (Lang::Vi, AppName) => "An sinh — Hệ thống chính sách an sinh xã hội",
            (Lang::En, AppName) => "An sinh — Social policy platform",
            (Lang::Vi, SkipToContent) => "Bỏ qua, tới nội dung chính",
            (Lang::En, SkipToContent) => "Skip to main content",
            (Lang::Vi, SwitchLang) => "English",
            (Lang::En, SwitchLang) => "Tiếng Việt",
            (Lang::Vi, Units) => "Đơn vị hành chính cấp xã",
            (Lang::En, Units) => "Commune-level administrative units",
            (Lang::Vi, UnitsSince) => "Từ ngày 01/07/2025 (Quyết định 19/2025/QĐ-TTg)",
            (Lang::En, UnitsSince) => "Since 01/07/2025 (Decision 19/2025/QĐ-TTg)",
            (Lang::Vi, Total) => "Tổng số",
            (Lang::En, Total) => "Total",
            (Lang::Vi, Xa) => "Xã",
            (Lang::En, Xa) => "Communes (xã)",
            (Lang::Vi, Phuong) => "Phường",
            (Lang::En, Phuong) => "Wards (phường)",
            (Lang::Vi, DacKhu) => "Đặc khu",
            (Lang::En, DacKhu) => "Special zones",
            (Lang::Vi, Search) => "Tìm xã, phường (gõ có dấu hoặc không dấu)",
            (Lang::En, Search) => "Find a commune (with or without diacritics)",
            (Lang::Vi, SearchButton) => "Tìm",
            (Lang::En, SearchButton) => "Search",
            (Lang::Vi, ShowAll) => "Hiện tất cả",
            (Lang::En, ShowAll) => "Show all",
            (Lang::Vi, No) => "STT",
            (Lang::En, No) => "No.",
            (Lang::Vi, Code) => "Mã",
            (Lang::En, Code) => "Code",
            (Lang::Vi, Name) => "Tên",
            (Lang::En, Name) => "Name",
            (Lang::Vi, Kind) => "Loại",
            (Lang::En, Kind) => "Type",
            (Lang::Vi, Predecessors) => "Số đơn vị cũ hợp thành",
            (Lang::En, Predecessors) => "Pre-2025 units merged",
            (Lang::Vi, Matching) => "kết quả cho",
            (Lang::En, Matching) => "results for",
            (Lang::Vi, NoMatch) => "Không có xã, phường nào khớp.",
            (Lang::En, NoMatch) => "No commune matches.",
            (Lang::Vi, Footer) => "ansinh — phần mềm nguồn mở. Dữ liệu đơn vị hành chính: Quyết định 19/2025/QĐ-TTg.",
            (Lang::En, Footer) => "ansinh — open-source software. Administrative units: Decision 19/2025/QĐ-TTg.",
            (Lang::Vi, FormerUnits) => "Đơn vị cũ (trước 01/07/2025) nay thuộc",
            (Lang::En, FormerUnits) => "Former units (before 01/07/2025) now part of",
            (Lang::Vi, Partly) => "một phần",
            (Lang::En, Partly) => "partly",
            (Lang::Vi, Forbidden) => "Không có quyền truy cập",
            (Lang::En, Forbidden) => "Access denied",
            (Lang::Vi, SelfOnly) => "hồ sơ của bản thân",
            (Lang::En, SelfOnly) => "own records",
            (Lang::Vi, PasswordChanged) => "Đã đổi mật khẩu. Các phiên đăng nhập khác đã bị đóng.",
            (Lang::En, PasswordChanged) => "Password changed. Your other sessions were closed.",
            (Lang::Vi, NotFound) => "Không tìm thấy trang",
            (Lang::En, NotFound) => "Page not found",
            (Lang::Vi, ErrorTitle) => "Đã có lỗi",
            (Lang::En, ErrorTitle) => "Something went wrong",
            (Lang::Vi, RequestId) => "Mã yêu cầu",
            (Lang::En, RequestId) => "Request id",
            (Lang::Vi, BackHome) => "Về trang chủ",
            (Lang::En, BackHome) => "Back to the start page",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    AppName,
    SkipToContent,
    SwitchLang,
    Units,
    UnitsSince,
    Total,
    Xa,
    Phuong,
    DacKhu,
    Search,
    SearchButton,
    ShowAll,
    No,
    Code,
    Name,
    Kind,
    Predecessors,
    Matching,
    NoMatch,
    Footer,
    FormerUnits,
    Forbidden,
    SelfOnly,
    PasswordChanged,
    Partly,
    NotFound,
    ErrorTitle,
    RequestId,
    BackHome,
}

pub fn kind_label(lang: Lang, kind: &str) -> &'static str {
    match (lang, domain::CommuneKind::parse(kind)) {
        (Lang::Vi, Some(k)) => k.label_vi(),
        (Lang::En, Some(k)) => k.label_en(),
        _ => "?",
    }
}
