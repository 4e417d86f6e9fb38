//! The citizen's self-service lookup on the portal: identification by personal ID, birth date
//! and a one-time code — printed on the entitlement decision by the commune, or sent by SMS to
//! the phone in the dossier through a pluggable sender —, then a short session in which the
//! citizen reads their own entitlements and payment history and rates each paid payment.
//!
//! A wrong identification never says which part was wrong, and takes as long whichever part it
//! was (an SMS request is answered before the dossier is even looked at). Failed
//! identifications and SMS sends are limited per typed personal ID in the database — each
//! attempt is recorded before it is counted, so parallel guesses cannot slip past the limit —,
//! shared by every server process; the HTTP layer also limits per address. Codes are kept only
//! as argon2id hashes (an 8-character or 6-digit code would fall to an offline search of a plain
//! hash), session tokens as SHA-256 hashes (they are long and random).

use std::path::PathBuf;

use chrono::{Duration, Utc};
use serde::Serialize;

use crate::error::AppError;
use crate::services::authz::{perm, Ctx};
use crate::services::days::today_vn;
use crate::services::entitlements::{self, Entitlements};
use store::Store;

/// Failed identifications of one personal ID within [`FAILURE_WINDOW_MIN`] before it is locked.
pub const MAX_FAILURES: i64 = 5;
pub const FAILURE_WINDOW_MIN: i64 = 15;
/// SMS codes one personal ID may ask for per hour.
pub const MAX_SMS_PER_HOUR: i64 = 3;
/// How long a code sent by SMS is valid, and a printed one.
pub const SMS_CODE_MIN: i64 = 10;
pub const DECISION_CODE_DAYS: i64 = 365;
/// How long a citizen's session lasts.
pub const SESSION_MIN: i64 = 20;
/// The cookie holding a citizen's session.
pub const COOKIE: &str = "ansinh_citizen";

/// Where one-time codes go by SMS (config `portal.sms`): nowhere, the server log (demo), a file
/// (one line per message: phone, tab, text — tests and a pick-up by a gateway), or a command
/// that receives the phone number as its argument and the text on standard input (any SMS
/// gateway's client; exit status 0 = sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSender {
    Disabled,
    Log,
    File(PathBuf),
    Command(PathBuf),
}

impl SmsSender {
    pub fn parse(s: &str) -> Result<SmsSender, String> {
        let s = s.trim();
        match s {
            "" | "none" => Ok(SmsSender::Disabled),
            "log" => Ok(SmsSender::Log),
            _ => {
                if let Some(p) = s.strip_prefix("file:").filter(|p| !p.is_empty()) {
                    Ok(SmsSender::File(PathBuf::from(p)))
                } else if let Some(p) = s.strip_prefix("command:").filter(|p| !p.is_empty()) {
                    Ok(SmsSender::Command(PathBuf::from(p)))
                } else {
                    Err("expected none, log, file:PATH or command:PATH".into())
                }
            }
        }
    }

    pub fn enabled(&self) -> bool {
        *self != SmsSender::Disabled
    }

    async fn send(&self, phone: &str, text: &str) -> Result<(), String> {
        // a phone number as recorded: digits, a leading +, spaces and dots (never an option
        // for the gateway's command)
        let phone: String = phone.chars().filter(|c| !matches!(c, ' ' | '.')).collect();
        let digits = phone.strip_prefix('+').unwrap_or(&phone);
        if digits.len() < 9 || digits.len() > 15 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("{:?} is not a phone number", mask_phone(&phone)));
        }
        let phone = phone.as_str();
        match self {
            SmsSender::Disabled => Err("no SMS sender is configured".into()),
            SmsSender::Log => {
                tracing::info!(phone = %mask_phone(phone), text, "SMS (portal.sms = log: not sent, shown here)");
                Ok(())
            }
            SmsSender::File(p) => {
                use tokio::io::AsyncWriteExt;
                let mut f = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .await
                    .map_err(|e| format!("{}: {e}", p.display()))?;
                f.write_all(format!("{phone}\t{text}\n").as_bytes()).await.map_err(|e| format!("{}: {e}", p.display()))
            }
            SmsSender::Command(p) => {
                use tokio::io::AsyncWriteExt;
                let mut child = tokio::process::Command::new(p)
                    .arg(phone)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| format!("{}: {e}", p.display()))?;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(text.as_bytes()).await.map_err(|e| e.to_string())?;
                }
                let out = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
                    .await
                    .map_err(|_| "the SMS command took longer than 20 s".to_string())?
                    .map_err(|e| e.to_string())?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} exited with {}: {}",
                        p.display(),
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ))
                }
            }
        }
    }
}

