//! Record linkage for ansinh: finding the records that are one person.
//!
//! Pure and deterministic: records in, scored pairs and clusters out; no files, clock or
//! database, and the same input gives the same output on any machine (work is split over
//! threads in fixed chunks and put back in order).
//!
//! The pipeline: [`normalize`] (Vietnamese names, dates, ID numbers) → [`block`] (candidate
//! pairs from several keys) → [`compare`] (levels per field) → [`model`] (Fellegi–Sunter
//! weights with m/u estimated by EM and term-frequency adjustment) → two thresholds
//! (duplicate, needs review) → clusters (connected components of the duplicate pairs).

pub mod block;
pub mod compare;
pub mod model;
pub mod normalize;

use serde::Serialize;

pub use block::Mode;
pub use compare::{Levels, COMPARISONS};
pub use model::{Model, TermFrequencies};
pub use normalize::{Issue, Normalized, Record};

/// Settings of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Match probability at or above which a pair is a duplicate (and clustered).
    pub duplicate_at: f64,
    /// Match probability at or above which a pair needs review by an officer.
    pub review_at: f64,
    /// Blocks with more records than this are skipped (and counted).
    pub max_block: usize,
    pub em_iterations: usize,
    /// Random pairs drawn to estimate `u`.
    pub random_pairs: usize,
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            duplicate_at: 0.95,
            review_at: 0.5,
            max_block: 400,
            em_iterations: 100,
            random_pairs: 1_000_000,
            seed: 0x5eed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Duplicate,
    Review,
}

/// A scored pair (indexes into the input; in link mode new records come first).
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    pub levels: Levels,
    pub weight: f64,
    pub probability: f64,
    pub decision: Decision,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub records: usize,
    pub compared_records: usize,
    pub candidate_pairs: usize,
    pub blocking: block::Blocked,
    pub duplicate_pairs: usize,
    pub review_pairs: usize,
    pub clusters_with_duplicates: usize,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Pairs at or above the review threshold, sorted by (a, b).
    pub pairs: Vec<Pair>,
    /// Per record, the index of its cluster's first record (itself when alone).
    pub cluster: Vec<u32>,
    pub model: Model,
    pub issues: Vec<Issue>,
    pub stats: Stats,
    pub sessions: Vec<model::Session>,
    n: Normalized,
    adjust: Vec<[f32; model::TF_TABLES]>,
}

/// Finds the duplicates among `records`.
pub fn dedup(records: &[Record], config: &Config) -> Outcome {
    run(normalize::normalize(records), Mode::Dedup, config)
}

/// Links `new` records to `existing` ones and to each other; pairs of two existing
/// records are not looked at. Indexes in the outcome: `new` first, then `existing`.
pub fn link(new: &[Record], existing: &[Record], config: &Config) -> Outcome {
    let mut n = normalize::Normalizer::new();
    n.push(new);
    n.push(existing);
    run(n.finish(), Mode::Link { split: new.len() as u32 }, config)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16)
}

/// Maps `f` over `items` on all cores, in fixed chunks, results in input order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(threads()).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

/// splitmix64: a deterministic sample of random pairs without a dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Candidate pairs are compared in batches of this many, on all cores.
const BATCH: usize = 1 << 18;

/// Pattern counts of the EM sessions, per pattern code.
type SessionCounts = Vec<Vec<f64>>;

