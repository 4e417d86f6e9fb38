//! The audit trail as inspectors use it. Searching it is itself recorded.

use store::{AuditFilter, AuditRecord, Page, Paged, VerifyOutcome};

use crate::error::AppError;
use crate::services::authz::{perm, Ctx};

pub async fn search(
    store: &store::Store,
    ctx: &Ctx,
    f: &AuditFilter,
    page: Page,
) -> Result<Paged<AuditRecord>, AppError> {
    ctx.require(perm::AUDIT_READ)?;
    let mut a = ctx.audit("audit.search", "audit_log", None);
    a.detail = Some(format!(
        "actor={} action={} entity={}/{} from={} to={} page={}",
        f.actor.as_deref().unwrap_or(""),
        f.action.as_deref().unwrap_or(""),
        f.entity_type.as_deref().unwrap_or(""),
        f.entity_id.as_deref().unwrap_or(""),
        f.from.as_deref().unwrap_or(""),
        f.to.as_deref().unwrap_or(""),
        page.page
    ));
    store.audit_append(&a).await?;
    Ok(store.audit_search(f, page).await?)
}

/// Verifies the chain (web callers need `audit.verify`).
pub async fn verify(store: &store::Store, ctx: &Ctx) -> Result<VerifyOutcome, AppError> {
    ctx.authorize(perm::AUDIT_VERIFY)?;
    Ok(store.audit_verify().await?)
}
