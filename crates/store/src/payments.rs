//! Payment cycles (chi trả): cycles with their workflow, lines and items, holds, payment
//! results, and the inputs a generation reads (what was already paid, payees, claimants).
//!
//! Invariants kept here (the service decides who may do what; the store makes the state
//! changes conditional so that a race cannot skip a step):
//! - a cycle's lines are written only by [`Store::write_cycle`], which replaces a draft's
//!   lines in one transaction; past draft, lines and items cannot change (triggers);
//! - every status change is one conditional UPDATE (`WHERE status = …`) with its audit
//!   entry in the same transaction.

use sqlx::QueryBuilder;

use crate::audit::{append_in_tx, AuditEntry};
use crate::{on_pool, push_in, write_tx, Page, Paged, Result, Store, StoreError};

/// Cycle states, in workflow order.
pub const STATUSES: [&str; 6] = ["draft", "checked", "approved", "exported", "reconciled", "closed"];

/// Cycles whose lines count as paid (or being paid).
const SCHEDULED: &str = "('approved', 'exported', 'reconciled', 'closed')";

const CYCLE_COLUMNS: &str = "id, month, kind, title, status, pack_version, arrears_from, lines, payable_lines, total, \
    digest, generating_since, created_by, created_at, generated_by, generated_at, checked_by, checked_at, approved_by, \
    approved_at, exported_by, exported_at, reconciled_at, closed_by, closed_at";

const LINE_COLUMNS: &str = "id, cycle_id, person_id, personal_id, full_name, commune_code, payee_name, \
    payee_personal_id, method, bank_name, account_no, amount, status, reason, result, result_note, result_at";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct CycleRow {
    pub id: i64,
    /// yyyy-mm
    pub month: String,
    /// monthly | adhoc
    pub kind: String,
    pub title: String,
    pub status: String,
    pub pack_version: Option<String>,
    pub arrears_from: Option<String>,
    pub lines: i64,
    pub payable_lines: i64,
    /// Amount of the lines to pay, in đồng.
    pub total: i64,
    pub digest: Option<String>,
    pub generating_since: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub generated_by: Option<String>,
    pub generated_at: Option<String>,
    pub checked_by: Option<String>,
    pub checked_at: Option<String>,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
    pub exported_by: Option<String>,
    pub exported_at: Option<String>,
    pub reconciled_at: Option<String>,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
}

/// One beneficiary's line in a cycle.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct LineRow {
    pub id: i64,
    pub cycle_id: i64,
    pub person_id: i64,
    pub personal_id: String,
    pub full_name: String,
    pub commune_code: String,
    pub payee_name: Option<String>,
    pub payee_personal_id: Option<String>,
    pub method: String,
    pub bank_name: Option<String>,
    pub account_no: Option<String>,
    pub amount: i64,
    /// pay | held | stopped | recovery
    pub status: String,
    pub reason: Option<String>,
    /// paid | failed | returned
    pub result: Option<String>,
    pub result_note: Option<String>,
    pub result_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ItemRow {
    pub line_id: i64,
    pub item: String,
    pub for_month: String,
    /// regular | one_off | arrears | recovery | carried
    pub kind: String,
    pub amount: i64,
}

/// A line to write (see [`Store::write_cycle`]).
#[derive(Debug, Clone, Default)]
pub struct NewLine {
    pub person_id: i64,
    pub personal_id: String,
    pub full_name: String,
    pub commune_code: String,
    pub payee_name: Option<String>,
    pub payee_personal_id: Option<String>,
    pub method: &'static str,
    pub bank_name: Option<String>,
    pub account_no: Option<String>,
    pub amount: i64,
    pub status: &'static str,
    pub reason: Option<String>,
    pub facts: String,
    pub items: Vec<NewItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub item: String,
    pub for_month: String,
    pub kind: &'static str,
    pub amount: i64,
}

/// What a generation records besides its lines.
#[derive(Debug, Clone)]
pub struct Generation {
    pub pack_version: String,
    /// JSON object file → text (stored once per version).
    pub pack_files: String,
    pub arrears_from: Option<String>,
    pub by: String,
    /// When the generation began reading (stored as `generated_at`: the approval guard
    /// compares it with other cycles' approvals, so a cycle approved while this one was
    /// being computed makes this one stale).
    pub started_at: String,
}

/// Already scheduled for a person, month and item (see [`Store::scheduled`]).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Scheduled {
    pub person_id: i64,
    pub for_month: String,
    pub item: String,
    /// Sum over lines that were paid or are being paid.
    pub amount: i64,
    /// Some line for this month and item failed or was returned.
    pub failed: bool,
}

/// Who a beneficiary is paid as, with their current payment method.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Payee {
    pub person_id: i64,
    pub full_name: String,
    pub method: Option<String>,
    pub bank_name: Option<String>,
    pub account_no: Option<String>,
}

