//! Authorization: who is calling, what they may do, and over which area.
//!
//! Permissions are data (`role_permissions`, loaded at start into [`Policy`]); services
//! call [`Principal::require`] and filter by [`Scope`] — handlers never decide access.

use std::collections::{BTreeSet, HashMap};

use crate::error::AppError;

/// Permission codes. The table `permissions` holds the same codes (a test checks it);
/// `units.read` and `dashboards.read` are granted now and enforced by later modules
/// (plan monitoring); `registry.*` by the registry.
#[allow(dead_code)]
pub mod perm {
    pub const UNITS_READ: &str = "units.read";
    pub const COMMUNE_WORKSPACE: &str = "commune.workspace";
    pub const DASHBOARDS_READ: &str = "dashboards.read";
    pub const USERS_READ: &str = "users.read";
    pub const USERS_MANAGE: &str = "users.manage";
    pub const AUDIT_READ: &str = "audit.read";
    pub const AUDIT_VERIFY: &str = "audit.verify";
    pub const TOKENS_OWN: &str = "tokens.own";
    pub const REGISTRY_READ: &str = "registry.read";
    pub const REGISTRY_PROPOSE: &str = "registry.propose";
    pub const REGISTRY_APPROVE: &str = "registry.approve";
    pub const REGISTRY_IMPORT: &str = "registry.import";
    pub const REGISTRY_SENSITIVE: &str = "registry.sensitive";
    pub const PAYMENTS_READ: &str = "payments.read";
    pub const PAYMENTS_PREPARE: &str = "payments.prepare";
    pub const PAYMENTS_CHECK: &str = "payments.check";
    pub const PAYMENTS_APPROVE: &str = "payments.approve";
    pub const PAYMENTS_HOLD: &str = "payments.hold";
    pub const INTEGRITY_READ: &str = "integrity.read";
    pub const INTEGRITY_RUN: &str = "integrity.run";
    pub const INTEGRITY_RESOLVE: &str = "integrity.resolve";
    pub const PLANS_READ: &str = "plans.read";
    pub const PLANS_REPORT: &str = "plans.report";
    pub const PLANS_REVIEW: &str = "plans.review";
    pub const PLANS_MANAGE: &str = "plans.manage";
    pub const COMPLAINTS_READ: &str = "complaints.read";
    pub const COMPLAINTS_HANDLE: &str = "complaints.handle";
    pub const PORTAL_CODES: &str = "portal.codes";
    pub const CALENDAR_MANAGE: &str = "calendar.manage";
    pub const ALL: [&str; 29] = [
        CALENDAR_MANAGE,
        PORTAL_CODES,
        COMPLAINTS_READ,
        COMPLAINTS_HANDLE,
        PLANS_READ,
        PLANS_REPORT,
        PLANS_REVIEW,
        PLANS_MANAGE,
        INTEGRITY_READ,
        INTEGRITY_RUN,
        INTEGRITY_RESOLVE,
        PAYMENTS_READ,
        PAYMENTS_PREPARE,
        PAYMENTS_CHECK,
        PAYMENTS_APPROVE,
        PAYMENTS_HOLD,
        REGISTRY_READ,
        REGISTRY_PROPOSE,
        REGISTRY_APPROVE,
        REGISTRY_IMPORT,
        REGISTRY_SENSITIVE,
        UNITS_READ,
        COMMUNE_WORKSPACE,
        DASHBOARDS_READ,
        USERS_READ,
        USERS_MANAGE,
        AUDIT_READ,
        AUDIT_VERIFY,
        TOKENS_OWN,
    ];
}

/// Role → permissions, as stored.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    by_role: HashMap<String, BTreeSet<String>>,
    pub roles: Vec<store::RoleRow>,
}

impl Policy {
    pub async fn load(store: &store::Store) -> Result<Policy, AppError> {
        let mut by_role: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (role, p) in store.role_permissions().await? {
            by_role.entry(role).or_default().insert(p);
        }
        Ok(Policy { by_role, roles: store.roles().await? })
    }

