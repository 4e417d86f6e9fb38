//! The SQLite side of bulk loads (imports, the demo, approved new dossiers) and bulk reads
//! (the entitlement inputs of a whole province): a dedicated rusqlite connection to the
//! same file, used from a blocking thread.
//!
//! Why not sqlx here: sqlx's SQLite driver runs every statement on a worker thread reached
//! through a channel and copies every bound value into an owned argument list first; for a
//! million-row import that overhead was two thirds of the write time (docs/benchmarks.md).
//! rusqlite links the same bundled SQLite (libsqlite3-sys 0.30, one copy in the binary),
//! prepares each INSERT once and binds the values straight from the structs — what
//! `sqlite3 .import` does. The connection is opened for one load and closed after it, so
//! its bulk pragmas never leak into the pool.

use std::borrow::Cow;
use std::ffi::{c_int, CStr};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

use rusqlite::{ffi, params, Connection, OptionalExtension, ToSql};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::audit::{entry_hash, AuditEntry};
use crate::payments::{Generation, NewItem, NewLine};
use crate::registry::{
    name_keys, AssistanceRecord, MeritRecord, NewHousehold, NewPerson, PreparedBatch, Ref, SQLITE_BULK_INDEXES,
};
use crate::{Result, StoreError};

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Bulk(e.to_string())
    }
}

/// Constraint violations as errors a user can act on (as `StoreError::from_write`).
fn from_write(e: rusqlite::Error, what: &str) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        match f.extended_code {
            // UNIQUE, PRIMARY KEY
            2067 | 1555 => return StoreError::Conflict(what.to_string()),
            // FOREIGN KEY
            787 => return StoreError::Invalid(format!("{what} refers to something that does not exist")),
            // CHECK, NOT NULL
            275 | 1299 => return StoreError::Invalid(format!("{what} is not valid")),
            _ => {}
        }
    }
    e.into()
}

/// Opens the load's connection and transaction (taking the write lock at once).
///
/// `foreign_keys: false` is for the person loads, whose writer resolves every reference
/// itself (`write`): with SQLite's foreign-key checks on, every multi-row INSERT needs a
/// statement journal — a copy of each page it changes, in case the statement must be
/// undone alone — which was a tenth of the writer's time (docs/benchmarks.md).
pub(crate) fn open(path: &Path, busy_timeout: Duration, reindex: bool, foreign_keys: bool) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    // 512 MiB page cache for this connection only: index builds of a million rows stay
    // in memory; sort tables in memory too.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = {}; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = -524288; BEGIN IMMEDIATE",
        if foreign_keys { "ON" } else { "OFF" }
    ))?;
    if reindex {
        for (name, _) in SQLITE_BULK_INDEXES {
            conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
    }
    Ok(conn)
}

/// Rows per multi-row INSERT: amortises a statement's step and reset over many rows while
/// staying far below SQLite's variable limit (27 columns × 32 = 864).
const ROWS_PER_STATEMENT: usize = 32;

/// A value bound to a bulk INSERT.
#[derive(Clone, Copy)]
enum Val<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl<'a> From<&'a String> for Val<'a> {
    fn from(v: &'a String) -> Val<'a> {
        Val::Text(v)
    }
}
impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Val<'a> {
        Val::Text(v)
    }
}
impl<'a> From<&'a Option<String>> for Val<'a> {
    fn from(v: &'a Option<String>) -> Val<'a> {
        v.as_deref().map_or(Val::Null, Val::Text)
    }
}
impl From<i64> for Val<'_> {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<Option<i64>> for Val<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Val::Null, Val::Int)
    }
}
impl From<bool> for Val<'_> {
    fn from(v: bool) -> Self {
        Val::Int(i64::from(v))
    }
}
impl From<Option<bool>> for Val<'_> {
    fn from(v: Option<bool>) -> Self {
        v.map_or(Val::Null, |b| Val::Int(i64::from(b)))
    }
}

/// Pushes each value, converted to a `Val`, onto `v`.
macro_rules! vals {
    ($v:expr; $($x:expr),+ $(,)?) => {{
        $($v.push(Val::from($x));)+
    }};
}

