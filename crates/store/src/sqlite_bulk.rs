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
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, ToSql};

use crate::audit::{entry_hash, AuditEntry};
use crate::payments::{Generation, NewItem, NewLine};
use crate::registry::{
    categories_of, name_keys, AssistanceRecord, MeritRecord, NewHousehold, NewPerson, PersonBatch, SQLITE_BULK_INDEXES,
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
pub(crate) fn open(path: &Path, busy_timeout: Duration, reindex: bool) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    // 512 MiB page cache for this connection only: index builds of a million rows stay
    // in memory; sort tables in memory too.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; \
         PRAGMA cache_size = -524288; BEGIN IMMEDIATE",
    )?;
    if reindex {
        for (name, _) in SQLITE_BULK_INDEXES {
            conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
    }
    Ok(conn)
}

/// Rows per multi-row INSERT: amortises a statement's step and reset over many rows while
/// staying far below SQLite's variable limit (22 columns × 32 = 704).
const ROWS_PER_STATEMENT: usize = 32;

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
    bind: impl Fn(&'a T, &mut Vec<&'a dyn ToSql>),
) -> Result<i64> {
    let sql = |n: usize| {
        let one = format!("({})", vec!["?"; ncols].join(", "));
        format!("{head} VALUES {}", vec![one.as_str(); n].join(", "))
    };
    let mut full = conn.prepare_cached(&sql(ROWS_PER_STATEMENT))?;
    let mut vals: Vec<&'a dyn ToSql> = Vec::with_capacity(ncols * ROWS_PER_STATEMENT);
    let mut first = None;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        vals.clear();
        for r in chunk {
            bind(r, &mut vals);
        }
        if vals.len() != ncols * chunk.len() {
            return Err(StoreError::Bulk(format!("{what}: {} values for {} rows of {ncols}", vals.len(), chunk.len())));
        }
        if chunk.len() == ROWS_PER_STATEMENT {
            full.execute(&vals[..])
        } else {
            conn.prepare(&sql(chunk.len()))?.execute(&vals[..])
        }
        .map_err(|e| from_write(e, what))?;
        first.get_or_insert(conn.last_insert_rowid() - chunk.len() as i64 + 1);
    }
    Ok(first.unwrap_or(0))
}

/// A person row with the values derived from it.
struct PersonOut<'a> {
    p: &'a NewPerson,
    keys: Cow<'a, (String, String)>,
    household_id: Option<i64>,
    categories: String,
    status: &'static str,
}

/// A record row with its person's rowid.
struct RecordOut<'a, T> {
    person_id: i64,
    r: &'a T,
    flags: (i64, i64),
    /// Merit records: `thoat_ly` and `nurture` as 0/1.
    thoat_ly: Option<i64>,
    nurture: i64,
}

