//! User administration, one's own password, and API tokens.

use serde::Serialize;
use store::{NewToken, NewUser, Page, Paged, UserFilter, UserRow};

use crate::error::AppError;
use crate::services::auth::{self, check_password_rules, hash_password, random_hex, sha256_hex};
use crate::services::authz::{perm, Ctx, Policy};

/// A user as shown (never the password hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub agency: Option<String>,
    pub communes: Vec<String>,
    pub disabled: bool,
    pub must_change_password: bool,
    pub locked: bool,
    pub created_at: String,
}

/// What an administrator fills in to create an account.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct CreateUser {
    pub username: String,
    pub full_name: String,
    pub role: String,
    #[serde(default)]
    pub agency: Option<String>,
    /// Commune codes (5 digits), required for commune officers.
    #[serde(default)]
    pub communes: Vec<String>,
    /// Initial password; when absent a temporary one is generated and returned once.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    pub user: UserView,
    /// The generated temporary password, shown once (absent when one was given).
    pub temporary_password: Option<String>,
}

async fn view(store: &store::Store, u: UserRow) -> Result<UserView, AppError> {
    let communes = store.user_communes(u.id).await?;
    let locked = u.locked_until.as_deref().and_then(auth::parse_time).is_some_and(|t| t > chrono::Utc::now());
    Ok(UserView {
        id: u.id,
        username: u.username,
        full_name: u.full_name,
        role: u.role_code,
        agency: u.agency_code,
        communes,
        disabled: u.disabled,
        must_change_password: u.must_change_password,
        locked,
        created_at: u.created_at,
    })
}

fn valid_username(u: &str) -> bool {
    (3..=32).contains(&u.len())
        && u.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// A readable temporary password: 4 groups of 4 hex digits.
fn temporary_password() -> Result<String, AppError> {
    let h = random_hex(8)?;
    Ok(format!("{}-{}-{}-{}", &h[0..4], &h[4..8], &h[8..12], &h[12..16]))
}

/// Validates and creates an account (web callers need `users.manage`).
pub async fn create(
    store: &store::Store,
    policy: &Policy,
    ctx: &Ctx,
    req: &CreateUser,
) -> Result<CreatedUser, AppError> {
    ctx.authorize(perm::USERS_MANAGE)?;
    let username = req.username.trim().to_lowercase();
    if !valid_username(&username) {
        return Err(AppError::field(
            "username",
            "3–32 ký tự: chữ thường không dấu, số, dấu chấm, gạch dưới hoặc gạch ngang",
            "3–32 characters: lower-case ASCII letters, digits, '.', '_' or '-'",
        ));
    }
    let full_name = domain::text::normalize_name(&req.full_name);
    if full_name.is_empty() || full_name.chars().count() > 100 {
        return Err(AppError::field(
            "full_name",
            "họ tên không được để trống (tối đa 100 ký tự)",
            "required, at most 100 characters",
        ));
    }
    let Some(role) = policy.role(&req.role) else {
        return Err(AppError::field(
            "role",
            format!("vai trò '{}' không tồn tại", req.role),
            format!("unknown role '{}'", req.role),
        ));
    };
    if !role.staff {
        return Err(AppError::field(
            "role",
            "không tạo được tài khoản công dân tại đây",
            "citizen accounts are not created here",
        ));
    }
    let agency = req.agency.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_string);
    let communes: Vec<String> = req.communes.iter().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
    match role.scope_kind.as_str() {
        "communes" if communes.is_empty() => {
            return Err(AppError::field(
                "communes",
                "cán bộ cấp xã phải được giao ít nhất một xã",
                "a commune officer needs at least one commune",
            ))
        }
        "communes" => {}
        _ if !communes.is_empty() => {
            return Err(AppError::field(
                "communes",
                "chỉ cán bộ cấp xã được giao xã",
                "only commune officers are assigned communes",
            ))
        }
        _ => {}
    }
    if matches!(role.code.as_str(), "agency_reporter" | "provincial_officer") && agency.is_none() {
        return Err(AppError::field("agency", "vai trò này phải thuộc một cơ quan", "this role needs an agency"));
    }
    if let Some(a) = &agency {
        if !store.agencies().await?.iter().any(|x| &x.code == a) {
            return Err(AppError::field(
                "agency",
                format!("cơ quan '{a}' không tồn tại"),
                format!("unknown agency '{a}'"),
            ));
        }
    }
    for c in &communes {
        if store.commune(c).await?.is_none() {
            return Err(AppError::field(
                "communes",
                format!("mã xã {c} không tồn tại"),
                format!("commune {c} does not exist"),
            ));
        }
    }
    let (password, temporary) = match req.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => {
            check_password_rules(p, &username)?;
            (p.to_string(), None)
        }
        None => {
            let t = temporary_password()?;
            (t.clone(), Some(t))
        }
    };
    let new = NewUser {
        username: username.clone(),
        full_name: full_name.clone(),
        role_code: role.code.clone(),
        agency_code: agency.clone(),
        password_hash: hash_password(&password)?,
        must_change_password: temporary.is_some(),
        communes: communes.clone(),
    };
    let mut audit = ctx.audit("user.create", "user", None);
    audit.after = Some(
        serde_json::json!({"username": username, "full_name": full_name, "role": role.code, "agency": agency, "communes": communes})
            .to_string(),
    );
    let id = store.create_user(&new, &audit).await.map_err(|e| match e {
        store::StoreError::Conflict(_) => AppError::field(
            "username",
            format!("tên đăng nhập '{username}' đã được dùng"),
            format!("username '{username}' is taken"),
        ),
        store::StoreError::Invalid(m) => AppError::Invalid(m),
        other => other.into(),
    })?;
    let user = get(store, id).await?;
    Ok(CreatedUser { user, temporary_password: temporary })
}

