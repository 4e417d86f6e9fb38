//! Checks of uploaded scans (complaint attachments): the type is detected from the content's
//! signature and must agree with the file name's extension (a disguised file — an executable or
//! a web page named `.pdf` — is refused), sizes are capped, names are reduced to a safe base name.
//! Written by hand: three signatures do not justify a content-sniffing dependency.

use sha2::{Digest, Sha256};
use store::complaints::NewAttachment;

use crate::error::AppError;

/// The largest attachment (5 MiB) and the most per upload.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_FILES: usize = 3;
/// A request carrying the most attachments, with room for the form's other fields.
pub const MAX_UPLOAD_BODY: usize = MAX_FILES * MAX_FILE_BYTES + 256 * 1024;

/// The accepted types: (content type, signature, extensions).
const TYPES: [(&str, &[u8], &[&str]); 3] = [
    ("application/pdf", b"%PDF-", &["pdf"]),
    ("image/jpeg", &[0xFF, 0xD8, 0xFF], &["jpg", "jpeg"]),
    ("image/png", &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A], &["png"]),
];

fn refuse(vi: String, en: String) -> AppError {
    AppError::Field { field: "attachments", vi, en }
}

/// The base name of an uploaded file without directories, control or markup characters, at most
/// 120 characters.
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = domain::text::nfc(base)
        .chars()
        // control characters, markup and path characters, and the bidirectional controls that
        // can make `thu.exe.pdf` display as something else
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '"' | '<' | '>' | '|' | ':' | '*' | '?')
                && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .take(120)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "tep".into()
    } else {
        clean
    }
}

/// Checks one uploaded file; the attachment to store.
pub fn check(name: &str, data: Vec<u8>) -> Result<NewAttachment, AppError> {
    let file_name = safe_name(name);
    if data.is_empty() {
        return Err(refuse(format!("tệp {file_name:?} rỗng"), format!("file {file_name:?} is empty")));
    }
    if data.len() > MAX_FILE_BYTES {
        return Err(refuse(
            format!("tệp {file_name:?} quá lớn ({} byte, tối đa 5 MB)", data.len()),
            format!("file {file_name:?} is too large ({} bytes, at most 5 MB)", data.len()),
        ));
    }
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let detected = TYPES.iter().find(|(_, sig, _)| data.starts_with(sig));
    let Some((content_type, _, exts)) = detected else {
        return Err(refuse(
            format!("tệp {file_name:?} không phải PDF, JPEG hoặc PNG (nội dung không đúng định dạng)"),
            format!("file {file_name:?} is not a PDF, JPEG or PNG (its content is not)"),
        ));
    };
    if !exts.contains(&ext.as_str()) {
        return Err(refuse(
            format!("tệp {file_name:?}: phần mở rộng .{ext} không khớp nội dung ({content_type})"),
            format!("file {file_name:?}: the extension .{ext} does not match its content ({content_type})"),
        ));
    }
    let sha256 = hex::encode(Sha256::digest(&data));
    Ok(NewAttachment { file_name, content_type: (*content_type).to_string(), data, sha256 })
}

/// Checks a set of uploaded files (at most [`MAX_FILES`]).
pub fn check_all(files: Vec<(String, Vec<u8>)>) -> Result<Vec<NewAttachment>, AppError> {
    let files: Vec<_> = files.into_iter().filter(|(n, d)| !(n.is_empty() && d.is_empty())).collect();
    if files.len() > MAX_FILES {
        return Err(refuse(
            format!("tối đa {MAX_FILES} tệp đính kèm (đã chọn {})", files.len()),
            format!("at most {MAX_FILES} attachments ({} chosen)", files.len()),
        ));
    }
    files.into_iter().map(|(n, d)| check(&n, d)).collect()
}

/// A one-page PDF showing `text` (ASCII, Helvetica): the demo's stand-in for a scan.
pub fn demo_pdf(text: &str) -> Vec<u8> {
    let text: String =
        text.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').filter(|c| !"()\\".contains(*c)).collect();
    let stream = format!("BT /F1 14 Tf 60 760 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_content_and_must_match_the_name() {
        let pdf = b"%PDF-1.7\n...".to_vec();
        let a = check("C:\\scans\\don khieu nai.PDF", pdf.clone()).unwrap();
        assert_eq!((a.file_name.as_str(), a.content_type.as_str()), ("don khieu nai.PDF", "application/pdf"));
        assert_eq!(a.sha256.len(), 64);
        let jpg = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        assert_eq!(check("anh.jpeg", jpg.clone()).unwrap().content_type, "image/jpeg");
        // disguised: a web page or an executable named .pdf; a JPEG named .png
        for (name, data) in [
            ("thu.pdf", b"<html><script>alert(1)</script>".to_vec()),
            ("virus.pdf", b"MZ\x90\x00\x03".to_vec()),
            ("anh.png", jpg),
            ("thu.exe", pdf),
        ] {
            let e = check(name, data).unwrap_err();
            assert!(matches!(e, AppError::Field { field: "attachments", .. }), "{name}: {e:?}");
        }
        assert!(check("rong.pdf", Vec::new()).is_err());
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_FILE_BYTES + 1, b' ');
        let e = check("lon.pdf", big).unwrap_err();
        assert!(e.message(crate::http::i18n::Lang::En).contains("too large"), "{e:?}");
    }

    #[test]
    fn names_are_made_safe_and_counts_capped() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("<img src=x>.png"), "img src=x.png");
        assert_eq!(safe_name(".hidden.pdf"), "hidden.pdf");
        assert_eq!(safe_name(""), "tep");
        assert_eq!(safe_name("hoa-don\u{202e}fdp.exe"), "hoa-donfdp.exe", "no right-to-left override");
        let four = (0..4).map(|i| (format!("{i}.pdf"), b"%PDF-1".to_vec())).collect();
        assert!(check_all(four).is_err());
        let pdf = demo_pdf("Don (demo)");
        assert_eq!(check("demo.pdf", pdf.clone()).unwrap().content_type, "application/pdf");
        assert!(String::from_utf8(pdf).unwrap().ends_with("%%EOF\n"));
        assert_eq!(check_all(vec![(String::new(), Vec::new())]).unwrap().len(), 0, "an empty file input is no file");
    }
}