/// Compares a batch of pairs on all cores (each thread with its own cache, kept from batch
/// to batch), appends their pattern codes in order, and counts the sessions' patterns.
fn compare_batch(
    batch: &[(u32, u32)],
    n: &Normalized,
    blocking: &block::Blocking,
    caches: &mut [compare::Cache],
    counts: &mut [SessionCounts],
    codes: &mut Vec<u16>,
) {
    let chunk = batch.len().div_ceil(caches.len()).max(1);
    let parts: Vec<Vec<u16>> = std::thread::scope(|s| {
        let handles: Vec<_> = batch
            .chunks(chunk)
            .zip(caches.iter_mut())
            .zip(counts.iter_mut())
            .map(|((part, cache), count)| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(a, b)| {
                            let l = compare::compare(&n.records[a as usize], &n.records[b as usize], n, cache);
                            let code = compare::encode(&l);
                            for (si, (session, _)) in SESSIONS.iter().enumerate() {
                                let takes = match session {
                                    Session::Key(k) => blocking.agree(*k, a, b),
                                    Session::SameId => l[compare::PID] == 1,
                                };
                                if takes {
                                    count[si][code as usize] += 1.0;
                                }
                            }
                            code
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    for p in parts {
        codes.extend(p);
    }
}

/// Weights of a histogram bin, for fitting the prior without holding every pair's weight.
const BIN: f64 = 1.0 / 64.0;
/// Bins either side of 0 (weights beyond ±128 are counted in the last bin).
const HISTOGRAM_HALF: usize = 128 * 64;

/// The weight of a probability: `log2(p / (1 - p))` (−∞ for 0).
fn logit2(p: f64) -> f64 {
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else if p >= 1.0 {
        f64::INFINITY
    } else {
        (p / (1.0 - p)).log2()
    }
}

/// Runs the linkage over normalised records (see [`normalize::Normalizer`] to build them
/// from a large file chunk by chunk).
pub fn run(n: Normalized, mode: Mode, config: &Config) -> Outcome {
    let compared: Vec<u32> = (0..n.records.len() as u32).filter(|&i| n.ok[i as usize]).collect();
    let blocking = block::Blocking::new(&n.records, &n.ok, mode, config.max_block);
    let workers = threads();
    let mut caches: Vec<compare::Cache> = (0..workers).map(|_| compare::Cache::default()).collect();

    // pass 1: compare every candidate pair once, keeping two bytes of it (its pattern)
    let mut counts: Vec<SessionCounts> =
        (0..workers).map(|_| vec![vec![0.0; compare::PATTERNS]; SESSIONS.len()]).collect();
    let mut codes: Vec<u16> = Vec::new();
    let mut batch: Vec<(u32, u32)> = Vec::with_capacity(BATCH);
    let per_key = blocking.for_each_pair(|a, b| {
        batch.push((a, b));
        if batch.len() == BATCH {
            compare_batch(&batch, &n, &blocking, &mut caches, &mut counts, &mut codes);
            batch.clear();
        }
    });
    compare_batch(&batch, &n, &blocking, &mut caches, &mut counts, &mut codes);
    drop(batch);
    let candidate_pairs = codes.len();
    let mut stats_blocking = blocking.stats.clone();
    stats_blocking.per_key = per_key;

    // u from random pairs
    let mut state = config.seed;
    let random: Vec<(u32, u32)> = if compared.len() < 2 {
        Vec::new()
    } else {
        (0..config.random_pairs.min(compared.len() * compared.len()))
            .map(|_| {
                let a = compared[(splitmix(&mut state) % compared.len() as u64) as usize];
                let b = compared[(splitmix(&mut state) % compared.len() as u64) as usize];
                (a, b)
            })
            .filter(|(a, b)| a != b)
            .collect()
    };
    let random_levels = par_map(&random, |&(a, b)| {
        compare::compare(&n.records[a as usize], &n.records[b as usize], &n, &mut compare::Cache::default())
    });
    let mut model = Model::initial(&random_levels);
    drop((random_levels, random, caches));

    // m by EM, one session per blocking key
    let sessions: Vec<model::Session> = SESSIONS
        .iter()
        .enumerate()
        .map(|(si, (_, fixed))| {
            let mut patterns: Vec<(Levels, f64)> = Vec::new();
            for code in 0..compare::PATTERNS {
                let c: f64 = counts.iter().map(|w| w[si][code]).sum();
                if c > 0.0 {
                    patterns.push((compare::decode(code as u16), c));
                }
            }
            let mut fixed = fixed.to_vec();
            fixed.extend(NOT_LEARNT);
            fixed.sort_unstable();
            fixed.dedup();
            model.session(&patterns, &fixed, config.em_iterations)
        })
        .collect();
    drop(counts);
    model.combine(&sessions);

    // term frequencies, per record
    let tf = {
        let of = |f: fn(&normalize::Norm) -> u64| -> Vec<u64> {
            compared.iter().map(|&i| f(&n.records[i as usize])).collect()
        };
        TermFrequencies::count([
            &of(|r| u64::from(r.given)),
            &of(|r| u64::from(r.given_marked)),
            &of(|r| u64::from(r.surname)),
            &of(dob_value),
            &of(|r| u64::from(r.commune)),
        ])
    };
    let adjust: Vec<[f32; model::TF_TABLES]> = n.records.iter().map(|r| tf_of(&tf, r)).collect();
    // per pattern: its weight, and which comparisons agree exactly (term frequencies apply)
    let code_weight: Vec<f64> = (0..compare::PATTERNS)
        .map(|code| {
            let l = compare::decode(code as u16);
            (0..compare::N).map(|c| model.partial_weight(c, l[c])).sum()
        })
        .collect();
    let code_exact: Vec<u8> = (0..compare::PATTERNS)
        .map(|code| {
            let l = compare::decode(code as u16);
            (0..compare::N).filter(|&c| l[c] == 1).fold(0u8, |m, c| m | (1 << c))
        })
        .collect();
    let bayes_of = |a: u32, b: u32, code: u16| -> f64 {
        let mut w = code_weight[code as usize];
        let exact = code_exact[code as usize];
        if exact != 0 {
            let (ra, rb) = (&n.records[a as usize], &n.records[b as usize]);
            let adj = &adjust[a as usize];
            for c in [compare::GIVEN, compare::SURNAME, compare::DOB, compare::COMMUNE] {
                if exact & (1 << c) != 0 {
                    w += tf_part(adj, c, 1, ra, rb);
                }
            }
        }
        w
    };

    // pass 2: the prior, from a histogram of the candidates' weights. The prior's share of
    // duplicates is at most (candidate pairs / all pairs) — it is the expected number of
    // duplicates among the candidates over all pairs — so a pair needs at least the review
    // threshold's weight minus that bound's to reach the threshold: only those are kept.
    let c = compared.len() as f64;
    let total_pairs = match mode {
        Mode::Dedup => c * (c - 1.0) / 2.0,
        Mode::Link { split } => {
            let new = (0..split as usize).filter(|&i| n.ok[i]).count() as f64;
            new * (new - 1.0) / 2.0 + new * (c - new)
        }
    };
    let lambda_max = (candidate_pairs as f64 / total_pairs.max(1.0)).min(0.5);
    let floor = logit2(config.review_at) - logit2(lambda_max);
    let mut histogram = vec![0.0f64; 2 * HISTOGRAM_HALF + 1];
    let mut kept: Vec<(u32, u32, u16, f64)> = Vec::new();
    let mut i = 0usize;
    blocking.for_each_pair(|a, b| {
        let code = codes[i];
        i += 1;
        let w = bayes_of(a, b, code);
        let bin = ((w / BIN).round() as i64).clamp(-(HISTOGRAM_HALF as i64), HISTOGRAM_HALF as i64);
        histogram[(bin + HISTOGRAM_HALF as i64) as usize] += 1.0;
        if w >= floor {
            kept.push((a, b, code, w));
        }
    });
    drop(codes);
    let bins: Vec<(i64, f64)> = histogram
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0.0)
        .map(|(b, n)| (b as i64 - HISTOGRAM_HALF as i64, *n))
        .collect();
    model.fit_prior(&bins, BIN, total_pairs);
    let prior = model.prior_weight();

    // the pairs above the review threshold
    let mut pairs: Vec<Pair> = kept
        .into_iter()
        .filter_map(|(a, b, code, bayes)| {
            let w = prior + bayes;
            let p = model::probability(w);
            let decision = if p >= config.duplicate_at {
                Decision::Duplicate
            } else if p >= config.review_at {
                Decision::Review
            } else {
                return None;
            };
            Some(Pair { a, b, levels: compare::decode(code), weight: w, probability: p, decision })
        })
        .collect();
    pairs.sort_unstable_by_key(|p| (p.a, p.b));
    let cluster =
        clusters(n.records.len(), pairs.iter().filter(|p| p.decision == Decision::Duplicate).map(|p| (p.a, p.b)));
    let stats = Stats {
        records: n.records.len(),
        compared_records: compared.len(),
        candidate_pairs,
        duplicate_pairs: pairs.iter().filter(|p| p.decision == Decision::Duplicate).count(),
        review_pairs: pairs.iter().filter(|p| p.decision == Decision::Review).count(),
        clusters_with_duplicates: cluster
            .iter()
            .enumerate()
            .filter(|(i, c)| **c as usize != *i)
            .map(|(_, c)| *c)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        blocking: stats_blocking,
    };
    let issues = n.issues.clone();
    Outcome { pairs, cluster, model, issues, stats, sessions, n, adjust }
}

/// The EM sessions: a blocking key and the comparisons it makes agree, or nearly (left
/// out of the session). A given name nearly fixes the sex (Văn, Thị and most given names
/// are one sex's), so sex is left out wherever the given name is blocked on: left in, the
/// sessions of a million records learnt "namesakes" as the match class (every pair of
/// namesakes agrees on sex far more often than random pairs do), and sex keeps its prior.
///
/// The names are learnt from the pairs that share their personal ID exactly (the ID
/// carries the birth year and sex too): nearly all of them are one person, so what their
/// names look like is what duplicates' names look like. A session blocked on ID digits
/// 1–9 was tried and, at a million records, drifted towards "same surname" as the match
/// class (the ID digits leave the names alone as evidence).
const SESSIONS: [(Session, &[usize]); 3] = [
    // given name + birth date
    (Session::Key(1), &[compare::GIVEN, compare::DOB, compare::SEX]),
    // the same personal ID
    (Session::SameId, &[compare::PID, compare::DOB, compare::SEX]),
    // full name + commune
    (Session::Key(4), &[compare::GIVEN, compare::SURNAME, compare::MIDDLE, compare::COMMUNE, compare::SEX]),
];

/// Comparisons whose `m` is not learnt but kept at its prior: one person has one sex.
const NOT_LEARNT: [usize; 1] = [compare::SEX];

/// Which candidate pairs a training session takes.
#[derive(Debug, Clone, Copy)]
enum Session {
    /// Those that agree on blocking key `k`.
    Key(usize),
    /// Those with the same personal ID.
    SameId,
}

/// A full birth date as a term-frequency value (0 when not full).
fn dob_value(r: &normalize::Norm) -> u64 {
    if r.dob.full() {
        (u64::from(r.dob.year) << 16) | (u64::from(r.dob.month) << 8) | u64::from(r.dob.day)
    } else {
        0
    }
}

/// A record's term-frequency adjustments, one per table.
fn tf_of(tf: &TermFrequencies, r: &normalize::Norm) -> [f32; model::TF_TABLES] {
    let mut out = [0.0f32; model::TF_TABLES];
    out[model::TF_GIVEN] = tf.adjustment(model::TF_GIVEN, u64::from(r.given)) as f32;
    out[model::TF_GIVEN_MARKED] = tf.adjustment(model::TF_GIVEN_MARKED, u64::from(r.given_marked)) as f32;
    out[model::TF_SURNAME] = tf.adjustment(model::TF_SURNAME, u64::from(r.surname)) as f32;
    out[model::TF_DOB] = tf.adjustment(model::TF_DOB, dob_value(r)) as f32;
    out[model::TF_COMMUNE] = tf.adjustment(model::TF_COMMUNE, u64::from(r.commune)) as f32;
    out
}

/// The term-frequency adjustment of comparison `c` at `level` for the pair (a, b): only an
/// exact agreement is adjusted, by the frequency of the value they share (`adj` is a's).
fn tf_part(adj: &[f32; model::TF_TABLES], c: usize, level: u8, a: &normalize::Norm, b: &normalize::Norm) -> f64 {
    if level != 1 {
        return 0.0;
    }
    f64::from(match c {
        compare::GIVEN if a.marked && b.marked => adj[model::TF_GIVEN_MARKED],
        compare::GIVEN => adj[model::TF_GIVEN],
        compare::SURNAME => adj[model::TF_SURNAME],
        compare::DOB => adj[model::TF_DOB],
        compare::COMMUNE => adj[model::TF_COMMUNE],
        _ => 0.0,
    })
}

/// Connected components; each record gets the smallest index of its component.
/// A union–find with path halving: written here because it is ten lines.
pub fn clusters(n: usize, edges: impl Iterator<Item = (u32, u32)>) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    for (a, b) in edges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            // the smaller index is the root, so the representative is the first record
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            parent[hi as usize] = lo;
        }
    }
    (0..n as u32).map(|i| find(&mut parent, i)).collect()
}