pub async fn get(store: &store::Store, id: i64) -> Result<UserView, AppError> {
    let u = store.user_by_id(id).await?.ok_or_else(|| AppError::NotFound(format!("user {id}")))?;
    view(store, u).await
}

pub async fn list(store: &store::Store, ctx: &Ctx, f: &UserFilter, page: Page) -> Result<Paged<UserView>, AppError> {
    ctx.require(perm::USERS_READ)?;
    let p = store.list_users(f, page).await?;
    let mut items = Vec::with_capacity(p.items.len());
    for u in p.items {
        items.push(view(store, u).await?);
    }
    Ok(Paged { items, total: p.total, page: p.page, per_page: p.per_page })
}

pub async fn set_disabled(store: &store::Store, ctx: &Ctx, id: i64, disabled: bool) -> Result<UserView, AppError> {
    if let Some(p) = ctx.authorize(perm::USERS_MANAGE)? {
        if p.user_id == id && disabled {
            return Err(AppError::denied(
                "không thể tự khóa tài khoản của chính mình",
                "you cannot disable your own account",
            ));
        }
    }
    let before = get(store, id).await?;
    let mut audit = ctx.audit(if disabled { "user.disable" } else { "user.enable" }, "user", Some(id.to_string()));
    audit.before = Some(serde_json::json!({"disabled": before.disabled}).to_string());
    audit.after = Some(serde_json::json!({"disabled": disabled}).to_string());
    if !store.set_user_disabled(id, disabled, &audit).await? {
        return Err(AppError::NotFound(format!("user {id}")));
    }
    get(store, id).await
}

/// Resets a password to a generated temporary one, which must be changed at next login.
pub async fn reset_password(store: &store::Store, ctx: &Ctx, id: i64) -> Result<String, AppError> {
    ctx.authorize(perm::USERS_MANAGE)?;
    get(store, id).await?;
    let temp = temporary_password()?;
    let audit = ctx.audit("user.reset_password", "user", Some(id.to_string()));
    store.set_password(id, &hash_password(&temp)?, true, None, &audit).await?;
    Ok(temp)
}

