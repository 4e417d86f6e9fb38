//! SQLite specifics: opening with the right pragmas, turning driver errors into
//! operator-readable ones, and online backup.

use std::io::Read;
use std::path::{Path, PathBuf};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::ConnectOptions;

use crate::{Result, StoreError, StoreOptions};

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

pub(crate) async fn open(path: &Path, opts: &StoreOptions) -> Result<SqlitePool> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(StoreError::NoDirectory { dir });
    }
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            return Err(StoreError::Open { path: path.to_path_buf(), detail: "it is a directory".into() });
        }
        // Checked by permission bits, not by trying: as root the OS would let us write
        // a file its owner marked read-only.
        if meta.permissions().readonly() {
            return Err(StoreError::ReadOnly { path: path.to_path_buf() });
        }
        if meta.len() > 0 {
            let mut header = [0u8; 16];
            let n = std::fs::File::open(path)
                .and_then(|mut f| f.read(&mut header))
                .map_err(|e| StoreError::Open { path: path.to_path_buf(), detail: e.to_string() })?;
            if n < 16 || &header != SQLITE_HEADER {
                return Err(StoreError::NotADatabase { path: path.to_path_buf() });
            }
        }
    }
    let connect = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(opts.sqlite_busy_timeout)
        // 64 MiB page cache per connection (the default 2 MiB makes index maintenance of
        // a million-row registry spill to disk); temporary sort tables in memory.
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory")
        .log_slow_statements(log::LevelFilter::Info, crate::SLOW_STATEMENT);
    let pool =
        SqlitePoolOptions::new().max_connections(4).connect_with(connect).await.map_err(|e| classify(e, Some(path)))?;
    // Touch the schema so that a damaged file fails here, at start, not on first use.
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_master")
        .fetch_one(&pool)
        .await
        .map_err(|e| classify(e, Some(path)))?;
    Ok(pool)
}

/// Maps SQLite result codes to the errors an operator can act on.
pub(crate) fn classify(e: sqlx::Error, path: Option<&Path>) -> StoreError {
    let path_buf = || path.map_or_else(|| PathBuf::from("the database file"), Path::to_path_buf);
    if let sqlx::Error::Database(db) = &e {
        // SQLite reports extended result codes; the primary code is the low byte.
        let primary = db.code().and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff);
        match primary {
            Some(26) => return StoreError::NotADatabase { path: path_buf() },
            Some(8) => return StoreError::ReadOnly { path: path_buf() },
            Some(14) => return StoreError::Open { path: path_buf(), detail: db.message().to_string() },
            Some(11) => return StoreError::NotADatabase { path: path_buf() },
            _ => {}
        }
    }
    if let sqlx::Error::Io(io) = &e {
        return StoreError::Open { path: path_buf(), detail: io.to_string() };
    }
    StoreError::Query(e)
}

pub(crate) fn db_path(pool: &SqlitePool) -> PathBuf {
    pool.connect_options().get_filename().to_path_buf()
}

pub(crate) async fn backup(pool: &SqlitePool, target: &Path) -> Result<()> {
    if target.exists() {
        return Err(StoreError::BackupTargetExists { path: target.to_path_buf() });
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(StoreError::NoDirectory { dir: dir.to_path_buf() });
        }
    }
    let target_s = target
        .to_str()
        .ok_or_else(|| StoreError::Unsupported(format!("backup path {} is not valid UTF-8", target.display())))?;
    sqlx::query("VACUUM INTO $1").bind(target_s).execute(pool).await.map_err(|e| classify(e, Some(&db_path(pool))))?;
    Ok(())
}
