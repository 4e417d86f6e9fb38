//! Importing persons from the CSV or XLSX template: every row validated, a report of
//! every problem (row, column, value, reason), and nothing written unless the whole file
//! is valid — or, when the user asks for it explicitly, only the valid rows.

use std::collections::HashSet;
use std::sync::Arc;

use domain::admin::LegacyMapping;
use domain::{Gazetteer, PartialDate, PersonalId, Sex};
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::registry::{
    AssistanceRecord, MeritRecord, NewHousehold, NewPerson, PaymentMethod, PersonBatch, PreparedBatch,
};

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

/// Is this a merit category of Pháp lệnh 02/2020 Art. 3 (or `relative`) as stored?
pub fn is_merit(code: &str) -> bool {
    domain::categories::MERIT.iter().any(|c| c.0 == code)
}

/// Is this a social-assistance group of Decree 20/2021 Art. 5 as stored?
pub fn is_group(code: &str) -> bool {
    domain::categories::ASSISTANCE.iter().any(|c| c.0 == code)
}

/// Progress of a long import, reported to the caller (the CLI prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The file is read; this many data rows.
    Read { rows: usize },
    /// Rows checked so far.
    Validated { done: usize, total: usize },
    /// Persons written so far into the (still uncommitted) transaction.
    Written { rows: usize },
    /// Rebuilding indexes and committing.
    Committing,
}

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
    /// Rows that record linkage finds to be a person already in the registry or another row
    /// of the file (at most 1,000 listed).
    pub possible_duplicates: Vec<PossibleDuplicate>,
    /// Share of the rows that duplicate a person already in the registry.
    pub registry_duplicate_share: f64,
}

/// A row that looks like a person already registered, or like another row of the file.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PossibleDuplicate {
    pub row: usize,
    /// The registered person's ID, when the match is in the registry.
    pub registered_personal_id: Option<String>,
    /// The other row, when the match is in the file.
    pub other_row: Option<usize>,
    pub probability: f64,
}

/// How an import treats what record linkage finds.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Import even when more than `stop_share` of the rows duplicate registered persons.
    pub allow_duplicates: bool,
    /// Like UNICEF HOPE: an import is stopped for review when more than this share of its
    /// rows duplicate persons already registered.
    pub stop_share: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options { allow_duplicates: false, stop_share: 0.5 }
    }
}

/// Record linkage of the file's rows against a registry that is not empty and each other:
/// the records to link (the file's rows first) and the registry's personal IDs.
async fn linkage_input(
    store: &store::Store,
    checker: &Checker,
    table: &[Row],
    rows: &[usize],
) -> Result<(Vec<linkage::Record>, Vec<linkage::Record>, Vec<String>), AppError> {
    let new = file_records(checker, table, rows);
    let existing = store.check_persons().await?;
    let ids = existing.iter().map(|p| p.personal_id.clone()).collect();
    let old = existing
        .into_iter()
        .map(|p| linkage::Record {
            id: String::new(),
            full_name: p.full_name,
            birth_date: p.birth_date,
            sex: p.sex,
            personal_id: p.personal_id,
            commune: p.commune_code,
        })
        .collect();
    Ok((new, old, ids))
}

/// The file's rows as records to link.
fn file_records(checker: &Checker, table: &[Row], rows: &[usize]) -> Vec<linkage::Record> {
    let cell = |r: &Row, key: usize| cell_of(&checker.col, r, key).to_string();
    rows.iter()
        .map(|&i| {
            let r = &table[i];
            linkage::Record {
                id: String::new(),
                full_name: cell(r, 1),
                birth_date: cell(r, 2),
                sex: cell(r, 3),
                personal_id: cell(r, 0),
                commune: cell(r, 5),
            }
        })
        .collect()
}

/// Links the rows (`new`, at the file's `rows`) to the registry (`old`, with `ids`) and to
/// each other. Returns the possible duplicates and the share of rows that duplicate a
/// registered person.
fn link_rows(
    new: Vec<linkage::Record>,
    old: Vec<linkage::Record>,
    ids: Vec<String>,
    rows: &[usize],
) -> (Vec<PossibleDuplicate>, f64) {
    if new.is_empty() {
        return (Vec::new(), 0.0);
    }
    let outcome = linkage::link(&new, &old, &linkage::Config::default());
    let split = new.len() as u32;
    let mut found = Vec::new();
    let mut in_registry = HashSet::new();
    for p in outcome.pairs.iter().filter(|p| p.decision == linkage::Decision::Duplicate) {
        let row = rows[p.a as usize] + 1;
        if p.b >= split {
            in_registry.insert(p.a);
            found.push(PossibleDuplicate {
                row,
                registered_personal_id: ids.get((p.b - split) as usize).cloned(),
                other_row: None,
                probability: p.probability,
            });
        } else {
            found.push(PossibleDuplicate {
                row,
                registered_personal_id: None,
                other_row: Some(rows[p.b as usize] + 1),
                probability: p.probability,
            });
        }
    }
    found.truncate(1000);
    (found, in_registry.len() as f64 / new.len() as f64)
}

/// Reads the file into rows of text cells (header first), refusing legacy encodings
/// and malformed spreadsheets with a clear reason.
/// One row of cells (one allocation per row, not per cell: a million-row file stays small).
pub type Row = csv::StringRecord;