/// Changes the caller's own password (the current one is required). Only in a session
/// opened with the password: an API token cannot change its owner's password.
pub async fn change_own_password(store: &store::Store, ctx: &Ctx, current: &str, new: &str) -> Result<(), AppError> {
    let p = ctx.user()?;
    if p.token_id.is_some() {
        return Err(AppError::Forbidden("API tokens cannot change passwords".into()));
    }
    let u = store.user_by_id(p.user_id).await?.ok_or(AppError::Unauthenticated)?;
    if !auth::verify_password(&u.password_hash, current) {
        return Err(AppError::field(
            "current_password",
            "mật khẩu hiện tại không đúng",
            "the current password is wrong",
        ));
    }
    check_password_rules(new, &u.username)?;
    if current == new {
        return Err(AppError::field(
            "new_password",
            "mật khẩu mới phải khác mật khẩu cũ",
            "must differ from the current password",
        ));
    }
    let audit = ctx.audit("user.change_password", "user", Some(u.id.to_string()));
    store.set_password(u.id, &hash_password(new)?, false, p.session_hash.as_deref(), &audit).await?;
    Ok(())
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked: bool,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct CreateToken {
    pub name: String,
    /// Permission codes; each must be one the caller holds.
    pub scopes: Vec<String>,
    /// Lifetime in days (1–366, default 90).
    #[serde(default)]
    pub days: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub token: TokenView,
    /// The secret, shown once: send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

fn token_view(t: store::TokenRow) -> TokenView {
    TokenView {
        id: t.id,
        name: t.name,
        prefix: t.prefix,
        scopes: t.scopes.split_whitespace().map(str::to_string).collect(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked: t.revoked_at.is_some(),
        last_used_at: t.last_used_at,
    }
}

pub async fn tokens(store: &store::Store, ctx: &Ctx) -> Result<Vec<TokenView>, AppError> {
    let p = ctx.require(perm::TOKENS_OWN)?;
    Ok(store.tokens_of(p.user_id).await?.into_iter().map(token_view).collect())
}

pub async fn create_token(store: &store::Store, ctx: &Ctx, req: &CreateToken) -> Result<CreatedToken, AppError> {
    let p = ctx.require(perm::TOKENS_OWN)?;
    // a token must not mint tokens: its expiry would limit nothing
    if p.token_id.is_some() {
        return Err(AppError::Forbidden("API tokens cannot create tokens".into()));
    }
    let name = domain::text::clean_whitespace(&req.name);
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::field(
            "name",
            "tên không được để trống (tối đa 80 ký tự)",
            "required, at most 80 characters",
        ));
    }
    let mut scopes: Vec<String> = req.scopes.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() {
        return Err(AppError::field("scopes", "chọn ít nhất một quyền", "choose at least one permission"));
    }
    if let Some(bad) = scopes.iter().find(|s| !p.can(s)) {
        return Err(AppError::field(
            "scopes",
            format!("bạn không có quyền '{bad}'"),
            format!("you do not hold '{bad}'"),
        ));
    }
    let days = req.days.unwrap_or(90);
    if !(1..=auth::TOKEN_MAX_DAYS).contains(&days) {
        return Err(AppError::field(
            "days",
            format!("từ 1 đến {} ngày", auth::TOKEN_MAX_DAYS),
            format!("1 to {} days", auth::TOKEN_MAX_DAYS),
        ));
    }
    let secret = format!("{}{}", auth::TOKEN_PREFIX, random_hex(20)?);
    let new = NewToken {
        user_id: p.user_id,
        name: name.clone(),
        token_hash: sha256_hex(&secret),
        prefix: secret[..12].to_string(),
        scopes: scopes.join(" "),
        expires_at: store::time_text(chrono::Utc::now() + chrono::Duration::days(days)),
    };
    let mut audit = ctx.audit("token.create", "api_token", None);
    audit.after = Some(serde_json::json!({"name": name, "scopes": scopes, "days": days}).to_string());
    let id = store.create_token(&new, &audit).await?;
    let token = store
        .tokens_of(p.user_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .map(token_view)
        .ok_or_else(|| AppError::Internal("token vanished".into()))?;
    Ok(CreatedToken { token, secret })
}

pub async fn revoke_token(store: &store::Store, ctx: &Ctx, id: i64) -> Result<(), AppError> {
    let p = ctx.require(perm::TOKENS_OWN)?;
    let audit = ctx.audit("token.revoke", "api_token", Some(id.to_string()));
    if !store.revoke_token(id, p.user_id, &audit).await? {
        return Err(AppError::NotFound(format!("token {id}")));
    }
    Ok(())
}