/// A prepared statement driven through SQLite's C API, its text values bound without a copy.
///
/// Written by hand because rusqlite binds every text value with `SQLITE_TRANSIENT`: SQLite
/// then copies each one into a fresh allocation before the INSERT copies it again into the
/// record — for a million-person import some 30 million allocations and copies on the
/// writer's thread, the import's slowest stage (a fifth of its time; docs/benchmarks.md).
/// Binding with `SQLITE_STATIC` is sound because `run` binds every parameter, steps and
/// clears the bindings before it returns, so SQLite never reads a pointer after the
/// borrowed value is gone.
struct Raw<'c> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    conn: &'c Connection,
    params: usize,
}

#[allow(unsafe_code)]
impl<'c> Raw<'c> {
    fn prepare(conn: &'c Connection, sql: &str) -> Result<Raw<'c>> {
        let len = c_int::try_from(sql.len()).map_err(|_| StoreError::Bulk("statement too long".into()))?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: the handle is the open connection's, the text pointer and length describe
        // `sql`, and the statement is finalized in `drop` before the borrowed connection goes.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(conn.handle(), sql.as_ptr().cast(), len, &mut stmt, std::ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(last_error(conn, rc).into());
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| StoreError::Bulk("empty statement".into()))?;
        // SAFETY: a valid statement.
        let params = usize::try_from(unsafe { ffi::sqlite3_bind_parameter_count(stmt.as_ptr()) }).unwrap_or(0);
        Ok(Raw { stmt, conn, params })
    }

    /// Binds `vals` (one per parameter, in order), runs the statement once and resets it.
    fn run(&mut self, vals: &[Val<'_>]) -> std::result::Result<(), rusqlite::Error> {
        if vals.len() != self.params {
            return Err(rusqlite::Error::InvalidParameterCount(vals.len(), self.params));
        }
        /// Resets the statement and clears its bindings when dropped — on every way out of
        /// `run`, a panic included — so that no borrowed text stays bound after it.
        struct Cleared(*mut ffi::sqlite3_stmt);
        impl Drop for Cleared {
            fn drop(&mut self) {
                // SAFETY: a valid statement (it outlives this guard, which lives in `run`).
                unsafe {
                    ffi::sqlite3_reset(self.0);
                    ffi::sqlite3_clear_bindings(self.0);
                }
            }
        }
        let st = self.stmt.as_ptr();
        let _cleared = Cleared(st);
        for (i, v) in vals.iter().enumerate() {
            let i = i as c_int + 1;
            // SAFETY: `st` is a valid statement and `i` within its parameters; a text is
            // bound as SQLITE_STATIC and stays borrowed until `_cleared` clears it. An empty
            // text is bound from a static byte (a `String`'s empty pointer dangles).
            let rc = unsafe {
                match *v {
                    Val::Null => ffi::sqlite3_bind_null(st, i),
                    Val::Int(x) => ffi::sqlite3_bind_int64(st, i, x),
                    Val::Text("") => ffi::sqlite3_bind_text(st, i, c"".as_ptr(), 0, ffi::SQLITE_STATIC()),
                    Val::Text(t) => match c_int::try_from(t.len()) {
                        Ok(n) => ffi::sqlite3_bind_text(st, i, t.as_ptr().cast(), n, ffi::SQLITE_STATIC()),
                        Err(_) => {
                            return Err(rusqlite::Error::SqliteFailure(
                                ffi::Error::new(ffi::SQLITE_TOOBIG),
                                Some("a text value is too long".into()),
                            ))
                        }
                    },
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(last_error(self.conn, rc));
            }
        }
        // SAFETY: a valid statement with every parameter bound.
        let rc = unsafe { ffi::sqlite3_step(st) };
        if rc == ffi::SQLITE_DONE || rc == ffi::SQLITE_ROW {
            Ok(())
        } else {
            Err(last_error(self.conn, rc))
        }
    }
}

#[allow(unsafe_code)]
impl Drop for Raw<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared on this connection and is finalized once.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

/// The connection's last error (after `rc`), as rusqlite reports errors.
#[allow(unsafe_code)]
fn last_error(conn: &Connection, rc: c_int) -> rusqlite::Error {
    // SAFETY: the handle of an open connection; the message is copied before the next call.
    let (code, msg) = unsafe {
        let db = conn.handle();
        let msg = ffi::sqlite3_errmsg(db);
        let msg = if msg.is_null() { String::new() } else { CStr::from_ptr(msg).to_string_lossy().into_owned() };
        (ffi::sqlite3_extended_errcode(db), msg)
    };
    let code = if code == ffi::SQLITE_OK { rc } else { code };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(msg))
}

/// Inserts `rows` with multi-row INSERTs (`head` = `INSERT INTO t (c1, …)`, `ncols`
/// placeholders per row, `bind` pushing one row's values in column order). Returns the
/// rowid of the first row: the rows get consecutive rowids, because each new rowid is one
/// more than the table's largest and this connection holds the write lock.
fn insert_all<'a, T>(
    conn: &Connection,
    head: &str,
    ncols: usize,
    rows: &'a [T],
    what: &str,
    bind: impl Fn(&'a T, &mut Vec<Val<'a>>),
) -> Result<i64> {
    let sql = |n: usize| {
        let one = format!("({})", vec!["?"; ncols].join(", "));
        format!("{head} VALUES {}", vec![one.as_str(); n].join(", "))
    };
    let mut full =
        if rows.len() >= ROWS_PER_STATEMENT { Some(Raw::prepare(conn, &sql(ROWS_PER_STATEMENT))?) } else { None };
    let mut vals: Vec<Val<'a>> = Vec::with_capacity(ncols * ROWS_PER_STATEMENT);
    let mut first = None;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        vals.clear();
        for r in chunk {
            bind(r, &mut vals);
        }
        if vals.len() != ncols * chunk.len() {
            return Err(StoreError::Bulk(format!("{what}: {} values for {} rows of {ncols}", vals.len(), chunk.len())));
        }
        match full.as_mut().filter(|_| chunk.len() == ROWS_PER_STATEMENT) {
            Some(stmt) => stmt.run(&vals),
            None => Raw::prepare(conn, &sql(chunk.len()))?.run(&vals),
        }
        .map_err(|e| from_write(e, what))?;
        first.get_or_insert(conn.last_insert_rowid() - chunk.len() as i64 + 1);
    }
    Ok(first.unwrap_or(0))
}

