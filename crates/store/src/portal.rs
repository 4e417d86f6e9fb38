//! The citizen's self-service lookup: one-time codes (only salted hashes), failed attempts and
//! SMS sends per typed personal ID (the per-ID rate limit, shared by every server process),
//! short citizen sessions, and ratings of paid payment lines.

use serde::Serialize;

use crate::audit::{append_in_tx, AuditEntry};
use crate::{on_pool, write_tx, Result, Store};

/// A code to keep (its hash) for a person.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub person_id: i64,
    /// `decision` (printed, reusable until it expires or is replaced) or `sms` (used once)
    pub channel: String,
    pub salt: String,
    pub code_hash: String,
    pub issued_by: String,
    pub expires_at: String,
}

/// A code that may still be presented.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LiveCode {
    pub id: i64,
    pub channel: String,
    pub salt: String,
    pub code_hash: String,
}

/// A rating of a payment line and what it is about.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PaymentRating {
    pub line_id: i64,
    pub score: i64,
}

impl Store {
    /// Keeps a new code; a printed (decision) code replaces the person's earlier printed ones.
    pub async fn issue_portal_code(&self, c: &NewCode, audit: &AuditEntry) -> Result<()> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            if c.channel == "decision" {
                sqlx::query("UPDATE portal_codes SET revoked_at = $2 WHERE person_id = $1 AND channel = 'decision' AND revoked_at IS NULL")
                    .bind(c.person_id).bind(&now).execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO portal_codes (person_id, channel, salt, code_hash, issued_by, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(c.person_id).bind(&c.channel).bind(&c.salt).bind(&c.code_hash).bind(&c.issued_by).bind(&now).bind(&c.expires_at)
            .execute(&mut *tx).await?;
            append_in_tx!(tx, audit);
        })
    }

    /// The person's codes that are neither expired, used, nor replaced at `now`.
    pub async fn live_portal_codes(&self, person_id: i64, now: &str) -> Result<Vec<LiveCode>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, LiveCode>(
            "SELECT id, channel, salt, code_hash FROM portal_codes WHERE person_id = $1 AND expires_at > $2 \
             AND used_at IS NULL AND revoked_at IS NULL ORDER BY id DESC LIMIT 20")
            .bind(person_id).bind(now).fetch_all(pool).await)?)
    }

    /// Records a failed identification or an SMS send for a typed personal ID.
    pub async fn portal_attempt(&self, personal_id: &str, kind: &str) -> Result<()> {
        let now = crate::now_text();
        on_pool!(self, pool => sqlx::query("INSERT INTO portal_attempts (personal_id, kind, at) VALUES ($1, $2, $3)")
            .bind(personal_id).bind(kind).bind(&now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// How many attempts of `kind` for a typed personal ID since `since`.
    pub async fn portal_attempts_since(&self, personal_id: &str, kind: &str, since: &str) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM portal_attempts WHERE personal_id = $1 AND kind = $2 AND at >= $3")
            .bind(personal_id).bind(kind).bind(since).fetch_one(pool).await)?)
    }

    /// Opens a citizen session after a successful identification: marks a one-time (SMS) code
    /// used — false if it was used meanwhile —, forgets the ID's failures, keeps the session and
    /// the audit entry, in one transaction.
    pub async fn open_portal_session(
        &self,
        code: Option<&LiveCode>,
        personal_id: &str,
        person_id: i64,
        token_hash: &str,
        expires_at: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            if let Some(code) = code.filter(|c| c.channel == "sms") {
                let n = sqlx::query("UPDATE portal_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
                    .bind(code.id).bind(&now).execute(&mut *tx).await?.rows_affected();
                if n == 0 {
                    return Ok(false);
                }
            }
            sqlx::query("DELETE FROM portal_attempts WHERE personal_id = $1 AND kind = 'failure'")
                .bind(personal_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM portal_sessions WHERE expires_at <= $1").bind(&now).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO portal_sessions (token_hash, person_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(token_hash).bind(person_id).bind(&now).bind(expires_at).execute(&mut *tx).await?;
            append_in_tx!(tx, audit);
            true
        })
    }

    /// Keeps the state and nonce of an OpenID Connect login under way.
    pub async fn put_oidc_state(&self, state: &str, nonce: &str) -> Result<()> {
        let now = crate::now_text();
        on_pool!(self, pool => sqlx::query("INSERT INTO portal_oidc_states (state, nonce, created_at) VALUES ($1, $2, $3)")
            .bind(state).bind(nonce).bind(&now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Takes (once) the nonce of a state created since `since`; stale states are dropped.
    pub async fn take_oidc_state(&self, state: &str, since: &str) -> Result<Option<String>> {
        write_tx!(self, tx => {
            let nonce: Option<String> = sqlx::query_scalar("SELECT nonce FROM portal_oidc_states WHERE state = $1 AND created_at >= $2")
                .bind(state).bind(since).fetch_optional(&mut *tx).await?;
            sqlx::query("DELETE FROM portal_oidc_states WHERE state = $1 OR created_at < $2")
                .bind(state).bind(since).execute(&mut *tx).await?;
            nonce
        })
    }

    /// Drops what the lookup no longer needs: attempts older than a day, e-ID states older than
    /// an hour, expired sessions and codes; the rows dropped.
    pub async fn prune_portal(&self) -> Result<u64> {
        let now = chrono::Utc::now();
        let day = crate::time_text(now - chrono::Duration::days(1));
        let hour = crate::time_text(now - chrono::Duration::hours(1));
        let now = crate::time_text(now);
        write_tx!(self, tx => {
            let mut n = sqlx::query("DELETE FROM portal_attempts WHERE at < $1").bind(&day).execute(&mut *tx).await?.rows_affected();
            n += sqlx::query("DELETE FROM portal_oidc_states WHERE created_at < $1").bind(&hour).execute(&mut *tx).await?.rows_affected();
            n += sqlx::query("DELETE FROM portal_sessions WHERE expires_at <= $1").bind(&now).execute(&mut *tx).await?.rows_affected();
            n += sqlx::query("DELETE FROM portal_codes WHERE expires_at <= $1 OR revoked_at IS NOT NULL OR used_at IS NOT NULL")
                .bind(&day).execute(&mut *tx).await?.rows_affected();
            n
        })
    }

    /// The person of a live citizen session.
    pub async fn portal_session(&self, token_hash: &str, now: &str) -> Result<Option<i64>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT person_id FROM portal_sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash).bind(now).fetch_optional(pool).await)?)
    }

    pub async fn close_portal_session(&self, token_hash: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM portal_sessions WHERE token_hash = $1")
            .bind(token_hash).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Rates a paid line of `person_id` once (the agency serving the payment and its commune
    /// come from the line); false when the line is not the person's, not paid, or rated.
    pub async fn rate_payment(
        &self,
        person_id: i64,
        line_id: i64,
        agency_code: &str,
        score: i64,
        comment: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query(
                "INSERT INTO payment_ratings (line_id, agency_code, commune_code, score, comment, rated_at) \
                 SELECT id, $3, commune_code, $4, $5, $6 FROM payment_lines WHERE id = $1 AND person_id = $2 AND result = 'paid' \
                 ON CONFLICT (line_id) DO NOTHING",
            )
            .bind(line_id).bind(person_id).bind(agency_code).bind(score).bind(comment).bind(&now)
            .execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                append_in_tx!(tx, audit);
            }
            n == 1
        })
    }

    /// The person's ratings of payment lines.
    pub async fn payment_ratings_of(&self, person_id: i64) -> Result<Vec<PaymentRating>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PaymentRating>(
            "SELECT r.line_id, r.score FROM payment_ratings r JOIN payment_lines l ON l.id = r.line_id WHERE l.person_id = $1")
            .bind(person_id).fetch_all(pool).await)?)
    }
}