fn mask_phone(p: &str) -> String {
    let n = p.chars().count();
    p.chars().enumerate().map(|(i, c)| if i + 3 < n { '•' } else { c }).collect()
}

fn no_match() -> AppError {
    AppError::Denied {
        vi: "Thông tin tra cứu không khớp. Kiểm tra lại số định danh, ngày sinh và mã tra cứu.".into(),
        en: "The details do not match. Check the personal ID, birth date and lookup code.".into(),
    }
}

/// The kept form of a code: argon2id with its own salt (the `salt` column only names the
/// scheme).
fn code_hash(code: &str) -> Result<(String, String), AppError> {
    Ok(("argon2id".into(), crate::services::auth::hash_password(code)?))
}

/// Codes are compared as typed without separators, spaces or case.
fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

fn random_code(alphabet: &[u8], len: usize) -> Result<String, AppError> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| AppError::Internal(format!("random source: {e}")))?;
    Ok(buf.iter().map(|b| alphabet[usize::from(*b) % alphabet.len()] as char).collect())
}

fn after(d: Duration) -> String {
    store::time_text(Utc::now() + d)
}

/// The typed personal ID, checked for its form (12 digits).
fn typed_id(s: &str) -> Result<String, AppError> {
    let s = s.trim();
    domain::PersonalId::parse(s).map(|p| p.to_string()).map_err(|e| AppError::Field {
        field: "personal_id",
        vi: format!("số định danh {s:?}: {e}"),
        en: format!("personal ID {s:?}: {e}"),
    })
}

fn typed_birth(s: &str) -> Result<domain::calendar::PartialDate, AppError> {
    domain::calendar::PartialDate::parse(s.trim()).map_err(|e| AppError::Field {
        field: "birth_date",
        vi: format!("ngày sinh {:?}: {}", s.trim(), e.vi()),
        en: format!("birth date {:?}: {e}", s.trim()),
    })
}

/// Whether a typed birth date agrees with the dossier's (which may hold only a year, or a month
/// and year, as old records do): the same date, or a full date inside the recorded month or year.
fn birth_matches(recorded: &str, typed: domain::calendar::PartialDate) -> bool {
    use domain::calendar::PartialDate;
    let Ok(rec) = PartialDate::parse(recorded) else { return false };
    rec == typed || matches!(typed, PartialDate::Full(d) if rec.earliest() <= d && d <= rec.latest())
}

/// The person a typed ID and birth date identify (living), if any.
async fn person_for(
    store: &Store,
    personal_id: &str,
    birth: domain::calendar::PartialDate,
) -> Result<Option<store::registry::PersonRow>, AppError> {
    Ok(store
        .person_by_personal_id(personal_id)
        .await?
        .filter(|p| p.deceased_on.is_none() && birth_matches(&p.birth_date, birth)))
}

/// A commune officer issues the code printed on a person's entitlement decision (it replaces any
/// earlier printed code). The code is shown once; only its hash is kept.
pub async fn issue_decision_code(store: &Store, ctx: &Ctx, person_id: i64) -> Result<String, AppError> {
    ctx.require(perm::PORTAL_CODES)?;
    let (person, _) = crate::services::registry::load_in_area(store, ctx, person_id).await?;
    if person.deceased_on.is_some() {
        return Err(AppError::Denied {
            vi: "Người này đã mất: không cấp mã tra cứu".into(),
            en: "This person is deceased: no lookup code".into(),
        });
    }
    let code = random_code(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 8)?;
    let (salt, code_hash) = code_hash(&code)?;
    let c = store::portal::NewCode {
        person_id,
        channel: "decision".into(),
        code_hash,
        salt,
        issued_by: ctx.actor(),
        expires_at: after(Duration::days(DECISION_CODE_DAYS)),
    };
    let audit = ctx.audit("portal.code_issue", "person", Some(person_id.to_string()));
    store.issue_portal_code(&c, &audit).await?;
    Ok(format!("{}-{}", &code[..4], &code[4..]))
}

