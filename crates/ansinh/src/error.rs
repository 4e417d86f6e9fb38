//! The application error: one type, a stable code per kind, shared by the CLI, the
//! HTML pages and the JSON API. Internal causes are logged with the request id and
//! never shown to a client.

use axum::http::StatusCode;

use crate::config::ConfigError;

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
    #[error("{0}")]
    Refused(String),
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
    pub const REFUSED: &str = "refused";
    pub const IO: &str = "io_error";
    pub const INTERNAL: &str = "internal";
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
            AppError::Store(_) => code::INTERNAL,
            AppError::Listen { .. } => code::LISTEN_FAILED,
            AppError::NotFound(_) => code::NOT_FOUND,
            AppError::Invalid(_) => code::INVALID_INPUT,
            AppError::Refused(_) => code::REFUSED,
            AppError::Io { .. } => code::IO,
            AppError::Internal(_) => code::INTERNAL,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.code() {
            code::NOT_FOUND => StatusCode::NOT_FOUND,
            code::INVALID_INPUT => StatusCode::BAD_REQUEST,
            code::REFUSED => StatusCode::CONFLICT,
            code::DATABASE_UNAVAILABLE => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Process exit status for the CLI: 2 for configuration and usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self.code() {
            code::CONFIG_INVALID | code::DATABASE_URL_INVALID => 2,
            _ => 1,
        }
    }

    /// Whether the message may be shown to an HTTP client as is. Internal causes
    /// (SQL errors, bugs) are replaced by a generic text plus the request id.
    pub fn is_public(&self) -> bool {
        !matches!(self.code(), code::INTERNAL | code::IO | code::DATABASE_FILE | code::DATABASE_UNAVAILABLE)
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> AppError {
        AppError::Io { context: context.into(), source }
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
        assert_eq!(AppError::NotFound("x".into()).status(), StatusCode::NOT_FOUND);
        assert_eq!(AppError::Invalid("x".into()).exit_code(), 1);
        let e = AppError::Store(store::StoreError::InvalidUrl { url: "x".into(), reason: "y".into() });
        assert_eq!(e.exit_code(), 2);
    }
}