/// The rowid a reference resolves to: in this batch (`first` + position) or written before
/// it (looked up by `key`, remembered in `cache`).
fn resolve<'k>(
    r: Ref,
    first: i64,
    key: &'k str,
    cache: &mut FxHashMap<&'k str, i64>,
    find: &mut rusqlite::CachedStatement<'_>,
    what: &str,
) -> Result<Option<i64>> {
    match r {
        Ref::None => Ok(None),
        Ref::Batch(i) => Ok(Some(first + i64::from(i))),
        Ref::Earlier => {
            if let Some(id) = cache.get(key) {
                return Ok(Some(*id));
            }
            let id: Option<i64> = find.query_row([key], |r| r.get(0)).optional()?;
            let id = id.ok_or_else(|| StoreError::Invalid(format!("{what} {key} does not exist")))?;
            cache.insert(key, id);
            Ok(Some(id))
        }
    }
}

/// Writes one prepared batch inside the open transaction; returns the persons written.
///
/// Person loads run with SQLite's foreign-key checks off (see `open`), so this checks what
/// they would: each commune code against `communes`, each linked person by rowid; every
/// other reference is a rowid this function assigned or looked up. The INSERTs say
/// `OR ROLLBACK`: any constraint failure ends the whole load, which spares SQLite the
/// statement journal — the transaction is then gone, and the caller drops the connection on
/// any error of this function (`BulkWriter::write_prepared` never puts it back).
pub(crate) fn write<'b>(conn: &Connection, prepared: &'b PreparedBatch, recorded_by: &str, now: &str) -> Result<usize> {
    let batch = &prepared.batch;
    if !prepared.is_prepared() {
        return Err(StoreError::Bulk("a batch was written without being prepared for SQLite".into()));
    }
    let communes: FxHashSet<String> = {
        let mut st = conn.prepare_cached("SELECT code FROM communes")?;
        let codes = st.query_map([], |r| r.get(0))?;
        codes.collect::<rusqlite::Result<_>>()?
    };
    let unknown_commune = batch
        .households
        .iter()
        .map(|h| &h.commune_code)
        .chain(batch.persons.iter().map(|p| &p.commune_code))
        .find(|c| !communes.contains(c.as_str()));
    if let Some(c) = unknown_commune {
        return Err(StoreError::Invalid(format!("commune {c} does not exist")));
    }
    let first_household = insert_all(
        conn,
        "INSERT OR ROLLBACK INTO households (code, commune_code, address_line, created_at)",
        4,
        &batch.households,
        "a household with one of these codes",
        |h: &NewHousehold, v| vals!(v; &h.code, &h.commune_code, &h.address_line, now),
    )?;
    let statuses: Vec<(i64, &NewHousehold)> = batch
        .households
        .iter()
        .enumerate()
        .filter(|(_, h)| h.status != "none")
        .map(|(i, h)| (first_household + i as i64, h))
        .collect();
    insert_all(
        conn,
        "INSERT OR ROLLBACK INTO household_status (household_id, status, valid_from)",
        3,
        &statuses,
        "a household status",
        |(id, h), v| vals!(v; *id, &h.status, &h.status_from),
    )?;
    // households referenced by code but written before this batch
    let mut find = conn.prepare_cached("SELECT id FROM households WHERE code = ?1")?;
    let mut earlier = FxHashMap::default();
    let mut persons = Vec::with_capacity(batch.persons.len());
    for (i, p) in batch.persons.iter().enumerate() {
        let code = p.household_code.as_deref().unwrap_or_default();
        let household_id =
            resolve(prepared.person_household[i], first_household, code, &mut earlier, &mut find, "household")?;
        persons.push(PersonOut {
            p,
            keys: match &p.name_keys {
                Some(k) => Cow::Borrowed(k),
                None => Cow::Owned(name_keys(&p.full_name)),
            },
            household_id,
            categories: &prepared.categories[i],
            status: if p.deceased_on.is_some() { "deceased" } else { "living" },
        });
    }
    drop(find);
    // The schema's `CHECK (length(personal_id) = 12)` calls a function, and SQLite keeps a
    // statement journal for any INSERT that calls one (a function may fail mid-statement).
    // The persons' CHECKs are verified here instead, and ignored by SQLite for this INSERT.
    // (SQLite's `length` counts the characters before a NUL; PostgreSQL refuses a NUL in text)
    if let Some(p) = batch.persons.iter().find(|p| {
        p.personal_id.contains('\0')
            || p.personal_id.chars().count() != 12
            || !matches!(p.sex.as_str(), "male" | "female")
    }) {
        return Err(StoreError::Invalid(format!("person {} is not valid", p.personal_id)));
    }
    conn.execute_batch("PRAGMA ignore_check_constraints = ON")?;
    let first = insert_all(
        conn,
        "INSERT OR ROLLBACK INTO persons (personal_id, full_name, name_key, given_key, birth_date, sex, ethnicity, \
         commune_code, address_line, legacy_address, phone, deceased_on, cmnd, bhxh_code, household_id, \
         relation_to_head, categories, status, version, valid_from, created_at, updated_at)",
        22,
        &persons,
        "a person with one of these personal IDs",
        |o, v| {
            let p = o.p;
            vals!(v; &p.personal_id, &p.full_name, &o.keys.0, &o.keys.1, &p.birth_date, &p.sex, &p.ethnicity,
                &p.commune_code, &p.address_line, &p.legacy_address, &p.phone, &p.deceased_on, &p.cmnd,
                &p.bhxh_code, o.household_id, &p.relation_to_head, o.categories, o.status, 1, &p.valid_from,
                now, now)
        },
    );
    conn.execute_batch("PRAGMA ignore_check_constraints = OFF")?;
    let first = first?;
    drop(persons);
    let mut find = conn.prepare_cached("SELECT id FROM persons WHERE personal_id = ?1")?;
    let mut earlier = FxHashMap::default();
    let mut person_ids = |refs: &mut dyn Iterator<Item = Ref>, pids: &mut dyn Iterator<Item = &'b str>| {
        refs.zip(pids)
            .map(|(r, p)| Ok(resolve(r, first, p, &mut earlier, &mut find, "person")?.unwrap_or_default()))
            .collect::<Result<Vec<i64>>>()
    };
    let merit_ids =
        person_ids(&mut prepared.merit_person.iter().copied(), &mut batch.merits.iter().map(|(p, _)| p.as_str()))?;
    let assistance_ids = person_ids(
        &mut prepared.assistance_person.iter().copied(),
        &mut batch.assistance.iter().map(|(p, _)| p.as_str()),
    )?;
    let payment_ids =
        person_ids(&mut prepared.payment_person.iter().copied(), &mut batch.payments.iter().map(|(p, _)| p.as_str()))?;
    let from = person_ids(
        &mut prepared.relationship_persons.iter().map(|r| r.0),
        &mut batch.relationships.iter().map(|(p, _, _)| p.as_str()),
    )?;
    let to = person_ids(
        &mut prepared.relationship_persons.iter().map(|r| r.1),
        &mut batch.relationships.iter().map(|(_, p, _)| p.as_str()),
    )?;
    let related: Vec<(i64, i64)> = from.into_iter().zip(to).collect();
    drop(find);
    // linked persons (a martyr's relative to the martyr) are rowids given by the caller
    let mut exists = conn.prepare_cached("SELECT 1 FROM persons WHERE id = ?1")?;
    for (_, m) in &batch.merits {
        if let Some(id) = m.linked_person_id {
            if !exists.exists([id])? {
                return Err(StoreError::Invalid(format!("linked person {id} does not exist")));
            }
        }
    }
    let merits: Vec<(i64, &MeritRecord)> = merit_ids.into_iter().zip(batch.merits.iter().map(|(_, m)| m)).collect();
    insert_all(
        conn,
        "INSERT OR ROLLBACK INTO merit_records (person_id, category, decision_no, decision_date, issuer, injury_rate, \
         type_b, especially_severe, seniority_from, martyrs_count, linked_person_id, relation, valid_from, valid_to, \
         recorded_at, recorded_by, thoat_ly, award, of_category, of_injury_rate, nurture, of_deceased, remarried, \
         ao_child, caregiver, studying, seniority_months)",
        27,
        &merits,
        "a merit record",
        |(id, m), v| {
            vals!(v; *id, &m.category, &m.decision_no, &m.decision_date, &m.issuer, m.injury_rate, m.type_b,
                m.especially_severe, &m.seniority_from, m.martyrs_count, m.linked_person_id, &m.relation,
                &m.valid_from, &m.valid_to, now, recorded_by, m.thoat_ly, &m.award, &m.of_category,
                m.of_injury_rate, m.nurture, m.of_deceased, m.remarried, m.ao_child, m.caregiver, m.studying,
                m.seniority_months)
        },
    )?;
    let assistance: Vec<(i64, &AssistanceRecord)> =
        assistance_ids.into_iter().zip(batch.assistance.iter().map(|(_, a)| a)).collect();
    insert_all(
        conn,
        "INSERT OR ROLLBACK INTO assistance_records (person_id, group_code, disability_level, single_parent, hiv, \
         decision_no, decision_date, valid_from, valid_to, recorded_at, recorded_by)",
        11,
        &assistance,
        "an assistance record",
        |(id, a), v| {
            vals!(v; *id, &a.group_code, &a.disability_level, a.single_parent, a.hiv, &a.decision_no,
                &a.decision_date, &a.valid_from, &a.valid_to, now, recorded_by)
        },
    )?;
    let payments: Vec<(i64, &crate::registry::PaymentMethod)> =
        payment_ids.into_iter().zip(batch.payments.iter().map(|(_, m)| m)).collect();
    insert_all(
        conn,
        "INSERT OR ROLLBACK INTO payment_methods (person_id, method, bank_name, account_no, account_holder, \
         valid_from, valid_to)",
        7,
        &payments,
        "a payment method",
        |(id, m), v| vals!(v; *id, &m.method, &m.bank_name, &m.account_no, &m.account_holder, &m.valid_from, &m.valid_to),
    )?;
    let relationships: Vec<((i64, i64), &str)> =
        related.into_iter().zip(batch.relationships.iter().map(|(_, _, k)| k.as_str())).collect();
    insert_all(
        conn,
        "INSERT OR ROLLBACK INTO relationships (person_id, related_person_id, kind, valid_from, valid_to)",
        5,
        &relationships,
        "a relationship",
        |((a, b), kind), v| vals!(v; *a, *b, *kind, "1900-01-01", Val::Null),
    )?;
    Ok(batch.persons.len())
}

