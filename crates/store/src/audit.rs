//! The audit trail: append-only and hash-chained.
//!
//! Each entry's `hash` is SHA-256 over the previous entry's hash and every field of the
//! entry (length-prefixed, so no field boundary can be moved). `audit_head` keeps the last
//! `(seq, hash)`; appending takes that row's lock (PostgreSQL row lock, SQLite write lock),
//! so entries are strictly sequential even under concurrent writers. Triggers refuse
//! UPDATE and DELETE; [`Store::audit_verify`] detects what someone who bypassed them changed.

use sha2::{Digest, Sha256};

use crate::{on_pool, Page, Paged, Result, Store};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is recorded. `before`/`after` are JSON documents of the changed entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor_user_id: Option<i64>,
    /// Username, `cli:<os user>`, or `anonymous`.
    pub actor: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// Dotted verb, e.g. `user.create`, `auth.login_failed`, `audit.search`.
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub detail: Option<String>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: String,
    pub actor_user_id: Option<i64>,
    pub actor: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub detail: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// Search criteria; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Matches the action exactly or as a prefix ending in `.` (`user.` finds `user.create`).
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// `from` ≤ at < `to` (RFC 3339 UTC text, or a date `YYYY-MM-DD` meaning its start).
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    Intact {
        entries: i64,
        head_hash: String,
    },
    /// The first entry that does not fit; `seq` is where the walk expected it.
    Broken {
        seq: i64,
        reason: String,
    },
}

fn put(h: &mut Sha256, field: Option<&str>) {
    match field {
        None => h.update(b"N"),
        Some(s) => {
            h.update(b"S");
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        }
    }
}

/// The chained hash of one entry (hex).
pub fn entry_hash(prev_hash: &str, seq: i64, at: &str, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    h.update(b"ansinh-audit-v1");
    put(&mut h, Some(prev_hash));
    h.update(seq.to_be_bytes());
    put(&mut h, Some(at));
    match e.actor_user_id {
        Some(id) => {
            h.update(b"I");
            h.update(id.to_be_bytes());
        }
        None => h.update(b"N"),
    }
    for f in [
        Some(e.actor.as_str()),
        e.ip.as_deref(),
        e.request_id.as_deref(),
        Some(e.action.as_str()),
        Some(e.entity_type.as_str()),
        e.entity_id.as_deref(),
        e.before.as_deref(),
        e.after.as_deref(),
        e.detail.as_deref(),
    ] {
        put(&mut h, f);
    }
    hex::encode(h.finalize())
}