/// One comparison's part in a pair's weight, for showing evidence side by side.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub comparison: &'static str,
    pub level: &'static str,
    pub weight: f64,
}

impl Outcome {
    /// Why a pair scored what it did: the prior, then each comparison's level and weight
    /// (term-frequency adjustments included).
    pub fn explain(&self, pair: &Pair) -> (f64, Vec<Part>) {
        let prior = (self.model.lambda / (1.0 - self.model.lambda)).log2();
        let (a, b) = (&self.n.records[pair.a as usize], &self.n.records[pair.b as usize]);
        let adj = &self.adjust[pair.a as usize];
        let parts = COMPARISONS
            .iter()
            .enumerate()
            .map(|(c, cmp)| {
                let level = pair.levels[c];
                let weight = self.model.partial_weight(c, level) + tf_part(adj, c, level, a, b);
                Part { comparison: cmp.name, level: cmp.levels[level as usize], weight }
            })
            .collect();
        (prior, parts)
    }

    /// The folded name words of a record (for statistics and tests).
    pub fn folded_name(&self, record: usize) -> String {
        let r = &self.n.records[record];
        let mut w = vec![self.n.words.get(r.surname)];
        if r.middle != 0 {
            w.push(self.n.middles.get(r.middle));
        }
        w.push(self.n.words.get(r.given));
        w.join(" ")
    }
}
