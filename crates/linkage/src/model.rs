//! The Fellegi–Sunter model: how much each level of each comparison says for or against
//! two records being one person, learnt from the data.
//!
//! - `u` (how often a level occurs between different people) from a sample of random
//!   pairs, which are almost all different people;
//! - `m` (how often it occurs between records of one person) by expectation–maximisation in
//!   sessions, as Splink does: each session takes the candidate pairs of one blocking key
//!   and leaves out the comparisons that key made agree (among its pairs they say nothing
//!   about being one person), so each comparison's `m` is learnt where it is free to vary.
//!   Pairs are counted by their pattern of levels (a few thousand patterns stand for
//!   millions of pairs, so EM takes milliseconds). Letting `u` float within the candidates
//!   instead was tried and learnt "same name in the same commune" as the match class;
//! - the prior (share of duplicates among all pairs) as the fixed point where the expected
//!   number of duplicates among the candidates equals what the prior implies.
//! - term frequencies: agreeing on a rare name (Khúc) says more than agreeing on a common one
//!   (Nguyễn, or the given name Lan); likewise birth dates and communes. The weight of an
//!   exact agreement is adjusted by `u_random / frequency(value)`, where `u_random` is the
//!   chance that two random records share a value at all.

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::compare::{Levels, N};

#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// Share of duplicates among the candidate pairs.
    pub lambda: f64,
    /// `m[c][l]`, `u[c][l]`: level 0 (no information) is not used.
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// `u` among random pairs (for the term-frequency adjustment and for the record).
    pub u_random: Vec<Vec<f64>>,
    pub em_iterations: usize,
    pub converged: bool,
}

/// What one EM session estimated.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub m: Vec<Option<Vec<f64>>>,
    /// Share of duplicates among the session's pairs.
    pub lambda: f64,
    pub iterations: usize,
    pub converged: bool,
    pub pairs: u64,
}

/// What records of one person typically look like, level by level (index 0, no
/// information, unused): the starting point of EM and a Dirichlet prior worth
/// [`PRIOR_PAIRS`] duplicate pairs, so that a registry with only a handful of duplicates
/// (a clean one) keeps sensible weights instead of fitting noise, while a run with
/// thousands of duplicates learns its own.
pub const PRIOR_M: [&[f64]; N] = [
    // given name: same, other diacritics, typo, different
    &[0.0, 0.88, 0.04, 0.05, 0.03],
    // surname
    &[0.0, 0.92, 0.02, 0.04, 0.02],
    // middle names: same, one dropped or added, typo, different
    &[0.0, 0.80, 0.12, 0.04, 0.04],
    // birth date: same, swapped, same year partial, same year and month, year off by one
    // (day and month the same), year off by one (partial), same year only, different
    &[0.0, 0.78, 0.04, 0.06, 0.02, 0.04, 0.01, 0.02, 0.03],
    // personal ID: same, one edit, different
    &[0.0, 0.85, 0.10, 0.05],
    // commune: same, different
    &[0.0, 0.85, 0.15],
    // sex: same, different
    &[0.0, 0.98, 0.02],
];

/// The most the last level ("different") of a comparison may take of `m`, where the domain
/// bounds it: one person has one personal ID number, so the records of a duplicate carry it
/// or it with a typing error, and hardly ever a wholly different one. Unbounded, a registry
/// where every record has an ID and many namesakes share a birth date (a million people
/// over a few hundred names) let EM take "namesakes with different IDs" for duplicates.
pub const M_DIFFERENT_AT_MOST: [Option<f64>; N] = [None, None, None, None, Some(0.05), None, None];

/// Weight of [`PRIOR_M`] in the M-step, in duplicate pairs.
pub const PRIOR_PAIRS: f64 = 100.0;

/// What two different people's records typically look like in a Vietnamese registry (the
/// share of random pairs at each level): a prior worth [`PRIOR_U_PAIRS`] random pairs, so
/// that a small file — where the random pairs are few and include its duplicates — keeps
/// sensible weights; a province's registry samples a million random pairs and learns its own.
pub const PRIOR_U: [&[f64]; N] = [
    // given name: same, other diacritics, typo, different
    &[0.0, 0.012, 0.003, 0.035, 0.95],
    // surname: Nguyễn alone is about 38 % of names
    &[0.0, 0.17, 0.0005, 0.015, 0.8145],
    // middle names
    &[0.0, 0.11, 0.11, 0.02, 0.76],
    // birth date
    &[0.0, 0.00003, 0.00001, 0.0025, 0.0003, 0.00003, 0.0035, 0.009, 0.98463],
    // personal ID
    &[0.0, 0.000001, 0.00001, 0.999989],
    // commune
    &[0.0, 0.012, 0.988],
    // sex
    &[0.0, 0.5, 0.5],
];

