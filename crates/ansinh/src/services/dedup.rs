//! `ansinh dedup`: the linkage engine over a CSV file (no database needed).
//!
//! Input columns (header names in English or Vietnamese, any order, extra columns ignored):
//! `record_id` (mã bản ghi), `full_name` (họ và tên), `birth_date` (ngày sinh), `sex`
//! (giới tính), `personal_id` (số định danh), `commune` (mã xã). `record_id` and `full_name`
//! are required; a missing optional column is compared without.
//!
//! Rows that cannot be compared (not UTF-8, text typed in the TCVN3/VNI fonts, a repeated
//! record id, an empty name) are reported and kept in the output with status
//! `not_compared`; the run completes for the rest.

use linkage::{Config, Decision, Outcome, Record};

use crate::error::AppError;

/// A row or field the run could not use: `row` is the file's line number (header = 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowIssue {
    pub row: usize,
    pub record_id: String,
    pub field: String,
    pub value: String,
    pub reason: String,
    /// The row was left out of the comparison (else only the field was ignored).
    pub excluded: bool,
}

pub const COLUMNS: [(&str, &[&str]); 6] = [
    ("record_id", &["record_id", "id", "ma_ban_ghi", "ma"]),
    ("full_name", &["full_name", "name", "ho_va_ten", "ho_ten"]),
    ("birth_date", &["birth_date", "dob", "ngay_sinh"]),
    ("sex", &["sex", "gender", "gioi_tinh"]),
    ("personal_id", &["personal_id", "so_dinh_danh", "so_dinh_danh_ca_nhan", "cccd"]),
    ("commune", &["commune", "commune_code", "ma_xa", "xa"]),
];

/// The records of a dedup input file (normalised as they are read: a million rows are
/// never held as text), their ids and line numbers, and what could not be used.
pub struct Input {
    pub ids: Vec<String>,
    /// Line number of each record.
    pub lines: Vec<usize>,
    /// Records that are not compared (by index into `records`), with their issues.
    pub excluded: Vec<bool>,
    pub issues: Vec<RowIssue>,
    /// Optional columns the file lacks.
    pub missing_columns: Vec<&'static str>,
    normalizer: linkage::normalize::Normalizer,
    /// Records read but not yet normalised.
    pending: Vec<Record>,
}

/// Rows normalised at a time.
const CHUNK: usize = 1 << 14;

impl Input {
    pub fn new(missing_columns: Vec<&'static str>) -> Input {
        Input {
            ids: Vec::new(),
            lines: Vec::new(),
            excluded: Vec::new(),
            issues: Vec::new(),
            missing_columns,
            normalizer: linkage::normalize::Normalizer::new(),
            pending: Vec::with_capacity(CHUNK),
        }
    }

    /// Adds a record (its id is kept; the rest is normalised chunk by chunk).
    pub fn push(&mut self, line: usize, excluded: bool, mut record: Record) {
        self.ids.push(std::mem::take(&mut record.id));
        self.lines.push(line);
        self.excluded.push(excluded);
        self.pending.push(record);
        if self.pending.len() == CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.normalizer.push(&self.pending);
        self.pending.clear();
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

fn header_key(h: &str) -> String {
    domain::text::search_key(h.trim_start_matches('\u{feff}')).replace([' ', '-'], "_")
}

/// Reads a dedup input file as it streams in (a million rows are never held as text).
pub fn read_input(reader: impl std::io::Read + Send) -> Result<Input, AppError> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let head = reader.fill_buf().map_err(|e| AppError::io("reading the input", e))?;
    let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let delimiter =
        if first_line.iter().filter(|&&b| b == b';').count() > first_line.iter().filter(|&&b| b == b',').count() {
            b';'
        } else {
            b','
        };
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(reader);
    let mut rows = rdr.byte_records();
    let header = match rows.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(AppError::Invalid(format!("line 1: unreadable CSV header: {e}"))),
        None => return Err(AppError::Invalid("the file is empty: expected a header line".into())),
    };
    let keys: Vec<String> = header.iter().map(|h| header_key(&String::from_utf8_lossy(h))).collect();
    let mut col: [Option<usize>; 6] = [None; 6];
    for (i, (_, aliases)) in COLUMNS.iter().enumerate() {
        col[i] = keys.iter().position(|k| aliases.contains(&k.as_str()));
    }
    let required: Vec<&str> = [0, 1].iter().filter(|&&i| col[i].is_none()).map(|&i| COLUMNS[i].0).collect();
    if !required.is_empty() {
        return Err(AppError::Invalid(format!(
            "line 1: missing column(s) {} (the header has: {}); expected record_id, full_name, birth_date, sex, personal_id, commune",
            required.join(", "),
            keys.join(", ")
        )));
    }
    let missing_columns = (2..6).filter(|&i| col[i].is_none()).map(|i| COLUMNS[i].0).collect();
    let mut out = Input::new(missing_columns);
    // the file is parsed on this thread while a worker normalises the previous chunk (the
    // normaliser uses every core for its part of the work)
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(2);
    let mut normalizer = std::mem::take(&mut out.normalizer);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            for chunk in rx {
                normalizer.push(&chunk);
            }
            normalizer
        });
        let sent = parse_rows(&mut rows, &col, &mut out, &tx);
        drop(tx);
        match worker.join() {
            Ok(n) => out.normalizer = n,
            Err(_) => return Err(AppError::Internal("the normalising worker failed".into())),
        }
        sent
    })?;
    Ok(out)
}

