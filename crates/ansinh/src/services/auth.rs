//! Authentication: argon2id passwords, database sessions, hashed API tokens, lock-out
//! after repeated failures and per-address throttling.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::services::authz::{Ctx, Policy, Principal, Scope};

/// Failed logins before an account is locked, and for how long.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const LOCKOUT: chrono::Duration = chrono::Duration::minutes(15);
/// Sessions end after this much inactivity, and at the latest this long after login.
pub const SESSION_IDLE: chrono::Duration = chrono::Duration::minutes(60);
pub const SESSION_MAX: chrono::Duration = chrono::Duration::hours(12);
/// Failed logins from one address within the window before it is throttled.
pub const IP_MAX_FAILURES: usize = 20;
pub const IP_WINDOW: Duration = Duration::from_secs(600);
/// API tokens: prefix and longest lifetime.
pub const TOKEN_PREFIX: &str = "ans_";
pub const TOKEN_MAX_DAYS: i64 = 366;
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Random bytes from the operating system as hex.
pub fn random_hex(bytes: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    Ok(hex::encode(buf))
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that timing does not
/// reveal which usernames exist.
pub fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default())
}

/// Checks the password rules; returns a field error in both languages.
pub fn check_password_rules(password: &str, username: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::field(
            "password",
            format!("mật khẩu phải có ít nhất {MIN_PASSWORD_CHARS} ký tự"),
            format!("must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(AppError::field(
            "password",
            "mật khẩu không được trùng tên đăng nhập",
            "must differ from the username",
        ));
    }
    Ok(())
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

/// Vietnamese display of a stored time, in Vietnam's time zone (UTC+7, no DST).
pub fn display_time(s: &str) -> String {
    match parse_time(s) {
        Some(t) => (t + chrono::Duration::hours(7)).format("%H:%M %d/%m/%Y").to_string(),
        None => s.to_string(),
    }
}

/// Failed logins per address in a sliding window (in memory: a restart forgets, the
/// per-account lock-out in the database does not).
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    pub fn is_throttled(&self, ip: &str) -> bool {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let v = m.entry(ip.to_string()).or_default();
        v.retain(|t| t.elapsed() < IP_WINDOW);
        v.len() >= IP_MAX_FAILURES
    }

    /// Records an attempt and says whether the key is now over its limit — one step, so that
    /// parallel requests cannot all pass the check before any is recorded.
    pub fn hit(&self, key: &str) -> bool {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let v = m.entry(key.to_string()).or_default();
        v.retain(|t| t.elapsed() < IP_WINDOW);
        v.push(Instant::now());
        v.len() > IP_MAX_FAILURES
    }

    /// Forgets the latest attempt of a key (it succeeded).
    pub fn forgive(&self, key: &str) {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = m.get_mut(key) {
            v.pop();
        }
    }

    pub fn record_failure(&self, ip: &str) {
        let mut m = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 10_000 {
            m.retain(|_, v| v.iter().any(|t| t.elapsed() < IP_WINDOW));
        }
        m.entry(ip.to_string()).or_default().push(Instant::now());
    }
}

/// A new session: the cookie value (secret) and the CSRF token.
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub must_change_password: bool,
}

/// Logs in with username and password; creates a session.
pub async fn login(
    store: &store::Store,
    throttle: &Throttle,
    ctx: &Ctx,
    username: &str,
    password: &str,
    user_agent: Option<String>,
) -> Result<NewSession, AppError> {
    let ip = ctx.ip.clone().unwrap_or_default();
    if throttle.is_throttled(&ip) {
        return Err(AppError::Throttled);
    }
    let username = username.trim();
    let mut fail = ctx.audit("auth.login_failed", "user", None);
    fail.actor = "anonymous".into();
    let Some(user) = store.user_by_username(username).await? else {
        let _ = verify_password(dummy_hash(), password);
        throttle.record_failure(&ip);
        // What was typed is recorded only when it looks like a username: people type
        // passwords into the wrong field.
        let looks_like_username = (1..=32).contains(&username.len())
            && username.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        fail.detail =
            Some(if looks_like_username { format!("unknown user '{username}'") } else { "unknown user".into() });
        store.audit_append(&fail).await?;
        return Err(AppError::BadCredentials);
    };
    fail.actor = user.username.clone();
    fail.actor_user_id = Some(user.id);
    fail.entity_id = Some(user.id.to_string());
    let now = Utc::now();
    if let Some(until) = user.locked_until.as_deref().and_then(parse_time) {
        if until > now {
            let _ = verify_password(dummy_hash(), password);
            throttle.record_failure(&ip);
            fail.detail = Some("account locked".into());
            store.audit_append(&fail).await?;
            return Err(AppError::Locked(display_time(&store::time_text(until))));
        }
    }
    // verified even for a disabled account, so that timing does not tell it apart
    let password_ok = verify_password(&user.password_hash, password);
    if user.disabled || !password_ok {
        throttle.record_failure(&ip);
        if user.disabled {
            fail.detail = Some("account disabled".into());
            store.audit_append(&fail).await?;
        } else {
            fail.detail = Some("wrong password".into());
            let lock_until = store::time_text(now + LOCKOUT);
            let n = store
                .record_login_failure(user.id, MAX_FAILED_LOGINS, &store::time_text(now), &lock_until, &fail)
                .await?;
            if n >= MAX_FAILED_LOGINS {
                return Err(AppError::Locked(display_time(&lock_until)));
            }
        }
        return Err(AppError::BadCredentials);
    }
    let token = random_hex(32)?;
    let csrf = random_hex(32)?;
    let session = store::SessionRow {
        token_hash: sha256_hex(&token),
        user_id: user.id,
        csrf_token: csrf.clone(),
        created_at: store::time_text(now),
        expires_at: store::time_text(now + SESSION_IDLE),
        last_seen_at: store::time_text(now),
        ip: ctx.ip.clone(),
        user_agent: user_agent.map(|u| u.chars().take(200).collect()),
    };
    let mut ok = ctx.audit("auth.login", "user", Some(user.id.to_string()));
    ok.actor = user.username.clone();
    ok.actor_user_id = Some(user.id);
    store.create_session(&session, &ok).await?;
    store.purge_expired_sessions(&store::time_text(now)).await?;
    Ok(NewSession { token, csrf, must_change_password: user.must_change_password })
}

