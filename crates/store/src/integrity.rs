//! Integrity: what the checks read, the cases they open, and the review queue.

use serde::Serialize;
use sqlx::QueryBuilder;

use crate::audit::{append_in_tx, AuditEntry};
use crate::{on_pool, push_in, write_tx, Page, Paged, Result, Store, StoreError};

/// Payment cycles whose lines count as paid (or about to be).
const PAID_CYCLES: &str = "('approved', 'exported', 'reconciled', 'closed')";

/// A person as the checks see them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckPerson {
    pub id: i64,
    pub personal_id: String,
    pub full_name: String,
    pub birth_date: String,
    pub sex: String,
    pub commune_code: String,
    pub deceased_on: Option<String>,
    pub household_id: Option<i64>,
}

/// A case as the checks propose it.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub check_code: &'static str,
    pub case_key: String,
    pub person_id: i64,
    pub other_person_id: Option<i64>,
    pub commune_code: String,
    pub score: Option<f64>,
    pub summary: String,
    pub evidence: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CaseRow {
    pub id: i64,
    pub check_code: String,
    pub person_id: i64,
    pub personal_id: String,
    pub full_name: String,
    pub other_person_id: Option<i64>,
    pub commune_code: String,
    pub score: Option<f64>,
    pub summary: String,
    #[serde(skip)]
    pub evidence: String,
    pub status: String,
    pub assigned_to: Option<String>,
    pub found_at: String,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolution_note: Option<String>,
    pub suspended_person_id: Option<i64>,
    pub hold_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub check_code: Option<String>,
    pub status: Option<String>,
    pub commune: Option<String>,
    pub assigned_to: Option<String>,
    /// The caller's area (None = province).
    pub communes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CaseStat {
    pub check_code: String,
    pub commune_code: String,
    pub open: i64,
    pub confirmed: i64,
    pub false_positive: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RecoveryRow {
    pub id: i64,
    pub case_id: i64,
    pub person_id: i64,
    pub amount: i64,
    pub reason: String,
    pub status: String,
    pub opened_by: String,
    pub opened_at: String,
}

/// Paid amounts per person for months after their recorded death.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaidAfterDeath {
    pub person_id: i64,
    pub deceased_on: String,
    pub months: i64,
    pub first_month: String,
    pub last_month: String,
    pub amount: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountHolder {
    pub account_no: String,
    pub bank_name: Option<String>,
    pub person_id: i64,
    pub household_id: Option<i64>,
    pub commune_code: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GroupInForce {
    pub person_id: i64,
    pub group_code: String,
    pub valid_from: String,
}

/// How a case is resolved.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Payments of `suspend` are suspended (a hold) and, when `recovery` is given, a
    /// recovery of that amount (đồng) is opened.
    Confirmed { suspend: i64, hold_reason: String, recovery: Option<i64> },
    /// For a pair: the two records are different people and are never flagged again.
    FalsePositive,
}

impl Store {
    /// Everyone in the registry, ordered by id (a million rows on a province: on SQLite
    /// read on a connection of its own, like `entitlement_inputs`).
    pub async fn check_persons(&self) -> Result<Vec<CheckPerson>> {
        let sql = "SELECT id, personal_id, full_name, birth_date, sex, commune_code, deceased_on, household_id \
                   FROM persons ORDER BY id";
        if let Store::Sqlite(pool) = self {
            return crate::sqlite_bulk::read_all_blocking(pool, sql.to_string(), Vec::new(), |r| {
                Ok(CheckPerson {
                    id: r.get(0)?,
                    personal_id: r.get(1)?,
                    full_name: r.get(2)?,
                    birth_date: r.get(3)?,
                    sex: r.get(4)?,
                    commune_code: r.get(5)?,
                    deceased_on: r.get(6)?,
                    household_id: r.get(7)?,
                })
            })
            .await;
        }
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CheckPerson>(sql).fetch_all(pool).await)?)
    }

    /// The persons with a payable line in the latest monthly cycle past checking, and
    /// that cycle's month (None when there is none).
    pub async fn paid_in_latest_cycle(&self) -> Result<(Option<String>, Vec<(i64, String)>)> {
        let latest: Option<(i64, String)> = on_pool!(self, pool => sqlx::query_as(&format!(
            "SELECT id, month FROM payment_cycles WHERE kind = 'monthly' AND status IN {PAID_CYCLES} \
             ORDER BY month DESC LIMIT 1"
        ))
        .fetch_optional(pool)
        .await)?;
        let Some((cycle, month)) = latest else { return Ok((None, Vec::new())) };
        let rows: Vec<(i64, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT person_id, commune_code FROM payment_lines WHERE cycle_id = $1 AND status = 'pay' AND amount > 0 \
             AND payee_personal_id IS NULL ORDER BY person_id",
        )
        .bind(cycle)
        .fetch_all(pool)
        .await)?;
        Ok((Some(month), rows))
    }

    /// Regular allowances paid (or to be paid) to deceased persons for months after the
    /// month of death: not the one-offs paid to a relative, not arrears for earlier months.
    pub async fn paid_after_death(&self) -> Result<Vec<PaidAfterDeath>> {
        let month_of_death = match self.backend() {
            crate::Backend::Sqlite => "substr(p.deceased_on, 1, 7)",
            crate::Backend::Postgres => "substring(p.deceased_on from 1 for 7)",
        };
        let sql = format!(
            "SELECT p.id AS person_id, p.deceased_on, count(DISTINCT i.for_month) AS months, MIN(i.for_month) AS first_month, \
             MAX(i.for_month) AS last_month, CAST(SUM(i.amount) AS BIGINT) AS amount \
             FROM persons p JOIN payment_lines l ON l.person_id = p.id JOIN payment_cycles c ON c.id = l.cycle_id \
             JOIN payment_items i ON i.line_id = l.id \
             WHERE p.deceased_on IS NOT NULL AND c.status IN {PAID_CYCLES} AND l.status = 'pay' \
             AND l.payee_personal_id IS NULL AND (l.result IS NULL OR l.result = 'paid') \
             AND i.kind IN ('regular', 'arrears', 'carried') AND i.amount > 0 AND i.for_month > {month_of_death} \
             GROUP BY p.id, p.deceased_on ORDER BY p.id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PaidAfterDeath>(&sql).fetch_all(pool).await)?)
    }

    /// Current bank accounts that more than one person is paid into.
    pub async fn shared_accounts(&self) -> Result<Vec<AccountHolder>> {
        let sql = "SELECT pm.account_no, pm.bank_name, pm.person_id, p.household_id, p.commune_code \
             FROM payment_methods pm JOIN persons p ON p.id = pm.person_id \
             WHERE pm.method = 'bank' AND pm.valid_to IS NULL AND pm.account_no IN \
               (SELECT account_no FROM payment_methods WHERE method = 'bank' AND valid_to IS NULL \
                AND account_no IS NOT NULL AND account_no <> '' GROUP BY account_no HAVING count(DISTINCT person_id) > 1) \
             ORDER BY pm.account_no, pm.person_id";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AccountHolder>(sql).fetch_all(pool).await)?)
    }

    /// Relationships among the given persons, as (person, related) pairs.
    pub async fn relationships_among(&self, persons: &[i64]) -> Result<Vec<(i64, i64)>> {
        if persons.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for part in persons.chunks(500) {
            let rows: Vec<(i64, i64)> = on_pool!(self, pool => {
                let mut qb = QueryBuilder::new("SELECT person_id, related_person_id FROM relationships WHERE person_id IN (");
                let mut sep = qb.separated(", ");
                for p in part {
                    sep.push_bind(*p);
                }
                qb.push(")");
                qb.build_query_as().fetch_all(pool).await
            })?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Social-assistance groups in force on `date` (ISO), ordered by person.
    pub async fn assistance_in_force(&self, date: &str) -> Result<Vec<GroupInForce>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, GroupInForce>(
            "SELECT person_id, group_code, valid_from FROM assistance_records \
             WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to >= $1) ORDER BY person_id, group_code",
        )
        .bind(date)
        .fetch_all(pool)
        .await)?)
    }

    /// The latest proof of life of each person who has one.
    pub async fn latest_life_proofs(&self) -> Result<Vec<(i64, String)>> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT person_id, MAX(proved_on) FROM life_proofs GROUP BY person_id ORDER BY person_id",
        )
        .fetch_all(pool)
        .await)?)
    }

    pub async fn record_life_proof(
        &self,
        person_id: i64,
        proved_on: &str,
        how: &str,
        by: &str,
        audit: &AuditEntry,
    ) -> Result<i64> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO life_proofs (person_id, proved_on, how, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(person_id)
            .bind(proved_on)
            .bind(how)
            .bind(by)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::from_write(e, "life proof"))?;
            append_in_tx!(tx, audit);
            id
        })
    }

    /// Pairs marked as different people, as (smaller id, larger id).
    pub async fn distinct_pairs(&self) -> Result<Vec<(i64, i64)>> {
        Ok(on_pool!(self, pool => sqlx::query_as("SELECT person_a, person_b FROM distinct_persons")
            .fetch_all(pool)
            .await)?)
    }

    pub async fn start_integrity_run(&self, by: &str) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO integrity_runs (started_by, started_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(by)
        .bind(crate::now_text())
        .fetch_one(pool)
        .await)?)
    }

    /// Records the run's cases in one transaction: new keys open new cases; keys seen
    /// before (whatever their status) only get `last_seen_run`. Returns the new cases.
    pub async fn record_integrity_run(
        &self,
        run: i64,
        cases: &[NewCase],
        summary: &str,
        audit: &AuditEntry,
    ) -> Result<u64> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let mut new = 0u64;
            for c in cases {
                let n = sqlx::query(
                    "INSERT INTO integrity_cases (check_code, case_key, person_id, other_person_id, commune_code, score, \
                     summary, evidence, found_run, found_at, last_seen_run) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9) ON CONFLICT (case_key) DO NOTHING",
                )
                .bind(c.check_code)
                .bind(&c.case_key)
                .bind(c.person_id)
                .bind(c.other_person_id)
                .bind(&c.commune_code)
                .bind(c.score)
                .bind(&c.summary)
                .bind(&c.evidence)
                .bind(run)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::from_write(e, "integrity case"))?
                .rows_affected();
                if n == 0 {
                    sqlx::query("UPDATE integrity_cases SET last_seen_run = $1 WHERE case_key = $2")
                        .bind(run)
                        .bind(&c.case_key)
                        .execute(&mut *tx)
                        .await?;
                }
                new += n;
            }
            sqlx::query("UPDATE integrity_runs SET finished_at = $1, summary = $2 WHERE id = $3")
                .bind(&now)
                .bind(summary)
                .bind(run)
                .execute(&mut *tx)
                .await?;
            append_in_tx!(tx, audit);
            new
        })
    }

    const CASE_COLUMNS: &'static str =
        "c.id, c.check_code, c.person_id, p.personal_id, p.full_name, c.other_person_id, \
         c.commune_code, c.score, c.summary, c.evidence, c.status, c.assigned_to, c.found_at, c.resolved_by, \
         c.resolved_at, c.resolution_note, c.suspended_person_id, c.hold_id";

    pub async fn integrity_cases(&self, q: &CaseQuery, page: Page) -> Result<Paged<CaseRow>> {
        on_pool!(self, pool => {
            let filter = |qb: &mut QueryBuilder<'_, _>| {
                if let Some(v) = &q.check_code {
                    qb.push(" AND c.check_code = ").push_bind(v.clone());
                }
                if let Some(v) = &q.status {
                    qb.push(" AND c.status = ").push_bind(v.clone());
                }
                if let Some(v) = &q.commune {
                    qb.push(" AND c.commune_code = ").push_bind(v.clone());
                }
                if let Some(v) = &q.assigned_to {
                    qb.push(" AND c.assigned_to = ").push_bind(v.clone());
                }
                push_in(qb, "c.commune_code", q.communes.as_deref());
            };
            let mut qb = QueryBuilder::new("SELECT count(*) FROM integrity_cases c WHERE 1 = 1");
            filter(&mut qb);
            let total: i64 = qb.build_query_scalar().fetch_one(pool).await?;
            let mut qb = QueryBuilder::new(format!(
                "SELECT {} FROM integrity_cases c JOIN persons p ON p.id = c.person_id WHERE 1 = 1",
                Self::CASE_COLUMNS
            ));
            filter(&mut qb);
            qb.push(
                " ORDER BY CASE c.status WHEN 'open' THEN 0 ELSE 1 END, CASE c.check_code WHEN 'paid_twice' THEN 0 \
                 WHEN 'deceased_paid' THEN 1 WHEN 'duplicate' THEN 2 WHEN 'shared_account' THEN 3 ELSE 4 END, \
                 COALESCE(c.score, 0) DESC, c.id LIMIT ",
            )
                .push_bind(page.limit())
                .push(" OFFSET ")
                .push_bind(page.offset());
            let items: Vec<CaseRow> = qb.build_query_as().fetch_all(pool).await?;
            Ok(Paged { items, total, page: page.page, per_page: page.per_page })
        })
    }

    pub async fn integrity_case(&self, id: i64) -> Result<Option<CaseRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CaseRow>(&format!(
            "SELECT {} FROM integrity_cases c JOIN persons p ON p.id = c.person_id WHERE c.id = $1",
            Self::CASE_COLUMNS
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Open, confirmed and false-positive cases per check and commune.
    pub async fn integrity_stats(&self, communes: Option<&[String]>) -> Result<Vec<CaseStat>> {
        on_pool!(self, pool => {
            let mut qb = QueryBuilder::new(
                "SELECT check_code, commune_code, \
                 CAST(SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS BIGINT) AS open, \
                 CAST(SUM(CASE WHEN status = 'confirmed' THEN 1 ELSE 0 END) AS BIGINT) AS confirmed, \
                 CAST(SUM(CASE WHEN status = 'false_positive' THEN 1 ELSE 0 END) AS BIGINT) AS false_positive \
                 FROM integrity_cases WHERE 1 = 1",
            );
            push_in(&mut qb, "commune_code", communes);
            qb.push(" GROUP BY check_code, commune_code ORDER BY check_code, commune_code");
            Ok(qb.build_query_as().fetch_all(pool).await?)
        })
    }

    /// Assigns an open case; false when it is not open.
    pub async fn assign_case(&self, id: i64, to: &str, by: &str, audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE integrity_cases SET assigned_to = $1, assigned_by = $2, assigned_at = $3 WHERE id = $4 AND status = 'open'",
            )
            .bind(to)
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

    /// Resolves an open case in one transaction with its consequences (hold, recovery,
    /// distinct pair) and the audit entry; false when the case was not open.
    pub async fn resolve_case(
        &self,
        id: i64,
        resolution: &Resolution,
        note: &str,
        by: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let case: Option<(i64, Option<i64>)> = sqlx::query_as(
                "SELECT person_id, other_person_id FROM integrity_cases WHERE id = $1 AND status = 'open'",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((person, other)) = case else {
                return Ok(false);
            };
            match resolution {
                Resolution::Confirmed { suspend, hold_reason, recovery } => {
                    let hold: i64 = sqlx::query_scalar(
                        "INSERT INTO payment_holds (person_id, reason, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                    )
                    .bind(suspend)
                    .bind(hold_reason)
                    .bind(by)
                    .bind(&now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "hold"))?;
                    if let Some(amount) = recovery.filter(|a| *a > 0) {
                        sqlx::query(
                            "INSERT INTO recoveries (case_id, person_id, amount, reason, opened_by, opened_at) \
                             VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(id)
                        .bind(suspend)
                        .bind(amount)
                        .bind(hold_reason)
                        .bind(by)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| StoreError::from_write(e, "recovery"))?;
                    }
                    sqlx::query(
                        "UPDATE integrity_cases SET status = 'confirmed', resolved_by = $1, resolved_at = $2, \
                         resolution_note = $3, suspended_person_id = $4, hold_id = $5 WHERE id = $6",
                    )
                    .bind(by)
                    .bind(&now)
                    .bind(note)
                    .bind(suspend)
                    .bind(hold)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                Resolution::FalsePositive => {
                    if let Some(o) = other {
                        let (a, b) = if person < o { (person, o) } else { (o, person) };
                        sqlx::query(
                            "INSERT INTO distinct_persons (person_a, person_b, case_id, decided_by, decided_at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person_a, person_b) DO NOTHING",
                        )
                        .bind(a)
                        .bind(b)
                        .bind(id)
                        .bind(by)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "UPDATE integrity_cases SET status = 'false_positive', resolved_by = $1, resolved_at = $2, \
                         resolution_note = $3 WHERE id = $4",
                    )
                    .bind(by)
                    .bind(&now)
                    .bind(note)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            append_in_tx!(tx, audit);
            true
        })
    }

    pub async fn case_recoveries(&self, case_id: i64) -> Result<Vec<RecoveryRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, RecoveryRow>(
            "SELECT id, case_id, person_id, amount, reason, status, opened_by, opened_at FROM recoveries WHERE case_id = $1 ORDER BY id",
        )
        .bind(case_id)
        .fetch_all(pool)
        .await)?)
    }

    /// What was paid to a person (payable lines of cycles past checking, not failed or
    /// returned): the amount a confirmed duplicate record has received.
    pub async fn paid_total(&self, person_id: i64) -> Result<i64> {
        let v: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(&format!(
            "SELECT CAST(SUM(l.amount) AS BIGINT) FROM payment_lines l JOIN payment_cycles c ON c.id = l.cycle_id \
             WHERE l.person_id = $1 AND l.status = 'pay' AND c.status IN {PAID_CYCLES} \
             AND (l.result IS NULL OR l.result = 'paid')"
        ))
        .bind(person_id)
        .fetch_one(pool)
        .await)?;
        Ok(v.unwrap_or(0))
    }

    /// Open cases of a person (for the dossier).
    pub async fn person_cases(&self, person_id: i64) -> Result<Vec<CaseRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CaseRow>(&format!(
            "SELECT {} FROM integrity_cases c JOIN persons p ON p.id = c.person_id \
             WHERE c.person_id = $1 OR c.other_person_id = $1 ORDER BY c.id DESC LIMIT 50",
            Self::CASE_COLUMNS
        ))
        .bind(person_id)
        .fetch_all(pool)
        .await)?)
    }
}

impl Store {
    /// Demo data only: records deaths directly (as a death reported after the payroll
    /// looks), without a change request. Never used outside `ansinh demo` and tests.
    pub async fn demo_record_deaths(&self, person_ids: &[i64], deceased_on: &str) -> Result<u64> {
        let mut n = 0;
        for id in person_ids {
            n += on_pool!(self, pool => sqlx::query(
                "UPDATE persons SET deceased_on = $1, status = 'deceased' WHERE id = $2 AND deceased_on IS NULL",
            )
            .bind(deceased_on)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(n)
    }
}