/// A living relative of a deceased person who can claim the one-off allowances.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Claimant {
    pub person_id: i64,
    pub kind: String,
    pub personal_id: String,
    pub full_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct HoldRow {
    pub id: i64,
    pub person_id: i64,
    pub personal_id: String,
    pub full_name: String,
    pub commune_code: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
    pub released_by: Option<String>,
    pub released_at: Option<String>,
}

/// A person's line in a cycle, for the dossier.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct PersonPaymentRow {
    pub cycle_id: i64,
    pub month: String,
    pub cycle_kind: String,
    pub cycle_status: String,
    pub line_id: i64,
    pub method: String,
    pub amount: i64,
    pub status: String,
    pub reason: Option<String>,
    pub result: Option<String>,
}

/// Filters of a cycle's line list; `communes` is the caller's area.
#[derive(Debug, Clone, Default)]
pub struct LineQuery {
    pub communes: Option<Vec<String>>,
    pub commune: Option<String>,
    pub status: Option<String>,
    pub method: Option<String>,
    pub result: Option<String>,
    /// Personal ID or the start of the name as stored.
    pub q: Option<String>,
}

/// Sums of a cycle (lines to pay only, unless by status).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// (commune, lines, amount)
    pub by_commune: Vec<(String, i64, i64)>,
    /// (item, kind, amount)
    pub by_item: Vec<(String, String, i64)>,
    /// (status, lines, amount) over every line
    pub by_status: Vec<(String, i64, i64)>,
    /// (method, lines, amount)
    pub by_method: Vec<(String, i64, i64)>,
    /// (result or "", lines, amount) over lines to pay
    pub by_result: Vec<(String, i64, i64)>,
}

/// A person who has not collected their allowance in the last `n` monthly cycles.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Uncollected {
    pub person_id: i64,
    pub personal_id: String,
    pub full_name: String,
    pub commune_code: String,
    pub cycles: i64,
    pub amount: i64,
}

/// A result of a paid line, as read from the post office's or bank's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineResult {
    pub line_id: i64,
    pub result: String,
    pub note: Option<String>,
}

/// Lines are allocated a block of ids; the largest id so far.
async fn max_line_id_sqlx<'e, E>(e: E) -> Result<i64>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM payment_lines").fetch_one(e).await?.unwrap_or(0))
}