pub fn read_table(file_name: &str, bytes: &[u8]) -> Result<Vec<Row>, RowError> {
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
    let bytes = text.as_bytes();
    let reader = |from: usize| {
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(&bytes[from..])
    };
    let bad = |i: usize, e: csv::Error| RowError {
        row: i + 1,
        column: String::new(),
        value: String::new(),
        reason: format!("dòng CSV hỏng: {e}"),
    };
    // Reads records until the reader has consumed `until` bytes (or the end); returns
    // them and whether it stopped exactly there (positions from the start of `bytes`, for
    // a reader that starts there)
    let read = |rdr: &mut csv::Reader<&[u8]>,
                base: usize,
                first_row: usize,
                until: usize|
     -> Result<(Vec<Row>, bool), RowError> {
        let from = (base + rdr.position().byte() as usize).min(bytes.len());
        let lines = bytes[from..until.min(bytes.len()).max(from)].iter().filter(|&&b| b == b'\n').count();
        let mut out = Vec::with_capacity(lines + 1);
        // there, or one byte before it when that byte is the `\n` of a CRLF (the reader stops
        // after the `\r`; a lone `\n` never makes a record)
        let there = |pos: usize| pos == until || (pos + 1 == until && bytes.get(pos) == Some(&b'\n'));
        let mut rec = Row::new();
        while (rdr.position().byte() as usize) < until && !there(rdr.position().byte() as usize) {
            match rdr.read_record(&mut rec) {
                Ok(true) => {
                    rec.trim();
                    out.push(std::mem::take(&mut rec));
                }
                Ok(false) => break,
                Err(e) => return Err(bad(first_row + out.len(), e)),
            }
        }
        Ok((out, there(rdr.position().byte() as usize)))
    };
    // Large files are parsed in two halves at once, the second from the first line break
    // after the middle that is outside quotes (counting quotes: exact for CSV as Excel
    // writes it). The first half's reader must then stop exactly at that break; if it does
    // not (a stray quote in an unquoted cell), it simply reads on and the other half is
    // thrown away — the rows are always those of one reader going through the whole file.
    let split = (bytes.len() > 1 << 20)
        .then(|| {
            let mid = bytes.len() / 2;
            let inside = bytes[..mid].iter().filter(|&&b| b == b'"').count() % 2 == 1;
            let mut quoted = inside;
            bytes[mid..].iter().position(|&b| {
                quoted ^= b == b'"';
                b == b'\n' && !quoted
            })
        })
        .flatten()
        .map(|i| bytes.len() / 2 + i + 1)
        // a reader starting afresh drops a byte-order mark there, which one reader going
        // through keeps (and reports): not a place to split
        .filter(|&at| at < bytes.len() && !bytes[at..].starts_with(b"\xEF\xBB\xBF"));
    let Some(split) = split else {
        return read(&mut reader(0), 0, 0, usize::MAX).map(|(rows, _)| rows);
    };
    let (first, second) = std::thread::scope(|s| {
        let second = s.spawn(|| read(&mut reader(split), split, 0, usize::MAX));
        let mut rdr = reader(0);
        let first = read(&mut rdr, 0, 0, split).and_then(|(mut rows, exact)| {
            if !exact {
                let n = rows.len();
                rows.extend(read(&mut rdr, 0, n, usize::MAX)?.0);
            }
            Ok((rows, exact))
        });
        (first, second.join())
    });
    let (mut rows, exact) = first?;
    if exact {
        let n = rows.len();
        let second = second
            .map_err(|_| RowError {
                row: n + 1,
                column: String::new(),
                value: String::new(),
                reason: "dòng CSV hỏng".into(),
            })?
            .map_err(|e| RowError { row: e.row + n, ..e })?;
        rows.extend(second.0);
    }
    Ok(rows)
}

/// A cell's text as an officer typed it (dates as dd/mm/yyyy, whole numbers without `.0`).
pub(crate) fn xlsx_cell(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
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
    }
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Row>, String> {
    use calamine::{Reader, SheetVisible, Xlsx};
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
        out.push(Row::from(row.iter().map(xlsx_cell).collect::<Vec<String>>()));
    }
    Ok(out)
}

/// Characters that never occur in Unicode Vietnamese text but are how the TCVN3 (ABC)
/// and VNI fonts' bytes show when such text is read as Unicode.
pub(crate) fn looks_like_legacy_font(s: &str) -> bool {
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

/// Data rows validated per step of the pipeline: one step is checked on a worker thread
/// while the previous one is written.
const CHUNK_ROWS: usize = 50_000;
/// Chunks being checked ahead of the one being merged and written.
const CHECKS_IN_FLIGHT: usize = 2;

/// The cell of template column `key` (its position in `COLUMNS`) in a row: the file's
/// column positions are resolved once per file, not looked up by name for every cell.
fn cell_of<'a>(col: &[Option<usize>; COLUMNS.len()], r: &'a Row, key: usize) -> &'a str {
    col.get(key).copied().flatten().and_then(|i| r.get(i)).unwrap_or("")
}

fn header_of(key: &str) -> String {
    COLUMNS.iter().find(|c| c.0 == key).map_or(key, |c| c.1).to_string()
}

