//! Importing persons from the CSV or XLSX template: every row validated, a report of
//! every problem (row, column, value, reason), and nothing written unless the whole file
//! is valid — or, when the user asks for it explicitly, only the valid rows.

use std::collections::{HashMap, HashSet};

use domain::admin::LegacyMapping;
use domain::{Gazetteer, PartialDate, PersonalId, Sex};
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::registry::{AssistanceRecord, MeritRecord, NewHousehold, NewPerson, PaymentMethod, PersonBatch};

use crate::error::AppError;
use crate::services::authz::{perm, Ctx};

/// The template's columns: (key, Vietnamese header, required).
pub const COLUMNS: [(&str, &str, bool); 21] = [
    ("personal_id", "Số định danh cá nhân", true),
    ("full_name", "Họ và tên", true),
    ("birth_date", "Ngày sinh", true),
    ("sex", "Giới tính", true),
    ("ethnicity", "Dân tộc", false),
    ("commune_code", "Mã xã", true),
    ("address_line", "Địa chỉ", true),
    ("legacy_address", "Địa chỉ trước 01/07/2025", false),
    ("phone", "Điện thoại", false),
    ("household_code", "Mã hộ", false),
    ("relation_to_head", "Quan hệ với chủ hộ", false),
    ("merit_category", "Diện người có công", false),
    ("decision_no", "Số quyết định", false),
    ("decision_date", "Ngày quyết định", false),
    ("injury_rate", "Tỷ lệ thương tật", false),
    ("assistance_group", "Nhóm bảo trợ xã hội", false),
    ("disability_level", "Mức độ khuyết tật", false),
    ("payment_method", "Hình thức chi trả", false),
    ("bank_name", "Ngân hàng", false),
    ("account_no", "Số tài khoản", false),
    ("deceased_on", "Ngày từ trần", false),
];

/// Merit categories of Pháp lệnh 02/2020 Art. 3 (and relatives) as stored.
pub const MERIT: [&str; 13] = ["a", "b", "c", "d", "dd", "e", "g", "h", "i", "k", "l", "m", "relative"];
/// Social-assistance groups of Decree 20/2021 Art. 5 as stored.
pub const GROUPS: [&str; 11] = ["k1", "k2", "k3", "k4", "k5a", "k5b", "k5c", "k5d", "k6", "k7", "k8"];

/// Progress of a long import, reported to the caller (the CLI prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Read { rows: usize },
    Validated { done: usize, total: usize },
    Writing { rows: usize },
    Written { rows: usize },
}

/// Rows between two progress reports.
const PROGRESS_EVERY: usize = 100_000;

/// One problem found in the file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RowError {
    /// Row number as the spreadsheet shows it (the header is row 1); 0 = the file itself.
    pub row: usize,
    pub column: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Validate only; write nothing.
    DryRun,
    /// Write only if every row is valid.
    AllOrNothing,
    /// Write the valid rows; the rejects go to the report.
    ValidRowsOnly,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub file_name: String,
    pub sha256: String,
    pub rows: usize,
    pub valid_rows: usize,
    pub imported: usize,
    pub dry_run: bool,
    pub errors: Vec<RowError>,
    /// Pre-2025 commune codes mapped to today's.
    pub mapped_communes: usize,
}

