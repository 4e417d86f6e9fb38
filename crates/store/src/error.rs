use std::path::PathBuf;

/// Storage errors. Each message says what is wrong and what to do; none contains a
/// password (URLs are redacted before they get here).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL '{url}': {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach PostgreSQL at {target}: {detail}. Is the server running and the address right? Check --database-url / ANSINH_DATABASE_URL")]
    Unreachable { target: String, detail: String },
    #[error("PostgreSQL at {target} refused the login: {detail}. Check the user and password in the database URL")]
    AuthFailed { target: String, detail: String },
    #[error(
        "PostgreSQL database at {target} does not exist: create it (createdb) or fix the database name in the URL"
    )]
    NoSuchDatabase { target: String },
    #[error("{} is not an SQLite database (the file is corrupt or of another kind). Restore it from a backup or point --database-url at another file", path.display())]
    NotADatabase { path: PathBuf },
    #[error("{} is read-only. Make the file (and its directory) writable, or copy it elsewhere and use the copy", path.display())]
    ReadOnly { path: PathBuf },
    #[error("directory {} of the database file does not exist. Create it or choose another path", dir.display())]
    NoDirectory { dir: PathBuf },
    #[error("cannot open {}: {detail}", path.display())]
    Open { path: PathBuf, detail: String },
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("the database schema is newer than this ansinh binary (version {found} > {known}); upgrade ansinh")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("backup target {} already exists; choose a new file name", path.display())]
    BackupTargetExists { path: PathBuf },
    #[error("{0}")]
    Unsupported(String),
    #[error("reference data is invalid: {0}")]
    ReferenceData(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// An SQLite bulk load failed (see `sqlite_bulk`).
    #[error("database error in a bulk load: {0}")]
    Bulk(String),
}

impl StoreError {
    /// Turns constraint violations of a write into errors a user can act on; `what`
    /// names the thing written (e.g. "user 'lan.nt'").
    pub fn from_write(e: sqlx::Error, what: &str) -> StoreError {
        if let sqlx::Error::Database(db) = &e {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return StoreError::Conflict(what.to_string()),
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::Invalid(format!("{what} refers to something that does not exist"))
                }
                sqlx::error::ErrorKind::CheckViolation | sqlx::error::ErrorKind::NotNullViolation => {
                    return StoreError::Invalid(format!("{what} is not valid"))
                }
                _ => {}
            }
        }
        StoreError::Query(e)
    }

    /// True for errors the operator must fix in the environment (not bugs).
    pub fn is_environment(&self) -> bool {
        !matches!(
            self,
            StoreError::Query(_)
                | StoreError::Bulk(_)
                | StoreError::Migration(_)
                | StoreError::Conflict(_)
                | StoreError::NotFound(_)
                | StoreError::Invalid(_)
        )
    }
}