/// A person row with the values derived from it.
struct PersonOut<'a> {
    p: &'a NewPerson,
    keys: Cow<'a, (String, String)>,
    household_id: Option<i64>,
    categories: &'a str,
    status: &'static str,
}

/// Marks a pending request to create this dossier approved, in the load's transaction.
pub(crate) fn decide_create(
    conn: &Connection,
    id: i64,
    personal_id: &str,
    by: &str,
    now: &str,
    reason: &str,
) -> Result<i64> {
    let created: i64 = conn.query_row("SELECT id FROM persons WHERE personal_id = ?1", [personal_id], |r| r.get(0))?;
    let n = conn.execute(
        "UPDATE change_requests SET status = 'approved', decided_by = ?1, decided_at = ?2, decision_reason = ?3, \
         person_id = ?4 WHERE id = ?5 AND status = 'pending'",
        params![by, now, reason, created, id],
    )?;
    if n != 1 {
        return Err(StoreError::Invalid(format!("change request {id} is no longer pending")));
    }
    Ok(created)
}

/// Rebuilds the dropped indexes, appends the load's audit entry (the same chain rule as
/// `audit::append_in_tx`) and commits.
/// On an error the connection is dropped, and closing it rolls the transaction back.
pub(crate) fn commit(conn: Connection, reindexed: bool, entry: &AuditEntry) -> Result<()> {
    if reindexed {
        for (_, ddl) in SQLITE_BULK_INDEXES {
            conn.execute_batch(ddl)?;
        }
    }
    append_audit(&conn, entry)?;
    conn.execute_batch("COMMIT")?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// Appends `entry` to the audit chain inside the connection's open transaction.
fn append_audit(tx: &Connection, entry: &AuditEntry) -> Result<()> {
    let (seq, prev): (i64, String) =
        tx.query_row("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let at = crate::now_text();
    let hash = entry_hash(&prev, seq, &at, entry);
    tx.execute(
        "INSERT INTO audit_log (seq, at, actor_user_id, actor, ip, request_id, action, entity_type, entity_id, \
         before_json, after_json, detail, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            seq,
            at,
            entry.actor_user_id,
            entry.actor,
            entry.ip,
            entry.request_id,
            entry.action,
            entry.entity_type,
            entry.entity_id,
            entry.before,
            entry.after,
            entry.detail,
            prev,
            hash
        ],
    )?;
    tx.execute("UPDATE audit_head SET hash = ?1 WHERE id = 1", [&hash])?;
    Ok(())
}

/// The SQLite side of `Store::write_cycle`: replaces a draft cycle's lines and items, in
/// one transaction on a connection of its own.
pub(crate) fn write_cycle(
    path: &Path,
    cycle_id: i64,
    g: &Generation,
    lines: &[NewLine],
    (n, payable, total): (i64, i64, i64),
    now: &str,
    audit: &AuditEntry,
) -> Result<()> {
    let conn = open(path, Duration::from_secs(30), false, true)?;
    // no index is rebuilt here: a 64 MiB cache holds the live indexes' working set
    conn.execute_batch("PRAGMA cache_size = -65536")?;
    let status: Option<String> =
        conn.query_row("SELECT status FROM payment_cycles WHERE id = ?1", [cycle_id], |r| r.get(0)).optional()?;
    match status.as_deref() {
        Some("draft") | Some("checked") => {}
        Some(s) => return Err(StoreError::Invalid(format!("payment cycle {cycle_id} is {s}, not a draft"))),
        None => return Err(StoreError::NotFound(format!("payment cycle {cycle_id}"))),
    }
    conn.execute("UPDATE payment_cycles SET status = 'draft' WHERE id = ?1", [cycle_id])?;
    conn.execute(
        "DELETE FROM payment_items WHERE line_id IN (SELECT id FROM payment_lines WHERE cycle_id = ?1)",
        [cycle_id],
    )?;
    conn.execute("DELETE FROM payment_lines WHERE cycle_id = ?1", [cycle_id])?;
    conn.execute(
        "INSERT INTO policy_snapshots (version, files, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (version) DO NOTHING",
        params![g.pack_version, g.pack_files, now],
    )?;
    let first: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM payment_lines", [], |r| r.get(0))?;
    let ids: Vec<i64> = (first..first + n).collect();
    let rows: Vec<(&i64, &NewLine)> = ids.iter().zip(lines.iter()).collect();
    let cid: &i64 = &cycle_id;
    insert_all(
        &conn,
        "INSERT INTO payment_lines (id, cycle_id, person_id, personal_id, full_name, commune_code, payee_name, \
         payee_personal_id, method, bank_name, account_no, amount, status, reason, facts)",
        15,
        &rows,
        "payment line",
        |(id, l), v| {
            vals!(v; **id, *cid, l.person_id, &l.personal_id, &l.full_name, &l.commune_code, &l.payee_name,
                &l.payee_personal_id, l.method, &l.bank_name, &l.account_no, l.amount, l.status, &l.reason,
                &l.facts)
        },
    )?;
    let items: Vec<(&i64, &NewItem)> = rows.iter().flat_map(|(id, l)| l.items.iter().map(move |i| (*id, i))).collect();
    insert_all(
        &conn,
        "INSERT INTO payment_items (line_id, item, for_month, kind, amount)",
        5,
        &items,
        "payment item",
        |(id, i), v| vals!(v; **id, &i.item, &i.for_month, i.kind, i.amount),
    )?;
    conn.execute(
        "UPDATE payment_cycles SET pack_version = ?1, arrears_from = ?2, lines = ?3, payable_lines = ?4, total = ?5, \
         digest = NULL, generating_since = NULL, generated_by = ?6, generated_at = ?7, checked_by = NULL, \
         checked_at = NULL WHERE id = ?8",
        params![g.pack_version, g.arrears_from, n, payable, total, g.by, g.started_at, cycle_id],
    )?;
    append_audit(&conn, audit)?;
    conn.execute_batch("COMMIT")?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// Runs one read of many rows on a connection of its own (read-only, no transaction held
/// beyond the statement): `sql` with `params`, each row mapped by `map`.
pub(crate) fn read_all<T>(
    path: &Path,
    sql: &str,
    params: &[&dyn ToSql],
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    // a small page cache: these are single scans, served by the OS cache; four at once
    conn.execute_batch("PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY")?;
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params, |r| map(r))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?);
    }
    Ok(out)
}

