//! Headless-Chromium tests of the main pages: the DOM after the browser has parsed
//! and laid out the page, as a user would get it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::Server;

fn chromium() -> String {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if std::path::Path::new(c).exists() {
            return c.to_string();
        }
    }
    panic!(
        "Chromium is not installed: run the tests with scripts/test.sh, which installs it (Debian package chromium)"
    );
}

/// Flags as documented for this machine: no network side traffic, no sandbox as root.
fn browser(profile: &std::path::Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn dump_dom(url: &str, width: u32) -> String {
    let profile = tempfile::tempdir().unwrap();
    let o =
        browser(profile.path()).arg(format!("--window-size={width},900")).arg("--dump-dom").arg(url).output().unwrap();
    assert!(o.status.success(), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn start_page_in_a_real_browser() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo"]);

    let dom = dump_dom(&server.url("/"), 1280);
    assert!(dom.contains("<h1>Tỉnh Đồng Nai</h1>"), "{dom}");
    assert_eq!(dom.matches("<tr><td class=\"num\">").count(), 95);
    // accessibility basics: language, labelled search, skip link, table caption
    assert!(dom.contains("<html lang=\"vi\">"));
    assert!(dom.contains("<label for=\"q\">"));
    assert!(dom.contains("href=\"#main\""));
    assert!(dom.contains("<caption"));

    let dom = dump_dom(&server.url("/?q=BIEN%20HOA&lang=en"), 400);
    assert!(dom.contains("<html lang=\"en\">"));
    assert!(dom.contains("Phường Biên Hòa"));
    assert_eq!(dom.matches("<tr><td class=\"num\">").count(), 1);

    // a screenshot renders (layout and fonts work headless)
    let shot = d.path().join("start.png");
    let profile = tempfile::tempdir().unwrap();
    let o = browser(profile.path())
        .arg("--window-size=1280,900")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(server.url("/"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot too small: {} bytes", png.len());
}
