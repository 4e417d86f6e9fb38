//! The application error: one type, a stable code per kind, shared by the CLI, the
//! HTML pages and the JSON API. Messages come in Vietnamese and English; internal causes
//! are logged with the request id and never shown to a client.

use axum::http::StatusCode;

use crate::config::ConfigError;
use crate::http::i18n::Lang;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// A form or JSON field failed validation.
    #[error("{field}: {en}")]
    Field { field: &'static str, vi: String, en: String },
    #[error("malformed JSON: {0}")]
    BadJson(String),
    #[error("{0}")]
    Refused(String),
    /// A refusal a person reads (both languages).
    #[error("{en}")]
    Denied { vi: String, en: String },
    #[error("authentication required")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("account locked until {0}")]
    Locked(String),
    #[error("too many attempts")]
    Throttled,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("missing or wrong CSRF token")]
    Csrf,
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request timed out")]
    Timeout,
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Stable error codes. Clients may match on these; never rename one.
pub mod code {
    pub const CONFIG_INVALID: &str = "config_invalid";
    pub const DATABASE_URL_INVALID: &str = "database_url_invalid";
    pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";
    pub const DATABASE_FILE: &str = "database_file";
    pub const LISTEN_FAILED: &str = "listen_failed";
    pub const NOT_FOUND: &str = "not_found";
    pub const INVALID_INPUT: &str = "invalid_input";
    pub const MALFORMED_JSON: &str = "malformed_json";
    pub const CONFLICT: &str = "conflict";
    pub const REFUSED: &str = "refused";
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    pub const BAD_CREDENTIALS: &str = "bad_credentials";
    pub const ACCOUNT_LOCKED: &str = "account_locked";
    pub const THROTTLED: &str = "throttled";
    pub const FORBIDDEN: &str = "forbidden";
    pub const CSRF: &str = "csrf_failed";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const TIMEOUT: &str = "timeout";
    pub const IO: &str = "io_error";
    pub const INTERNAL: &str = "internal";

    /// Every code with its HTTP status, for the API documentation.
    pub const TABLE: [(&str, u16); 20] = [
        (CONFIG_INVALID, 500),
        (DATABASE_URL_INVALID, 500),
        (DATABASE_UNAVAILABLE, 503),
        (DATABASE_FILE, 500),
        (LISTEN_FAILED, 500),
        (NOT_FOUND, 404),
        (INVALID_INPUT, 400),
        (MALFORMED_JSON, 400),
        (CONFLICT, 409),
        (REFUSED, 409),
        (UNAUTHENTICATED, 401),
        (BAD_CREDENTIALS, 401),
        (ACCOUNT_LOCKED, 429),
        (THROTTLED, 429),
        (FORBIDDEN, 403),
        (CSRF, 403),
        (PAYLOAD_TOO_LARGE, 413),
        (TIMEOUT, 503),
        (IO, 500),
        (INTERNAL, 500),
    ];
}