/// Sends a one-time code by SMS to the phone in the dossier when the personal ID and birth date
/// identify a living person with a phone. The answer is the same whether or not they do, and
/// comes before the dossier is looked at: the lookup and the sending run afterwards.
pub async fn request_sms(
    store: &Store,
    sms: &std::sync::Arc<SmsSender>,
    personal_id: &str,
    birth_date: &str,
) -> Result<(), AppError> {
    if !sms.enabled() {
        return Err(AppError::Denied {
            vi: "Chưa có dịch vụ gửi tin nhắn: dùng mã tra cứu in trên quyết định hưởng trợ cấp".into(),
            en: "No SMS service: use the lookup code printed on the entitlement decision".into(),
        });
    }
    let pid = typed_id(personal_id)?;
    let birth = typed_birth(birth_date)?;
    // recorded first, then counted: parallel requests cannot all see room under the limit
    store.portal_attempt(&pid, "sms").await?;
    if store.portal_attempts_since(&pid, "sms", &after(-Duration::hours(1))).await? > MAX_SMS_PER_HOUR {
        return Err(AppError::Throttled);
    }
    let (store, sms) = (store.clone(), sms.clone());
    tokio::spawn(async move {
        if let Err(e) = send_code(&store, &sms, &pid, birth).await {
            tracing::warn!(error = %e, "SMS code not sent");
        }
    });
    Ok(())
}

async fn send_code(
    store: &Store,
    sms: &SmsSender,
    pid: &str,
    birth: domain::calendar::PartialDate,
) -> Result<(), AppError> {
    let Some(person) = person_for(store, pid, birth).await? else { return Ok(()) };
    let Some(phone) = person.phone.clone().filter(|p| !p.trim().is_empty()) else { return Ok(()) };
    let code = random_code(b"0123456789", 6)?;
    let (salt, code_hash) = code_hash(&code)?;
    let c = store::portal::NewCode {
        person_id: person.id,
        channel: "sms".into(),
        code_hash,
        salt,
        issued_by: "portal".into(),
        expires_at: after(Duration::minutes(SMS_CODE_MIN)),
    };
    let mut audit = Ctx::default().audit("portal.code_sms", "person", Some(person.id.to_string()));
    audit.actor = "portal".into();
    store.issue_portal_code(&c, &audit).await?;
    let text = format!(
        "Ma tra cuu an sinh xa hoi: {code} (hieu luc {SMS_CODE_MIN} phut). Khong cung cap ma nay cho nguoi khac."
    );
    // the citizen was told the same as always; the operator sees why nothing arrived
    sms.send(&phone, &text).await.map_err(|e| AppError::Internal(format!("person {}: {e}", person.id)))
}

/// Identifies a citizen; the session token for the cookie.
pub async fn identify(
    store: &Store,
    ip: Option<String>,
    personal_id: &str,
    birth_date: &str,
    code: &str,
) -> Result<String, AppError> {
    let pid = typed_id(personal_id)?;
    let birth = typed_birth(birth_date)?;
    // every attempt is recorded as a failure first (and forgotten on success), then counted:
    // parallel guesses cannot all see room under the limit
    store.portal_attempt(&pid, "failure").await?;
    let since = after(-Duration::minutes(FAILURE_WINDOW_MIN));
    if store.portal_attempts_since(&pid, "failure", &since).await? > MAX_FAILURES {
        return Err(AppError::Throttled);
    }
    let code = normalize_code(code);
    let person = person_for(store, &pid, birth).await?;
    // the same work whichever part is wrong: the codes of the person (or of nobody) and at least
    // one hash verified
    let codes = store.live_portal_codes(person.as_ref().map_or(-1, |p| p.id), &store::now_text()).await?;
    // argon2id takes ~15 ms a code: off the async worker's other tasks
    let hit = crate::services::cpu_bound(|| {
        let mut hit = None;
        for c in codes {
            if crate::services::auth::verify_password(&c.code_hash, &code) && hit.is_none() {
                hit = Some(c);
            }
        }
        if person.is_none() {
            crate::services::auth::verify_password(crate::services::auth::dummy_hash(), &code);
        }
        hit
    });
    let (Some(person), Some(c)) = (person, hit) else {
        return Err(no_match());
    };
    let token = crate::services::auth::random_hex(32)?;
    let mut audit = Ctx { ip, ..Ctx::default() }.audit("portal.identify", "person", Some(person.id.to_string()));
    audit.actor = "citizen".into();
    audit.detail = Some(format!("by {} code", c.channel));
    let opened = store
        .open_portal_session(
            Some(&c),
            &pid,
            person.id,
            &crate::services::auth::sha256_hex(&token),
            &after(Duration::minutes(SESSION_MIN)),
            &audit,
        )
        .await?;
    if !opened {
        return Err(no_match());
    }
    Ok(token)
}