impl AuditRecord {
    pub fn entry(&self) -> AuditEntry {
        AuditEntry {
            actor_user_id: self.actor_user_id,
            actor: self.actor.clone(),
            ip: self.ip.clone(),
            request_id: self.request_id.clone(),
            action: self.action.clone(),
            entity_type: self.entity_type.clone(),
            entity_id: self.entity_id.clone(),
            before: self.before_json.clone(),
            after: self.after_json.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// Appends `$entry` inside the open transaction `$tx` (any backend). Expanded per backend
/// by the callers' `on_pool!`/`write_tx!`, so one text serves both drivers.
macro_rules! append_in_tx {
    ($tx:expr, $entry:expr) => {{
        let entry: &$crate::audit::AuditEntry = $entry;
        let (seq, prev): (i64, String) =
            sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut *$tx)
                .await?;
        // stamped after taking the head's lock, so time order follows seq order
        let at = $crate::now_text();
        let hash = $crate::audit::entry_hash(&prev, seq, &at, entry);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor_user_id, actor, ip, request_id, action, entity_type, entity_id, \
             before_json, after_json, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(seq)
        .bind(&at)
        .bind(entry.actor_user_id)
        .bind(&entry.actor)
        .bind(&entry.ip)
        .bind(&entry.request_id)
        .bind(&entry.action)
        .bind(&entry.entity_type)
        .bind(&entry.entity_id)
        .bind(&entry.before)
        .bind(&entry.after)
        .bind(&entry.detail)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1").bind(&hash).execute(&mut *$tx).await?;
        seq
    }};
}
pub(crate) use append_in_tx;

const AUDIT_COLUMNS: &str = "seq, at, actor_user_id, actor, ip, request_id, action, entity_type, entity_id, \
     before_json, after_json, detail, prev_hash, hash";

/// Rows fetched per round trip while verifying (memory stays flat for long chains).
const VERIFY_BATCH: i64 = 5_000;

impl Store {
    /// Appends one entry in its own transaction. Returns its sequence number.
    pub async fn audit_append(&self, entry: &AuditEntry) -> Result<i64> {
        let seq = crate::write_tx!(self, tx => { append_in_tx!(tx, entry) })?;
        Ok(seq)
    }

    /// Latest `(seq, hash)`.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let head: (i64, String) = on_pool!(self, pool => sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(pool).await)?;
        Ok(head)
    }

    /// Entries matching `f`, newest first.
    pub async fn audit_search(&self, f: &AuditFilter, page: Page) -> Result<Paged<AuditRecord>> {
        macro_rules! filtered {
            ($qb:expr) => {{
                let qb = &mut $qb;
                qb.push(" WHERE 1 = 1");
                if let Some(a) = &f.actor {
                    qb.push(" AND actor = ").push_bind(a.clone());
                }
                if let Some(a) = &f.action {
                    if a.ends_with('.') {
                        // byte-exact prefix on both backends (LIKE folds case on SQLite only)
                        qb.push(" AND substr(action, 1, ")
                            .push_bind(a.chars().count() as i32)
                            .push(") = ")
                            .push_bind(a.clone());
                    } else {
                        qb.push(" AND action = ").push_bind(a.clone());
                    }
                }
                if let Some(t) = &f.entity_type {
                    qb.push(" AND entity_type = ").push_bind(t.clone());
                }
                if let Some(i) = &f.entity_id {
                    qb.push(" AND entity_id = ").push_bind(i.clone());
                }
                if let Some(from) = &f.from {
                    qb.push(" AND at >= ").push_bind(from.clone());
                }
                if let Some(to) = &f.to {
                    qb.push(" AND at < ").push_bind(to.clone());
                }
            }};
        }
        let (total, items) = on_pool!(self, pool => {
            let mut count = sqlx::QueryBuilder::new("SELECT count(*) FROM audit_log");
            filtered!(count);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {AUDIT_COLUMNS} FROM audit_log"));
            filtered!(q);
            q.push(" ORDER BY seq DESC LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
            let items: Vec<AuditRecord> = q.build_query_as().fetch_all(pool).await?;
            (total, items)
        });
        Ok(Paged { items, total, page: page.page, per_page: page.per_page })
    }

    /// Walks the whole chain in order and reports the first entry that was modified,
    /// deleted or moved, or a head that does not match the last entry (entries cut off
    /// at the end).
    pub async fn audit_verify(&self) -> Result<VerifyOutcome> {
        // The head read here bounds the walk: entries appended while it runs belong to the
        // next verification and are not a sign of tampering.
        let (head_seq, head_hash) = self.audit_head().await?;
        let mut expected_seq = 1i64;
        let mut prev = GENESIS_HASH.to_string();
        loop {
            let sql =
                format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3");
            let batch: Vec<AuditRecord> = on_pool!(self, pool => sqlx::query_as(&sql)
                .bind(expected_seq)
                .bind(head_seq)
                .bind(VERIFY_BATCH)
                .fetch_all(pool)
                .await)?;
            if batch.is_empty() {
                break;
            }
            for r in &batch {
                if r.seq != expected_seq {
                    return Ok(VerifyOutcome::Broken {
                        seq: expected_seq,
                        reason: format!("entry {expected_seq} is missing (next entry is {})", r.seq),
                    });
                }
                if r.prev_hash != prev {
                    return Ok(VerifyOutcome::Broken {
                        seq: r.seq,
                        reason: format!(
                            "entry {} does not follow entry {} (deleted, inserted or reordered)",
                            r.seq,
                            r.seq - 1
                        ),
                    });
                }
                if entry_hash(&prev, r.seq, &r.at, &r.entry()) != r.hash {
                    return Ok(VerifyOutcome::Broken {
                        seq: r.seq,
                        reason: format!("entry {} was modified after it was written", r.seq),
                    });
                }
                prev = r.hash.clone();
                expected_seq += 1;
            }
        }
        let entries = expected_seq - 1;
        if entries != head_seq || prev != head_hash {
            return Ok(VerifyOutcome::Broken {
                seq: entries + 1,
                reason: format!("the chain ends at entry {entries} but the head records entry {head_seq}: entries were removed at the end"),
            });
        }
        Ok(VerifyOutcome::Intact { entries, head_hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_field_and_boundaries() {
        let e = AuditEntry {
            actor: "admin".into(),
            action: "user.create".into(),
            entity_type: "user".into(),
            ..Default::default()
        };
        let h = entry_hash(GENESIS_HASH, 1, "2026-01-01T00:00:00.000000Z", &e);
        assert_eq!(h.len(), 64);
        assert_eq!(h, entry_hash(GENESIS_HASH, 1, "2026-01-01T00:00:00.000000Z", &e), "deterministic");
        assert_ne!(h, entry_hash(GENESIS_HASH, 2, "2026-01-01T00:00:00.000000Z", &e));
        let mut e2 = e.clone();
        e2.detail = Some(String::new());
        assert_ne!(h, entry_hash(GENESIS_HASH, 1, "2026-01-01T00:00:00.000000Z", &e2), "None differs from empty");
        let a = AuditEntry { actor: "ab".into(), action: "c".into(), ..e.clone() };
        let b = AuditEntry { actor: "a".into(), action: "bc".into(), ..e.clone() };
        assert_ne!(entry_hash(GENESIS_HASH, 1, "t", &a), entry_hash(GENESIS_HASH, 1, "t", &b));
    }
}