impl AppError {
    pub fn code(&self) -> &'static str {
        use store::StoreError as S;
        match self {
            AppError::Config(_) => code::CONFIG_INVALID,
            AppError::Store(S::InvalidUrl { .. }) => code::DATABASE_URL_INVALID,
            AppError::Store(S::Unreachable { .. } | S::AuthFailed { .. } | S::NoSuchDatabase { .. }) => {
                code::DATABASE_UNAVAILABLE
            }
            AppError::Store(
                S::NotADatabase { .. }
                | S::ReadOnly { .. }
                | S::NoDirectory { .. }
                | S::Open { .. }
                | S::BackupTargetExists { .. }
                | S::SchemaTooNew { .. },
            ) => code::DATABASE_FILE,
            AppError::Store(S::Unsupported(_)) => code::REFUSED,
            AppError::Store(S::Conflict(_)) => code::CONFLICT,
            AppError::Store(S::NotFound(_)) => code::NOT_FOUND,
            AppError::Store(S::Invalid(_)) => code::INVALID_INPUT,
            AppError::Store(_) => code::INTERNAL,
            AppError::Listen { .. } => code::LISTEN_FAILED,
            AppError::NotFound(_) => code::NOT_FOUND,
            AppError::Invalid(_) | AppError::Field { .. } => code::INVALID_INPUT,
            AppError::BadJson(_) => code::MALFORMED_JSON,
            AppError::Refused(_) | AppError::Denied { .. } => code::REFUSED,
            AppError::Unauthenticated => code::UNAUTHENTICATED,
            AppError::BadCredentials => code::BAD_CREDENTIALS,
            AppError::Locked(_) => code::ACCOUNT_LOCKED,
            AppError::Throttled => code::THROTTLED,
            AppError::Forbidden(_) => code::FORBIDDEN,
            AppError::Csrf => code::CSRF,
            AppError::PayloadTooLarge(_) => code::PAYLOAD_TOO_LARGE,
            AppError::Timeout => code::TIMEOUT,
            AppError::Io { .. } => code::IO,
            AppError::Internal(_) => code::INTERNAL,
        }
    }

    pub fn status(&self) -> StatusCode {
        let code = self.code();
        let n = code::TABLE.iter().find(|(c, _)| *c == code).map_or(500, |(_, s)| *s);
        StatusCode::from_u16(n).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Process exit status for the CLI: 2 for configuration and usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self.code() {
            code::CONFIG_INVALID | code::DATABASE_URL_INVALID => 2,
            _ => 1,
        }
    }

    /// Whether the cause may be shown to a client. Internal causes (SQL errors, files,
    /// bugs) are replaced by a generic text plus the request id.
    pub fn is_public(&self) -> bool {
        !matches!(
            self.code(),
            code::INTERNAL
                | code::IO
                | code::DATABASE_FILE
                | code::DATABASE_UNAVAILABLE
                | code::CONFIG_INVALID
                | code::DATABASE_URL_INVALID
                | code::LISTEN_FAILED
        )
    }

    /// The message a person reads, in their language.
    pub fn message(&self, lang: Lang) -> String {
        let vi = lang == Lang::Vi;
        let pick = |v: &str, e: &str| if vi { v.to_string() } else { e.to_string() };
        match self {
            AppError::Unauthenticated => pick("Bạn cần đăng nhập.", "Please log in."),
            AppError::BadCredentials => pick("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
            AppError::Locked(until) => {
                if vi {
                    format!("Tài khoản tạm khóa đến {until} do đăng nhập sai nhiều lần.")
                } else {
                    format!("The account is locked until {until} after repeated failed logins.")
                }
            }
            AppError::Throttled => {
                pick("Quá nhiều lần thử; vui lòng đợi vài phút.", "Too many attempts; please wait a few minutes.")
            }
            AppError::Forbidden(_) => {
                pick("Bạn không có quyền thực hiện thao tác này.", "You are not allowed to do this.")
            }
            AppError::Csrf => pick(
                "Phiên làm việc không hợp lệ hoặc đã hết hạn; hãy tải lại trang và thử lại.",
                "The form has expired or is not valid; reload the page and try again.",
            ),
            AppError::PayloadTooLarge(n) => {
                if vi {
                    format!("Dữ liệu gửi lên quá lớn (tối đa {} KB).", n / 1024)
                } else {
                    format!("The request is too large (at most {} KB).", n / 1024)
                }
            }
            AppError::Timeout => {
                pick("Máy chủ xử lý quá lâu; vui lòng thử lại.", "The server took too long; please try again.")
            }
            AppError::BadJson(d) => {
                if vi {
                    format!("Dữ liệu JSON không hợp lệ: {d}")
                } else {
                    format!("Malformed JSON: {d}")
                }
            }
            AppError::Denied { vi: v, en } => {
                if vi {
                    v.clone()
                } else {
                    en.clone()
                }
            }
            AppError::Field { field, vi: v, en } => {
                if vi {
                    format!("{field}: {v}")
                } else {
                    format!("{field}: {en}")
                }
            }
            AppError::NotFound(what) => {
                if vi {
                    format!("Không tìm thấy: {what}")
                } else {
                    format!("Not found: {what}")
                }
            }
            AppError::Store(store::StoreError::Conflict(what)) => {
                if vi {
                    format!("Đã tồn tại: {what}")
                } else {
                    format!("{what} already exists")
                }
            }
            e if e.is_public() => e.to_string(),
            _ => pick(
                "Lỗi hệ thống. Vui lòng thử lại hoặc báo cho quản trị viên.",
                "Internal error. Please try again or tell the administrator.",
            ),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> AppError {
        AppError::Io { context: context.into(), source }
    }

    pub fn denied(vi: impl Into<String>, en: impl Into<String>) -> AppError {
        AppError::Denied { vi: vi.into(), en: en.into() }
    }

    pub fn field(field: &'static str, vi: impl Into<String>, en: impl Into<String>) -> AppError {
        AppError::Field { field, vi: vi.into(), en: en.into() }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(format!("template: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let e = AppError::Store(store::StoreError::Unreachable { target: "h:1".into(), detail: "refused".into() });
        assert_eq!(e.code(), "database_unavailable");
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.is_public());
        assert!(e.message(Lang::Vi).starts_with("Lỗi hệ thống"));
        assert_eq!(AppError::NotFound("x".into()).status(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::Invalid("x".into()).exit_code(), 1);
        let e = AppError::Store(store::StoreError::InvalidUrl { url: "x".into(), reason: "y".into() });
        assert_eq!(e.exit_code(), 2);
        assert_eq!(AppError::Csrf.status(), StatusCode::FORBIDDEN);
        assert_eq!(AppError::Unauthenticated.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AppError::PayloadTooLarge(1024).status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(AppError::BadCredentials.message(Lang::En), "Wrong username or password.");
        // every code in the table is distinct
        let mut codes: Vec<&str> = code::TABLE.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), code::TABLE.len());
    }
}