/// How long an e-ID login may take between leaving for the provider and coming back.
pub const OIDC_STATE_MIN: i64 = 10;

/// Starts an e-ID login: the provider's URL to send the browser to, and the state (also kept
/// in a cookie that binds the login to this browser).
pub async fn start_eid(
    store: &Store,
    provider: &crate::services::oidc::Provider,
) -> Result<(String, String), AppError> {
    let state = crate::services::auth::random_hex(16)?;
    let nonce = crate::services::auth::random_hex(16)?;
    store.put_oidc_state(&state, &nonce).await?;
    Ok((provider.authorize_url(&state, &nonce), state))
}

/// Completes an e-ID login with the ID token the provider posted back; the session token.
/// Every refusal is told plainly (the provider has already identified the citizen), the cause
/// goes to the log.
pub async fn finish_eid(
    store: &Store,
    provider: &crate::services::oidc::Provider,
    ip: Option<String>,
    state: &str,
    id_token: &str,
) -> Result<String, AppError> {
    let refused = |vi: &str, en: &str| AppError::Denied { vi: vi.into(), en: en.into() };
    let since = after(-Duration::minutes(OIDC_STATE_MIN));
    let Some(nonce) = store.take_oidc_state(state, &since).await? else {
        return Err(refused(
            "Phiên đăng nhập định danh điện tử đã hết hạn hoặc không hợp lệ. Xin đăng nhập lại.",
            "The e-ID login expired or is not valid. Please sign in again.",
        ));
    };
    let pid = provider.verify(id_token, &nonce, Utc::now().timestamp()).map_err(|e| {
        tracing::warn!(error = %e, "e-ID token refused");
        refused("Không xác thực được thông tin từ định danh điện tử.", "The e-ID answer could not be verified.")
    })?;
    let person = store.person_by_personal_id(&pid).await?.filter(|p| p.deceased_on.is_none()).ok_or_else(|| {
        refused(
            "Chưa có hồ sơ của ông/bà trong cơ sở dữ liệu an sinh xã hội của tỉnh. Xin liên hệ UBND xã nơi cư trú.",
            "You have no record in the province's social registry. Please contact your commune.",
        )
    })?;
    let token = crate::services::auth::random_hex(32)?;
    let mut audit = Ctx { ip, ..Ctx::default() }.audit("portal.identify", "person", Some(person.id.to_string()));
    audit.actor = "citizen".into();
    audit.detail = Some("by e-ID (OpenID Connect)".into());
    let hash = crate::services::auth::sha256_hex(&token);
    store.open_portal_session(None, &pid, person.id, &hash, &after(Duration::minutes(SESSION_MIN)), &audit).await?;
    Ok(token)
}

/// The person of a citizen session token, if it is live.
pub async fn session_person(store: &Store, token: &str) -> Result<Option<i64>, AppError> {
    Ok(store.portal_session(&crate::services::auth::sha256_hex(token), &store::now_text()).await?)
}

pub async fn sign_out(store: &Store, token: &str) -> Result<(), AppError> {
    Ok(store.close_portal_session(&crate::services::auth::sha256_hex(token)).await?)
}

/// One payment as the citizen sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CitizenPayment {
    pub line_id: i64,
    /// `yyyy-mm`
    pub month: String,
    /// đồng
    pub amount: i64,
    /// cash | bank
    pub method: String,
    /// pay | held | stopped | recovery
    pub status: String,
    /// paid | failed | returned, once the pay point reported
    pub result: Option<String>,
    pub rated: Option<i64>,
    pub can_rate: bool,
}

/// What an identified citizen sees: who they are in the registry, their entitlements over the
/// last 12 months and their payments.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CitizenView {
    pub full_name: String,
    pub commune_code: String,
    pub commune_name: String,
    pub entitlements: Entitlements,
    pub payments: Vec<CitizenPayment>,
}

