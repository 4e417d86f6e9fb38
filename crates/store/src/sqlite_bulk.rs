//! The SQLite side of bulk loads (imports, the demo, approved new dossiers): a dedicated
//! rusqlite connection to the same file, used from a blocking thread.
//!
//! Why not sqlx here: sqlx's SQLite driver runs every statement on a worker thread reached
//! through a channel and copies every bound value into an owned argument list first; for a
//! million-row import that overhead was two thirds of the write time (docs/benchmarks.md).
//! rusqlite links the same bundled SQLite (libsqlite3-sys 0.30, one copy in the binary),
//! prepares each INSERT once and binds the values straight from the structs — what
//! `sqlite3 .import` does. The connection is opened for one load and closed after it, so
//! its bulk pragmas never leak into the pool.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::audit::{entry_hash, AuditEntry};
use crate::registry::{categories_of, name_keys, PersonBatch, SQLITE_BULK_INDEXES};
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

fn b(v: bool) -> i64 {
    i64::from(v)
}

/// Writes one batch inside the open transaction; returns the persons written.
pub(crate) fn write(conn: &Connection, batch: &PersonBatch, recorded_by: &str, now: &str) -> Result<usize> {
    let mut hh_id: HashMap<&str, i64> = HashMap::with_capacity(batch.households.len());
    {
        let mut ins = conn.prepare_cached(
            "INSERT INTO households (code, commune_code, address_line, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut status = conn.prepare_cached(
            "INSERT INTO household_status (household_id, status, valid_from, valid_to) VALUES (?1, ?2, ?3, NULL)",
        )?;
        for h in &batch.households {
            ins.execute(params![h.code, h.commune_code, h.address_line, now])
                .map_err(|e| from_write(e, "a household with one of these codes"))?;
            let id = conn.last_insert_rowid();
            hh_id.insert(&h.code, id);
            if h.status != "none" {
                status.execute(params![id, h.status, h.status_from])?;
            }
        }
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
    }
    let mut merits_of: HashMap<&str, Vec<&crate::registry::MeritRecord>> = HashMap::new();
    for (pid, m) in &batch.merits {
        merits_of.entry(pid.as_str()).or_default().push(m);
    }
    let mut assist_of: HashMap<&str, Vec<&crate::registry::AssistanceRecord>> = HashMap::new();
    for (pid, a) in &batch.assistance {
        assist_of.entry(pid.as_str()).or_default().push(a);
    }
    let mut pid: HashMap<&str, i64> = HashMap::with_capacity(batch.persons.len());
    {
        let mut ins = conn.prepare_cached(
            "INSERT INTO persons (personal_id, full_name, name_key, given_key, birth_date, sex, ethnicity, \
             commune_code, address_line, legacy_address, phone, deceased_on, cmnd, bhxh_code, household_id, \
             relation_to_head, categories, status, version, valid_from, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, 1, ?19, ?20, ?20)",
        )?;
        for p in &batch.persons {
            let computed;
            let (key, given) = match &p.name_keys {
                Some((k, g)) => (k.as_str(), g.as_str()),
                None => {
                    computed = name_keys(&p.full_name);
                    (computed.0.as_str(), computed.1.as_str())
                }
            };
            let m = merits_of.get(p.personal_id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            let a = assist_of.get(p.personal_id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
            ins.execute(params![
                p.personal_id,
                p.full_name,
                key,
                given,
                p.birth_date,
                p.sex,
                p.ethnicity,
                p.commune_code,
                p.address_line,
                p.legacy_address,
                p.phone,
                p.deceased_on,
                p.cmnd,
                p.bhxh_code,
                p.household_code.as_deref().and_then(|c| hh_id.get(c).copied()),
                p.relation_to_head,
                categories_of(m, a),
                if p.deceased_on.is_some() { "deceased" } else { "living" },
                p.valid_from,
                now,
            ])
            .map_err(|e| from_write(e, "a person with one of these personal IDs"))?;
            pid.insert(&p.personal_id, conn.last_insert_rowid());
        }
    }
    let mut find = conn.prepare_cached("SELECT id FROM persons WHERE personal_id = ?1")?;
    let mut lookup = |p: &str| -> Result<i64> {
        if let Some(id) = pid.get(p) {
            return Ok(*id);
        }
        let id: Option<i64> = find.query_row([p], |r| r.get(0)).optional()?;
        id.ok_or_else(|| StoreError::Invalid(format!("person {p} does not exist")))
    };
    let mut ins = conn.prepare_cached(
        "INSERT INTO merit_records (person_id, category, decision_no, decision_date, issuer, injury_rate, type_b, \
         especially_severe, seniority_from, martyrs_count, linked_person_id, relation, valid_from, valid_to, \
         recorded_at, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    for (p, m) in &batch.merits {
        ins.execute(params![
            lookup(p)?,
            m.category,
            m.decision_no,
            m.decision_date,
            m.issuer,
            m.injury_rate,
            b(m.type_b),
            b(m.especially_severe),
            m.seniority_from,
            m.martyrs_count,
            m.linked_person_id,
            m.relation,
            m.valid_from,
            m.valid_to,
            now,
            recorded_by,
        ])
        .map_err(|e| from_write(e, "a merit record"))?;
    }
    let mut ins = conn.prepare_cached(
        "INSERT INTO assistance_records (person_id, group_code, disability_level, single_parent, hiv, decision_no, \
         decision_date, valid_from, valid_to, recorded_at, recorded_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for (p, a) in &batch.assistance {
        ins.execute(params![
            lookup(p)?,
            a.group_code,
            a.disability_level,
            b(a.single_parent),
            b(a.hiv),
            a.decision_no,
            a.decision_date,
            a.valid_from,
            a.valid_to,
            now,
            recorded_by,
        ])
        .map_err(|e| from_write(e, "an assistance record"))?;
    }
    let mut ins = conn.prepare_cached(
        "INSERT INTO payment_methods (person_id, method, bank_name, account_no, account_holder, valid_from, valid_to) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (p, m) in &batch.payments {
        ins.execute(params![
            lookup(p)?,
            m.method,
            m.bank_name,
            m.account_no,
            m.account_holder,
            m.valid_from,
            m.valid_to
        ])
        .map_err(|e| from_write(e, "a payment method"))?;
    }
    let mut ins = conn.prepare_cached(
        "INSERT INTO relationships (person_id, related_person_id, kind, valid_from, valid_to) \
         VALUES (?1, ?2, ?3, '1900-01-01', NULL)",
    )?;
    for (p, r, kind) in &batch.relationships {
        ins.execute(params![lookup(p)?, lookup(r)?, kind]).map_err(|e| from_write(e, "a relationship"))?;
    }
    Ok(batch.persons.len())
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
    let tx = &conn;
    if reindexed {
        for (_, ddl) in SQLITE_BULK_INDEXES {
            tx.execute_batch(ddl)?;
        }
    }
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
    tx.execute_batch("COMMIT")?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}