/// Reads the file into rows of text cells (header first), refusing legacy encodings
/// and malformed spreadsheets with a clear reason.
pub fn read_table(file_name: &str, bytes: &[u8]) -> Result<Vec<Vec<String>>, RowError> {
    let lower = file_name.to_lowercase();
    let file_err = |reason: String| RowError { row: 0, column: String::new(), value: file_name.to_string(), reason };
    if lower.ends_with(".xlsx") || bytes.starts_with(b"PK\x03\x04") {
        return read_xlsx(bytes).map_err(file_err);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim_start_matches('\u{feff}'),
        Err(e) => {
            return Err(file_err(format!(
                "tệp không phải UTF-8 (byte lạ ở vị trí {}): có thể là bảng mã Windows-1258/TCVN3. Hãy lưu lại dạng \"CSV UTF-8\" rồi nhập lại",
                e.valid_up_to()
            )))
        }
    };
    let delimiter =
        if text.lines().next().is_some_and(|h| h.matches(';').count() > h.matches(',').count()) { b';' } else { b',' };
    let mut rdr =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| RowError {
            row: i + 1,
            column: String::new(),
            value: String::new(),
            reason: format!("dòng CSV hỏng: {e}"),
        })?;
        out.push(rec.iter().map(|c| c.trim().to_string()).collect());
    }
    Ok(out)
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    use calamine::{Data, Reader, SheetVisible, Xlsx};
    let mut wb: Xlsx<_> =
        Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| format!("không đọc được tệp Excel: {e}"))?;
    let visible: Vec<String> =
        wb.sheets_metadata().iter().filter(|s| s.visible == SheetVisible::Visible).map(|s| s.name.clone()).collect();
    let Some(sheet) = visible.first().cloned() else {
        return Err("tệp Excel không có trang tính nào đang hiện".into());
    };
    let merged = wb.merge_cells_by_sheet_name(&sheet).map_err(|e| format!("không đọc được ô gộp: {e}"))?;
    if merged.iter().any(|d| d.start.0 == 0 || d.end.0 == 0) {
        return Err(format!(
            "dòng tiêu đề của trang \"{sheet}\" có ô gộp: hãy bỏ gộp, mỗi cột một tiêu đề như tệp mẫu"
        ));
    }
    let range = wb.worksheet_range(&sheet).map_err(|e| format!("không đọc được trang \"{sheet}\": {e}"))?;
    let mut out = Vec::new();
    for row in range.rows() {
        out.push(
            row.iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.trim().to_string(),
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
                    Data::Int(i) => i.to_string(),
                    // Excel serial day numbers count from 1899-12-30
                    Data::DateTime(d) => chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                        .and_then(|base| base.checked_add_signed(chrono::Duration::days(d.as_f64().floor() as i64)))
                        .map(|t| t.format("%d/%m/%Y").to_string())
                        .unwrap_or_default(),
                    other => other.to_string(),
                })
                .collect(),
        );
    }
    Ok(out)
}

/// Characters that never occur in Unicode Vietnamese text but are how the TCVN3 (ABC)
/// and VNI fonts' bytes show when such text is read as Unicode.
fn looks_like_legacy_font(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(
            c,
            '¸' | 'µ'
                | '¶'
                | '·'
                | '¹'
                | '¨'
                | '©'
                | '®'
                | 'ª'
                | '«'
                | '¬'
                | '¯'
                | '±'
                | '²'
                | '³'
                | '´'
                | '½'
                | '¾'
                | '¼'
                | 'ø'
                | 'ö'
                | 'ä'
                | 'ë'
                | 'ï'
                | 'å'
                | 'ñ'
                | 'û'
                | 'Ø'
                | 'Ö'
                | 'Ä'
                | 'Ë'
                | 'Å'
        )
    })
}

fn iso(d: &PartialDate) -> String {
    d.to_iso()
}

