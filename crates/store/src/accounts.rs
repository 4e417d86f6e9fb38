//! Accounts: roles and permissions as data, agencies, users with their commune scope,
//! sessions and API tokens. Every change is written together with its audit entry, in
//! one transaction: either both are stored or neither.

use crate::audit::{append_in_tx, AuditEntry};
use crate::{on_pool, write_tx, Page, Paged, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct RoleRow {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    /// `province`, `communes`, `agency` or `self`.
    pub scope_kind: String,
    pub staff: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AgencyRow {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub kind: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub role_code: String,
    pub agency_code: Option<String>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub disabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub full_name: String,
    pub role_code: String,
    pub agency_code: Option<String>,
    pub password_hash: String,
    pub must_change_password: bool,
    pub communes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Substring of the username or the folded full name.
    pub q: Option<String>,
    pub role: Option<String>,
    pub include_disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_seen_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// First characters of the token, to recognise it; the token itself is never stored.
    pub prefix: String,
    /// Space-separated permission codes.
    pub scopes: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    pub token_hash: String,
    pub prefix: String,
    pub scopes: String,
    pub expires_at: String,
}

const USER_COLUMNS: &str = "id, username, full_name, role_code, agency_code, password_hash, must_change_password, \
     disabled, failed_logins, locked_until, created_at, updated_at";

impl Store {
    pub async fn roles(&self) -> Result<Vec<RoleRow>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, RoleRow>(
            "SELECT code, name_vi, name_en, scope_kind, staff FROM roles ORDER BY code",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// `(role, permission)` pairs: the authorization table.
    pub async fn role_permissions(&self) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT role_code, permission_code FROM role_permissions ORDER BY role_code, permission_code",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn agencies(&self) -> Result<Vec<AgencyRow>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, AgencyRow>(
            "SELECT code, name_vi, name_en, kind, active FROM agencies ORDER BY code",
        )
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// Creates a user with their communes, and the audit entry, atomically.
    pub async fn create_user(&self, u: &NewUser, audit: &AuditEntry) -> Result<i64> {
        let now = crate::now_text();
        let what = format!("user '{}'", u.username);
        let id = write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (username, full_name, name_key, role_code, agency_code, password_hash, \
                 must_change_password, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
            )
            .bind(&u.username)
            .bind(&u.full_name)
            .bind(domain::text::search_key(&u.full_name))
            .bind(&u.role_code)
            .bind(&u.agency_code)
            .bind(&u.password_hash)
            .bind(u.must_change_password)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::from_write(e, &what))?;
            for c in &u.communes {
                sqlx::query("INSERT INTO user_communes (user_id, commune_code) VALUES ($1, $2)")
                    .bind(id)
                    .bind(c)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, &format!("commune {c} of {what}")))?;
            }
            let mut a = audit.clone();
            a.entity_id = Some(id.to_string());
            append_in_tx!(tx, &a);
            id
        })?;
        Ok(id)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, UserRow>(&sql).bind(username).fetch_optional(pool).await)?;
        Ok(row)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, UserRow>(&sql).bind(id).fetch_optional(pool).await)?;
        Ok(row)
    }

    pub async fn user_communes(&self, user_id: i64) -> Result<Vec<String>> {
        let rows: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT commune_code FROM user_communes WHERE user_id = $1 ORDER BY commune_code",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    pub async fn list_users(&self, f: &UserFilter, page: Page) -> Result<Paged<UserRow>> {
        macro_rules! filtered {
            ($qb:expr) => {{
                let qb = &mut $qb;
                qb.push(" WHERE 1 = 1");
                if !f.include_disabled {
                    qb.push(" AND disabled = FALSE");
                }
                if let Some(r) = &f.role {
                    qb.push(" AND role_code = ").push_bind(r.clone());
                }
                if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                    let pat = format!("%{}%", domain::text::search_key(q).replace('%', "").replace('_', "\\_"));
                    qb.push(" AND (lower(username) LIKE ").push_bind(pat.clone()).push(" ESCAPE '\\'");
                    qb.push(" OR name_key LIKE ").push_bind(pat).push(" ESCAPE '\\')");
                }
            }};
        }
        let (total, items) = on_pool!(self, pool => {
            let mut count = sqlx::QueryBuilder::new("SELECT count(*) FROM users");
            filtered!(count);
            let total: i64 = count.build_query_scalar().fetch_one(pool).await?;
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users"));
            filtered!(q);
            q.push(" ORDER BY username LIMIT ").push_bind(page.limit()).push(" OFFSET ").push_bind(page.offset());
            let items: Vec<UserRow> = q.build_query_as().fetch_all(pool).await?;
            (total, items)
        });
        Ok(Paged { items, total, page: page.page, per_page: page.per_page })
    }

    /// Disables or re-enables a user; disabling ends their sessions and revokes nothing
    /// else (tokens stop working because the user is disabled). Returns false if absent.
    pub async fn set_user_disabled(&self, id: i64, disabled: bool, audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        let found = write_tx!(self, tx => {
            let n = sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
                .bind(disabled)
                .bind(&now)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                if disabled {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                }
                append_in_tx!(tx, audit);
            }
            n > 0
        })?;
        Ok(found)
    }

    /// Sets a new password hash, clears lock-out, and ends the user's sessions except
    /// `keep_session` (the session of a user changing their own password). A reset by an
    /// administrator (`must_change`) also revokes the user's API tokens: after a
    /// compromise, nothing the intruder made survives.
    pub async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        let keep = keep_session.unwrap_or("").to_string();
        let found = write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE users SET password_hash = $1, must_change_password = $2, failed_logins = 0, locked_until = NULL, \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(password_hash)
            .bind(must_change)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2").bind(id).bind(&keep).execute(&mut *tx).await?;
                if must_change {
                    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                        .bind(&now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                append_in_tx!(tx, audit);
            }
            n > 0
        })?;
        Ok(found)
    }

    /// Records a failed login; when the count reaches `max_failures` the account is
    /// locked until `lock_until`. Returns the new failure count.
    pub async fn record_login_failure(
        &self,
        id: i64,
        max_failures: i64,
        now: &str,
        lock_until: &str,
        audit: &AuditEntry,
    ) -> Result<i64> {
        let count = write_tx!(self, tx => {
            // A lock that has run out starts a fresh count: one wrong password after it
            // must not lock the account again.
            let count: i64 = sqlx::query_scalar(
                "UPDATE users SET \
                 failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= $1 THEN 1 ELSE failed_logins + 1 END, \
                 locked_until = CASE \
                     WHEN locked_until IS NOT NULL AND locked_until <= $1 THEN NULL \
                     WHEN failed_logins + 1 >= $2 THEN $3 \
                     ELSE locked_until END \
                 WHERE id = $4 RETURNING failed_logins",
            )
            .bind(now)
            .bind(max_failures)
            .bind(lock_until)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            append_in_tx!(tx, audit);
            count
        })?;
        Ok(count)
    }

    /// Creates a session after a successful login (resets the failure count).
    pub async fn create_session(&self, s: &SessionRow, audit: &AuditEntry) -> Result<()> {
        write_tx!(self, tx => {
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
                .bind(s.user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at, ip, user_agent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&s.token_hash)
            .bind(s.user_id)
            .bind(&s.csrf_token)
            .bind(&s.created_at)
            .bind(&s.expires_at)
            .bind(&s.last_seen_at)
            .bind(&s.ip)
            .bind(&s.user_agent)
            .execute(&mut *tx)
            .await?;
            append_in_tx!(tx, audit);
        })?;
        Ok(())
    }

    /// The live session with this token hash (expired ones are not returned).
    pub async fn session(&self, token_hash: &str, now: &str) -> Result<Option<SessionRow>> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, SessionRow>(
            "SELECT token_hash, user_id, csrf_token, created_at, expires_at, last_seen_at, ip, user_agent \
             FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// Slides the idle expiry of a session.
    pub async fn touch_session(&self, token_hash: &str, now: &str, expires_at: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3")
            .bind(now)
            .bind(expires_at)
            .bind(token_hash)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str, audit: &AuditEntry) -> Result<bool> {
        let found = write_tx!(self, tx => {
            let n = sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&mut *tx).await?.rows_affected();
            if n > 0 {
                append_in_tx!(tx, audit);
            }
            n > 0
        })?;
        Ok(found)
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self, now: &str) -> Result<u64> {
        let n = on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n)
    }

    pub async fn create_token(&self, t: &NewToken, audit: &AuditEntry) -> Result<i64> {
        let now = crate::now_text();
        let id = write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_tokens (user_id, name, token_hash, prefix, scopes, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(t.user_id)
            .bind(&t.name)
            .bind(&t.token_hash)
            .bind(&t.prefix)
            .bind(&t.scopes)
            .bind(&now)
            .bind(&t.expires_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::from_write(e, "API token"))?;
            let mut a = audit.clone();
            a.entity_id = Some(id.to_string());
            append_in_tx!(tx, &a);
            id
        })?;
        Ok(id)
    }

    pub async fn tokens_of(&self, user_id: i64) -> Result<Vec<TokenRow>> {
        let rows = on_pool!(self, pool => sqlx::query_as::<_, TokenRow>(
            "SELECT id, user_id, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at \
             FROM api_tokens WHERE user_id = $1 ORDER BY id DESC",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await)?;
        Ok(rows)
    }

    /// A token that is neither revoked nor expired, by the hash of its secret.
    pub async fn live_token(&self, token_hash: &str, now: &str) -> Result<Option<TokenRow>> {
        let row = on_pool!(self, pool => sqlx::query_as::<_, TokenRow>(
            "SELECT id, user_id, name, prefix, scopes, created_at, expires_at, revoked_at, last_used_at \
             FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    pub async fn touch_token(&self, id: i64, now: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Revokes one of `user_id`'s tokens. Returns false when there is no such live token.
    pub async fn revoke_token(&self, id: i64, user_id: i64, audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        let found = write_tx!(self, tx => {
            let n = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(&now)
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                append_in_tx!(tx, audit);
            }
            n > 0
        })?;
        Ok(found)
    }
}