/// The citizen's own record (each read audited).
pub async fn overview(
    store: &Store,
    g: &domain::Gazetteer,
    packs: &rules::Packs,
    person_id: i64,
) -> Result<CitizenView, AppError> {
    let person = store.person(person_id).await?.ok_or(AppError::Unauthenticated)?;
    let mut audit = Ctx::default().audit("portal.lookup", "person", Some(person_id.to_string()));
    audit.actor = "citizen".into();
    store.audit_append(&audit).await?;
    let to = domain::Month::of(today_vn());
    let from = to.add_months(-11).unwrap_or(to);
    let ent = entitlements::entitlements_of(store, packs, &person, from, to).await?;
    let rated: std::collections::HashMap<i64, i64> =
        store.payment_ratings_of(person_id).await?.into_iter().map(|r| (r.line_id, r.score)).collect();
    let payments = store
        .person_payments(person_id)
        .await?
        .into_iter()
        .map(|p| {
            let r = rated.get(&p.line_id).copied();
            CitizenPayment {
                can_rate: p.result.as_deref() == Some("paid") && r.is_none(),
                rated: r,
                line_id: p.line_id,
                month: p.month,
                amount: p.amount,
                method: p.method,
                status: p.status,
                result: p.result,
            }
        })
        .collect();
    Ok(CitizenView {
        commune_name: g.commune(&person.commune_code).map(|c| c.name.clone()).unwrap_or_default(),
        full_name: person.full_name,
        commune_code: person.commune_code,
        entitlements: ent,
        payments,
    })
}

/// The citizen rates one of their paid payments (1–5), once. The rating counts for the
/// commune's People's Committee, whose pay point or officers served the payment.
pub async fn rate_payment(
    store: &Store,
    person_id: i64,
    line_id: i64,
    score: &str,
    comment: &str,
) -> Result<(), AppError> {
    let score: i64 = score.trim().parse().ok().filter(|s| (1..=5).contains(s)).ok_or_else(|| AppError::Field {
        field: "score",
        vi: "chọn mức hài lòng từ 1 đến 5".into(),
        en: "choose a score from 1 to 5".into(),
    })?;
    let comment: String = domain::text::nfc(comment.trim()).chars().take(1000).collect();
    let mut audit = Ctx::default().audit("payment.rate", "payment_line", Some(line_id.to_string()));
    audit.actor = "citizen".into();
    if !store.rate_payment(person_id, line_id, "UBND_XA", score, &comment, &audit).await? {
        return Err(AppError::Denied {
            vi: "Chỉ đánh giá được một lần, cho khoản đã chi trả của chính mình".into(),
            en: "A payment is rated once, and only one's own paid payment".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::calendar::PartialDate;

    #[test]
    fn birth_dates_match_at_the_record_s_precision() {
        let p = |s| PartialDate::parse(s).unwrap();
        assert!(birth_matches("1950-03-12", p("12/03/1950")));
        assert!(!birth_matches("1950-03-12", p("13/03/1950")));
        assert!(!birth_matches("1950-03-12", p("1950")), "a year alone does not match a full date");
        assert!(birth_matches("1950", p("12/03/1950")));
        assert!(birth_matches("1950", p("1950")));
        assert!(birth_matches("1950-03", p("31/03/1950")));
        assert!(!birth_matches("1950-03", p("01/04/1950")));
        assert!(!birth_matches("garbage", p("1950")));
    }

    #[test]
    fn codes_senders_and_masks() {
        assert_eq!(normalize_code(" abcd-efgh "), "ABCDEFGH");
        let (_, h1) = code_hash("ABCDEFGH").unwrap();
        let (_, h2) = code_hash("ABCDEFGH").unwrap();
        assert_ne!(h1, h2, "salted");
        assert!(crate::services::auth::verify_password(&h1, "ABCDEFGH"));
        assert!(!crate::services::auth::verify_password(&h1, "ABCDEFGX"));
        assert_eq!(SmsSender::parse("none").unwrap(), SmsSender::Disabled);
        assert_eq!(SmsSender::parse("file:/tmp/sms.txt").unwrap(), SmsSender::File("/tmp/sms.txt".into()));
        assert_eq!(
            SmsSender::parse("command:/usr/local/bin/sms").unwrap(),
            SmsSender::Command("/usr/local/bin/sms".into())
        );
        assert!(SmsSender::parse("http://gateway").is_err());
        assert!(SmsSender::parse("file:").is_err());
        assert_eq!(mask_phone("0912345678"), "•••••••678");
    }
}
