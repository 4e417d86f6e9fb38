//! Blocking: which pairs are compared at all.
//!
//! Comparing every pair of a million records is half a trillion comparisons; blocking
//! compares only records that share a key. Several keys, each built so that a different
//! kind of error still leaves one of them equal — a typo in the given name, a missing ID,
//! a swapped day and month, a wrong digit anywhere in the ID — so recall does not hinge on
//! one field. Blocks larger than `max_block` (a placeholder date shared by thousands) are
//! skipped and counted.

use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

use crate::normalize::Norm;

/// The blocking keys, in the order they are tried; names for statistics and docs.
pub const KEYS: [&str; 10] = [
    "surname + given name + birth year (when a birth date is partial)",
    "given name + birth date (day and month in either order)",
    "surname + birth date (day and month in either order)",
    "surname + given name + day and month (year off by one)",
    "full name + commune",
    "personal ID digits 1–9",
    "personal ID digits 1–6 and 10–12",
    "personal ID digits 7–12",
    "given name + birth year + commune",
    "birth date + commune",
];

fn h<T: Hash>(kind: u8, v: T) -> u64 {
    let mut s = FxHasher::default();
    kind.hash(&mut s);
    v.hash(&mut s);
    // 0 is "no key"
    s.finish() | 1
}

/// The key of record `r` for key number `k`, or 0 when the record has none.
pub fn key(k: usize, r: &Norm) -> u64 {
    let d = r.dob;
    let dm = (d.day.min(d.month), d.day.max(d.month));
    let pid = r.pid.as_slice();
    match k {
        0 if d.known() => h(0, (r.surname, r.given, d.year)),
        1 if d.full() => h(1, (r.given, dm, d.year)),
        2 if d.full() => h(2, (r.surname, dm, d.year)),
        3 if d.full() => h(3, (r.surname, r.given, dm)),
        4 if r.commune != 0 => h(4, (r.surname, r.given, &r.middle, r.commune)),
        5 if pid.len() >= 9 => h(5, &pid[..9]),
        6 if pid.len() >= 12 => h(6, (&pid[..6], &pid[pid.len() - 3..])),
        7 if pid.len() >= 6 => h(7, &pid[pid.len() - 6..]),
        8 if d.known() && r.commune != 0 => h(8, (r.given, d.year, r.commune)),
        9 if d.full() && r.commune != 0 => h(9, (dm, d.year, r.commune)),
        _ => 0,
    }
}

/// Number of blocking keys.
pub const K: usize = KEYS.len();
/// The key that only pairs records when one of them has a partial birth date.
const PARTIAL_DATE_KEY: usize = 0;

/// What blocking did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Blocked {
    /// Pairs `(a, b)` with `a < b`, each once (only filled by [`candidates`]).
    #[serde(skip)]
    pub pairs: Vec<(u32, u32)>,
    /// Pairs each key contributed that no earlier key did.
    pub per_key: Vec<u64>,
    /// Blocks left out because they were larger than `max_block`, and the records in them.
    pub skipped_blocks: u64,
    pub skipped_records: u64,
}

/// Which pairs to keep: all (deduplication) or only those with at least one record before
/// `split` (linking new records, `0..split`, to existing ones and to each other).
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Dedup,
    Link { split: u32 },
}

/// The blocks of every key, ready to enumerate the candidate pairs as often as needed
/// without holding them: tens of millions of pairs at a million records would take
/// hundreds of megabytes; the keys take 80 bytes a record.
pub struct Blocking {
    /// `keys[i][k]`: record `i`'s key `k`; 0 when it has none or its block was too large.
    pub keys: Vec<[u64; K]>,
    /// Per key, the records in blocks of two or more, ordered by key then index.
    order: Vec<Vec<u32>>,
    /// Records whose birth date is full (day and month known).
    full: Vec<bool>,
    mode: Mode,
    pub stats: Blocked,
}

impl Blocking {
    pub fn new(records: &[Norm], ok: &[bool], mode: Mode, max_block: usize) -> Blocking {
        let mut keys: Vec<[u64; K]> = records
            .iter()
            .zip(ok)
            .map(|(r, ok)| if *ok { std::array::from_fn(|k| key(k, r)) } else { [0; K] })
            .collect();
        let full: Vec<bool> = records.iter().map(|r| r.dob.full()).collect();
        let mut stats = Blocked { per_key: vec![0; K], ..Blocked::default() };
        let mut order = Vec::with_capacity(K);
        let mut keyed: Vec<(u64, u32)> = Vec::with_capacity(records.len());
        for k in 0..K {
            keyed.clear();
            keyed.extend(keys.iter().enumerate().map(|(i, ks)| (ks[k], i as u32)).filter(|(key, _)| *key != 0));
            keyed.sort_unstable();
            let mut idx = Vec::new();
            for block in keyed.chunk_by(|a, b| a.0 == b.0) {
                if block.len() < 2 {
                    continue;
                }
                if block.len() > max_block {
                    stats.skipped_blocks += 1;
                    stats.skipped_records += block.len() as u64;
                    for &(_, i) in block {
                        keys[i as usize][k] = 0;
                    }
                    continue;
                }
                if let Mode::Link { split } = mode {
                    if block.iter().all(|(_, i)| *i >= split) {
                        continue;
                    }
                }
                let start = idx.len();
                idx.extend(block.iter().map(|(_, i)| *i));
                if k == PARTIAL_DATE_KEY {
                    // records with a partial date first: the pairs of two full dates are
                    // not enumerated at all
                    idx[start..].sort_by_key(|&i| (full[i as usize], i));
                }
            }
            idx.shrink_to_fit();
            order.push(idx);
        }
        Blocking { keys, order, full, mode, stats }
    }

