//! Complaints, denunciations and petitions: intake, the workflow's steps (each a conditional
//! update with its event and audit entry in one transaction), and satisfaction ratings.

use serde::Serialize;

use crate::audit::{append_in_tx, AuditEntry};
use crate::{on_pool, push_in, write_tx, Result, Store};

/// A case to record, checked by the caller.
#[derive(Debug, Clone, Default)]
pub struct NewComplaint {
    pub tracking_code: String,
    pub kind: String,
    pub channel: String,
    pub subject: String,
    pub title: String,
    pub content: String,
    pub filer_name: String,
    pub filer_personal_id: Option<String>,
    pub filer_phone: Option<String>,
    pub filer_address: Option<String>,
    pub person_id: Option<i64>,
    pub decision_ref: Option<String>,
    pub commune_code: String,
    pub agency_code: String,
    pub received_on: String,
    pub decision_known_on: Option<String>,
    pub late_note: Option<String>,
    pub acceptance_due: String,
    /// 2 for a second-instance complaint about the decision of `parent_id`
    pub instance: i64,
    pub parent_id: Option<i64>,
    /// Checked scans, stored in the same transaction as the case.
    pub attachments: Vec<NewAttachment>,
}

/// A checked attachment (type detected from the content, size within the limits).
#[derive(Debug, Clone, Default)]
pub struct NewAttachment {
    pub file_name: String,
    pub content_type: String,
    pub data: Vec<u8>,
    /// hex SHA-256 of `data`
    pub sha256: String,
}

/// An attachment as listed with its case (without the content).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AttachmentMeta {
    pub id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct ComplaintRow {
    pub id: i64,
    pub tracking_code: String,
    pub kind: String,
    pub channel: String,
    pub subject: String,
    pub title: String,
    pub content: String,
    pub filer_name: String,
    pub filer_personal_id: Option<String>,
    pub filer_phone: Option<String>,
    pub filer_address: Option<String>,
    pub person_id: Option<i64>,
    pub decision_ref: Option<String>,
    pub commune_code: String,
    pub agency_code: String,
    pub received_on: String,
    pub decision_known_on: Option<String>,
    pub late_note: Option<String>,
    pub instance: i64,
    pub parent_id: Option<i64>,
    pub status: String,
    pub variant: String,
    pub complex_note: Option<String>,
    pub acceptance_due: String,
    pub accepted_on: Option<String>,
    pub resolution_due: Option<String>,
    pub assigned_to: Option<String>,
    pub outcome: Option<String>,
    pub outcome_note: Option<String>,
    pub decided_on: Option<String>,
    pub notified_on: Option<String>,
    pub closed_on: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ComplaintEvent {
    pub action: String,
    pub actor: String,
    pub at: String,
    pub note: String,
}

/// One step of the workflow: the states it starts from and the columns it sets.
#[derive(Debug, Clone)]
pub enum Step {
    Accept {
        accepted_on: String,
        resolution_due: String,
        assigned_to: String,
        variant: String,
        complex_note: Option<String>,
    },
    Refuse {
        note: String,
        on: String,
    },
    Verify,
    Decide {
        outcome: String,
        note: String,
        on: String,
    },
    Notify {
        on: String,
    },
    Close {
        on: String,
    },
}

impl Step {
    fn action(&self) -> &'static str {
        match self {
            Step::Accept { .. } => "accepted",
            Step::Refuse { .. } => "refused",
            Step::Verify => "verifying",
            Step::Decide { .. } => "decided",
            Step::Notify { .. } => "notified",
            Step::Close { .. } => "closed",
        }
    }

    /// The states this step may start from.
    pub fn from_states(&self) -> &'static [&'static str] {
        match self {
            Step::Accept { .. } | Step::Refuse { .. } => &["received"],
            Step::Verify => &["accepted"],
            Step::Decide { .. } => &["accepted", "verifying"],
            Step::Notify { .. } => &["decided"],
            Step::Close { .. } => &["notified", "refused"],
        }
    }
}