/// Weight of [`PRIOR_U`], in random pairs.
pub const PRIOR_U_PAIRS: f64 = 1000.0;

/// Smallest probability a level may get: keeps weights finite when a level never occurs.
const FLOOR: f64 = 1e-6;

/// Bounds the last level's share to `cap`, giving the rest to the other levels in proportion.
fn cap_different(v: &mut [f64], cap: Option<f64>) {
    let (Some(cap), Some(&last)) = (cap, v.last()) else { return };
    if last > cap {
        let others: f64 = v[1..v.len() - 1].iter().sum();
        let k = v.len() - 1;
        if others > 0.0 {
            for x in &mut v[1..k] {
                *x *= (1.0 - cap) / others;
            }
        }
        v[k] = cap;
    }
}

fn normalise(v: &mut [f64]) {
    let s: f64 = v[1..].iter().sum();
    if s > 0.0 {
        for x in &mut v[1..] {
            *x = (*x / s).max(FLOOR);
        }
    }
}

impl Model {
    /// The starting point: `u` from random pairs; `m` a guess that trusts agreement.
    pub fn initial(random: &[Levels]) -> Model {
        let mut u: Vec<Vec<f64>> = PRIOR_U.iter().map(|v| v.iter().map(|x| x * PRIOR_U_PAIRS).collect()).collect();
        for l in random {
            for c in 0..N {
                u[c][l[c] as usize] += 1.0;
            }
        }
        u.iter_mut().for_each(|v| normalise(v));
        let m: Vec<Vec<f64>> = PRIOR_M.iter().map(|v| v.to_vec()).collect();
        Model { lambda: 1e-6, m, u_random: u.clone(), u, em_iterations: 0, converged: false }
    }