/// Validates every row and builds what would be written.
pub async fn validate(
    store: &store::Store,
    g: &Gazetteer,
    province: &str,
    area: Option<&HashSet<String>>,
    table: &[Vec<String>],
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(PersonBatch, Vec<RowError>, usize, usize, Vec<bool>), AppError> {
    let mut errors = Vec::new();
    let Some(header) = table.first() else {
        errors.push(RowError { row: 0, column: String::new(), value: String::new(), reason: "tệp trống".into() });
        return Ok((PersonBatch::default(), errors, 0, 0, Vec::new()));
    };
    // header → column index, matched without diacritics or case
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        let k = domain::text::search_key(h);
        if let Some((key, _, _)) = COLUMNS.iter().find(|(key, vi, _)| domain::text::search_key(vi) == k || *key == k) {
            col.insert(key, i);
        }
    }
    for (key, vi, required) in COLUMNS {
        if required && !col.contains_key(key) {
            errors.push(RowError {
                row: 1,
                column: vi.into(),
                value: String::new(),
                reason: "thiếu cột bắt buộc (xem tệp mẫu)".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Ok((PersonBatch::default(), errors, 0, 0, Vec::new()));
    }
    let rows: Vec<(usize, &Vec<String>)> = table
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, r)| r.iter().any(|c| !c.is_empty()))
        .map(|(i, r)| (i + 1, r))
        .collect();
    fn cell_of<'a>(col: &HashMap<&str, usize>, r: &'a [String], key: &str) -> &'a str {
        col.get(key).and_then(|&i| r.get(i)).map(String::as_str).unwrap_or("")
    }
    let header_of = |key: &str| COLUMNS.iter().find(|c| c.0 == key).map_or(key, |c| c.1).to_string();
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|(_, r)| PersonalId::parse(cell_of(&col, r, "personal_id")).ok())
        .map(|p| p.to_string())
        .collect();
    let existing = store.existing_personal_ids(&ids).await?;
    let hh_codes: Vec<String> =
        rows.iter().map(|(_, r)| cell_of(&col, r, "household_code").to_string()).filter(|c| !c.is_empty()).collect();
    let existing_hh = store.existing_household_codes(&hh_codes).await?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut batch = PersonBatch::default();
    let mut new_hh: HashSet<String> = HashSet::new();
    let mut valid = vec![false; table.len()];
    let mut mapped = 0usize;
    let total_rows = rows.len();
    for (done, (row_no, r)) in rows.iter().enumerate() {
        if done % PROGRESS_EVERY == 0 && done > 0 {
            progress(Progress::Validated { done, total: total_rows });
        }
        let before = errors.len();
        let mut err = |key: &str, value: &str, reason: String| {
            errors.push(RowError {
                row: *row_no,
                column: header_of(key),
                value: value.chars().take(100).collect(),
                reason,
            })
        };
        for key in ["full_name", "address_line", "legacy_address", "ethnicity"] {
            if looks_like_legacy_font(cell_of(&col, r, key)) {
                err(key, cell_of(&col, r, key), "chữ có vẻ gõ bằng phông TCVN3/VNI: hãy chuyển sang Unicode (ví dụ bằng công cụ chuyển mã của Unikey) rồi nhập lại".into());
            }
        }
        let raw_id = cell_of(&col, r, "personal_id");
        let birth = match PartialDate::parse(cell_of(&col, r, "birth_date")) {
            Ok(d) => Some(d),
            Err(e) => {
                err("birth_date", cell_of(&col, r, "birth_date"), format!("ngày sinh không hợp lệ: {e}"));
                None
            }
        };
        let sex = match domain::text::search_key(cell_of(&col, r, "sex")).as_str() {
            "nam" | "male" | "m" => Some(Sex::Male),
            "nu" | "female" | "f" => Some(Sex::Female),
            _ => {
                err("sex", cell_of(&col, r, "sex"), "ghi Nam hoặc Nữ".into());
                None
            }
        };
        let pid = match PersonalId::parse(raw_id) {
            Ok(p) => {
                for inc in p.check_against(birth, sex) {
                    err("personal_id", raw_id, format!("không khớp với hồ sơ: {inc}"));
                }
                if existing.contains(p.as_str()) {
                    err("personal_id", raw_id, "đã có trong sổ đối tượng".into());
                }
                if let Some(first) = seen.insert(p.to_string(), *row_no) {
                    err("personal_id", raw_id, format!("trùng với dòng {first} trong tệp"));
                }
                Some(p)
            }
            Err(e) => {
                err("personal_id", raw_id, e.to_string());
                None
            }
        };
        let name = domain::text::normalize_name(cell_of(&col, r, "full_name"));
        if name.is_empty() {
            err("full_name", "", "họ tên không được để trống".into());
        }
        let code = cell_of(&col, r, "commune_code");
        let commune = match g.commune(code) {
            Some(c) if c.province_code == province => Some(c.code.clone()),
            Some(c) => {
                err("commune_code", code, format!("{} thuộc tỉnh khác", c.name));
                None
            }
            None => match g.map_legacy_code(code) {
                LegacyMapping::Unique(c) => {
                    mapped += 1;
                    Some(c.code.clone())
                }
                LegacyMapping::Split(cs) | LegacyMapping::Ambiguous(cs) => {
                    let names: Vec<String> = cs.iter().map(|c| format!("{} ({})", c.name, c.code)).collect();
                    err("commune_code", code, format!("xã cũ này đã chia cho {}: ghi mã xã mới", names.join(", ")));
                    None
                }
                LegacyMapping::NotFound => {
                    err("commune_code", code, "mã xã không tồn tại".into());
                    None
                }
            },
        };
        if let (Some(c), Some(area)) = (&commune, area) {
            if !area.contains(c) {
                err("commune_code", code, format!("xã {c} ngoài phạm vi được giao của bạn"));
            }
        }
        let address = domain::text::clean_whitespace(cell_of(&col, r, "address_line"));
        if address.is_empty() {
            err("address_line", "", "địa chỉ không được để trống".into());
        }
        let deceased = match cell_of(&col, r, "deceased_on") {
            "" => None,
            d => match domain::calendar::parse_date(d) {
                Ok(x) if birth.is_some_and(|b| x < b.earliest()) => {
                    err("deceased_on", d, "ngày từ trần trước ngày sinh".into());
                    None
                }
                Ok(x) => Some(x.format("%Y-%m-%d").to_string()),
                Err(e) => {
                    err("deceased_on", d, format!("ngày không hợp lệ: {e}"));
                    None
                }
            },
        };
        let decision_date = match cell_of(&col, r, "decision_date") {
            "" => None,
            d => match domain::calendar::parse_date(d) {
                Ok(x) => Some(x.format("%Y-%m-%d").to_string()),
                Err(e) => {
                    err("decision_date", d, format!("ngày không hợp lệ: {e}"));
                    None
                }
            },
        };
        let merit = domain::text::search_key(cell_of(&col, r, "merit_category")).replace('đ', "dd");
        let merit = if merit == "than nhan" { "relative".to_string() } else { merit };
        if !merit.is_empty() && !MERIT.contains(&merit.as_str()) {
            err(
                "merit_category",
                cell_of(&col, r, "merit_category"),
                "diện không có (a … m theo Điều 3 Pháp lệnh 02/2020, hoặc \"thân nhân\")".into(),
            );
        }
        let group = domain::text::search_key(cell_of(&col, r, "assistance_group"));
        if !group.is_empty() && !GROUPS.contains(&group.as_str()) {
            err(
                "assistance_group",
                cell_of(&col, r, "assistance_group"),
                "nhóm không có (k1 … k8 theo Điều 5 Nghị định 20/2021)".into(),
            );
        }
        if (!merit.is_empty() || !group.is_empty())
            && (cell_of(&col, r, "decision_no").is_empty() || decision_date.is_none())
        {
            err("decision_no", cell_of(&col, r, "decision_no"), "diện hưởng cần số và ngày quyết định".into());
        }
        let injury = match cell_of(&col, r, "injury_rate").trim_end_matches('%') {
            "" => None,
            v => match v.trim().parse::<i64>() {
                Ok(x) if (1..=100).contains(&x) => Some(x),
                _ => {
                    err("injury_rate", v, "tỷ lệ thương tật là số nguyên từ 1 đến 100".into());
                    None
                }
            },
        };
        let disability = match domain::text::search_key(cell_of(&col, r, "disability_level")).as_str() {
            "" => None,
            "nang" | "severe" => Some("severe".to_string()),
            "dac biet nang" | "especially_severe" => Some("especially_severe".to_string()),
            _ => {
                err(
                    "disability_level",
                    cell_of(&col, r, "disability_level"),
                    "ghi \"nặng\" hoặc \"đặc biệt nặng\"".into(),
                );
                None
            }
        };
        let method = match domain::text::search_key(cell_of(&col, r, "payment_method")).as_str() {
            "" | "tien mat" | "cash" => "cash",
            "chuyen khoan" | "bank" => "bank",
            _ => {
                err(
                    "payment_method",
                    cell_of(&col, r, "payment_method"),
                    "ghi \"tiền mặt\" hoặc \"chuyển khoản\"".into(),
                );
                "cash"
            }
        };
        let account = cell_of(&col, r, "account_no").replace([' ', '.', '-'], "");
        if method == "bank" && (account.len() < 6 || account.len() > 20 || !account.chars().all(|c| c.is_ascii_digit()))
        {
            err("account_no", cell_of(&col, r, "account_no"), "chuyển khoản cần số tài khoản 6–20 chữ số".into());
        }
        if errors.len() > before {
            continue;
        }
        let (Some(pid), Some(birth), Some(sex), Some(commune)) = (pid, birth, sex, commune) else { continue };
        valid[*row_no - 1] = true;
        let household = Some(cell_of(&col, r, "household_code").to_string()).filter(|c| !c.is_empty());
        if let Some(h) = &household {
            if !existing_hh.contains(h) && new_hh.insert(h.clone()) {
                batch.households.push(NewHousehold {
                    code: h.clone(),
                    commune_code: commune.clone(),
                    address_line: address.clone(),
                    status: "none".into(),
                    status_from: "2025-07-01".into(),
                });
            }
        }
        let p = pid.to_string();
        batch.persons.push(NewPerson {
            personal_id: p.clone(),
            full_name: name,
            birth_date: iso(&birth),
            sex: if sex == Sex::Male { "male" } else { "female" }.into(),
            ethnicity: Some(domain::text::clean_whitespace(cell_of(&col, r, "ethnicity")))
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "Kinh".into()),
            commune_code: commune,
            address_line: address,
            legacy_address: Some(domain::text::clean_whitespace(cell_of(&col, r, "legacy_address")))
                .filter(|e| !e.is_empty()),
            phone: Some(cell_of(&col, r, "phone").to_string()).filter(|e| !e.is_empty()),
            deceased_on: deceased,
            cmnd: None,
            bhxh_code: None,
            household_code: household,
            relation_to_head: Some(cell_of(&col, r, "relation_to_head").to_string()).filter(|e| !e.is_empty()),
            valid_from: "2025-07-01".into(),
        });
        let dd = decision_date.clone().unwrap_or_default();
        if !merit.is_empty() {
            batch.merits.push((
                p.clone(),
                MeritRecord {
                    category: merit,
                    decision_no: cell_of(&col, r, "decision_no").to_string(),
                    decision_date: dd.clone(),
                    issuer: "Sở Nội vụ".into(),
                    injury_rate: injury,
                    valid_from: dd.clone(),
                    ..Default::default()
                },
            ));
        }
        if !group.is_empty() {
            batch.assistance.push((
                p.clone(),
                AssistanceRecord {
                    group_code: group,
                    disability_level: disability,
                    decision_no: cell_of(&col, r, "decision_no").to_string(),
                    decision_date: dd.clone(),
                    valid_from: dd.clone(),
                    ..Default::default()
                },
            ));
        }
        if !cell_of(&col, r, "payment_method").is_empty() {
            batch.payments.push((
                p,
                PaymentMethod {
                    method: method.into(),
                    bank_name: Some(cell_of(&col, r, "bank_name").to_string()).filter(|e| !e.is_empty()),
                    account_no: (method == "bank").then_some(account),
                    valid_from: "2025-07-01".into(),
                    ..Default::default()
                },
            ));
        }
    }
    Ok((batch, errors, rows.len(), mapped, valid))
}

