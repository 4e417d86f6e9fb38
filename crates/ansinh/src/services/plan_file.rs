//! Plan files: the documented template (TOML, or XLSX with the same content on four sheets),
//! read into one [`PlanFile`], checked row by row into a [`store::plans::NewPlan`], and
//! written back as the XLSX template. The format is described in `docs/plans.md`.

use serde::{Deserialize, Serialize};

use domain::plan::{parse_value, Deadline, Direction, Milli, PeriodKind, Unit};

/// The seed plan: Kế hoạch 230/KH-UBND of Đồng Nai (2024), as far as its text was published.
pub const SEED_PLAN_TOML: &str = include_str!("../../../../data/plans/230-KH-UBND-2024.toml");

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub plan: PlanHeader,
    #[serde(default)]
    pub sections: Vec<SectionFile>,
    #[serde(default)]
    pub indicators: Vec<IndicatorFile>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanHeader {
    pub number: String,
    pub title: String,
    pub issued_on: String,
    pub issuer: String,
    pub legal_basis: String,
    pub period_from: String,
    pub period_to: String,
    #[serde(default)]
    pub parent: String,
    pub owner_agency: String,
    pub report_kinds: Vec<String>,
    pub report_due_days: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionFile {
    pub code: String,
    pub title: String,
    #[serde(default)]
    pub tasks: Vec<TaskFile>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFile {
    pub code: String,
    pub content: String,
    pub lead: String,
    #[serde(default)]
    pub coordinate: Vec<String>,
    pub deadline: String,
    #[serde(default)]
    pub expected_output: String,
    /// Later changes of the lead agency (a reorganisation).
    #[serde(default)]
    pub reassign: Vec<ReassignFile>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReassignFile {
    pub agency: String,
    pub from: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorFile {
    pub code: String,
    pub name_vi: String,
    #[serde(default)]
    pub name_en: String,
    pub unit: String,
    pub direction: String,
    #[serde(default)]
    pub baseline: Option<String>,
    #[serde(default)]
    pub baseline_year: Option<i64>,
    /// `reported` (by `agency`) or `computed` (by `computed`)
    pub source: String,
    #[serde(default)]
    pub agency: Option<String>,
    #[serde(default)]
    pub computed: Option<String>,
    #[serde(default)]
    pub min: Option<String>,
    #[serde(default)]
    pub max: Option<String>,
    pub legal_basis: String,
    #[serde(default)]
    pub targets: Vec<TargetFile>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetFile {
    pub year: i64,
    /// a commune code; the whole province when absent
    #[serde(default)]
    pub commune: Option<String>,
    pub value: String,
}

/// One thing wrong in a plan file: where, which field, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    pub place: String,
    pub field: String,
    pub vi: String,
    pub en: String,
}

impl FileError {
    fn new(place: &str, field: &str, vi: impl Into<String>, en: impl Into<String>) -> FileError {
        FileError { place: place.into(), field: field.into(), vi: vi.into(), en: en.into() }
    }
}

/// The computed indicators ansinh can keep current from its own data.
pub const COMPUTED: [(&str, &str, &str); 5] = [
    (
        "merit_paid_monthly",
        "Người có công đang hưởng trợ cấp hằng tháng",
        "People with merit receiving monthly allowances",
    ),
    ("paid_within_cycle", "Tỷ lệ dòng chi trả được chi trong kỳ", "Payment lines paid within their cycle"),
    ("assistance_beneficiaries", "Đối tượng bảo trợ xã hội đang hưởng", "Social-assistance beneficiaries in force"),
    (
        "complaints_on_time",
        "Tỷ lệ khiếu nại, tố cáo giải quyết đúng hạn",
        "Complaints and denunciations resolved on time",
    ),
    ("satisfaction_index", "Chỉ số hài lòng của người dân (1–5)", "Citizens' satisfaction index (1–5)"),
];

pub fn parse_toml(text: &str) -> Result<PlanFile, Vec<FileError>> {
    toml::from_str::<PlanFile>(text).map_err(|e| {
        let place = e.span().map(|s| {
            let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
            format!("dòng {line}")
        });
        let msg = e.message().to_string();
        vec![FileError::new(
            &place.unwrap_or_default(),
            "",
            format!("tệp TOML sai cấu trúc: {msg}"),
            format!("the TOML file is malformed: {msg}"),
        )]
    })
}

/// What the store knows, for checking references.
pub struct Known<'a> {
    pub agencies: &'a [store::AgencyRow],
    pub gazetteer: &'a domain::Gazetteer,
    pub province: &'a str,
}

/// Checks every field; on success the plan as stored. All errors are returned, not the first.
pub fn validate(f: &PlanFile, k: &Known<'_>) -> Result<store::plans::NewPlan, Vec<FileError>> {
    let mut errs = Vec::new();
    let p = &f.plan;
    let agency_ok = |code: &str| k.agencies.iter().any(|a| a.code == code);
    let mut need = |place: &str, field: &str, v: &str| {
        if v.trim().is_empty() {
            errs.push(FileError::new(place, field, "bắt buộc, đang để trống", "required, empty"));
        }
    };
    let head = "[plan]";
    need(head, "number", &p.number);
    need(head, "title", &p.title);
    need(head, "issuer", &p.issuer);
    need(head, "legal_basis", &p.legal_basis);
    let date = |errs: &mut Vec<FileError>, place: &str, field: &str, v: &str| -> Option<chrono::NaiveDate> {
        match domain::calendar::parse_date(v) {
            Ok(d) => Some(d),
            Err(e) => {
                errs.push(FileError::new(place, field, format!("{v:?}: {}", e.vi()), format!("{v:?}: {e}")));
                None
            }
        }
    };
    let issued = date(&mut errs, head, "issued_on", &p.issued_on);
    let from = date(&mut errs, head, "period_from", &p.period_from);
    let to = date(&mut errs, head, "period_to", &p.period_to);
    if let (Some(a), Some(b)) = (from, to) {
        if a > b {
            errs.push(FileError::new(head, "period_to", "kết thúc trước ngày bắt đầu", "ends before it starts"));
        }
    }
    if !agency_ok(&p.owner_agency) {
        errs.push(unknown_agency(head, "owner_agency", &p.owner_agency));
    }
    let mut kinds = Vec::new();
    for k in &p.report_kinds {
        match PeriodKind::parse(k) {
            Some(kind) => kinds.push(kind.code()),
            None => errs.push(FileError::new(
                head,
                "report_kinds",
                format!("{k:?} không phải kỳ báo cáo (monthly, quarterly, six_monthly, annual)"),
                format!("{k:?} is not a report period kind (monthly, quarterly, six_monthly, annual)"),
            )),
        }
    }
    if kinds.is_empty() && p.report_kinds.is_empty() {
        errs.push(FileError::new(
            head,
            "report_kinds",
            "cần ít nhất một kỳ báo cáo",
            "at least one report period kind",
        ));
    }
    if !(1..=30).contains(&p.report_due_days) {
        errs.push(FileError::new(
            head,
            "report_due_days",
            "phải từ 1 đến 30 ngày làm việc (Nghị định 09/2019: tối thiểu 01 ngày)",
            "must be 1–30 working days (Decree 09/2019: at least one)",
        ));
    }
    let iso = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let mut out = store::plans::NewPlan {
        number: p.number.trim().into(),
        title: p.title.trim().into(),
        issued_on: iso(issued),
        issuer: p.issuer.trim().into(),
        legal_basis: p.legal_basis.trim().into(),
        period_from: iso(from),
        period_to: iso(to),
        parent_ref: p.parent.trim().into(),
        owner_agency: p.owner_agency.trim().into(),
        report_kinds: kinds.join(","),
        report_due_days: p.report_due_days,
        ..Default::default()
    };
    let mut codes = std::collections::HashSet::new();
    let mut section_codes = std::collections::HashSet::new();
    for (si, s) in f.sections.iter().enumerate() {
        let place = format!("sections[{}] {}", si + 1, s.code);
        if s.code.trim().is_empty() || s.title.trim().is_empty() {
            errs.push(FileError::new(&place, "code/title", "mục cần mã và tên", "a section needs a code and a title"));
        }
        if !section_codes.insert(s.code.trim().to_string()) {
            errs.push(FileError::new(
                &place,
                "code",
                "mã mục bị trùng (trong XLSX: các nhiệm vụ của một mục phải liền nhau)",
                "duplicate section code (in XLSX: a section's tasks must be on consecutive rows)",
            ));
        }
        let mut section =
            store::plans::NewSection { code: s.code.trim().into(), title: s.title.trim().into(), tasks: vec![] };
        for (ti, t) in s.tasks.iter().enumerate() {
            let place = format!("{place} / tasks[{}] {}", ti + 1, t.code);
            if t.code.trim().is_empty() || t.content.trim().is_empty() {
                errs.push(FileError::new(
                    &place,
                    "code/content",
                    "nhiệm vụ cần mã và nội dung",
                    "a task needs a code and content",
                ));
            }
            if !codes.insert(t.code.trim().to_string()) {
                errs.push(FileError::new(&place, "code", "mã nhiệm vụ bị trùng", "duplicate task code"));
            }
            let deadline = match Deadline::parse(&t.deadline) {
                Some(d) => d.code(),
                None => {
                    errs.push(FileError::new(
                        &place,
                        "deadline",
                        format!("{:?}: cần một ngày (dd/mm/yyyy), một kỳ (hằng năm, 6 tháng, hằng quý, hằng tháng) hoặc \"thường xuyên\"", t.deadline),
                        format!("{:?}: expected a date (dd/mm/yyyy), a period (annual, six_monthly, quarterly, monthly) or \"continuous\"", t.deadline),
                    ));
                    String::new()
                }
            };
            let start = out.period_from.clone();
            let mut agencies = Vec::new();
            if !agency_ok(t.lead.trim()) {
                errs.push(unknown_agency(&place, "lead", &t.lead));
            }
            let mut lead_from = start.clone();
            let mut leads: Vec<(String, String, String)> = vec![(t.lead.trim().into(), start.clone(), String::new())];
            for r in &t.reassign {
                if !agency_ok(r.agency.trim()) {
                    errs.push(unknown_agency(&place, "reassign.agency", &r.agency));
                }
                if let Some(d) = date(&mut errs, &place, "reassign.from", &r.from) {
                    let d = d.format("%Y-%m-%d").to_string();
                    if d <= lead_from {
                        errs.push(FileError::new(
                            &place,
                            "reassign.from",
                            "phải sau lần giao trước",
                            "must follow the previous assignment",
                        ));
                    }
                    lead_from = d.clone();
                    leads.push((r.agency.trim().into(), d, r.reason.trim().into()));
                }
            }
            for (i, (a, from, reason)) in leads.iter().enumerate() {
                let to = leads.get(i + 1).and_then(|(_, next, _)| day_before(next));
                agencies.push((a.clone(), "lead".to_string(), from.clone(), to, reason.clone()));
            }
            for (ci, c) in t.coordinate.iter().enumerate() {
                if !agency_ok(c.trim()) {
                    errs.push(unknown_agency(&place, "coordinate", c));
                } else if t.coordinate[..ci].iter().any(|x| x.trim() == c.trim()) {
                    errs.push(FileError::new(
                        &place,
                        "coordinate",
                        format!("{c:?} ghi hai lần"),
                        format!("{c:?} given twice"),
                    ));
                } else {
                    agencies.push((c.trim().into(), "coordinate".into(), start.clone(), None, String::new()));
                }
            }
            section.tasks.push(store::plans::NewTask {
                code: t.code.trim().into(),
                content: t.content.trim().into(),
                deadline,
                expected_output: t.expected_output.trim().into(),
                agencies,
            });
        }
        out.sections.push(section);
    }
    let mut icodes = std::collections::HashSet::new();
    for (ii, ind) in f.indicators.iter().enumerate() {
        let place = format!("indicators[{}] {}", ii + 1, ind.code);
        if ind.code.trim().is_empty() || ind.name_vi.trim().is_empty() {
            errs.push(FileError::new(
                &place,
                "code/name_vi",
                "chỉ tiêu cần mã và tên",
                "an indicator needs a code and a name",
            ));
        }
        if !icodes.insert(ind.code.trim().to_string()) {
            errs.push(FileError::new(&place, "code", "mã chỉ tiêu bị trùng", "duplicate indicator code"));
        }
        let unit = Unit::parse(&ind.unit);
        if unit.is_none() {
            errs.push(FileError::new(
                &place,
                "unit",
                format!("{:?}: đơn vị phải là percent, persons, households, count, vnd hoặc points", ind.unit),
                format!("{:?}: unit must be percent, persons, households, count, vnd or points", ind.unit),
            ));
        }
        let direction = Direction::parse(&ind.direction);
        if direction.is_none() {
            errs.push(FileError::new(
                &place,
                "direction",
                format!("{:?}: phải là higher hoặc lower", ind.direction),
                format!("{:?}: must be higher or lower", ind.direction),
            ));
        }
        let u = unit.unwrap_or(Unit::Count);
        let value = |errs: &mut Vec<FileError>, field: &str, v: &str, min: Option<Milli>, max: Option<Milli>| {
            match parse_value(v, u, min, max) {
                Ok(m) => Some(m.0),
                Err(e) => {
                    errs.push(FileError::new(&place, field, e.vi(), e.to_string()));
                    None
                }
            }
        };
        // the range itself may go below zero (a decline rate): read without the unit's range
        let bound = |errs: &mut Vec<FileError>, field: &str, v: &str| match domain::plan::parse_number(v, u) {
            Ok(m) => Some(m.0),
            Err(e) => {
                errs.push(FileError::new(&place, field, e.vi(), e.to_string()));
                None
            }
        };
        let min = ind.min.as_deref().and_then(|v| bound(&mut errs, "min", v));
        let max = ind.max.as_deref().and_then(|v| bound(&mut errs, "max", v));
        let baseline =
            ind.baseline.as_deref().and_then(|v| value(&mut errs, "baseline", v, min.map(Milli), max.map(Milli)));
        if baseline.is_some() != ind.baseline_year.is_some() {
            errs.push(FileError::new(
                &place,
                "baseline_year",
                "giá trị gốc và năm gốc phải đi cùng nhau",
                "baseline and baseline_year go together",
            ));
        }
        let (source, computed, agency) = match ind.source.trim() {
            "reported" => {
                let a = ind.agency.clone().unwrap_or_default();
                if !agency_ok(a.trim()) {
                    errs.push(unknown_agency(&place, "agency", &a));
                }
                ("reported", None, Some(a.trim().to_string()))
            }
            "computed" => {
                let c = ind.computed.clone().unwrap_or_default();
                if !COMPUTED.iter().any(|(k, _, _)| *k == c) {
                    errs.push(FileError::new(
                        &place,
                        "computed",
                        format!("{c:?} không phải chỉ số ansinh tính được ({})", COMPUTED.map(|c| c.0).join(", ")),
                        format!("{c:?} is not an indicator ansinh computes ({})", COMPUTED.map(|c| c.0).join(", ")),
                    ));
                }
                ("computed", Some(c), None)
            }
            other => {
                errs.push(FileError::new(
                    &place,
                    "source",
                    format!("{other:?}: phải là reported hoặc computed"),
                    format!("{other:?}: must be reported or computed"),
                ));
                ("reported", None, None)
            }
        };
        let mut targets = Vec::new();
        for t in &ind.targets {
            let (level, code) = match t.commune.as_deref().map(str::trim) {
                None | Some("") => ("province".to_string(), k.province.to_string()),
                Some(c) => {
                    if k.gazetteer.commune(c).is_none_or(|x| x.province_code != k.province) {
                        errs.push(FileError::new(
                            &place,
                            "targets.commune",
                            format!("{c:?} không phải xã/phường của tỉnh"),
                            format!("{c:?} is not a commune of the province"),
                        ));
                    }
                    ("commune".to_string(), c.to_string())
                }
            };
            if !(2000..=2100).contains(&t.year) {
                errs.push(FileError::new(
                    &place,
                    "targets.year",
                    format!("năm {} không hợp lệ", t.year),
                    format!("year {} is not valid", t.year),
                ));
            }
            if targets.iter().any(|(y, l, c, _): &(i64, String, String, i64)| *y == t.year && *l == level && *c == code)
            {
                errs.push(FileError::new(
                    &place,
                    "targets",
                    format!("mục tiêu năm {} cho {code} ghi hai lần", t.year),
                    format!("target {} for {code} given twice", t.year),
                ));
                continue;
            }
            if let Some(v) = value(&mut errs, "targets.value", &t.value, min.map(Milli), max.map(Milli)) {
                targets.push((t.year, level, code, v));
            }
        }
        out.indicators.push(store::plans::NewIndicator {
            code: ind.code.trim().into(),
            name_vi: ind.name_vi.trim().into(),
            name_en: if ind.name_en.trim().is_empty() { ind.name_vi.trim().into() } else { ind.name_en.trim().into() },
            unit: u.code().into(),
            direction: direction.unwrap_or(Direction::Higher).code().into(),
            baseline_milli: baseline,
            baseline_year: ind.baseline_year,
            source: source.into(),
            computed_key: computed,
            agency_code: agency,
            min_milli: min,
            max_milli: max,
            legal_basis: ind.legal_basis.trim().into(),
            targets,
        });
        if ind.legal_basis.trim().is_empty() {
            errs.push(FileError::new(
                &place,
                "legal_basis",
                "mỗi chỉ tiêu cần căn cứ",
                "every indicator needs its legal basis",
            ));
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

fn unknown_agency(place: &str, field: &str, code: &str) -> FileError {
    FileError::new(
        place,
        field,
        format!("cơ quan {code:?} không có trong danh mục cơ quan"),
        format!("agency {code:?} is not in the list of agencies"),
    )
}

fn day_before(iso: &str) -> Option<String> {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.pred_opt())
        .map(|d| d.format("%Y-%m-%d").to_string())
}

// ---------- XLSX ----------

pub const SHEET_PLAN: &str = "KeHoach";
pub const SHEET_TASKS: &str = "NhiemVu";
pub const SHEET_INDICATORS: &str = "ChiTieu";
pub const SHEET_TARGETS: &str = "MucTieu";

const PLAN_FIELDS: [(&str, &str); 11] = [
    ("number", "Số hiệu"),
    ("title", "Tên kế hoạch"),
    ("issued_on", "Ngày ban hành"),
    ("issuer", "Cơ quan ban hành"),
    ("legal_basis", "Căn cứ"),
    ("period_from", "Thực hiện từ ngày"),
    ("period_to", "Đến ngày"),
    ("parent", "Thực hiện văn bản cấp trên"),
    ("owner_agency", "Cơ quan theo dõi (mã)"),
    ("report_kinds", "Kỳ báo cáo"),
    ("report_due_days", "Hạn nộp (ngày làm việc sau ngày chốt số liệu)"),
];
const TASK_COLS: [&str; 10] = [
    "Mã mục",
    "Tên mục",
    "Mã nhiệm vụ",
    "Nội dung",
    "Cơ quan chủ trì",
    "Cơ quan phối hợp",
    "Thời hạn",
    "Sản phẩm",
    "Giao lại cho",
    "Giao lại từ ngày | lý do",
];
const IND_COLS: [&str; 13] = [
    "Mã chỉ tiêu",
    "Tên chỉ tiêu",
    "Tên tiếng Anh",
    "Đơn vị",
    "Chiều tốt",
    "Giá trị gốc",
    "Năm gốc",
    "Nguồn",
    "Cơ quan báo cáo",
    "Chỉ số tính",
    "Tối thiểu",
    "Tối đa",
    "Căn cứ",
];
const TARGET_COLS: [&str; 4] = ["Mã chỉ tiêu", "Năm", "Mã xã (trống = toàn tỉnh)", "Mục tiêu"];

/// Reads the XLSX template. A missing sheet or column, a merged or hidden header, or a
/// sheet out of shape is refused with its name.
pub fn parse_xlsx(bytes: &[u8]) -> Result<PlanFile, Vec<FileError>> {
    use calamine::{Reader, Xlsx};
    let broken = |vi: String, en: String| vec![FileError::new("", "", vi, en)];
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|e| broken(format!("không đọc được tệp XLSX: {e}"), format!("cannot read the XLSX file: {e}")))?;
    let mut sheet = |name: &str| -> Result<Vec<Vec<String>>, Vec<FileError>> {
        let range = wb
            .worksheet_range(name)
            .map_err(|_| broken(format!("thiếu trang tính {name:?}"), format!("sheet {name:?} is missing")))?;
        Ok(range
            .rows()
            .map(|r| r.iter().map(crate::services::import::xlsx_cell).collect::<Vec<_>>())
            .filter(|r| r.iter().any(|c| !c.is_empty()))
            .collect())
    };
    let plan_rows = sheet(SHEET_PLAN)?;
    let task_rows = sheet(SHEET_TASKS)?;
    let ind_rows = sheet(SHEET_INDICATORS)?;
    let target_rows = sheet(SHEET_TARGETS)?;
    let mut errs = Vec::new();
    let get = |field: &str| -> String {
        plan_rows
            .iter()
            .find(|r| r.first().is_some_and(|c| c == field))
            .and_then(|r| r.get(2).cloned())
            .unwrap_or_default()
    };
    for (f, _) in PLAN_FIELDS {
        if !plan_rows.iter().any(|r| r.first().is_some_and(|c| c == f)) {
            errs.push(FileError::new(SHEET_PLAN, f, "thiếu dòng này", "row missing"));
        }
    }
    let header = PlanHeader {
        number: get("number"),
        title: get("title"),
        issued_on: get("issued_on"),
        issuer: get("issuer"),
        legal_basis: get("legal_basis"),
        period_from: get("period_from"),
        period_to: get("period_to"),
        parent: get("parent"),
        owner_agency: get("owner_agency"),
        report_kinds: get("report_kinds").split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        report_due_days: get("report_due_days").parse().unwrap_or(0),
    };
    let check_header = |errs: &mut Vec<FileError>, name: &str, rows: &[Vec<String>], cols: &[&str]| -> bool {
        let ok = rows
            .first()
            .is_some_and(|h| cols.iter().enumerate().all(|(i, c)| h.get(i).map(String::as_str) == Some(*c)));
        if !ok {
            errs.push(FileError::new(
                name,
                "",
                format!("dòng tiêu đề phải là: {}", cols.join(" | ")),
                format!("the header row must be: {}", cols.join(" | ")),
            ));
        }
        ok
    };
    let mut file = PlanFile { plan: header, ..Default::default() };
    let cell = |r: &Vec<String>, i: usize| r.get(i).cloned().unwrap_or_default();
    if check_header(&mut errs, SHEET_TASKS, &task_rows, &TASK_COLS) {
        for (i, r) in task_rows.iter().enumerate().skip(1) {
            let (scode, stitle) = (cell(r, 0), cell(r, 1));
            if file.sections.last().is_none_or(|s| s.code != scode) {
                file.sections.push(SectionFile { code: scode, title: stitle, tasks: vec![] });
            }
            let mut reassign = Vec::new();
            if !cell(r, 8).is_empty() {
                let v = cell(r, 9);
                let (from, reason) = v.split_once('|').map_or((v.as_str(), ""), |(a, b)| (a, b));
                reassign.push(ReassignFile {
                    agency: cell(r, 8),
                    from: from.trim().into(),
                    reason: reason.trim().into(),
                });
            }
            let task = TaskFile {
                code: cell(r, 2),
                content: cell(r, 3),
                lead: cell(r, 4),
                coordinate: cell(r, 5).split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
                deadline: cell(r, 6),
                expected_output: cell(r, 7),
                reassign,
            };
            if task.code.is_empty() {
                errs.push(FileError::new(
                    SHEET_TASKS,
                    &format!("dòng {}", i + 1),
                    "thiếu mã nhiệm vụ",
                    "task code missing",
                ));
            }
            if let Some(s) = file.sections.last_mut() {
                s.tasks.push(task);
            }
        }
    }
    if check_header(&mut errs, SHEET_INDICATORS, &ind_rows, &IND_COLS) {
        for r in ind_rows.iter().skip(1) {
            let opt = |i: usize| Some(cell(r, i)).filter(|s| !s.is_empty());
            file.indicators.push(IndicatorFile {
                code: cell(r, 0),
                name_vi: cell(r, 1),
                name_en: cell(r, 2),
                unit: cell(r, 3),
                direction: cell(r, 4),
                baseline: opt(5),
                baseline_year: opt(6).and_then(|y| y.parse().ok()),
                source: cell(r, 7),
                agency: opt(8),
                computed: opt(9),
                min: opt(10),
                max: opt(11),
                legal_basis: cell(r, 12),
                targets: vec![],
            });
        }
    }
    if check_header(&mut errs, SHEET_TARGETS, &target_rows, &TARGET_COLS) {
        for (i, r) in target_rows.iter().enumerate().skip(1) {
            let code = cell(r, 0);
            let Some(ind) = file.indicators.iter_mut().find(|x| x.code == code) else {
                errs.push(FileError::new(
                    SHEET_TARGETS,
                    &format!("dòng {}", i + 1),
                    format!("chỉ tiêu {code:?} không có trong trang {SHEET_INDICATORS}"),
                    format!("indicator {code:?} is not on sheet {SHEET_INDICATORS}"),
                ));
                continue;
            };
            let Ok(year) = cell(r, 1).parse::<i64>() else {
                errs.push(FileError::new(
                    SHEET_TARGETS,
                    &format!("dòng {}", i + 1),
                    format!("năm {:?} không hợp lệ", cell(r, 1)),
                    format!("year {:?} is not valid", cell(r, 1)),
                ));
                continue;
            };
            ind.targets.push(TargetFile {
                year,
                commune: Some(cell(r, 2)).filter(|s| !s.is_empty()),
                value: cell(r, 3),
            });
        }
    }
    if errs.is_empty() {
        Ok(file)
    } else {
        Err(errs)
    }
}

/// The plan as the XLSX template (with a guide sheet): the downloadable template is the seed
/// plan written this way.
pub fn to_xlsx(f: &PlanFile) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    {
        let ws = wb.add_worksheet().set_name("HuongDan")?;
        let guide = [
            "Mẫu kế hoạch của ansinh (xem docs/plans.md). Bốn trang tính: KeHoach, NhiemVu, ChiTieu, MucTieu; giữ nguyên tên trang và dòng tiêu đề.",
            "Ngày: dd/mm/yyyy. Thời hạn nhiệm vụ: một ngày, hoặc: hằng năm, 6 tháng, hằng quý, hằng tháng, thường xuyên.",
            "Cơ quan: ghi mã cơ quan (ví dụ SO_NOI_VU, SO_Y_TE, UBND_XA). Nhiều cơ quan phối hợp: cách nhau bằng dấu phẩy.",
            "Đơn vị chỉ tiêu: percent, persons, households, count, vnd, points. Chiều tốt: higher hoặc lower. Nguồn: reported (cơ quan báo cáo) hoặc computed (ansinh tự tính: merit_paid_monthly, paid_within_cycle, assistance_beneficiaries).",
            "Số thập phân dùng dấu phẩy (96,5). Mục tiêu theo xã: ghi mã xã; để trống là toàn tỉnh.",
        ];
        for (i, g) in guide.iter().enumerate() {
            ws.write_string(i as u32, 0, *g)?;
        }
        ws.set_column_width(0, 120)?;
    }
    {
        let ws = wb.add_worksheet().set_name(SHEET_PLAN)?;
        ws.write_string_with_format(0, 0, "Trường", &bold)?;
        ws.write_string_with_format(0, 1, "Ý nghĩa", &bold)?;
        ws.write_string_with_format(0, 2, "Giá trị", &bold)?;
        let p = &f.plan;
        let values = [
            p.number.clone(),
            p.title.clone(),
            p.issued_on.clone(),
            p.issuer.clone(),
            p.legal_basis.clone(),
            p.period_from.clone(),
            p.period_to.clone(),
            p.parent.clone(),
            p.owner_agency.clone(),
            p.report_kinds.join(","),
            p.report_due_days.to_string(),
        ];
        for (i, ((field, label), v)) in PLAN_FIELDS.iter().zip(values).enumerate() {
            let r = i as u32 + 1;
            ws.write_string(r, 0, *field)?;
            ws.write_string(r, 1, *label)?;
            ws.write_string(r, 2, v)?;
        }
        ws.set_column_width(1, 40)?;
        ws.set_column_width(2, 80)?;
    }
    {
        let ws = wb.add_worksheet().set_name(SHEET_TASKS)?;
        for (c, h) in TASK_COLS.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        let mut r = 1u32;
        for s in &f.sections {
            for t in &s.tasks {
                let re = t.reassign.first();
                let cells = [
                    s.code.clone(),
                    s.title.clone(),
                    t.code.clone(),
                    t.content.clone(),
                    t.lead.clone(),
                    t.coordinate.join(", "),
                    t.deadline.clone(),
                    t.expected_output.clone(),
                    re.map(|x| x.agency.clone()).unwrap_or_default(),
                    re.map(|x| format!("{} | {}", x.from, x.reason)).unwrap_or_default(),
                ];
                for (c, v) in cells.iter().enumerate() {
                    ws.write_string(r, c as u16, v)?;
                }
                r += 1;
            }
        }
        ws.set_column_width(3, 80)?;
    }
    {
        let ws = wb.add_worksheet().set_name(SHEET_INDICATORS)?;
        for (c, h) in IND_COLS.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (i, ind) in f.indicators.iter().enumerate() {
            let r = i as u32 + 1;
            let cells = [
                ind.code.clone(),
                ind.name_vi.clone(),
                ind.name_en.clone(),
                ind.unit.clone(),
                ind.direction.clone(),
                ind.baseline.clone().unwrap_or_default(),
                ind.baseline_year.map(|y| y.to_string()).unwrap_or_default(),
                ind.source.clone(),
                ind.agency.clone().unwrap_or_default(),
                ind.computed.clone().unwrap_or_default(),
                ind.min.clone().unwrap_or_default(),
                ind.max.clone().unwrap_or_default(),
                ind.legal_basis.clone(),
            ];
            for (c, v) in cells.iter().enumerate() {
                ws.write_string(r, c as u16, v)?;
            }
        }
        ws.set_column_width(1, 60)?;
    }
    {
        let ws = wb.add_worksheet().set_name(SHEET_TARGETS)?;
        for (c, h) in TARGET_COLS.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        let mut r = 1u32;
        for ind in &f.indicators {
            for t in &ind.targets {
                ws.write_string(r, 0, &ind.code)?;
                ws.write_string(r, 1, t.year.to_string())?;
                ws.write_string(r, 2, t.commune.clone().unwrap_or_default())?;
                ws.write_string(r, 3, &t.value)?;
                r += 1;
            }
        }
    }
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known_agencies() -> Vec<store::AgencyRow> {
        [
            "SO_NOI_VU",
            "SO_Y_TE",
            "SO_LDTBXH",
            "SO_VHTTDL",
            "SO_TAI_CHINH",
            "SO_GD_DT",
            "SO_NN_MT",
            "UBND_XA",
            "BHXH",
            "THANH_TRA",
            "MTTQ",
            "SO_KHCN",
            "CONG_AN",
            "SO_TU_PHAP",
            "UBND_TINH",
            "SO_KHDT",
            "SO_TTTT",
            "BCHQS",
        ]
        .iter()
        .map(|c| store::AgencyRow {
            code: (*c).into(),
            name_vi: (*c).into(),
            name_en: (*c).into(),
            kind: "department".into(),
            active: true,
        })
        .collect()
    }

    #[test]
    fn the_seed_plan_is_valid_and_round_trips_through_xlsx() {
        let g = domain::Gazetteer::embedded().unwrap();
        let agencies = known_agencies();
        let k = Known { agencies: &agencies, gazetteer: &g, province: "75" };
        let f = parse_toml(SEED_PLAN_TOML).unwrap();
        let plan = validate(&f, &k).unwrap_or_else(|e| panic!("{e:#?}"));
        assert_eq!(plan.number, "230/KH-UBND");
        assert!(plan.sections.iter().map(|s| s.tasks.len()).sum::<usize>() >= 12);
        let xlsx = to_xlsx(&f).unwrap();
        let back = validate(&parse_xlsx(&xlsx).unwrap(), &k).unwrap();
        assert_eq!(format!("{back:?}"), format!("{plan:?}"));
    }

    #[test]
    fn bad_files_name_the_place_and_field() {
        let g = domain::Gazetteer::embedded().unwrap();
        let agencies = known_agencies();
        let k = Known { agencies: &agencies, gazetteer: &g, province: "75" };
        let bad = SEED_PLAN_TOML.replacen("lead = \"SO_VHTTDL\"", "lead = \"SO_KHONG_CO\"", 1).replacen(
            "unit = \"percent\"",
            "unit = \"kg\"",
            1,
        );
        let errs = validate(&parse_toml(&bad).unwrap(), &k).unwrap_err();
        assert!(
            errs.iter().any(|e| e.field == "lead" && e.vi.contains("SO_KHONG_CO") && e.place.contains("tasks[")),
            "{errs:#?}"
        );
        assert!(errs.iter().any(|e| e.field == "unit" && e.place.starts_with("indicators[")), "{errs:#?}");
        let dup = SEED_PLAN_TOML.replacen("code = \"II.2\"", "code = \"II.1\"", 1).replacen(
            "targets = [{ year = 2030, value = \"100\" }]",
            "targets = [{ year = 2030, value = \"100\" }, { year = 2030, value = \"99\" }]",
            1,
        );
        let errs = validate(&parse_toml(&dup).unwrap(), &k).unwrap_err();
        assert!(errs.iter().any(|e| e.field == "code" && e.place.starts_with("sections[2]")), "{errs:#?}");
        assert!(errs.iter().any(|e| e.field == "targets" && e.vi.contains("hai lần")), "{errs:#?}");
        let errs = parse_toml("[plan]\nnumber = 1\n").unwrap_err();
        assert!(errs[0].vi.contains("sai cấu trúc") && errs[0].place == "dòng 2", "{errs:?}");
        let errs = parse_xlsx(b"not a zip").unwrap_err();
        assert!(errs[0].en.contains("cannot read"), "{errs:?}");
    }
}