/// A social-assistance beneficiary as the public posting lists them (nothing sensitive is read).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PostingRow {
    pub full_name: String,
    pub birth_year: String,
    pub group_code: String,
    pub hiv: bool,
    pub decision_no: String,
    pub decision_date: String,
    pub valid_from: String,
}

/// Per agency and commune: ratings and their sum.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SatisfactionRow {
    pub agency_code: String,
    pub commune_code: String,
    pub ratings: i64,
    pub score_sum: i64,
}

macro_rules! insert_attachment {
    ($tx:expr, $id:expr, $a:expr, $by:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO complaint_attachments (complaint_id, file_name, content_type, size, sha256, data, uploaded_by, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($id)
        .bind(&$a.file_name)
        .bind(&$a.content_type)
        .bind(i64::try_from($a.data.len()).unwrap_or(i64::MAX))
        .bind(&$a.sha256)
        .bind(&$a.data)
        .bind($by)
        .bind($now)
        .execute(&mut *$tx)
        .await?
    };
}

/// Records one event of a case inside the step's transaction.
macro_rules! event {
    ($tx:expr, $id:expr, $action:expr, $by:expr, $now:expr, $note:expr) => {
        sqlx::query("INSERT INTO complaint_events (complaint_id, action, actor, at, note) VALUES ($1, $2, $3, $4, $5)")
            .bind($id)
            .bind($action)
            .bind($by)
            .bind($now)
            .bind($note)
            .execute(&mut *$tx)
            .await?
    };
}

impl Store {
    /// Records a case with its first event and the audit entry; the id.
    pub async fn insert_complaint(&self, c: &NewComplaint, by: &str, audit: &AuditEntry) -> Result<i64> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO complaints (tracking_code, kind, channel, subject, title, content, filer_name, filer_personal_id, \
                 filer_phone, filer_address, person_id, decision_ref, commune_code, agency_code, received_on, decision_known_on, \
                 late_note, acceptance_due, created_by, created_at, instance, parent_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) RETURNING id",
            )
            .bind(&c.tracking_code).bind(&c.kind).bind(&c.channel).bind(&c.subject).bind(&c.title).bind(&c.content)
            .bind(&c.filer_name).bind(&c.filer_personal_id).bind(&c.filer_phone).bind(&c.filer_address).bind(c.person_id)
            .bind(&c.decision_ref).bind(&c.commune_code).bind(&c.agency_code).bind(&c.received_on).bind(&c.decision_known_on)
            .bind(&c.late_note).bind(&c.acceptance_due).bind(by).bind(&now).bind(c.instance.max(1)).bind(c.parent_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| crate::StoreError::from_write(e, "complaint"))?;
            event!(tx, id, "received", by, &now, c.late_note.clone().unwrap_or_default());
            for a in &c.attachments {
                insert_attachment!(tx, id, a, by, &now);
            }
            let mut a = audit.clone();
            a.entity_id = Some(id.to_string());
            append_in_tx!(tx, &a);
            id
        })
    }

    /// Complaints and petitions about a person's dossier (never denunciations: their link could
    /// point at the denouncer), newest first.
    pub async fn person_complaints(&self, person_id: i64) -> Result<Vec<ComplaintRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ComplaintRow>(
            "SELECT * FROM complaints WHERE person_id = $1 AND kind <> 'denunciation' ORDER BY id DESC LIMIT 50")
            .bind(person_id).fetch_all(pool).await)?)
    }

    pub async fn complaint(&self, id: i64) -> Result<Option<ComplaintRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ComplaintRow>("SELECT * FROM complaints WHERE id = $1")
            .bind(id).fetch_optional(pool).await)?)
    }

    pub async fn complaint_by_code(&self, code: &str) -> Result<Option<ComplaintRow>> {
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, ComplaintRow>("SELECT * FROM complaints WHERE tracking_code = $1")
            .bind(code).fetch_optional(pool).await)?,
        )
    }

    /// Cases in an area (None = province), optionally of one status, newest first (at most 500).
    pub async fn complaints(&self, status: Option<&str>, communes: Option<&[String]>) -> Result<Vec<ComplaintRow>> {
        let rows = on_pool!(self, pool => {
            let mut qb = sqlx::QueryBuilder::new("SELECT * FROM complaints WHERE 1 = 1");
            if let Some(s) = status {
                qb.push(" AND status = ").push_bind(s.to_string());
            }
            push_in(&mut qb, "commune_code", communes);
            // open cases first, so that the most urgent are never cut off by the limit
            qb.push(" ORDER BY CASE WHEN status IN ('closed', 'refused') THEN 1 ELSE 0 END, id DESC LIMIT 500");
            qb.build_query_as::<ComplaintRow>().fetch_all(pool).await
        })?;
        Ok(rows)
    }

    pub async fn complaint_events(&self, id: i64) -> Result<Vec<ComplaintEvent>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ComplaintEvent>(
            "SELECT action, actor, at, note FROM complaint_events WHERE complaint_id = $1 ORDER BY id")
            .bind(id).fetch_all(pool).await)?)
    }

    /// Takes a step if the case is in one of the step's starting states; false otherwise.
    pub async fn complaint_step(&self, id: i64, step: &Step, by: &str, note: &str, audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        let states = step.from_states();
        write_tx!(self, tx => {
            let mut qb: sqlx::QueryBuilder<'_, _> = sqlx::QueryBuilder::new("UPDATE complaints SET status = ");
            qb.push_bind(match step {
                Step::Accept { .. } => "accepted",
                Step::Refuse { .. } => "refused",
                Step::Verify => "verifying",
                Step::Decide { .. } => "decided",
                Step::Notify { .. } => "notified",
                Step::Close { .. } => "closed",
            });
            match step {
                Step::Accept { accepted_on, resolution_due, assigned_to, variant, complex_note } => {
                    qb.push(", accepted_on = ").push_bind(accepted_on.clone());
                    qb.push(", resolution_due = ").push_bind(resolution_due.clone());
                    qb.push(", assigned_to = ").push_bind(assigned_to.clone());
                    qb.push(", variant = ").push_bind(variant.clone());
                    qb.push(", complex_note = ").push_bind(complex_note.clone());
                }
                Step::Refuse { note, on } => {
                    qb.push(", outcome_note = ").push_bind(note.clone());
                    qb.push(", decided_on = ").push_bind(on.clone());
                }
                Step::Verify => {}
                Step::Decide { outcome, note, on } => {
                    qb.push(", outcome = ").push_bind(outcome.clone());
                    qb.push(", outcome_note = ").push_bind(note.clone());
                    qb.push(", decided_on = ").push_bind(on.clone());
                }
                Step::Notify { on } => {
                    qb.push(", notified_on = ").push_bind(on.clone());
                }
                Step::Close { on } => {
                    qb.push(", closed_on = ").push_bind(on.clone());
                }
            }
            qb.push(" WHERE id = ").push_bind(id);
            if matches!(step, Step::Verify | Step::Decide { .. }) {
                // not while the clock is suspended: resume first
                qb.push(" AND NOT EXISTS (SELECT 1 FROM complaint_suspensions s WHERE s.complaint_id = complaints.id AND s.resumed_on IS NULL)");
            }
            qb.push(" AND status IN (");
            let mut sep = qb.separated(", ");
            for s in states {
                sep.push_bind(s.to_string());
            }
            qb.push(")");
            let n = qb.build().execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            event!(tx, id, step.action(), by, &now, note);
            append_in_tx!(tx, audit);
            true
        })
    }

    /// The suspensions of a case, in order: (suspended on, resumed on).
    pub async fn complaint_suspensions(&self, id: i64) -> Result<Vec<(String, Option<String>)>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, (String, Option<String>)>(
            "SELECT suspended_on, resumed_on FROM complaint_suspensions WHERE complaint_id = $1 ORDER BY id")
            .bind(id).fetch_all(pool).await)?)
    }

    /// Suspends the clock of an accepted case (none open already); false otherwise.
    pub async fn suspend_complaint(
        &self,
        id: i64,
        on: &str,
        reason: &str,
        by: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query(
                "INSERT INTO complaint_suspensions (complaint_id, suspended_on, reason) \
                 SELECT id, $2, $3 FROM complaints WHERE id = $1 AND status IN ('accepted', 'verifying') \
                   AND NOT EXISTS (SELECT 1 FROM complaint_suspensions s WHERE s.complaint_id = $1 AND s.resumed_on IS NULL)",
            )
            .bind(id).bind(on).bind(reason).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query("UPDATE complaints SET resolution_due = NULL WHERE id = $1").bind(id).execute(&mut *tx).await?;
            event!(tx, id, "suspended", by, &now, reason);
            append_in_tx!(tx, audit);
            true
        })
    }

    /// Resumes a suspended case with its new resolution deadline; false when none is open.
    pub async fn resume_complaint(
        &self,
        id: i64,
        on: &str,
        resolution_due: &str,
        by: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE complaint_suspensions SET resumed_on = $2 WHERE complaint_id = $1 AND resumed_on IS NULL \
                 AND EXISTS (SELECT 1 FROM complaints c WHERE c.id = $1 AND c.status IN ('accepted', 'verifying'))",
            )
                .bind(id).bind(on).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query("UPDATE complaints SET resolution_due = $2 WHERE id = $1").bind(id).bind(resolution_due).execute(&mut *tx).await?;
            event!(tx, id, "resumed", by, &now, "");
            append_in_tx!(tx, audit);
            true
        })
    }

    /// Extends the handling time of an accepted case that is in `from_variant` (a written
    /// determination in `note`): its new variant, the determination and the new deadline (None
    /// while the clock is suspended). False when the case moved on meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub async fn extend_complaint(
        &self,
        id: i64,
        from_variant: &str,
        to_variant: &str,
        resolution_due: Option<&str>,
        note: &str,
        by: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE complaints SET variant = $3, resolution_due = $4, \
                 complex_note = CASE WHEN complex_note IS NULL OR complex_note = '' THEN $5 ELSE complex_note || ' | ' || $5 END \
                 WHERE id = $1 AND variant = $2 AND status IN ('accepted', 'verifying')",
            )
            .bind(id).bind(from_variant).bind(to_variant).bind(resolution_due).bind(note)
            .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            event!(tx, id, "extended", by, &now, note);
            append_in_tx!(tx, audit);
            true
        })
    }

    /// Adds checked attachments to a case that is not closed; false when it is closed (or gone).
    pub async fn add_attachments(
        &self,
        id: i64,
        files: &[NewAttachment],
        by: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let open: Option<i64> = sqlx::query_scalar("SELECT id FROM complaints WHERE id = $1 AND status NOT IN ('closed', 'refused')")
                .bind(id).fetch_optional(&mut *tx).await?;
            if open.is_none() {
                return Ok(false);
            }
            for a in files {
                insert_attachment!(tx, id, a, by, &now);
            }
            // the count only: file names may name a denouncer, and every reader sees the history
            event!(tx, id, "attached", by, &now, format!("{} tệp", files.len()));
            append_in_tx!(tx, audit);
            true
        })
    }

    /// The attachments of a case, oldest first (without their content).
    pub async fn attachments(&self, complaint_id: i64) -> Result<Vec<AttachmentMeta>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AttachmentMeta>(
            "SELECT id, file_name, content_type, size, sha256, uploaded_by, uploaded_at FROM complaint_attachments \
             WHERE complaint_id = $1 ORDER BY id")
            .bind(complaint_id).fetch_all(pool).await)?)
    }

    /// One attachment of a case with its content.
    pub async fn attachment(&self, complaint_id: i64, id: i64) -> Result<Option<(AttachmentMeta, Vec<u8>)>> {
        let meta = on_pool!(self, pool => sqlx::query_as::<_, AttachmentMeta>(
            "SELECT id, file_name, content_type, size, sha256, uploaded_by, uploaded_at FROM complaint_attachments \
             WHERE complaint_id = $1 AND id = $2")
            .bind(complaint_id).bind(id).fetch_optional(pool).await)?;
        let Some(meta) = meta else { return Ok(None) };
        let data: Vec<u8> = on_pool!(self, pool => sqlx::query_scalar("SELECT data FROM complaint_attachments WHERE id = $1")
            .bind(id).fetch_one(pool).await)?;
        Ok(Some((meta, data)))
    }

    /// Records a rating of a closed case; false when the case is not closed or already rated.
    pub async fn rate_complaint(&self, id: i64, score: i64, comment: &str, audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query(
                "INSERT INTO satisfaction_ratings (complaint_id, agency_code, commune_code, score, comment, rated_at) \
                 SELECT id, agency_code, commune_code, $2, $3, $4 FROM complaints WHERE id = $1 AND status = 'closed' \
                 ON CONFLICT (complaint_id) DO NOTHING",
            )
            .bind(id).bind(score).bind(comment).bind(&now)
            .execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                append_in_tx!(tx, audit);
            }
            n == 1
        })
    }

    /// Whether a second-instance complaint was filed about this case.
    pub async fn complaint_escalated(&self, id: i64) -> Result<bool> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT count(*) FROM complaints WHERE parent_id = $1")
            .bind(id).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    pub async fn complaint_rated(&self, id: i64) -> Result<bool> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT count(*) FROM satisfaction_ratings WHERE complaint_id = $1")
            .bind(id).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    /// The social-assistance beneficiaries in force in a commune on `day`, by name — for the
    /// public posting (niêm yết). Anyone with an HIV group or an HIV-marked record is left out
    /// altogether: a label of their own would single them out.
    pub async fn posting(&self, commune: &str, day: &str) -> Result<Vec<PostingRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PostingRow>(
            "SELECT p.full_name, substr(p.birth_date, 1, 4) AS birth_year, a.group_code, a.hiv, a.decision_no, a.decision_date, \
                    a.valid_from FROM assistance_records a JOIN persons p ON p.id = a.person_id \
             WHERE p.commune_code = $1 AND a.valid_from <= $2 AND (a.valid_to IS NULL OR a.valid_to >= $2) \
               AND (p.deceased_on IS NULL OR p.deceased_on > $2) \
               AND NOT a.hiv AND a.group_code NOT IN ('k3', 'k8') \
               AND NOT EXISTS (SELECT 1 FROM assistance_records h WHERE h.person_id = p.id AND (h.hiv OR h.group_code IN ('k3', 'k8'))) \
             ORDER BY p.name_key, p.id, a.id LIMIT 5000")
            .bind(commune).bind(day).fetch_all(pool).await)?)
    }

    /// Ratings per agency and commune.
    pub async fn satisfaction(&self) -> Result<Vec<SatisfactionRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SatisfactionRow>(
            "SELECT agency_code, commune_code, count(*) AS ratings, CAST(sum(score) AS BIGINT) AS score_sum FROM ( \
               SELECT agency_code, commune_code, score FROM satisfaction_ratings \
               UNION ALL SELECT agency_code, commune_code, score FROM payment_ratings) r \
             GROUP BY agency_code, commune_code ORDER BY agency_code, commune_code")
            .fetch_all(pool).await)?)
    }

    /// Closed complaints and those of them decided by their resolution deadline, per commune.
    pub async fn complaints_on_time(&self) -> Result<Vec<crate::plans::CommuneCount>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, crate::plans::CommuneCount>(
            "SELECT commune_code, sum(CASE WHEN decided_on IS NOT NULL AND resolution_due IS NOT NULL AND decided_on <= resolution_due THEN 1 ELSE 0 END) AS n, \
             count(*) AS of FROM complaints WHERE status = 'closed' AND accepted_on IS NOT NULL GROUP BY commune_code ORDER BY commune_code")
            .fetch_all(pool).await)?)
    }
}