pub async fn principal_for(
    store: &store::Store,
    policy: &Policy,
    user: store::UserRow,
) -> Result<Option<Principal>, AppError> {
    if user.disabled {
        return Ok(None);
    }
    let Some(role) = policy.role(&user.role_code) else { return Ok(None) };
    let scope = match role.scope_kind.as_str() {
        "province" => Scope::Province,
        "communes" => Scope::Communes(store.user_communes(user.id).await?.into_iter().collect()),
        "agency" => Scope::Agency(user.agency_code.clone().unwrap_or_default()),
        _ => Scope::SelfOnly,
    };
    Ok(Some(Principal {
        user_id: user.id,
        username: user.username,
        full_name: user.full_name,
        permissions: policy.permissions_of(&user.role_code),
        role: user.role_code,
        agency: user.agency_code,
        scope,
        must_change_password: user.must_change_password,
        session_hash: None,
        csrf_token: None,
        token_id: None,
    }))
}

/// The principal of a session cookie, sliding its idle expiry; `None` when the session
/// is unknown, expired, past its maximum age, or its user is disabled.
pub async fn from_session(store: &store::Store, policy: &Policy, token: &str) -> Result<Option<Principal>, AppError> {
    let hash = sha256_hex(token);
    let now = Utc::now();
    let Some(s) = store.session(&hash, &store::time_text(now)).await? else { return Ok(None) };
    let Some(created) = parse_time(&s.created_at) else { return Ok(None) };
    if now - created > SESSION_MAX {
        return Ok(None);
    }
    let Some(user) = store.user_by_id(s.user_id).await? else { return Ok(None) };
    let Some(mut p) = principal_for(store, policy, user).await? else { return Ok(None) };
    // Slide the idle expiry at most once a minute (saves a write per request).
    if parse_time(&s.last_seen_at).is_none_or(|t| now - t > chrono::Duration::minutes(1)) {
        let expires = (now + SESSION_IDLE).min(created + SESSION_MAX);
        store.touch_session(&hash, &store::time_text(now), &store::time_text(expires)).await?;
    }
    p.session_hash = Some(hash);
    p.csrf_token = Some(s.csrf_token);
    Ok(Some(p))
}

/// The principal of an API token: the user's permissions restricted to the token's scopes.
pub async fn from_token(store: &store::Store, policy: &Policy, token: &str) -> Result<Option<Principal>, AppError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let now = store::now_text();
    let Some(t) = store.live_token(&sha256_hex(token), &now).await? else { return Ok(None) };
    let Some(user) = store.user_by_id(t.user_id).await? else { return Ok(None) };
    let Some(mut p) = principal_for(store, policy, user).await? else { return Ok(None) };
    let scopes: std::collections::BTreeSet<String> = t.scopes.split_whitespace().map(str::to_string).collect();
    p.permissions = p.permissions.intersection(&scopes).cloned().collect();
    p.token_id = Some(t.id);
    store.touch_token(t.id, &now).await?;
    Ok(Some(p))
}

pub async fn logout(store: &store::Store, ctx: &Ctx) -> Result<(), AppError> {
    if let Some(hash) = ctx.principal.as_ref().and_then(|p| p.session_hash.clone()) {
        store
            .delete_session(
                &hash,
                &ctx.audit("auth.logout", "user", ctx.principal.as_ref().map(|p| p.user_id.to_string())),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("mật khẩu dài 123").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "mật khẩu dài 123"));
        assert!(!verify_password(&h, "mật khẩu dài 124"));
        assert!(!verify_password("not a hash", "x"));
        assert_ne!(hash_password("same").unwrap(), hash_password("same").unwrap(), "salted");
    }

    #[test]
    fn password_rules() {
        assert!(check_password_rules("short", "u").is_err());
        assert!(check_password_rules("nguyenvanan", "nguyenvanan").is_err());
        assert!(check_password_rules("a long enough one", "u").is_ok());
    }

    #[test]
    fn throttle_counts_per_address() {
        let t = Throttle::default();
        for _ in 0..IP_MAX_FAILURES {
            assert!(!t.is_throttled("1.2.3.4"));
            t.record_failure("1.2.3.4");
        }
        assert!(t.is_throttled("1.2.3.4"));
        assert!(!t.is_throttled("5.6.7.8"));
    }

    #[test]
    fn times_display_in_vietnam() {
        assert_eq!(display_time("2026-11-29T17:30:00.000000Z"), "00:30 30/11/2026");
        assert_eq!(random_hex(16).unwrap().len(), 32);
    }
}
