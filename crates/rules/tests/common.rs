//! Shared by the rules tests: the packs of the repository.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use rules::Packs;

pub fn packs() -> Packs {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    Packs::load(&|f| std::fs::read_to_string(dir.join(f)).ok()).unwrap()
}