/// Reads the data rows into `out` (ids, lines, issues) and sends the records to normalise
/// in chunks.
fn parse_rows<R: std::io::Read>(
    rows: &mut csv::ByteRecordsIter<'_, R>,
    col: &[Option<usize>; 6],
    out: &mut Input,
    tx: &std::sync::mpsc::SyncSender<Vec<Record>>,
) -> Result<(), AppError> {
    let mut pending: Vec<Record> = Vec::with_capacity(CHUNK);
    let mut seen: rustc_hash::FxHashMap<String, usize> = Default::default();
    for (i, row) in rows.enumerate() {
        let line = i + 2;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                out.issues.push(RowIssue {
                    row: line,
                    record_id: String::new(),
                    field: String::new(),
                    value: String::new(),
                    reason: format!("unreadable CSV row: {e}"),
                    excluded: true,
                });
                continue;
            }
        };
        if row.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let mut cells: [String; 6] = Default::default();
        let mut bad: Option<(usize, String, String)> = None;
        for k in 0..6 {
            let Some(raw) = col[k].and_then(|c| row.get(c)) else { continue };
            match std::str::from_utf8(raw) {
                Ok(s) => {
                    if crate::services::import::looks_like_legacy_font(s) && bad.is_none() {
                        bad =
                            Some((k, s.to_string(), "text typed in the TCVN3/VNI fonts: convert it to Unicode".into()));
                    }
                    cells[k] = s.trim().to_string();
                }
                Err(_) => {
                    if bad.is_none() {
                        bad = Some((
                            k,
                            String::from_utf8_lossy(raw).into_owned(),
                            "not UTF-8 (a legacy encoding such as Windows-1258?): save the file as CSV UTF-8".into(),
                        ));
                    }
                    cells[k] = String::from_utf8_lossy(raw).trim().to_string();
                }
            }
        }
        let [id, full_name, birth_date, sex, personal_id, commune] = cells;
        let mut excluded = false;
        let issue = |field: &str, value: String, reason: String| RowIssue {
            row: line,
            record_id: id.clone(),
            field: field.to_string(),
            value,
            reason,
            excluded: true,
        };
        if let Some((k, value, reason)) = bad {
            out.issues.push(issue(COLUMNS[k].0, value, reason));
            excluded = true;
        } else if id.is_empty() {
            out.issues.push(issue("record_id", String::new(), "empty record id".into()));
            excluded = true;
        } else if let Some(&first) = seen.get(&id) {
            out.issues.push(issue("record_id", id.clone(), format!("the same record id as line {first}")));
            excluded = true;
        } else {
            seen.insert(id.clone(), line);
        }
        // an excluded row is kept in the output but not compared
        let full_name = if excluded { String::new() } else { full_name };
        out.ids.push(id);
        out.lines.push(line);
        out.excluded.push(excluded);
        pending.push(Record { id: String::new(), full_name, birth_date, sex, personal_id, commune });
        if pending.len() == CHUNK {
            tx.send(std::mem::take(&mut pending))
                .map_err(|_| AppError::Internal("the normalising worker stopped".into()))?;
        }
    }
    tx.send(pending).map_err(|_| AppError::Internal("the normalising worker stopped".into()))?;
    Ok(())
}