/// [`read_all`] from async code: the read runs on a blocking thread (a million rows take
/// seconds) on a connection of its own to the pool's file; `params` are text.
pub(crate) async fn read_all_blocking<T: Send + 'static>(
    pool: &sqlx::SqlitePool,
    sql: String,
    params: Vec<String>,
    map: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let path = crate::sqlite::db_path(pool);
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
        read_all(&path, &sql, &refs, map)
    })
    .await
    .map_err(|e| StoreError::Bulk(format!("read task: {e}")))?
}

pub(crate) fn merit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MeritRecord> {
    Ok(MeritRecord {
        id: r.get(0)?,
        person_id: r.get(1)?,
        category: r.get(2)?,
        decision_no: r.get(3)?,
        decision_date: r.get(4)?,
        issuer: r.get(5)?,
        injury_rate: r.get(6)?,
        type_b: r.get(7)?,
        especially_severe: r.get(8)?,
        seniority_from: r.get(9)?,
        martyrs_count: r.get(10)?,
        linked_person_id: r.get(11)?,
        relation: r.get(12)?,
        valid_from: r.get(13)?,
        valid_to: r.get(14)?,
        thoat_ly: r.get(15)?,
        award: r.get(16)?,
        of_category: r.get(17)?,
        of_injury_rate: r.get(18)?,
        nurture: r.get(19)?,
        of_deceased: r.get(20)?,
        remarried: r.get(21)?,
        ao_child: r.get(22)?,
        caregiver: r.get(23)?,
        studying: r.get(24)?,
        seniority_months: r.get(25)?,
    })
}