    pub fn permissions_of(&self, role: &str) -> BTreeSet<String> {
        self.by_role.get(role).cloned().unwrap_or_default()
    }

    pub fn role(&self, code: &str) -> Option<&store::RoleRow> {
        self.roles.iter().find(|r| r.code == code)
    }
}

/// The area a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole province.
    Province,
    /// Only these communes.
    Communes(BTreeSet<String>),
    /// Only the tasks and reports of this agency (no person data).
    Agency(String),
    /// Only the caller's own records (citizens).
    SelfOnly,
}

impl Scope {
    pub fn allows_commune(&self, code: &str) -> bool {
        match self {
            Scope::Province => true,
            Scope::Communes(c) => c.contains(code),
            Scope::Agency(_) | Scope::SelfOnly => false,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub agency: Option<String>,
    pub permissions: BTreeSet<String>,
    pub scope: Scope,
    pub must_change_password: bool,
    /// Set when authenticated by a session cookie (then CSRF applies).
    pub session_hash: Option<String>,
    pub csrf_token: Option<String>,
    /// Set when authenticated by an API token.
    pub token_id: Option<i64>,
}

impl Principal {
    pub fn can(&self, p: &str) -> bool {
        self.permissions.contains(p)
    }

    pub fn require(&self, p: &str) -> Result<(), AppError> {
        if self.can(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("permission {p}")))
        }
    }

    pub fn require_commune(&self, code: &str) -> Result<(), AppError> {
        if self.scope.allows_commune(code) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("commune {code} is outside the caller's area")))
        }
    }
}

/// Who is asking, from where — passed to every service call (for authorization and the
/// audit trail).
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    pub principal: Option<Principal>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// The command-line operator (who has shell access to the server and its database).
    /// Never set for HTTP requests: an anonymous web request has no principal and no
    /// rights.
    pub operator: bool,
}

impl Ctx {
    /// A command-line operator (`cli:<os user>`), with every permission.
    pub fn cli() -> Ctx {
        Ctx { principal: None, ip: None, request_id: None, operator: true }
    }

    /// Authorizes an administrative action: the CLI operator may do it; a web caller
    /// must be signed in and hold `p`.
    pub fn authorize(&self, p: &str) -> Result<Option<&Principal>, AppError> {
        if self.operator {
            return Ok(None);
        }
        self.require(p).map(Some)
    }

    pub fn user(&self) -> Result<&Principal, AppError> {
        self.principal.as_ref().ok_or(AppError::Unauthenticated)
    }

    /// The principal, who must hold `p`.
    pub fn require(&self, p: &str) -> Result<&Principal, AppError> {
        let u = self.user()?;
        u.require(p)?;
        Ok(u)
    }

    pub fn actor(&self) -> String {
        match &self.principal {
            Some(p) => p.username.clone(),
            None if self.operator => {
                format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into()))
            }
            None => "anonymous".into(),
        }
    }

    /// An audit entry for `action` on `entity_type`/`entity_id`, stamped with the caller.
    pub fn audit(&self, action: &str, entity_type: &str, entity_id: Option<String>) -> store::AuditEntry {
        store::AuditEntry {
            actor_user_id: self.principal.as_ref().map(|p| p.user_id),
            actor: self.actor(),
            ip: self.ip.clone(),
            request_id: self.request_id.clone(),
            action: action.into(),
            entity_type: entity_type.into(),
            entity_id,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        let c = Scope::Communes(["25210".to_string()].into_iter().collect());
        assert!(c.allows_commune("25210") && !c.allows_commune("25195"));
        assert!(Scope::Province.allows_commune("25195"));
        assert!(!Scope::Agency("SO_Y_TE".into()).allows_commune("25210"));
        assert!(!Scope::SelfOnly.allows_commune("25210"));
    }
}