    /// Calls `f(a, b)` (with `a < b`) once for every candidate pair, always in the same
    /// order: by key, then block, then position in the block. A pair that an earlier key
    /// also yields is left to that key. Returns the pairs per key.
    pub fn for_each_pair(&self, mut f: impl FnMut(u32, u32)) -> Vec<u64> {
        let mut per_key = vec![0u64; K];
        for (k, idx) in self.order.iter().enumerate() {
            let key_of = |i: &u32| self.keys[*i as usize][k];
            for block in idx.chunk_by(|a, b| key_of(a) == key_of(b)) {
                for (x, &first) in block.iter().enumerate() {
                    if k == PARTIAL_DATE_KEY && self.full[first as usize] {
                        break;
                    }
                    for &second in &block[x + 1..] {
                        let (a, b) = (first.min(second), first.max(second));
                        let ka = &self.keys[a as usize];
                        if let Mode::Link { split } = self.mode {
                            if a >= split && b >= split {
                                continue;
                            }
                        }
                        let both_full = self.full[a as usize] && self.full[b as usize];
                        // two full birth dates are blocked on by the keys with dates; the
                        // name-and-year key is for the records whose date is partial (most
                        // of its pairs are namesakes: half the candidates of a million)
                        if k == PARTIAL_DATE_KEY && both_full {
                            continue;
                        }
                        let kb = &self.keys[b as usize];
                        let earlier =
                            (0..k).any(|j| ka[j] != 0 && ka[j] == kb[j] && !(j == PARTIAL_DATE_KEY && both_full));
                        if earlier {
                            continue;
                        }
                        per_key[k] += 1;
                        f(a, b);
                    }
                }
            }
        }
        per_key
    }

    /// Records `a` and `b` agree on key `k` (and it is in use for them).
    pub fn agree(&self, k: usize, a: u32, b: u32) -> bool {
        let ka = self.keys[a as usize][k];
        ka != 0 && ka == self.keys[b as usize][k]
    }
}

/// All candidate pairs, collected (for small sets and tests).
pub fn candidates(records: &[Norm], ok: &[bool], mode: Mode, max_block: usize) -> Blocked {
    let b = Blocking::new(records, ok, mode, max_block);
    let mut pairs = Vec::new();
    let per_key = b.for_each_pair(|a, c| pairs.push((a, c)));
    pairs.sort_unstable();
    Blocked { pairs, per_key, ..b.stats }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{normalize, Record};

    fn r(name: &str, dob: &str, pid: &str, commune: &str) -> Record {
        Record {
            id: String::new(),
            full_name: name.into(),
            birth_date: dob.into(),
            sex: String::new(),
            personal_id: pid.into(),
            commune: commune.into(),
        }
    }

    #[test]
    fn each_kind_of_error_leaves_one_key_equal() {
        let base = r("Nguyễn Văn An", "03/05/1950", "075050001234", "26041");
        let variants = [
            r("Nguyễn Văn Ann", "03/05/1950", "", ""),  // typo in the given name
            r("Ngyễn Văn An", "05/03/1950", "", ""),    // typo in surname, swapped date
            r("Nguyễn An", "03/05/1951", "", ""),       // dropped middle, year off by one
            r("Nguyễn Văn An", "", "", "26041"),        // no date, no ID
            r("Trần Văn Bình", "", "175050001234", ""), // wrong first digit only
            r("Trần Văn Bình", "", "075050901234", ""), // wrong digit 7
            r("Trần Văn Bình", "", "075050001239", ""), // wrong last digit
        ];
        for v in variants {
            let n = normalize(&[base.clone(), v.clone()]);
            let b = candidates(&n.records, &n.ok, Mode::Dedup, 100);
            assert_eq!(b.pairs, vec![(0, 1)], "{v:?}");
        }
        let n = normalize(&[base.clone(), r("Trần Thị Lan", "04/06/1962", "075162004321", "26050")]);
        assert!(candidates(&n.records, &n.ok, Mode::Dedup, 100).pairs.is_empty());
    }

    #[test]
    fn large_blocks_are_skipped_and_link_mode_keeps_only_new_pairs() {
        let recs: Vec<Record> = (0..5).map(|_| r("Nguyễn Thị Lan", "1950", "", "")).collect();
        let n = normalize(&recs);
        let b = candidates(&n.records, &n.ok, Mode::Dedup, 4);
        assert!(b.pairs.is_empty());
        assert_eq!((b.skipped_blocks, b.skipped_records), (1, 5));
        let b = candidates(&n.records, &n.ok, Mode::Dedup, 10);
        assert_eq!(b.pairs.len(), 10);
        let b = candidates(&n.records, &n.ok, Mode::Link { split: 1 }, 10);
        assert_eq!(b.pairs, vec![(0, 1), (0, 2), (0, 3), (0, 4)]);
    }
}