/// What a run produced, for the command line's summary.
pub struct Summary {
    pub records: usize,
    pub not_compared: usize,
    pub duplicate_pairs: usize,
    pub review_pairs: usize,
    pub clusters: usize,
    pub records_in_clusters: usize,
}

/// Runs the engine and appends the engine's own issues (as row issues) to the input's.
pub fn run(input: &mut Input, config: &Config) -> Outcome {
    input.flush();
    let normalized = std::mem::take(&mut input.normalizer).finish();
    let outcome = linkage::run(normalized, linkage::Mode::Dedup, config);
    for i in &outcome.issues {
        if input.excluded[i.record] {
            continue; // already reported
        }
        input.issues.push(RowIssue {
            row: input.lines[i.record],
            record_id: input.ids[i.record].clone(),
            field: i.field.to_string(),
            value: i.value.clone(),
            reason: i.reason.clone(),
            excluded: i.excluded,
        });
        if i.excluded {
            input.excluded[i.record] = true;
        }
    }
    input.issues.sort_by_key(|i| i.row);
    outcome
}

/// One line per input record: `record_id,cluster_id,status,matches,best_match,best_probability,note`.
/// `cluster_id` is the record id of the cluster's first record; status is `unique`,
/// `duplicate` (in a cluster with others), `review` (a pair to look at, not clustered) or
/// `not_compared` (with the reason in `note`).
pub fn clusters_csv(input: &Input, outcome: &Outcome) -> Result<(Vec<u8>, Summary), AppError> {
    let n = input.len();
    let mut best: Vec<Option<(u32, f64)>> = vec![None; n];
    let mut review = vec![false; n];
    for p in &outcome.pairs {
        for (x, y) in [(p.a, p.b), (p.b, p.a)] {
            if best[x as usize].is_none_or(|(_, q)| p.probability > q) {
                best[x as usize] = Some((y, p.probability));
            }
            if p.decision == Decision::Review {
                review[x as usize] = true;
            }
        }
    }
    let mut size = vec![0u32; n];
    for &c in &outcome.cluster {
        size[c as usize] += 1;
    }
    let mut notes: Vec<Option<&str>> = vec![None; n];
    for i in input.issues.iter().filter(|i| i.excluded) {
        if let Ok(idx) = input.lines.binary_search(&i.row) {
            notes[idx] = Some(i.reason.as_str());
        }
    }
    let mut w = csv::Writer::from_writer(Vec::with_capacity(n * 48));
    let e = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
    w.write_record(["record_id", "cluster_id", "status", "cluster_size", "best_match", "best_probability", "note"])
        .map_err(e)?;
    let mut summary = Summary {
        records: n,
        not_compared: 0,
        duplicate_pairs: outcome.stats.duplicate_pairs,
        review_pairs: outcome.stats.review_pairs,
        clusters: 0,
        records_in_clusters: 0,
    };
    for i in 0..n {
        let c = outcome.cluster[i] as usize;
        let status = if input.excluded[i] {
            summary.not_compared += 1;
            "not_compared"
        } else if size[c] > 1 {
            summary.records_in_clusters += 1;
            if c == i {
                summary.clusters += 1;
            }
            "duplicate"
        } else if review[i] {
            "review"
        } else {
            "unique"
        };
        let (bm, bp) = match best[i] {
            Some((j, p)) => (input.ids[j as usize].as_str(), format!("{p:.4}")),
            None => ("", String::new()),
        };
        w.write_record([
            input.ids[i].as_str(),
            input.ids[c].as_str(),
            status,
            &size[c].to_string(),
            bm,
            &bp,
            notes[i].unwrap_or(""),
        ])
        .map_err(e)?;
    }
    let bytes = w.into_inner().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))?;
    Ok((bytes, summary))
}