pub(crate) fn assistance_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssistanceRecord> {
    Ok(AssistanceRecord {
        id: r.get(0)?,
        person_id: r.get(1)?,
        group_code: r.get(2)?,
        disability_level: r.get(3)?,
        single_parent: r.get(4)?,
        hiv: r.get(5)?,
        decision_no: r.get(6)?,
        decision_date: r.get(7)?,
        valid_from: r.get(8)?,
        valid_to: r.get(9)?,
    })
}

pub(crate) fn beneficiary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::registry::BeneficiaryRow> {
    Ok(crate::registry::BeneficiaryRow {
        id: r.get(0)?,
        personal_id: r.get(1)?,
        birth_date: r.get(2)?,
        deceased_on: r.get(3)?,
        commune_code: r.get(4)?,
        poor: r.get(5)?,
    })
}

/// SHA-256 over the one text column of each row of each query (with `id` bound), each row
/// followed by a newline, streamed (see `Store::cycle_digest`).
pub(crate) fn hash_texts(path: &Path, sqls: &[&str], id: i64) -> Result<String> {
    use sha2::Digest;
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute_batch("PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY")?;
    let mut h = sha2::Sha256::new();
    for sql in sqls {
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query([id])?;
        while let Some(r) = rows.next()? {
            h.update(r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?.as_bytes());
            h.update(b"\n");
        }
    }
    Ok(hex::encode(h.finalize()))
}