/// Validates and (unless a dry run, or invalid in all-or-nothing mode) imports.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    store: &store::Store,
    g: &Gazetteer,
    ctx: &Ctx,
    province: &str,
    file_name: &str,
    bytes: &[u8],
    mode: Mode,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ImportReport, AppError> {
    let area: Option<HashSet<String>> = match ctx.authorize(perm::REGISTRY_IMPORT)? {
        None => None,
        Some(p) => match &p.scope {
            crate::services::authz::Scope::Province => None,
            crate::services::authz::Scope::Communes(c) => Some(c.iter().cloned().collect()),
            _ => return Err(AppError::Forbidden("import outside an area".into())),
        },
    };
    let sha256 = hex::encode(Sha256::digest(bytes));
    let mut report = ImportReport {
        file_name: file_name.to_string(),
        sha256: sha256.clone(),
        rows: 0,
        valid_rows: 0,
        imported: 0,
        dry_run: mode == Mode::DryRun,
        errors: Vec::new(),
        mapped_communes: 0,
    };
    let table = match read_table(file_name, bytes) {
        Ok(t) => t,
        Err(e) => {
            report.errors.push(e);
            return Ok(report);
        }
    };
    progress(Progress::Read { rows: table.len().saturating_sub(1) });
    let (batch, errors, rows, mapped, _) = validate(store, g, province, area.as_ref(), &table, progress).await?;
    report.rows = rows;
    report.valid_rows = batch.persons.len();
    report.mapped_communes = mapped;
    report.errors = errors;
    let write = match mode {
        Mode::DryRun => false,
        Mode::AllOrNothing => report.errors.is_empty() && !batch.persons.is_empty(),
        Mode::ValidRowsOnly => !batch.persons.is_empty(),
    };
    if write {
        let mut a = ctx.audit("registry.import", "person", None);
        a.detail = Some(format!(
            "file {file_name} sha256 {sha256}: {} rows, {} imported, {} rejected",
            report.rows,
            batch.persons.len(),
            report.rows - batch.persons.len()
        ));
        progress(Progress::Writing { rows: batch.persons.len() });
        store.insert_person_batch(&batch, &ctx.actor(), &a).await?;
        report.imported = batch.persons.len();
        progress(Progress::Written { rows: report.imported });
    }
    Ok(report)
}