/// The scored pairs: ids, probability, weight, decision, cluster and each comparison's level.
pub fn pairs_csv(input: &Input, outcome: &Outcome) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
    let mut header = vec!["record_id_a", "record_id_b", "probability", "match_weight", "decision", "cluster_id"];
    header.extend(linkage::COMPARISONS.iter().map(|c| c.name));
    w.write_record(&header).map_err(e)?;
    for p in &outcome.pairs {
        let (a, b) = (p.a as usize, p.b as usize);
        let mut row = vec![
            input.ids[a].clone(),
            input.ids[b].clone(),
            format!("{:.6}", p.probability),
            format!("{:.3}", p.weight),
            match p.decision {
                Decision::Duplicate => "duplicate".into(),
                Decision::Review => "review".into(),
            },
            input.ids[outcome.cluster[a] as usize].clone(),
        ];
        row.extend(
            linkage::COMPARISONS.iter().enumerate().map(|(c, cmp)| cmp.levels[p.levels[c] as usize].to_string()),
        );
        w.write_record(&row).map_err(e)?;
    }
    w.into_inner().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))
}

/// The rows and fields that could not be used.
pub fn issues_csv(input: &Input) -> Result<Vec<u8>, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let e = |e: csv::Error| AppError::Internal(format!("writing CSV: {e}"));
    w.write_record(["row", "record_id", "field", "value", "reason", "excluded"]).map_err(e)?;
    for i in &input.issues {
        w.write_record([
            i.row.to_string().as_str(),
            &i.record_id,
            &i.field,
            &i.value,
            &i.reason,
            if i.excluded { "yes" } else { "no" },
        ])
        .map_err(e)?;
    }
    w.into_inner().map_err(|e| AppError::Internal(format!("writing CSV: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rows_are_reported_and_kept() {
        let mut file = b"record_id,full_name,birth_date,sex,personal_id,commune\n".to_vec();
        file.extend_from_slice("1,Nguyễn Văn An,03/05/1950,male,075050001234,26041\n".as_bytes());
        file.extend_from_slice("2,NGUYEN VAN AN,05/03/1950,male,075050001243,26041\n".as_bytes());
        file.extend_from_slice(b"3,Nguy\xea\xe3n V\xe3n B,1950,male,,26041\n");
        file.extend_from_slice("1,Trần Thị Lan,1951,female,,26041\n".as_bytes());
        file.extend_from_slice("4,,1951,female,,26041\n".as_bytes());
        file.extend_from_slice("5,Trần Thị Lan,31/02/1951,female,,26041\n".as_bytes());
        file.extend_from_slice("6,Tr¨n Th¾ Lan,1951,female,,26041\n".as_bytes());
        let mut input = read_input(file.as_slice()).expect("reads");
        let out = run(&mut input, &Config { random_pairs: 100, ..Config::default() });
        let (csv, summary) = clusters_csv(&input, &out).expect("csv");
        let text = String::from_utf8(csv).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8, "every row is in the output:\n{text}");
        assert!(lines[1].starts_with("1,1,duplicate,2,2,"), "{}", lines[1]);
        assert!(lines[2].starts_with("2,1,duplicate,2,1,"), "{}", lines[2]);
        assert!(lines[3].starts_with("3,3,not_compared") && lines[3].contains("UTF-8"), "{}", lines[3]);
        assert!(lines[4].contains("not_compared") && lines[4].contains("line 2"), "{}", lines[4]);
        assert!(lines[5].contains("not_compared") && lines[5].contains("empty name"), "{}", lines[5]);
        assert!(lines[6].starts_with("5,5,unique"), "a bad date only drops the date: {}", lines[6]);
        assert!(lines[7].contains("TCVN3"), "{}", lines[7]);
        assert_eq!(
            (summary.records, summary.not_compared, summary.clusters, summary.records_in_clusters),
            (7, 4, 1, 2)
        );
        let rows: Vec<(usize, &str, bool)> =
            input.issues.iter().map(|i| (i.row, i.field.as_str(), i.excluded)).collect();
        assert_eq!(
            rows,
            vec![
                (4, "full_name", true),
                (5, "record_id", true),
                (6, "full_name", true),
                (7, "birth_date", false),
                (8, "full_name", true)
            ]
        );
    }

    #[test]
    fn missing_required_columns_are_named() {
        let Err(e) = read_input(&b"id,birth_date\n1,1950\n"[..]) else { panic!("accepted") };
        assert!(e.to_string().contains("missing column(s) full_name"), "{e}");
        let input = read_input("Mã bản ghi;Họ và tên;Ngày sinh\n1;Lê Văn Tám;1950\n".as_bytes()).expect("reads");
        assert_eq!(input.missing_columns, vec!["sex", "personal_id", "commune"]);
        assert_eq!(input.ids, vec!["1"]);
    }
}