impl Store {
    /// Creates an empty draft cycle. A second monthly cycle for a month is a conflict.
    pub async fn create_cycle(
        &self,
        month: &str,
        kind: &str,
        title: &str,
        by: &str,
        audit: &AuditEntry,
    ) -> Result<i64> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO payment_cycles (month, kind, title, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
                 RETURNING id",
            )
            .bind(month)
            .bind(kind)
            .bind(title)
            .bind(by)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::from_write(e, &format!("a monthly payment cycle for {month}")))?;
            let mut a = audit.clone();
            a.entity_id = Some(id.to_string());
            append_in_tx!(tx, &a);
            id
        })
    }

    pub async fn cycle(&self, id: i64) -> Result<Option<CycleRow>> {
        let sql = format!("SELECT {CYCLE_COLUMNS} FROM payment_cycles WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CycleRow>(&sql).bind(id).fetch_optional(pool).await)?)
    }

    /// Cycles, newest month first.
    pub async fn cycles(&self, page: Page) -> Result<Paged<CycleRow>> {
        let sql = format!("SELECT {CYCLE_COLUMNS} FROM payment_cycles ORDER BY month DESC, id DESC LIMIT $1 OFFSET $2");
        let (total, items) = on_pool!(self, pool => {
            let total: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_cycles").fetch_one(pool).await?;
            let items = sqlx::query_as::<_, CycleRow>(&sql).bind(page.limit()).bind(page.offset()).fetch_all(pool).await?;
            (total, items)
        });
        Ok(Paged { items, total, page: page.page, per_page: page.per_page })
    }

    /// Takes the generation lock of a draft or checked cycle (a lock older than
    /// `stale_before` is taken over: its generation died). `None` = locked or past checking.
    pub async fn lock_generation(&self, id: i64, stale_before: &str) -> Result<bool> {
        let now = crate::now_text();
        let n = on_pool!(self, pool => sqlx::query(
            "UPDATE payment_cycles SET generating_since = $1 WHERE id = $2 AND status IN ('draft', 'checked') \
             AND (generating_since IS NULL OR generating_since < $3)",
        )
        .bind(&now)
        .bind(id)
        .bind(stale_before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn unlock_generation(&self, id: i64) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE payment_cycles SET generating_since = NULL WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The first month of the payment history: the earliest monthly cycle that was approved.
    pub async fn first_paid_month(&self) -> Result<Option<String>> {
        let sql = format!("SELECT MIN(month) FROM payment_cycles WHERE kind = 'monthly' AND status IN {SCHEDULED}");
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, Option<String>>(&sql).fetch_one(pool).await)?)
    }

    /// What approved cycles scheduled per person, month and item from `from_month` on,
    /// ordered by person, month, item. Lines held, stopped, failed or returned do not
    /// count (their amounts come back as arrears or carried lines).
    pub async fn scheduled(&self, from_month: &str, to_month: &str) -> Result<Vec<Scheduled>> {
        // byte order, as the Rust merge compares (PostgreSQL would use the locale's)
        let c = if matches!(self, Store::Postgres(_)) { " COLLATE \"C\"" } else { "" };
        let sql = format!(
            "SELECT l.person_id, i.for_month, i.item, \
             CAST(SUM(CASE WHEN l.result IS NULL OR l.result = 'paid' THEN i.amount ELSE 0 END) AS BIGINT) AS amount, \
             MAX(CASE WHEN l.result IN ('failed', 'returned') THEN 1 ELSE 0 END) = 1 AS failed \
             FROM payment_items i JOIN payment_lines l ON l.id = i.line_id JOIN payment_cycles c ON c.id = l.cycle_id \
             WHERE c.status IN {SCHEDULED} AND l.status IN ('pay', 'recovery') AND i.for_month >= $1 \
             AND i.for_month <= $2 \
             GROUP BY l.person_id, i.for_month, i.item ORDER BY l.person_id, i.for_month{c}, i.item{c}"
        );
        if let Store::Sqlite(pool) = self {
            // a million rows: see `entitlement_inputs`
            let sql = sql.replace("$1", "?1").replace("$2", "?2");
            let params = vec![from_month.to_string(), to_month.to_string()];
            return crate::sqlite_bulk::read_all_blocking(pool, sql, params, |r| {
                Ok(Scheduled {
                    person_id: r.get(0)?,
                    for_month: r.get(1)?,
                    item: r.get(2)?,
                    amount: r.get(3)?,
                    failed: r.get(4)?,
                })
            })
            .await;
        }
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Scheduled>(&sql)
            .bind(from_month)
            .bind(to_month)
            .fetch_all(pool)
            .await)?)
    }

    /// Names and current payment methods of everyone with a merit or assistance record,
    /// ordered by person id.
    pub async fn payees(&self) -> Result<Vec<Payee>> {
        let sql = "SELECT p.id AS person_id, p.full_name, pm.method, pm.bank_name, pm.account_no FROM persons p \
             LEFT JOIN payment_methods pm ON pm.id = \
               (SELECT MAX(x.id) FROM payment_methods x WHERE x.person_id = p.id AND x.valid_to IS NULL) \
             WHERE EXISTS (SELECT 1 FROM merit_records m WHERE m.person_id = p.id) \
                OR EXISTS (SELECT 1 FROM assistance_records a WHERE a.person_id = p.id) \
             ORDER BY p.id";
        if let Store::Sqlite(pool) = self {
            // a million rows: see `entitlement_inputs`
            return crate::sqlite_bulk::read_all_blocking(pool, sql.to_string(), Vec::new(), |r| {
                Ok(Payee {
                    person_id: r.get(0)?,
                    full_name: r.get(1)?,
                    method: r.get(2)?,
                    bank_name: r.get(3)?,
                    account_no: r.get(4)?,
                })
            })
            .await;
        }
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Payee>(sql).fetch_all(pool).await)?)
    }

    /// Living relatives of deceased persons (ordered by deceased person).
    pub async fn claimants(&self) -> Result<Vec<Claimant>> {
        let sql = "SELECT r.person_id, r.kind, q.personal_id, q.full_name FROM relationships r \
             JOIN persons p ON p.id = r.person_id JOIN persons q ON q.id = r.related_person_id \
             WHERE p.deceased_on IS NOT NULL AND q.deceased_on IS NULL AND r.valid_to IS NULL \
             ORDER BY r.person_id, r.id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Claimant>(sql).fetch_all(pool).await)?)
    }

    /// Open holds: (person id, reason), ordered by person.
    pub async fn open_holds(&self) -> Result<Vec<(i64, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, String)>(
            "SELECT person_id, reason FROM payment_holds WHERE released_at IS NULL ORDER BY person_id, id",
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Holds, open first; of one person, or within `communes`.
    pub async fn holds(
        &self,
        person_id: Option<i64>,
        communes: Option<&[String]>,
        open_only: bool,
    ) -> Result<Vec<HoldRow>> {
        Ok(on_pool!(self, pool => {
            let mut qb = QueryBuilder::new(
                "SELECT h.id, h.person_id, p.personal_id, p.full_name, p.commune_code, h.reason, h.created_by, h.created_at, \
                 h.released_by, h.released_at FROM payment_holds h JOIN persons p ON p.id = h.person_id WHERE 1 = 1",
            );
            if let Some(p) = person_id {
                qb.push(" AND h.person_id = ").push_bind(p);
            }
            if open_only {
                qb.push(" AND h.released_at IS NULL");
            }
            push_in(&mut qb, "p.commune_code", communes);
            qb.push(" ORDER BY h.released_at IS NOT NULL, h.id DESC LIMIT 500");
            qb.build_query_as::<HoldRow>().fetch_all(pool).await
        })?)
    }

    pub async fn hold(&self, id: i64) -> Result<Option<HoldRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HoldRow>(
            "SELECT h.id, h.person_id, p.personal_id, p.full_name, p.commune_code, h.reason, h.created_by, h.created_at, \
             h.released_by, h.released_at FROM payment_holds h JOIN persons p ON p.id = h.person_id WHERE h.id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn hold_person(&self, person_id: i64, reason: &str, by: &str, audit: &AuditEntry) -> Result<i64> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO payment_holds (person_id, reason, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(person_id)
            .bind(reason)
            .bind(by)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::from_write(e, "hold"))?;
            let mut a = audit.clone();
            a.entity_id = Some(id.to_string());
            append_in_tx!(tx, &a);
            id
        })
    }

    /// Releases an open hold; false if it was not open.
    pub async fn release_hold(&self, id: i64, by: &str, audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE payment_holds SET released_by = $1, released_at = $2 WHERE id = $3 AND released_at IS NULL",
            )
            .bind(by)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                append_in_tx!(tx, audit);
            }
            n == 1
        })
    }

    /// Replaces the lines of a draft (or checked: it goes back to draft) cycle with
    /// `lines`, records the generation and the pack text, and appends `audit` — one
    /// transaction. The caller holds the generation lock, which this releases.
    pub async fn write_cycle(
        &self,
        cycle_id: i64,
        g: &Generation,
        lines: Vec<NewLine>,
        audit: &AuditEntry,
    ) -> Result<()> {
        let now = crate::now_text();
        let payable: Vec<&NewLine> = lines.iter().filter(|l| l.status == "pay").collect();
        let (n, payable_n, total) =
            (lines.len() as i64, payable.len() as i64, payable.iter().map(|l| l.amount).sum::<i64>());
        drop(payable);
        match self {
            Store::Sqlite(pool) => {
                let path = crate::sqlite::db_path(pool);
                let (g, audit) = (g.clone(), audit.clone());
                tokio::task::spawn_blocking(move || {
                    crate::sqlite_bulk::write_cycle(&path, cycle_id, &g, &lines, (n, payable_n, total), &now, &audit)
                })
                .await
                .map_err(|e| StoreError::Bulk(format!("cycle write task: {e}")))??;
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                // one generation writes lines at a time: ids are allocated as a block
                sqlx::query("LOCK TABLE payment_lines IN EXCLUSIVE MODE").execute(&mut *tx).await?;
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM payment_cycles WHERE id = $1 FOR UPDATE")
                        .bind(cycle_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                match status.as_deref() {
                    Some("draft") | Some("checked") => {}
                    Some(s) => {
                        return Err(StoreError::Invalid(format!("payment cycle {cycle_id} is {s}, not a draft")))
                    }
                    None => return Err(StoreError::NotFound(format!("payment cycle {cycle_id}"))),
                }
                sqlx::query("UPDATE payment_cycles SET status = 'draft' WHERE id = $1")
                    .bind(cycle_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM payment_items WHERE line_id IN (SELECT id FROM payment_lines WHERE cycle_id = $1)",
                )
                .bind(cycle_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM payment_lines WHERE cycle_id = $1").bind(cycle_id).execute(&mut *tx).await?;
                sqlx::query(
                    "INSERT INTO policy_snapshots (version, files, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (version) DO NOTHING",
                )
                .bind(&g.pack_version)
                .bind(&g.pack_files)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                let first = max_line_id_sqlx(&mut *tx).await? + 1;
                use crate::bulk::{csv_field, csv_int};
                let ids: Vec<i64> = (first..first + n).collect();
                let rows: Vec<(i64, &NewLine)> = ids.iter().copied().zip(lines.iter()).collect();
                crate::bulk::pg_copy_rows(
                    &mut tx,
                    "COPY payment_lines (id, cycle_id, person_id, personal_id, full_name, commune_code, payee_name, \
                     payee_personal_id, method, bank_name, account_no, amount, status, reason, facts) \
                     FROM STDIN (FORMAT csv)",
                    &rows,
                    |(id, l), b| {
                        csv_int(*id, true, b);
                        csv_int(cycle_id, false, b);
                        csv_int(l.person_id, false, b);
                        csv_field(Some(&l.personal_id), false, b);
                        csv_field(Some(&l.full_name), false, b);
                        csv_field(Some(&l.commune_code), false, b);
                        csv_field(l.payee_name.as_deref(), false, b);
                        csv_field(l.payee_personal_id.as_deref(), false, b);
                        csv_field(Some(l.method), false, b);
                        csv_field(l.bank_name.as_deref(), false, b);
                        csv_field(l.account_no.as_deref(), false, b);
                        csv_int(l.amount, false, b);
                        csv_field(Some(l.status), false, b);
                        csv_field(l.reason.as_deref(), false, b);
                        csv_field(Some(&l.facts), false, b);
                        b.push(b'\n');
                    },
                )
                .await
                .map_err(|e| match e {
                    StoreError::Query(q) => StoreError::from_write(q, "payment line"),
                    e => e,
                })?;
                let items: Vec<(i64, &NewItem)> =
                    rows.iter().flat_map(|(id, l)| l.items.iter().map(move |i| (*id, i))).collect();
                crate::bulk::pg_copy_rows(
                    &mut tx,
                    "COPY payment_items (line_id, item, for_month, kind, amount) FROM STDIN (FORMAT csv)",
                    &items,
                    |(id, i), b| {
                        csv_int(*id, true, b);
                        csv_field(Some(&i.item), false, b);
                        csv_field(Some(&i.for_month), false, b);
                        csv_field(Some(i.kind), false, b);
                        csv_int(i.amount, false, b);
                        b.push(b'\n');
                    },
                )
                .await?;
                sqlx::query(
                    "UPDATE payment_cycles SET pack_version = $1, arrears_from = $2, lines = $3, payable_lines = $4, \
                     total = $5, digest = NULL, generating_since = NULL, generated_by = $6, generated_at = $7, \
                     checked_by = NULL, checked_at = NULL WHERE id = $8",
                )
                .bind(&g.pack_version)
                .bind(&g.arrears_from)
                .bind(n)
                .bind(payable_n)
                .bind(total)
                .bind(&g.by)
                .bind(&g.started_at)
                .bind(cycle_id)
                .execute(&mut *tx)
                .await?;
                append_in_tx!(tx, audit);
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Moves a cycle from `from` to `to`, stamping `{to}_by`/`{to}_at`, when the extra SQL
    /// condition `guard` (on table alias-free columns) holds; false when it did not
    /// (the caller has checked the reasons, this closes races). `digest` is stored on
    /// approval.
    pub async fn advance_cycle(
        &self,
        id: i64,
        (from, to): (&[&str], &str),
        by: &str,
        guard: &str,
        digest: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        let stamp = match to {
            "checked" => "checked_by = $2, checked_at = $3",
            "approved" => "approved_by = $2, approved_at = $3",
            "exported" => "exported_by = $2, exported_at = $3",
            "closed" => "closed_by = $2, closed_at = $3",
            // `reconciled` is reached by recording results (`record_results`)
            _ => return Err(StoreError::Invalid(format!("a cycle cannot be moved to {to} this way"))),
        };
        let from_list = from.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE payment_cycles SET status = $1, {stamp}, digest = COALESCE($4, digest) \
             WHERE id = $5 AND status IN ({from_list}) AND generating_since IS NULL {guard}"
        );
        let pg = matches!(self, Store::Postgres(_));
        write_tx!(self, tx => {
            if pg {
                // one status change at a time (SQLite: BEGIN IMMEDIATE does the same), so
                // that the guards of two approvals see each other
                sqlx::query("LOCK TABLE payment_cycles IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
            }
            let n = sqlx::query(&sql)
                .bind(to)
                .bind(by)
                .bind(&now)
                .bind(digest)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1 {
                append_in_tx!(tx, audit);
            }
            n == 1
        })
    }

    /// The SHA-256 of a cycle's lines and items as stored (what approval fixes and
    /// `payments verify` checks): every field that decides who gets how much, in id order.
    pub async fn cycle_digest(&self, id: i64) -> Result<String> {
        use sha2::Digest;
        // the database writes each row's text (the same text on both backends), Rust hashes it
        let c = if matches!(self, Store::Postgres(_)) { " COLLATE \"C\"" } else { "" };
        let lines_sql = "SELECT 'L|' || id || '|' || person_id || '|' || personal_id || '|' || \
             COALESCE(payee_personal_id, '') || '|' || method || '|' || COALESCE(account_no, '') || '|' || amount || \
             '|' || status || '|' || full_name || '|' || commune_code || '|' || COALESCE(payee_name, '') || '|' || \
             COALESCE(bank_name, '') FROM payment_lines WHERE cycle_id = $1 ORDER BY id"
            .to_string();
        let items_sql = format!(
            "SELECT 'I|' || i.line_id || '|' || i.item || '|' || i.for_month || '|' || i.kind || '|' || i.amount \
             FROM payment_items i JOIN payment_lines l ON l.id = i.line_id WHERE l.cycle_id = $1 \
             ORDER BY i.line_id, i.for_month{c}, i.item{c}, i.kind{c}, i.amount"
        );
        if let Store::Sqlite(pool) = self {
            // a million rows: see `entitlement_inputs`
            let path = crate::sqlite::db_path(pool);
            return tokio::task::spawn_blocking(move || {
                crate::sqlite_bulk::hash_texts(
                    &path,
                    &[&lines_sql.replace("$1", "?1"), &items_sql.replace("$1", "?1")],
                    id,
                )
            })
            .await
            .map_err(|e| StoreError::Bulk(format!("digest task: {e}")))?;
        }
        let mut h = sha2::Sha256::new();
        for sql in [&lines_sql, &items_sql] {
            let rows = on_pool!(self, pool => sqlx::query_scalar::<_, String>(sql).bind(id).fetch_all(pool).await)?;
            for r in rows {
                h.update(r.as_bytes());
                h.update(b"\n");
            }
        }
        Ok(hex::encode(h.finalize()))
    }

    /// The pack files (JSON) of a policy version.
    pub async fn policy_snapshot(&self, version: &str) -> Result<Option<String>> {
        Ok(
            on_pool!(self, pool => sqlx::query_scalar::<_, String>("SELECT files FROM policy_snapshots WHERE version = $1")
            .bind(version)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// A person's lines, newest cycle first (the last 36).
    pub async fn person_payments(&self, person_id: i64) -> Result<Vec<PersonPaymentRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PersonPaymentRow>(
            "SELECT c.id AS cycle_id, c.month, c.kind AS cycle_kind, c.status AS cycle_status, l.id AS line_id, \
             l.method, l.amount, l.status, l.reason, l.result FROM payment_lines l \
             JOIN payment_cycles c ON c.id = l.cycle_id WHERE l.person_id = $1 ORDER BY c.month DESC, c.id DESC LIMIT 36",
        )
        .bind(person_id)
        .fetch_all(pool)
        .await)?)
    }

    /// One page of a cycle's lines.
    pub async fn cycle_lines(&self, cycle_id: i64, q: &LineQuery, page: Page) -> Result<Paged<LineRow>> {
        macro_rules! filtered {
            ($qb:expr) => {{
                let qb = &mut $qb;
                qb.push(" WHERE cycle_id = ").push_bind(cycle_id);
                push_in(qb, "commune_code", q.communes.as_deref());
                if let Some(c) = &q.commune {
                    qb.push(" AND commune_code = ").push_bind(c.clone());
                }
                if let Some(s) = &q.status {
                    qb.push(" AND status = ").push_bind(s.clone());
                }
                if let Some(m) = &q.method {
                    qb.push(" AND method = ").push_bind(m.clone());
                }
                match q.result.as_deref() {
                    Some("none") => {
                        qb.push(" AND result IS NULL");
                    }
                    Some(r) => {
                        qb.push(" AND result = ").push_bind(r.to_string());
                    }
                    None => {}
                }
                if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    qb.push(" AND (personal_id = ").push_bind(text.to_string());
                    let prefix = text.replace(['%', '_', '\\'], "");
                    qb.push(" OR full_name LIKE ").push_bind(format!("{prefix}%")).push(")");
                }
            }};
        }
        let (total, items) = on_pool!(self, pool => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM payment_lines");
            filtered!(count);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            let mut qb = QueryBuilder::new(format!("SELECT {LINE_COLUMNS} FROM payment_lines"));
            filtered!(qb);
            qb.push(" ORDER BY commune_code, id LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
            let items: Vec<LineRow> = qb.build_query_as().fetch_all(pool).await?;
            (total, items)
        });
        Ok(Paged { items, total, page: page.page, per_page: page.per_page })
    }

    /// Every line of a cycle (of one commune, of one method, of one status), in commune
    /// and id order: for files and printed lists.
    pub async fn cycle_lines_all(
        &self,
        cycle_id: i64,
        commune: Option<&str>,
        method: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<LineRow>> {
        Ok(on_pool!(self, pool => {
            let mut qb = QueryBuilder::new(format!("SELECT {LINE_COLUMNS} FROM payment_lines WHERE cycle_id = "));
            qb.push_bind(cycle_id);
            if let Some(c) = commune {
                qb.push(" AND commune_code = ").push_bind(c.to_string());
            }
            if let Some(m) = method {
                qb.push(" AND method = ").push_bind(m.to_string());
            }
            if let Some(s) = status {
                qb.push(" AND status = ").push_bind(s.to_string());
            }
            qb.push(" ORDER BY commune_code, id");
            qb.build_query_as::<LineRow>().fetch_all(pool).await
        })?)
    }

    pub async fn cycle_line(&self, id: i64) -> Result<Option<LineRow>> {
        let sql = format!("SELECT {LINE_COLUMNS} FROM payment_lines WHERE id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, LineRow>(&sql).bind(id).fetch_optional(pool).await)?)
    }

    /// The facts of a cycle's lines with ids above `after`, `limit` at a time, by id.
    pub async fn cycle_facts(&self, cycle_id: i64, after: i64, limit: i64) -> Result<Vec<(i64, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (i64, String)>(
            "SELECT id, facts FROM payment_lines WHERE cycle_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(cycle_id)
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// Items of the given lines, by line.
    pub async fn line_items(&self, line_ids: &[i64]) -> Result<Vec<ItemRow>> {
        if line_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, pool => {
            let mut qb = QueryBuilder::new("SELECT line_id, item, for_month, kind, amount FROM payment_items WHERE line_id IN (");
            let mut sep = qb.separated(", ");
            for id in line_ids {
                sep.push_bind(*id);
            }
            qb.push(") ORDER BY line_id, for_month, item");
            qb.build_query_as::<ItemRow>().fetch_all(pool).await
        })?)
    }

    /// Items of a whole cycle (of one commune), by line.
    pub async fn cycle_items(&self, cycle_id: i64, commune: Option<&str>) -> Result<Vec<ItemRow>> {
        Ok(on_pool!(self, pool => {
            let mut qb = QueryBuilder::new(
                "SELECT i.line_id, i.item, i.for_month, i.kind, i.amount FROM payment_items i \
                 JOIN payment_lines l ON l.id = i.line_id WHERE l.cycle_id = ",
            );
            qb.push_bind(cycle_id);
            if let Some(c) = commune {
                qb.push(" AND l.commune_code = ").push_bind(c.to_string());
            }
            qb.push(" ORDER BY i.line_id, i.for_month, i.item");
            qb.build_query_as::<ItemRow>().fetch_all(pool).await
        })?)
    }

    /// Sums of a cycle, by SQL over the stored lines (restricted to `communes`).
    pub async fn cycle_summary(&self, cycle_id: i64, communes: Option<&[String]>) -> Result<Summary> {
        let area = |col: &str| match communes {
            None => String::new(),
            Some(c) => {
                let list: Vec<String> =
                    c.iter().filter(|s| s.bytes().all(|b| b.is_ascii_digit())).map(|s| format!("'{s}'")).collect();
                format!(" AND {col} IN ({})", if list.is_empty() { "''".to_string() } else { list.join(", ") })
            }
        };
        let l_area = area("commune_code");
        let i_area = area("l.commune_code");
        let by_commune = format!(
            "SELECT commune_code, count(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payment_lines \
             WHERE cycle_id = $1 AND status = 'pay'{l_area} GROUP BY commune_code ORDER BY commune_code"
        );
        let by_item = format!(
            "SELECT i.item, i.kind, CAST(COALESCE(SUM(i.amount), 0) AS BIGINT) FROM payment_items i JOIN payment_lines l ON l.id = i.line_id \
             WHERE l.cycle_id = $1 AND l.status = 'pay'{i_area} GROUP BY i.item, i.kind ORDER BY i.item, i.kind"
        );
        let by_status = format!(
            "SELECT status, count(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payment_lines WHERE cycle_id = $1{l_area} \
             GROUP BY status ORDER BY status"
        );
        let by_method = format!(
            "SELECT method, count(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payment_lines WHERE cycle_id = $1 AND status = 'pay'{l_area} \
             GROUP BY method ORDER BY method"
        );
        let by_result = format!(
            "SELECT COALESCE(result, ''), count(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM payment_lines \
             WHERE cycle_id = $1 AND status = 'pay'{l_area} GROUP BY COALESCE(result, '') ORDER BY 1"
        );
        type T3 = (String, i64, i64);
        Ok(on_pool!(self, pool => Summary {
            by_commune: sqlx::query_as::<_, T3>(&by_commune).bind(cycle_id).fetch_all(pool).await?,
            by_item: sqlx::query_as::<_, (String, String, i64)>(&by_item).bind(cycle_id).fetch_all(pool).await?,
            by_status: sqlx::query_as::<_, T3>(&by_status).bind(cycle_id).fetch_all(pool).await?,
            by_method: sqlx::query_as::<_, T3>(&by_method).bind(cycle_id).fetch_all(pool).await?,
            by_result: sqlx::query_as::<_, T3>(&by_result).bind(cycle_id).fetch_all(pool).await?,
        }))
    }

    /// Records results of lines to pay, all or none; marks the cycle reconciled when no
    /// line to pay is left without a result. Returns whether it is now reconciled.
    pub async fn record_results(&self, cycle_id: i64, results: &[LineResult], audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        let lock_cycle = match self {
            Store::Sqlite(_) => "SELECT status FROM payment_cycles WHERE id = $1",
            Store::Postgres(_) => "SELECT status FROM payment_cycles WHERE id = $1 FOR UPDATE",
        };
        let create_temp = match self {
            Store::Sqlite(_) => {
                "CREATE TEMP TABLE IF NOT EXISTS result_in (line_id INTEGER PRIMARY KEY, result TEXT NOT NULL, note TEXT)"
            }
            Store::Postgres(_) => {
                "CREATE TEMP TABLE IF NOT EXISTS result_in (line_id BIGINT PRIMARY KEY, result TEXT NOT NULL, note TEXT) \
                 ON COMMIT DELETE ROWS"
            }
        };
        write_tx!(self, tx => {
            // FOR UPDATE (PostgreSQL): two result files of one cycle are recorded one after
            // the other, so the second sees the first's lines as recorded
            let status: Option<String> = sqlx::query_scalar(lock_cycle)
                .bind(cycle_id)
                .fetch_optional(&mut *tx)
                .await?;
            if status.as_deref() != Some("exported") {
                return Err(StoreError::Invalid(format!(
                    "payment cycle {cycle_id} is {}, results are recorded for exported cycles",
                    status.unwrap_or_else(|| "missing".into())
                )));
            }
            // set-based: the results into a temporary table, then one UPDATE … FROM, which
            // must touch exactly one open line to pay per result (else nothing is recorded)
            sqlx::query(create_temp).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM result_in").execute(&mut *tx).await?;
            for chunk in results.chunks(1000) {
                let mut qb = QueryBuilder::new("INSERT INTO result_in (line_id, result, note) ");
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.line_id).push_bind(r.result.clone()).push_bind(r.note.clone());
                });
                qb.build().execute(&mut *tx).await.map_err(|e| StoreError::from_write(e, "a result (a line twice?)"))?;
            }
            let n = sqlx::query(
                "UPDATE payment_lines SET result = r.result, result_note = r.note, result_at = $1 FROM result_in r \
                 WHERE payment_lines.id = r.line_id AND payment_lines.cycle_id = $2 AND payment_lines.status = 'pay' \
                 AND payment_lines.result IS NULL",
            )
            .bind(&now)
            .bind(cycle_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != results.len() as u64 {
                return Err(StoreError::Invalid(format!(
                    "{} of {} results are for lines that are not open lines to pay of cycle {cycle_id}",
                    results.len() as u64 - n,
                    results.len()
                )));
            }
            sqlx::query("DELETE FROM result_in").execute(&mut *tx).await?;
            let open: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM payment_lines WHERE cycle_id = $1 AND status = 'pay' AND result IS NULL",
            )
            .bind(cycle_id)
            .fetch_one(&mut *tx)
            .await?;
            if open == 0 {
                sqlx::query("UPDATE payment_cycles SET status = 'reconciled', reconciled_at = $1 WHERE id = $2")
                    .bind(&now)
                    .bind(cycle_id)
                    .execute(&mut *tx)
                    .await?;
            }
            append_in_tx!(tx, audit);
            open == 0
        })
    }

    /// Persons whose lines to pay failed or were returned in each of the last `n` monthly
    /// cycles that have results (up to and including `month`).
    pub async fn uncollected(&self, month: &str, n: i64, communes: Option<&[String]>) -> Result<Vec<Uncollected>> {
        Ok(on_pool!(self, pool => {
            let mut qb = QueryBuilder::new(
                "SELECT l.person_id, MAX(l.personal_id) AS personal_id, MAX(l.full_name) AS full_name, \
                 MAX(l.commune_code) AS commune_code, count(DISTINCT l.cycle_id) AS cycles, CAST(SUM(l.amount) AS BIGINT) AS amount \
                 FROM payment_lines l WHERE l.status = 'pay' AND l.result IN ('failed', 'returned') AND l.cycle_id IN \
                 (SELECT c.id FROM payment_cycles c WHERE c.kind = 'monthly' AND c.month <= ",
            );
            qb.push_bind(month.to_string());
            qb.push(
                " AND EXISTS (SELECT 1 FROM payment_lines r WHERE r.cycle_id = c.id AND r.result IS NOT NULL) \
                 ORDER BY c.month DESC LIMIT ",
            );
            qb.push_bind(n);
            qb.push(")");
            push_in(&mut qb, "l.commune_code", communes);
            qb.push(" GROUP BY l.person_id HAVING count(DISTINCT l.cycle_id) >= ");
            qb.push_bind(n);
            qb.push(" ORDER BY 4, 3 LIMIT 1000");
            qb.build_query_as::<Uncollected>().fetch_all(pool).await
        })?)
    }
}