    /// One EM training session over pairs blocked on some fields (Splink's approach): the
    /// comparisons in `fixed` (those the blocking made agree) take no part; the session
    /// estimates the `m` of the others and the share of duplicates among its pairs, with
    /// `u` held at the random-pair values. Returns the estimated `m` (rows of `fixed`
    /// comparisons are `None`) and the iterations it took.
    pub fn session(&self, pairs: &[(Levels, f64)], fixed: &[usize], max_iterations: usize) -> Session {
        let mut counts: FxHashMap<Levels, f64> = FxHashMap::default();
        for (l, n) in pairs {
            let mut k = *l;
            for &c in fixed {
                k[c] = 0;
            }
            *counts.entry(k).or_insert(0.0) += n;
        }
        // a fixed order, so that floating-point sums do not depend on hashing
        let mut patterns: Vec<(Levels, f64)> = counts.into_iter().collect();
        patterns.sort_unstable_by_key(|p| p.0);
        let total: f64 = patterns.iter().map(|p| p.1).sum();
        let mut m = self.m.clone();
        let mut lambda = 0.5f64;
        let mut out = Session { m: vec![None; N], lambda, iterations: 0, converged: false, pairs: total as u64 };
        if patterns.is_empty() {
            return out;
        }
        for it in 0..max_iterations {
            let mut acc: Vec<Vec<f64>> = PRIOR_M.iter().map(|v| v.iter().map(|x| x * PRIOR_PAIRS).collect()).collect();
            let mut matches = 0.0;
            for (l, n) in &patterns {
                let mut w = (lambda / (1.0 - lambda)).log2();
                for c in 0..N {
                    let li = l[c] as usize;
                    if li != 0 {
                        w += (m[c][li] / self.u[c][li]).log2();
                    }
                }
                let p = probability(w);
                matches += p * n;
                for c in 0..N {
                    acc[c][l[c] as usize] += p * n;
                }
            }
            let new_lambda = (matches / total).clamp(1e-9, 1.0 - 1e-9);
            let mut change = (new_lambda - lambda).abs();
            for c in (0..N).filter(|c| !fixed.contains(c)) {
                normalise(&mut acc[c]);
                cap_different(&mut acc[c], M_DIFFERENT_AT_MOST[c]);
                change = change.max(acc[c].iter().zip(&m[c]).skip(1).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max));
                m[c] = std::mem::take(&mut acc[c]);
            }
            lambda = new_lambda;
            out.iterations = it + 1;
            if change < 1e-6 {
                out.converged = true;
                break;
            }
        }
        for c in (0..N).filter(|c| !fixed.contains(c)) {
            out.m[c] = Some(m[c].clone());
        }
        out.lambda = lambda;
        out
    }

    /// Takes each comparison's `m` as the mean of the sessions that estimated it.
    pub fn combine(&mut self, sessions: &[Session]) {
        for c in 0..N {
            let est: Vec<&Vec<f64>> = sessions.iter().filter_map(|s| s.m[c].as_ref()).collect();
            if est.is_empty() {
                continue;
            }
            let mut v = vec![0.0; self.m[c].len()];
            for e in &est {
                for (x, y) in v.iter_mut().zip(e.iter()) {
                    *x += y / est.len() as f64;
                }
            }
            normalise(&mut v);
            self.m[c] = v;
        }
        self.em_iterations = sessions.iter().map(|s| s.iterations).sum();
        self.converged = sessions.iter().all(|s| s.converged);
    }

    /// The prior (share of duplicates among all pairs) such that the expected number of
    /// duplicates among the candidate pairs, scored with it, is what it implies:
    /// `lambda = sum(p_i(lambda)) / total_pairs`, by fixed-point iteration. `bins` is a
    /// histogram of the candidates' weights without the prior: (bin, pairs), the bin's
    /// weight being `bin * width`.
    pub fn fit_prior(&mut self, bins: &[(i64, f64)], width: f64, total_pairs: f64) {
        let pairs: f64 = bins.iter().map(|b| b.1).sum();
        if pairs == 0.0 || total_pairs <= 0.0 {
            return;
        }
        let mut lambda = (pairs / total_pairs / 10.0).clamp(1e-12, 0.5);
        for _ in 0..200 {
            let prior = (lambda / (1.0 - lambda)).log2();
            let expected: f64 = bins.iter().map(|(b, n)| n * probability(*b as f64 * width + prior)).sum();
            let next = (expected / total_pairs).clamp(1e-12, 0.5);
            if (next - lambda).abs() <= lambda * 1e-6 {
                lambda = next;
                break;
            }
            lambda = next;
        }
        self.lambda = lambda;
    }

    /// log2 of the prior odds.
    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// Match weight (log2 of the Bayes factor with the prior) without term frequencies.
    pub fn weight_of(&self, l: &Levels) -> f64 {
        self.prior_weight() + self.bayes(l)
    }

    /// log2 of the Bayes factor of the levels, without the prior or term frequencies.
    pub fn bayes(&self, l: &Levels) -> f64 {
        l.iter().enumerate().map(|(c, &level)| self.partial_weight(c, level)).sum()
    }

    /// The weight each comparison contributes, for explanations.
    pub fn partial_weight(&self, c: usize, level: u8) -> f64 {
        let li = level as usize;
        if li == 0 {
            0.0
        } else {
            (self.m[c][li] / self.u[c][li]).log2()
        }
    }
}

pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

/// Term frequencies: how common each value is, for the comparisons whose exact agreement
/// is adjusted — given name (with its diacritics when both records have them, else folded),
/// surname, birth date and commune. Two people born on 01/05/1950 say less than two born
/// on 17/11/1950; two records in a small commune say more than two in a city ward.
#[derive(Debug, Default, Clone)]
pub struct TermFrequencies {
    /// Per table: share of records with each value, and the chance that two random records
    /// share a value at all.
    tables: [(FxHashMap<u64, f64>, f64); TF_TABLES],
}

/// The tables of [`TermFrequencies`].
pub const TF_GIVEN: usize = 0;
pub const TF_GIVEN_MARKED: usize = 1;
pub const TF_SURNAME: usize = 2;
pub const TF_DOB: usize = 3;
pub const TF_COMMUNE: usize = 4;
pub const TF_TABLES: usize = 5;