/// Writes one batch inside the open transaction; returns the persons written.
pub(crate) fn write(conn: &Connection, batch: &PersonBatch, recorded_by: &str, now: &str) -> Result<usize> {
    let now: &str = now;
    let mut hh_id: HashMap<&str, i64> = HashMap::with_capacity(batch.households.len());
    let first = insert_all(
        conn,
        "INSERT INTO households (code, commune_code, address_line, created_at)",
        4,
        &batch.households,
        "a household with one of these codes",
        |h: &NewHousehold, v| v.extend([&h.code as &dyn ToSql, &h.commune_code, &h.address_line, &now]),
    )?;
    for (i, h) in batch.households.iter().enumerate() {
        hh_id.insert(&h.code, first + i as i64);
    }
    let statuses: Vec<(i64, &NewHousehold)> =
        batch.households.iter().filter(|h| h.status != "none").map(|h| (hh_id[h.code.as_str()], h)).collect();
    insert_all(
        conn,
        "INSERT INTO household_status (household_id, status, valid_from)",
        3,
        &statuses,
        "a household status",
        |(id, h), v| v.extend([id as &dyn ToSql, &h.status, &h.status_from]),
    )?;
    // households referenced by code but not in this batch
    let mut find = conn.prepare_cached("SELECT id FROM households WHERE code = ?1")?;
    for p in &batch.persons {
        if let Some(code) = &p.household_code {
            if !hh_id.contains_key(code.as_str()) {
                let id: Option<i64> = find.query_row([code], |r| r.get(0)).optional()?;
                let id = id.ok_or_else(|| StoreError::Invalid(format!("household {code} does not exist")))?;
                hh_id.insert(code, id);
            }
        }
    }
    let mut merits_of: HashMap<&str, Vec<&MeritRecord>> = HashMap::new();
    for (pid, m) in &batch.merits {
        merits_of.entry(pid.as_str()).or_default().push(m);
    }
    let mut assist_of: HashMap<&str, Vec<&AssistanceRecord>> = HashMap::new();
    for (pid, a) in &batch.assistance {
        assist_of.entry(pid.as_str()).or_default().push(a);
    }
    let persons: Vec<PersonOut> = batch
        .persons
        .iter()
        .map(|p| {
            let m = merits_of.get(p.personal_id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            let a = assist_of.get(p.personal_id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            PersonOut {
                p,
                keys: match &p.name_keys {
                    Some(k) => Cow::Borrowed(k),
                    None => Cow::Owned(name_keys(&p.full_name)),
                },
                household_id: p.household_code.as_deref().and_then(|c| hh_id.get(c).copied()),
                categories: categories_of(m, a),
                status: if p.deceased_on.is_some() { "deceased" } else { "living" },
            }
        })
        .collect();
    let first = insert_all(
        conn,
        "INSERT INTO persons (personal_id, full_name, name_key, given_key, birth_date, sex, ethnicity, \
         commune_code, address_line, legacy_address, phone, deceased_on, cmnd, bhxh_code, household_id, \
         relation_to_head, categories, status, version, valid_from, created_at, updated_at)",
        22,
        &persons,
        "a person with one of these personal IDs",
        |o, v| {
            let p = o.p;
            v.extend([
                &p.personal_id as &dyn ToSql,
                &p.full_name,
                &o.keys.0,
                &o.keys.1,
                &p.birth_date,
                &p.sex,
                &p.ethnicity,
                &p.commune_code,
                &p.address_line,
                &p.legacy_address,
                &p.phone,
                &p.deceased_on,
                &p.cmnd,
                &p.bhxh_code,
                &o.household_id,
                &p.relation_to_head,
                &o.categories,
                &o.status,
                &1i64,
                &p.valid_from,
                &now,
                &now,
            ])
        },
    )?;
    let pid: HashMap<&str, i64> =
        batch.persons.iter().enumerate().map(|(i, p)| (p.personal_id.as_str(), first + i as i64)).collect();
    let mut find = conn.prepare_cached("SELECT id FROM persons WHERE personal_id = ?1")?;
    let mut lookup = |p: &str| -> Result<i64> {
        if let Some(id) = pid.get(p) {
            return Ok(*id);
        }
        let id: Option<i64> = find.query_row([p], |r| r.get(0)).optional()?;
        id.ok_or_else(|| StoreError::Invalid(format!("person {p} does not exist")))
    };
    let mut merits = Vec::with_capacity(batch.merits.len());
    for (p, m) in &batch.merits {
        merits.push(RecordOut {
            person_id: lookup(p)?,
            r: m,
            flags: (b(m.type_b), b(m.especially_severe)),
            thoat_ly: m.thoat_ly.map(b),
            nurture: b(m.nurture),
        });
    }
    insert_all(
        conn,
        "INSERT INTO merit_records (person_id, category, decision_no, decision_date, issuer, injury_rate, type_b, \
         especially_severe, seniority_from, martyrs_count, linked_person_id, relation, valid_from, valid_to, \
         recorded_at, recorded_by, thoat_ly, award, of_category, of_injury_rate, nurture, of_deceased, remarried, \
         ao_child, caregiver, studying, seniority_months)",
        27,
        &merits,
        "a merit record",
        |o, v| {
            let m = o.r;
            v.extend([
                &o.person_id as &dyn ToSql,
                &m.category,
                &m.decision_no,
                &m.decision_date,
                &m.issuer,
                &m.injury_rate,
                &o.flags.0,
                &o.flags.1,
                &m.seniority_from,
                &m.martyrs_count,
                &m.linked_person_id,
                &m.relation,
                &m.valid_from,
                &m.valid_to,
                &now,
                &recorded_by,
                &o.thoat_ly,
                &m.award,
                &m.of_category,
                &m.of_injury_rate,
                &o.nurture,
                &m.of_deceased,
                &m.remarried,
                &m.ao_child,
                &m.caregiver,
                &m.studying,
                &m.seniority_months,
            ])
        },
    )?;
    let mut assistance = Vec::with_capacity(batch.assistance.len());
    for (p, a) in &batch.assistance {
        assistance.push(RecordOut {
            person_id: lookup(p)?,
            r: a,
            flags: (b(a.single_parent), b(a.hiv)),
            thoat_ly: None,
            nurture: 0,
        });
    }
    insert_all(
        conn,
        "INSERT INTO assistance_records (person_id, group_code, disability_level, single_parent, hiv, decision_no, \
         decision_date, valid_from, valid_to, recorded_at, recorded_by)",
        11,
        &assistance,
        "an assistance record",
        |o, v| {
            let a = o.r;
            v.extend([
                &o.person_id as &dyn ToSql,
                &a.group_code,
                &a.disability_level,
                &o.flags.0,
                &o.flags.1,
                &a.decision_no,
                &a.decision_date,
                &a.valid_from,
                &a.valid_to,
                &now,
                &recorded_by,
            ])
        },
    )?;
    let mut payments = Vec::with_capacity(batch.payments.len());
    for (p, m) in &batch.payments {
        payments.push(RecordOut { person_id: lookup(p)?, r: m, flags: (0, 0), thoat_ly: None, nurture: 0 });
    }
    insert_all(
        conn,
        "INSERT INTO payment_methods (person_id, method, bank_name, account_no, account_holder, valid_from, valid_to)",
        7,
        &payments,
        "a payment method",
        |o, v| {
            let m = o.r;
            v.extend([
                &o.person_id as &dyn ToSql,
                &m.method,
                &m.bank_name,
                &m.account_no,
                &m.account_holder,
                &m.valid_from,
                &m.valid_to,
            ])
        },
    )?;
    let mut ins = conn.prepare_cached(
        "INSERT INTO relationships (person_id, related_person_id, kind, valid_from, valid_to) \
         VALUES (?1, ?2, ?3, '1900-01-01', NULL)",
    )?;
    for (p, r, kind) in &batch.relationships {
        ins.execute(params![lookup(p)?, lookup(r)?, kind]).map_err(|e| from_write(e, "a relationship"))?;
    }
    Ok(batch.persons.len())
}

fn b(v: bool) -> i64 {
    i64::from(v)
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
    let conn = open(path, Duration::from_secs(30), false)?;
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
            v.push(*id);
            v.push(cid);
            v.push(&l.person_id);
            v.push(&l.personal_id);
            v.push(&l.full_name);
            v.push(&l.commune_code);
            v.push(&l.payee_name);
            v.push(&l.payee_personal_id);
            v.push(&l.method);
            v.push(&l.bank_name);
            v.push(&l.account_no);
            v.push(&l.amount);
            v.push(&l.status);
            v.push(&l.reason);
            v.push(&l.facts);
        },
    )?;
    let items: Vec<(&i64, &NewItem)> = rows.iter().flat_map(|(id, l)| l.items.iter().map(move |i| (*id, i))).collect();
    insert_all(
        &conn,
        "INSERT INTO payment_items (line_id, item, for_month, kind, amount)",
        5,
        &items,
        "payment item",
        |(id, i), v| {
            v.push(*id);
            v.push(&i.item);
            v.push(&i.for_month);
            v.push(&i.kind);
            v.push(&i.amount);
        },
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