/// The CSV template (UTF-8 with BOM so that Excel shows the diacritics) with one example row.
pub fn template_csv() -> Vec<u8> {
    let mut out = vec![0xEF, 0xBB, 0xBF];
    out.extend(COLUMNS.iter().map(|c| c.1).collect::<Vec<_>>().join(",").as_bytes());
    out.extend(b"\n075058012345,Nguy\xe1\xbb\x85n V\xc4\x83n An,02/09/1958,Nam,Kinh,26068,\"T\xe1\xbb\x95 5, khu ph\xe1\xbb\x91 3\",,0912345678,HO-26068-0000001,ch\xe1\xbb\xa7 h\xe1\xbb\x99,g,123/Q\xc4\x90-L\xc4\x90TBXH,15/03/1990,41,,,chuy\xe1\xbb\x83n kho\xe1\xba\xa3n,Agribank,5800205123456,\n");
    out
}

/// The error report as CSV.
pub fn errors_csv(errors: &[RowError]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let _ = w.write_record(["Dòng", "Cột", "Giá trị", "Lý do"]);
    for e in errors {
        let _ = w.write_record([e.row.to_string(), e.column.clone(), e.value.clone(), e.reason.clone()]);
    }
    w.into_inner().unwrap_or_default()
}

pub fn errors_rows(errors: &[RowError]) -> Vec<Vec<String>> {
    errors.iter().map(|e| vec![e.row.to_string(), e.column.clone(), e.value.clone(), e.reason.clone()]).collect()
}