/// `yyyy-mm-dd` without chrono's format-string interpreter (it runs for every row).
fn iso_date(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// A row that passed every check that needs only the row itself.
struct RowOk {
    person: NewPerson,
    household: Option<NewHousehold>,
    merit: Option<MeritRecord>,
    assistance: Option<AssistanceRecord>,
    payment: Option<PaymentMethod>,
}

/// The outcome of checking one row on its own.
struct RowCheck {
    row_no: usize,
    /// The ID, when it parsed (for the duplicate checks, even if the row has other errors).
    personal_id: Option<String>,
    /// Boxed: a chunk of 50,000 unboxed rows was a 65 MB vector, faulted into fresh pages every chunk.
    ok: Option<Box<RowOk>>,
    errors: Vec<RowError>,
    mapped: bool,
}

/// The row-local checks: everything but duplicates, which need the whole file and the
/// registry. Owns what it needs, so that chunks can be checked on a blocking thread.
struct Checker {
    /// For each template column (by position in `COLUMNS`), its position in the file.
    col: [Option<usize>; COLUMNS.len()],
    g: Arc<Gazetteer>,
    province: String,
    area: Option<HashSet<String>>,
}

impl Checker {
    /// Matches the header (without diacritics or case) to the template's columns; the
    /// errors name every required column that is missing.
    fn new(
        header: &Row,
        g: Arc<Gazetteer>,
        province: &str,
        area: Option<HashSet<String>>,
    ) -> Result<Checker, Vec<RowError>> {
        let mut col = [None; COLUMNS.len()];
        for (i, h) in header.iter().enumerate() {
            let k = domain::text::search_key(h);
            if let Some(j) = COLUMNS.iter().position(|(key, vi, _)| domain::text::search_key(vi) == k || *key == k) {
                col[j] = Some(i);
            }
        }
        let missing: Vec<RowError> = COLUMNS
            .iter()
            .enumerate()
            .filter(|(j, (_, _, required))| *required && col[*j].is_none())
            .map(|(_, c)| c)
            .map(|(_, vi, _)| RowError {
                row: 1,
                column: (*vi).into(),
                value: String::new(),
                reason: "thiếu cột bắt buộc (xem tệp mẫu)".into(),
            })
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        Ok(Checker { col, g, province: province.to_string(), area })
    }

    fn check_rows(&self, table: &[Row], rows: &[usize]) -> Vec<RowCheck> {
        // sized up front: growing a vector of 50,000 large rows by doubling copied them
        // into fresh pages again and again (a third of the time, in the kernel zeroing pages)
        let mut out = Vec::with_capacity(rows.len());
        let mut names = domain::text::NameNormalizer::default();
        out.extend(rows.iter().filter_map(|&i| table.get(i).map(|r| self.check_row(i + 1, r, &mut names))));
        out
    }

    fn check_row(&self, row_no: usize, r: &Row, names: &mut domain::text::NameNormalizer) -> RowCheck {
        let mut errors = Vec::new();
        let mut mapped = false;
        let mut err = |key: &str, value: &str, reason: String| {
            errors.push(RowError {
                row: row_no,
                column: header_of(key),
                value: value.chars().take(100).collect(),
                reason,
            })
        };
        let col = &self.col;
        let g = &*self.g;
        for (key, i) in [("full_name", 1), ("address_line", 6), ("legacy_address", 7), ("ethnicity", 4)] {
            if looks_like_legacy_font(cell_of(col, r, i)) {
                err(key, cell_of(col, r, i), "chữ có vẻ gõ bằng phông TCVN3/VNI: hãy chuyển sang Unicode (ví dụ bằng công cụ chuyển mã của Unikey) rồi nhập lại".into());
            }
        }
        let raw_id = cell_of(col, r, 0 /* personal_id */);
        let birth = match PartialDate::parse(cell_of(col, r, 2 /* birth_date */)) {
            Ok(d) => Some(d),
            Err(e) => {
                err("birth_date", cell_of(col, r, 2 /* birth_date */), format!("ngày sinh không hợp lệ: {}", e.vi()));
                None
            }
        };
        let sex = match domain::text::search_key(cell_of(col, r, 3 /* sex */)).as_str() {
            "nam" | "male" | "m" => Some(Sex::Male),
            "nu" | "female" | "f" => Some(Sex::Female),
            _ => {
                err("sex", cell_of(col, r, 3 /* sex */), "ghi Nam hoặc Nữ".into());
                None
            }
        };
        let pid = match PersonalId::parse(raw_id) {
            Ok(p) => {
                for inc in p.check_against(birth, sex) {
                    err("personal_id", raw_id, format!("không khớp với hồ sơ: {}", inc.vi()));
                }
                Some(p)
            }
            Err(e) => {
                err("personal_id", raw_id, e.vi());
                None
            }
        };
        let (name, name_key) = names.normalize(cell_of(col, r, 1 /* full_name */));
        if name.is_empty() {
            err("full_name", "", "họ tên không được để trống".into());
        }
        let code = cell_of(col, r, 5 /* commune_code */);
        let commune = match g.commune(code) {
            Some(c) if c.province_code == self.province => Some(c.code.clone()),
            Some(c) => {
                err("commune_code", code, format!("{} thuộc tỉnh khác", c.name));
                None
            }
            None => match g.map_legacy_code(code) {
                LegacyMapping::Unique(c) => {
                    mapped = true;
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
        if let (Some(c), Some(area)) = (&commune, &self.area) {
            if !area.contains(c) {
                err("commune_code", code, format!("xã {c} ngoài phạm vi được giao của bạn"));
            }
        }
        let address = domain::text::clean_whitespace(cell_of(col, r, 6 /* address_line */));
        if address.is_empty() {
            err("address_line", "", "địa chỉ không được để trống".into());
        }
        let deceased = match cell_of(col, r, 20 /* deceased_on */) {
            "" => None,
            d => match domain::calendar::parse_date(d) {
                Ok(x) if birth.is_some_and(|b| x < b.earliest()) => {
                    err("deceased_on", d, "ngày từ trần trước ngày sinh".into());
                    None
                }
                Ok(x) => Some(iso_date(x)),
                Err(e) => {
                    err("deceased_on", d, format!("ngày không hợp lệ: {}", e.vi()));
                    None
                }
            },
        };
        let decision_date = match cell_of(col, r, 13 /* decision_date */) {
            "" => None,
            d => match domain::calendar::parse_date(d) {
                Ok(x) => Some(iso_date(x)),
                Err(e) => {
                    err("decision_date", d, format!("ngày không hợp lệ: {}", e.vi()));
                    None
                }
            },
        };
        let merit = domain::text::search_key(cell_of(col, r, 11 /* merit_category */)).replace('đ', "dd");
        let merit = if merit == "than nhan" { "relative".to_string() } else { merit };
        if !merit.is_empty() && !is_merit(&merit) {
            err(
                "merit_category",
                cell_of(col, r, 11 /* merit_category */),
                "diện không có (a … m theo Điều 3 Pháp lệnh 02/2020, hoặc \"thân nhân\")".into(),
            );
        }
        let group = domain::text::search_key(cell_of(col, r, 15 /* assistance_group */));
        if !group.is_empty() && !is_group(&group) {
            err(
                "assistance_group",
                cell_of(col, r, 15 /* assistance_group */),
                "nhóm không có (k1 … k8 theo Điều 5 Nghị định 20/2021)".into(),
            );
        }
        if (!merit.is_empty() || !group.is_empty())
            && (cell_of(col, r, 12 /* decision_no */).is_empty() || decision_date.is_none())
        {
            err("decision_no", cell_of(col, r, 12 /* decision_no */), "diện hưởng cần số và ngày quyết định".into());
        }
        let injury = match cell_of(col, r, 14 /* injury_rate */).trim_end_matches('%') {
            "" => None,
            v => match v.trim().parse::<i64>() {
                Ok(x) if (1..=100).contains(&x) => Some(x),
                _ => {
                    err("injury_rate", v, "tỷ lệ thương tật là số nguyên từ 1 đến 100".into());
                    None
                }
            },
        };
        let disability = match domain::text::search_key(cell_of(col, r, 16 /* disability_level */)).as_str() {
            "" => None,
            "nang" | "severe" => Some("severe".to_string()),
            "dac biet nang" | "especially_severe" => Some("especially_severe".to_string()),
            _ => {
                err(
                    "disability_level",
                    cell_of(col, r, 16 /* disability_level */),
                    "ghi \"nặng\" hoặc \"đặc biệt nặng\"".into(),
                );
                None
            }
        };
        let method = match domain::text::search_key(cell_of(col, r, 17 /* payment_method */)).as_str() {
            "" | "tien mat" | "cash" => "cash",
            "chuyen khoan" | "bank" => "bank",
            _ => {
                err(
                    "payment_method",
                    cell_of(col, r, 17 /* payment_method */),
                    "ghi \"tiền mặt\" hoặc \"chuyển khoản\"".into(),
                );
                "cash"
            }
        };
        let account = cell_of(col, r, 19 /* account_no */).replace([' ', '.', '-'], "");
        if method == "bank" && (account.len() < 6 || account.len() > 20 || !account.chars().all(|c| c.is_ascii_digit()))
        {
            err("account_no", cell_of(col, r, 19 /* account_no */), "chuyển khoản cần số tài khoản 6–20 chữ số".into());
        }
        let personal_id = pid.as_ref().map(|p| p.to_string());
        let (Some(pid), Some(birth), Some(sex), Some(commune), true) = (pid, birth, sex, commune, errors.is_empty())
        else {
            return RowCheck { row_no, personal_id, ok: None, errors, mapped };
        };
        let household = Some(cell_of(col, r, 9 /* household_code */).to_string()).filter(|c| !c.is_empty());
        let p = pid.to_string();
        let dd = decision_date.clone().unwrap_or_default();
        let ok = RowOk {
            household: household.as_ref().map(|h| NewHousehold {
                code: h.clone(),
                commune_code: commune.clone(),
                address_line: address.clone(),
                status: "none".into(),
                status_from: "2025-07-01".into(),
            }),
            merit: (!merit.is_empty()).then(|| MeritRecord {
                category: merit,
                decision_no: cell_of(col, r, 12 /* decision_no */).to_string(),
                decision_date: dd.clone(),
                issuer: "Sở Nội vụ".into(),
                injury_rate: injury,
                valid_from: dd.clone(),
                ..Default::default()
            }),
            assistance: (!group.is_empty()).then(|| AssistanceRecord {
                group_code: group,
                disability_level: disability,
                decision_no: cell_of(col, r, 12 /* decision_no */).to_string(),
                decision_date: dd.clone(),
                valid_from: dd.clone(),
                ..Default::default()
            }),
            payment: (!cell_of(col, r, 17 /* payment_method */).is_empty()).then(|| PaymentMethod {
                method: method.into(),
                bank_name: Some(cell_of(col, r, 18 /* bank_name */).to_string()).filter(|e| !e.is_empty()),
                account_no: (method == "bank").then_some(account),
                valid_from: "2025-07-01".into(),
                ..Default::default()
            }),
            person: NewPerson {
                personal_id: p,
                name_keys: Some(store::registry::name_keys_of(name_key)),
                full_name: name,
                birth_date: birth.to_iso(),
                sex: if sex == Sex::Male { "male" } else { "female" }.into(),
                ethnicity: Some(domain::text::clean_whitespace(cell_of(col, r, 4 /* ethnicity */)))
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| "Kinh".into()),
                commune_code: commune,
                address_line: address,
                legacy_address: Some(domain::text::clean_whitespace(cell_of(col, r, 7 /* legacy_address */)))
                    .filter(|e| !e.is_empty()),
                phone: Some(cell_of(col, r, 8 /* phone */).to_string()).filter(|e| !e.is_empty()),
                deceased_on: deceased,
                cmnd: None,
                bhxh_code: None,
                household_code: household,
                relation_to_head: Some(cell_of(col, r, 10 /* relation_to_head */).to_string())
                    .filter(|e| !e.is_empty()),
                valid_from: "2025-07-01".into(),
            },
        };
        RowCheck { row_no, personal_id, ok: Some(Box::new(ok)), errors, mapped }
    }
}

/// The checks across rows — duplicates within the file and against the registry, and
/// households met for the first time — applied to checked rows in file order.
#[derive(Default)]
struct Merger {
    seen: rustc_hash::FxHashMap<String, usize>,
    new_hh: rustc_hash::FxHashSet<String>,
    errors: Vec<RowError>,
    mapped: usize,
    valid_rows: usize,
}

/// Checked rows with what the registry already holds of their IDs and household codes.
struct Looked {
    checked: Vec<RowCheck>,
    existing: HashSet<String>,
    existing_hh: HashSet<String>,
}

/// Looks up which IDs and household codes of checked rows are already registered (what
/// was committed before this import began: rows of the import itself are caught as
/// duplicates within the file).
async fn look_up(store: &store::Store, checked: Vec<RowCheck>) -> Result<Looked, AppError> {
    let ids: Vec<String> = checked.iter().filter_map(|c| c.personal_id.clone()).collect();
    let existing = store.existing_personal_ids(&ids).await?;
    let codes: Vec<String> = checked
        .iter()
        .filter_map(|c| c.ok.as_ref().and_then(|o| o.household.as_ref()).map(|h| h.code.clone()))
        .collect();
    let existing_hh = store.existing_household_codes(&codes).await?;
    Ok(Looked { checked, existing, existing_hh })
}

impl Merger {
    /// Returns what the valid rows of this chunk add to the registry.
    fn merge(&mut self, looked: Looked) -> PersonBatch {
        let Looked { checked, existing, existing_hh } = looked;
        let mut batch = PersonBatch { persons: Vec::with_capacity(checked.len()), ..Default::default() };
        for c in checked {
            let mut errors = c.errors;
            if let Some(p) = &c.personal_id {
                let mut err = |reason: String| {
                    errors.push(RowError { row: c.row_no, column: header_of("personal_id"), value: p.clone(), reason })
                };
                if existing.contains(p) {
                    err("đã có trong sổ đối tượng".into());
                }
                if let Some(first) = self.seen.insert(p.clone(), c.row_no) {
                    err(format!("trùng với dòng {first} trong tệp"));
                }
            }
            self.mapped += usize::from(c.mapped);
            let (Some(ok), true) = (c.ok, errors.is_empty()) else {
                self.errors.extend(errors);
                continue;
            };
            self.valid_rows += 1;
            let ok = *ok;
            let pid = ok.person.personal_id.clone();
            if let Some(h) = ok.household {
                if !existing_hh.contains(&h.code) && self.new_hh.insert(h.code.clone()) {
                    batch.households.push(h);
                }
            }
            batch.persons.push(ok.person);
            if let Some(m) = ok.merit {
                batch.merits.push((pid.clone(), m));
            }
            if let Some(a) = ok.assistance {
                batch.assistance.push((pid.clone(), a));
            }
            if let Some(m) = ok.payment {
                batch.payments.push((pid, m));
            }
        }
        batch
    }
}

/// Indexes of the data rows (not the header, not blank lines).
fn data_rows(table: &[Row]) -> Vec<usize> {
    (1..table.len()).filter(|&i| table[i].iter().any(|c| !c.is_empty())).collect()
}

/// Validates every row of a small table and builds what would be written (the form for
/// one new dossier goes through here: the same checks as an import).
pub async fn validate(
    store: &store::Store,
    g: &Arc<Gazetteer>,
    province: &str,
    area: Option<&HashSet<String>>,
    table: &[Row],
) -> Result<(PersonBatch, Vec<RowError>), AppError> {
    let Some(header) = table.first() else {
        return Ok((PersonBatch::default(), vec![empty_file()]));
    };
    let checker = match Checker::new(header, g.clone(), province, area.cloned()) {
        Ok(c) => c,
        Err(errors) => return Ok((PersonBatch::default(), errors)),
    };
    let checked = checker.check_rows(table, &data_rows(table));
    let mut merger = Merger::default();
    let batch = merger.merge(look_up(store, checked).await?);
    Ok((batch, merger.errors))
}

fn empty_file() -> RowError {
    RowError { row: 0, column: String::new(), value: String::new(), reason: "tệp trống".into() }
}

/// Validates and (unless a dry run, or invalid in all-or-nothing mode) imports.
///
/// The file is processed in chunks of `CHUNK_ROWS` in a pipeline: while one chunk is
/// written into the open transaction, the next is checked on a blocking thread (the other
/// core). In all-or-nothing mode the first invalid row stops the writing and rolls the
/// transaction back at once, releasing the write lock (the rest is still validated, for the
/// report); nothing is visible to anyone before the final commit.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    store: &store::Store,
    g: &Arc<Gazetteer>,
    ctx: &Ctx,
    province: &str,
    file_name: &str,
    bytes: &[u8],
    mode: Mode,
    options: Options,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ImportReport, AppError> {
    import_in_chunks(store, g, ctx, province, file_name, bytes, mode, options, progress, CHUNK_ROWS).await
}

/// `import` with the chunk size as a parameter (tests use tiny chunks).
#[allow(clippy::too_many_arguments)]
async fn import_in_chunks(
    store: &store::Store,
    g: &Arc<Gazetteer>,
    ctx: &Ctx,
    province: &str,
    file_name: &str,
    bytes: &[u8],
    mode: Mode,
    options: Options,
    progress: &(dyn Fn(Progress) + Sync),
    chunk_rows: usize,
) -> Result<ImportReport, AppError> {
    let area: Option<HashSet<String>> = match ctx.authorize(perm::REGISTRY_IMPORT)? {
        None => None,
        Some(p) => match &p.scope {
            crate::services::authz::Scope::Province => None,
            crate::services::authz::Scope::Communes(c) => Some(c.iter().cloned().collect()),
            _ => return Err(AppError::Forbidden("import outside an area".into())),
        },
    };
    // the file's digest (for the audit trail) on the other core while this one parses it
    let (sha256, table) = std::thread::scope(|s| {
        let digest = s.spawn(|| hex::encode(Sha256::digest(bytes)));
        let table = read_table(file_name, bytes);
        (digest.join(), table)
    });
    let sha256 = sha256.map_err(|_| AppError::Internal("hashing the imported file failed".into()))?;
    let mut report = ImportReport {
        file_name: file_name.to_string(),
        sha256: sha256.clone(),
        rows: 0,
        valid_rows: 0,
        imported: 0,
        dry_run: mode == Mode::DryRun,
        errors: Vec::new(),
        mapped_communes: 0,
        possible_duplicates: Vec::new(),
        registry_duplicate_share: 0.0,
    };
    let table = match table {
        Ok(t) => Arc::new(t),
        Err(e) => {
            report.errors.push(e);
            return Ok(report);
        }
    };
    let Some(header) = table.first() else {
        report.errors.push(empty_file());
        return Ok(report);
    };
    let checker = match Checker::new(header, g.clone(), province, area) {
        Ok(c) => Arc::new(c),
        Err(errors) => {
            report.errors = errors;
            return Ok(report);
        }
    };
    let rows = data_rows(&table);
    let total = rows.len();
    report.rows = total;
    progress(Progress::Read { rows: total });
    // record linkage against the registry and within the file: before anything is written
    // when there is a registry to stop for; when the registry is empty (then only duplicates
    // within the file, which are reported, never stop the import) it starts once every row
    // is checked and runs while the writer writes the last chunks and SQLite builds the
    // indexes and commits — on the core the single-threaded writer leaves idle —, not during
    // the chunks, where it would take the checks' core from under the writer
    let registry_empty = rows.is_empty() || store.person_count().await? == 0;
    // the linkage's input (a million records) is built where the linkage runs
    let spawn_linkage = |rows: Vec<usize>| {
        let (checker, table) = (checker.clone(), table.clone());
        tokio::task::spawn_blocking(move || {
            link_rows(file_records(&checker, &table, &rows), Vec::new(), Vec::new(), &rows)
        })
    };
    let mut later_linkage = None;
    let mut linking = None;
    if registry_empty && mode == Mode::DryRun {
        // nothing will be written: alongside the checks
        linking = Some(spawn_linkage(rows.clone()));
    } else if registry_empty {
        later_linkage = Some(rows.clone());
    } else {
        let (new, old, ids) = linkage_input(store, &checker, &table, &rows).await?;
        let (found, share) = super::cpu_bound(|| link_rows(new, old, ids, &rows));
        report.registry_duplicate_share = share;
        report.possible_duplicates = found;
    }
    let stop = report.registry_duplicate_share > options.stop_share && !options.allow_duplicates;
    if stop {
        report.errors.push(RowError {
            row: 0,
            column: String::new(),
            value: file_name.to_string(),
            reason: format!(
                "{:.0}% số dòng trùng với người đã có trong sổ đối tượng (ngưỡng {:.0}%): tệp dừng lại để rà soát, không ghi gì. Xem danh sách nghi trùng; nếu đúng là người mới, nhập lại và chọn cho phép trùng",
                report.registry_duplicate_share * 100.0,
                options.stop_share * 100.0
            ),
        });
        return Ok(report);
    }
    let chunks: Vec<Vec<usize>> = rows.chunks(chunk_rows.max(1)).map(<[usize]>::to_vec).collect();
    // A chunk is checked on a blocking thread and looked up in the registry (on another
    // connection) while the previous chunk is being written.
    let spawn_check = |chunk: Vec<usize>| {
        let (checker, table, store) = (checker.clone(), table.clone(), store.clone());
        tokio::spawn(async move {
            let checked = tokio::task::spawn_blocking(move || checker.check_rows(&table, &chunk))
                .await
                .map_err(|e| AppError::Internal(format!("import check task: {e}")))?;
            look_up(&store, checked).await
        })
    };
    let mut merger = Merger::default();
    let mut writer: Option<store::registry::BulkWriter> = None;
    // two chunks in flight: both cores check when nothing is being written (dry runs,
    // the first chunk), and the writer never waits for a check
    let mut next = chunks.into_iter();
    let mut pending: std::collections::VecDeque<_> = next.by_ref().take(CHECKS_IN_FLIGHT).map(spawn_check).collect();
    let mut done = 0usize;
    // The merge of chunk k+1 (on this task) runs while chunk k is written (on the writer's
    // blocking thread): the writer, the slowest stage, never waits for a merge.
    let mut ready: Option<store::registry::PreparedBatch> = None;
    let outcome: Result<(), AppError> = async {
        loop {
            let write = async {
                match ready.take() {
                    Some(batch) => {
                        if writer.is_none() {
                            writer = Some(store.begin_bulk(total, &ctx.actor()).await?);
                        }
                        if let Some(w) = writer.as_mut() {
                            w.write_prepared(batch).await?;
                            progress(Progress::Written { rows: w.persons() });
                        }
                        Ok::<_, AppError>(())
                    }
                    None => Ok(()),
                }
            };
            let merge = async {
                let Some(task) = pending.pop_front() else { return Ok::<_, AppError>(None) };
                let looked = task.await.map_err(|e| AppError::Internal(format!("import check task: {e}")))??;
                pending.extend(next.next().map(spawn_check));
                done += looked.checked.len();
                let batch = merger.merge(looked);
                progress(Progress::Validated { done, total });
                if pending.is_empty() {
                    // every row is checked: the linkage takes the core the checks leave,
                    // while the writer writes the last chunks
                    if let Some(rows) = later_linkage.take() {
                        linking = Some(spawn_linkage(rows));
                    }
                }
                let write = match mode {
                    Mode::DryRun => false,
                    Mode::AllOrNothing => merger.errors.is_empty(),
                    Mode::ValidRowsOnly => true,
                };
                // what the writer would otherwise work out on its own thread
                Ok(Some((write, (write && !batch.persons.is_empty()).then(|| PreparedBatch::of(batch, store)))))
            };
            let (written, merged) = tokio::join!(write, merge);
            written?;
            let Some((write, batch)) = merged? else { break };
            if mode == Mode::AllOrNothing && !write {
                // the file will not be imported: release the write lock now, not after the
                // rest of the file has been checked
                if let Some(w) = writer.take() {
                    if let Err(e) = w.rollback().await {
                        tracing::warn!(error = %e, "rolling back an abandoned import");
                    }
                }
            }
            ready = batch;
        }
        Ok(())
    }
    .await;
    for task in pending {
        task.abort();
    }
    if let Some(rows) = later_linkage {
        linking = Some(spawn_linkage(rows));
    }
    report.valid_rows = merger.valid_rows;
    report.mapped_communes = merger.mapped;
    report.errors = merger.errors;
    let commit = outcome.is_ok()
        && match mode {
            Mode::DryRun => false,
            Mode::AllOrNothing => report.errors.is_empty(),
            Mode::ValidRowsOnly => true,
        };
    if let Some(w) = writer {
        if commit {
            let imported = w.persons();
            let mut a = ctx.audit("registry.import", "person", None);
            a.detail = Some(format!(
                "file {file_name} sha256 {sha256}: {} rows, {imported} imported, {} rejected",
                report.rows,
                report.rows - imported
            ));
            progress(Progress::Committing);
            report.imported = w.commit(&a).await?;
        } else if let Err(e) = w.rollback().await {
            tracing::warn!(error = %e, "rolling back an abandoned import");
        }
    }
    if let Some(task) = linking {
        let (found, share) = task.await.map_err(|e| AppError::Internal(format!("import linkage task: {e}")))?;
        report.possible_duplicates = found;
        report.registry_duplicate_share = share;
    }
    outcome?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use store::testing::TestDb;

    /// `read_table` of a large file (parsed in two halves at once) gives exactly the rows
    /// of one reader going through the whole file — with quoted line breaks and quotes,
    /// CRLF line ends, blank lines, and stray quotes in unquoted cells (which make the
    /// halves' guess of a line start wrong).
    #[test]
    fn a_large_csv_read_in_two_halves_is_read_as_one() {
        let one_reader = |bytes: &[u8]| -> Vec<Vec<String>> {
            let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
            rdr.records()
                .map(|r| {
                    let mut r = r.unwrap_or_default();
                    r.trim();
                    r.iter().map(str::to_string).collect()
                })
                .collect()
        };
        let cases: [(&str, &str); 7] = [
            ("plain", "\n"),
            ("quoted", "\n"),
            ("crlf", "\r\n"),
            ("stray", "\n"),
            ("blank", "\n\n"),
            // one stray quote, then cells with quoted line breaks: the guess is wrong
            ("misled", "\n"),
            // files joined together: every line starts with a byte-order mark
            ("bom", "\n\u{feff}"),
        ];
        for (kind, end) in cases {
            let mut text = String::from("a,b,c");
            text.push_str(end);
            let mut i = 0;
            while text.len() < 3 << 20 {
                let row = match kind {
                    "quoted" => format!("{i},\"Tổ {i}\nkhu \"\"A\"\", phố\", x"),
                    "stray" if i % 7 == 0 => format!("{i},Tổ \"{i},x"),
                    "misled" if i == 3 => format!("{i},Tổ \"{i},x"),
                    "misled" => format!("{i},\"Tổ {i}\nkhu A\",x"),
                    _ => format!("{i}, Nguyễn Văn {i} ,x"),
                };
                text.push_str(&row);
                text.push_str(end);
                i += 1;
            }
            let rows = read_table("f.csv", text.as_bytes()).unwrap_or_default();
            let got: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(str::to_string).collect()).collect();
            let want = one_reader(text.as_bytes());
            assert!(want.len() > 50_000, "{kind}: {} rows", want.len());
            assert_eq!(got.len(), want.len(), "{kind}");
            assert!(got == want, "{kind}: the rows differ");
        }
    }

    /// A valid template row for person `i` of commune 25210 (Đồng Nai).
    fn row(i: usize, household: &str) -> String {
        // 075 = Đồng Nai, 0 = male born in the 1900s, 72 = 1972
        let pid = format!("075072{i:06}");
        // even rows: a war invalid (category c) with a decision; every third row: paid by bank
        let merit = if i.is_multiple_of(2) { format!("c,QĐ-{i},01/02/2000,{}", 20 + i) } else { ",,,".into() };
        let pay =
            if i.is_multiple_of(3) { format!("chuyển khoản,Agribank,{:010}", i) } else { "tiền mặt,,".into() };
        format!("{pid},Nguyễn Văn An {i},04/03/1972,Nam,Kinh,25210,Ấp {i},,,{household},,{merit},,,{pay},")
    }

    fn file(rows: &[String]) -> Vec<u8> {
        let header: Vec<&str> = COLUMNS.iter().map(|c| c.1).collect();
        format!("{}\n{}\n", header.join(","), rows.join("\n")).into_bytes()
    }

    async fn run(db: &TestDb, bytes: &[u8], mode: Mode) -> ImportReport {
        let g = Arc::new(crate::services::setup::gazetteer().unwrap());
        // the rows are namesakes a digit apart: this test is about chunks, not duplicates
        let options = Options { allow_duplicates: true, ..Options::default() };
        import_in_chunks(&db.store, &g, &Ctx::cli(), "75", "t.csv", bytes, mode, options, &|_| {}, 2).await.unwrap()
    }

    async fn imports(db: &TestDb) -> i64 {
        let f = store::AuditFilter { action: Some("registry.import".into()), ..Default::default() };
        db.store.audit_search(&f, store::Page::default()).await.unwrap().total
    }

    /// The pipeline across chunks of two rows: all-or-nothing holds across chunks, a
    /// duplicate is found across chunks, valid-rows-only writes the rest, one audit entry.
    async fn chunked(backend: store::Backend) {
        let db = TestDb::new(backend).await;
        db.store.load_reference_data(&crate::services::setup::gazetteer().unwrap(), false).await.unwrap();
        // 7 rows = 4 chunks; a household shared by rows of different chunks
        let good: Vec<String> = (1..=7).map(|i| row(i, if i.is_multiple_of(3) { "" } else { "HO-A" })).collect();
        let r = run(&db, &file(&good), Mode::AllOrNothing).await;
        assert_eq!((r.rows, r.valid_rows, r.imported), (7, 7, 7), "{:?}", r.errors);
        assert_eq!(db.store.person_count().await.unwrap(), 7);
        assert_eq!(imports(&db).await, 1, "one audit entry per import");
        let hh = db.store.person_by_personal_id("075072000001").await.unwrap().unwrap().household_id;
        let hh7 = db.store.person_by_personal_id("075072000007").await.unwrap().unwrap().household_id;
        assert!(hh.is_some() && hh == hh7, "one household across chunks");
        // each record belongs to the person of its row (ids are assigned in bulk)
        for i in 1..=7usize {
            let p = db.store.person_by_personal_id(&format!("075072{i:06}")).await.unwrap().unwrap();
            let merits = db.store.merit_records(p.id).await.unwrap();
            let pays = db.store.payment_methods(p.id).await.unwrap();
            assert_eq!(p.full_name, format!("Nguyễn Văn An {i}"));
            if i.is_multiple_of(2) {
                assert_eq!(merits.len(), 1);
                assert_eq!(
                    (merits[0].decision_no.clone(), merits[0].injury_rate),
                    (format!("QĐ-{i}"), Some(20 + i as i64))
                );
                assert_eq!(p.categories, "|c|");
            } else {
                assert!(merits.is_empty());
            }
            assert_eq!(pays.len(), 1);
            let expected = if i.is_multiple_of(3) { Some(format!("{i:010}")) } else { None };
            assert_eq!(pays[0].account_no, expected);
        }

        // an error in the last chunk: nothing of the earlier chunks stays
        let mut bad: Vec<String> = (11..=16).map(|i| row(i, "")).collect();
        bad.push(row(17, "").replace("04/03/1972", "31/02/1972"));
        let r = run(&db, &file(&bad), Mode::AllOrNothing).await;
        assert_eq!((r.rows, r.valid_rows, r.imported), (7, 6, 0));
        assert_eq!(r.errors.len(), 1);
        assert_eq!((r.errors[0].row, r.errors[0].column.as_str()), (8, "Ngày sinh"));
        assert_eq!(db.store.person_count().await.unwrap(), 7, "the registry is exactly as it was");
        assert_eq!(imports(&db).await, 1);

        // a duplicate across chunks and one already registered; only valid rows written
        let mut mixed: Vec<String> = (21..=24).map(|i| row(i, "")).collect();
        mixed.push(row(21, ""));
        mixed.push(row(1, ""));
        let r = run(&db, &file(&mixed), Mode::ValidRowsOnly).await;
        assert_eq!((r.rows, r.valid_rows, r.imported), (6, 4, 4));
        let reasons: Vec<(usize, &str)> = r.errors.iter().map(|e| (e.row, e.reason.as_str())).collect();
        assert_eq!(reasons, vec![(6, "trùng với dòng 2 trong tệp"), (7, "đã có trong sổ đối tượng")]);
        assert_eq!(db.store.person_count().await.unwrap(), 11);

        // a dry run writes nothing, whatever the file
        let r = run(&db, &file(&(31..=35).map(|i| row(i, "")).collect::<Vec<_>>()), Mode::DryRun).await;
        assert_eq!((r.valid_rows, r.imported), (5, 0));
        assert_eq!(db.store.person_count().await.unwrap(), 11);
        assert_eq!(imports(&db).await, 2);
        db.finish().await;
    }

    #[tokio::test]
    async fn chunked_import_on_sqlite() {
        chunked(store::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn chunked_import_on_postgres() {
        chunked(store::Backend::Postgres).await;
    }
}