impl TermFrequencies {
    /// `values[t]`: the value of every compared record for table `t` (0 = unknown, not counted).
    pub fn count(values: [&[u64]; TF_TABLES]) -> TermFrequencies {
        let mut tf = TermFrequencies::default();
        for (t, vals) in values.iter().enumerate() {
            let known = vals.iter().filter(|v| **v != 0).count().max(1) as f64;
            let mut counts: FxHashMap<u64, f64> = FxHashMap::default();
            for &v in vals.iter().filter(|v| **v != 0) {
                *counts.entry(v).or_insert(0.0) += 1.0;
            }
            let mut shares: Vec<(u64, f64)> = counts.into_iter().map(|(v, c)| (v, c / known)).collect();
            shares.sort_unstable_by_key(|s| s.0);
            let u_exact = shares.iter().map(|(_, s)| s * s).sum();
            tf.tables[t] = (shares.into_iter().collect(), u_exact);
        }
        tf
    }

    /// log2 adjustment of an exact agreement on `value` in table `t`: `u_random / share`,
    /// bounded to ±6 bits.
    pub fn adjustment(&self, t: usize, value: u64) -> f64 {
        let (shares, u_exact) = &self.tables[t];
        match shares.get(&value) {
            Some(&s) if s > 0.0 && *u_exact > 0.0 => (u_exact / s).clamp(1.0 / 64.0, 64.0).log2(),
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::GIVEN;

    #[test]
    fn sessions_learn_m_and_the_prior_fits_the_candidates() {
        // random pairs: names rarely agree, IDs never, dates never
        let mut random: Vec<Levels> = vec![[4, 4, 4, 8, 3, 2, 2]; 900];
        random.extend(vec![[1, 1, 4, 8, 3, 1, 1]; 50]);
        random.extend(vec![[4, 1, 1, 8, 3, 1, 1]; 50]);
        let mut model = Model::initial(&random);
        // a session blocked on the given name: 100 duplicates, 900 namesakes
        let mut pairs: Vec<Levels> = vec![[1, 1, 1, 1, 1, 1, 1]; 80];
        pairs.extend(vec![[1, 1, 2, 3, 2, 1, 1]; 20]);
        pairs.extend(vec![[1, 4, 4, 8, 3, 2, 1]; 600]);
        pairs.extend(vec![[1, 1, 4, 8, 3, 2, 1]; 300]);
        let counted: Vec<(Levels, f64)> = pairs.iter().map(|l| (*l, 1.0)).collect();
        let s = model.session(&counted, &[GIVEN], 500);
        assert!(s.converged, "{s:?}");
        assert!(s.m[GIVEN].is_none());
        assert!((s.lambda - 0.1).abs() < 0.02, "lambda {}", s.lambda);
        let m_dob = s.m[crate::compare::DOB].clone().unwrap();
        assert!(m_dob[1] > 0.7 && m_dob[8] < 0.05, "{m_dob:?}");
        model.combine(&[s]);
        let bins: Vec<(i64, f64)> = pairs.iter().map(|l| ((model.bayes(l) * 64.0).round() as i64, 1.0)).collect();
        model.fit_prior(&bins, 1.0 / 64.0, 1_000_000.0);
        // about 100 duplicates among a million pairs
        assert!((model.lambda * 1e6 - 100.0).abs() < 10.0, "lambda {}", model.lambda);
        assert!(probability(model.weight_of(&pairs[0])) > 0.99);
        assert!(probability(model.weight_of(&pairs[99])) > 0.5);
        assert!(probability(model.weight_of(&pairs[100])) < 0.01);
        assert!(probability(model.weight_of(&pairs[999])) < 0.01);
    }

    #[test]
    fn rare_names_weigh_more_than_common_ones() {
        // word 1 = nguyen (60 %), word 2 = khuc (1 %)
        let mut surnames = vec![1u64; 60];
        surnames.push(2);
        surnames.extend(3..42);
        let tf = TermFrequencies::count([&[], &[], &surnames, &[], &[]]);
        assert!(tf.adjustment(TF_SURNAME, 1) < 0.0);
        assert!(tf.adjustment(TF_SURNAME, 2) > 0.0);
        assert_eq!(tf.adjustment(TF_GIVEN, 1), 0.0);
    }
}
