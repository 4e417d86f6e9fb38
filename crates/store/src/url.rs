//! Database URLs: `sqlite://PATH` or `postgres://…`; anything else is refused.

use std::fmt;
use std::path::PathBuf;

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A parsed database URL. Its `Display` hides any password, so it may be logged.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite { path: PathBuf },
    Postgres { url: String },
}

impl DatabaseUrl {
    pub fn parse(input: &str) -> Result<DatabaseUrl, StoreError> {
        let s = input.trim();
        let invalid = |reason: &str| StoreError::InvalidUrl { url: redact(s), reason: reason.to_string() };
        if let Some(rest) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
            // drop query options such as ?mode=rwc: ansinh sets its own
            let path = rest.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err(invalid("no file path after sqlite:// (example: sqlite://./ansinh.db)"));
            }
            if path == ":memory:" {
                return Err(invalid("in-memory SQLite would lose all data on exit; give a file path"));
            }
            return Ok(DatabaseUrl::Sqlite { path: PathBuf::from(path) });
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let after = s.split_once("://").map(|(_, r)| r).unwrap_or("");
            let host_part = after.rsplit_once('@').map_or(after, |(_, h)| h);
            if host_part.is_empty() || host_part.starts_with('/') && !s.contains("host=") {
                return Err(invalid("no host (example: postgres://user:password@localhost:5432/ansinh)"));
            }
            return Ok(DatabaseUrl::Postgres { url: s.to_string() });
        }
        let scheme = s.split_once("://").map(|(a, _)| a).or_else(|| s.split_once(':').map(|(a, _)| a));
        Err(match scheme {
            Some(sc) if !sc.is_empty() => invalid(&format!(
                "unsupported scheme '{sc}'; use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB"
            )),
            _ => invalid("missing scheme; use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB"),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite { .. } => Backend::Sqlite,
            DatabaseUrl::Postgres { .. } => Backend::Postgres,
        }
    }

    /// The full URL including any password. Never log this.
    pub fn expose(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => url.clone(),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.expose()))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Replaces the password of `scheme://user:password@host` (and a `password=` option)
/// with `***`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.rsplit_once('@') {
            if let Some((user, _pw)) = userinfo.split_once(':') {
                out = format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    if let Some(pos) = out.find("password=") {
        let start = pos + "password=".len();
        let end = out[start..].find('&').map_or(out.len(), |e| start + e);
        out.replace_range(start..end, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert_eq!(DatabaseUrl::parse("sqlite://./ansinh.db").unwrap().backend(), Backend::Sqlite);
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/ansinh/a.db").unwrap(),
            DatabaseUrl::Sqlite { path: "/var/lib/ansinh/a.db".into() }
        );
        assert_eq!(DatabaseUrl::parse("postgres://u:p@localhost/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgresql://localhost:5433/db").unwrap().backend(), Backend::Postgres);
        let e = DatabaseUrl::parse("mysql://root:secret@host/db").unwrap_err().to_string();
        assert!(e.contains("unsupported scheme 'mysql'") && !e.contains("secret"), "{e}");
        assert!(DatabaseUrl::parse("ansinh.db").unwrap_err().to_string().contains("missing scheme"));
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:").is_err());
        assert!(DatabaseUrl::parse("postgres://").is_err());
    }

    #[test]
    fn hides_passwords() {
        let u = DatabaseUrl::parse("postgres://ansinh:hunter2@db:5432/ansinh").unwrap();
        assert_eq!(u.to_string(), "postgres://ansinh:***@db:5432/ansinh");
        assert!(!format!("{u:?}").contains("hunter2"));
        assert_eq!(
            redact("postgres://h/db?user=a&password=x&sslmode=require"),
            "postgres://h/db?user=a&password=***&sslmode=require"
        );
    }
}
