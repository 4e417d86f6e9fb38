//! Vietnamese text: NFC, canonical tone-mark placement, search keys and names.
//!
//! The same name reaches the registry typed in many ways: precomposed or decomposed
//! Unicode (NFC vs NFD), the tone mark on either vowel of `oa`/`oe`/`uy`
//! (`Hòa`/`Hoà`, `Thủy`/`Thuỷ`, `Khỏe`/`Khoẻ`), stray spaces, any capitalisation.
//! [`canonical`] makes one form of it; [`search_key`] folds case and every diacritic
//! (đ → d) so that `nguyen van an` finds `Nguyễn Văn An`.
//!
//! Tone placement is written by hand: Unicode normalisation does not move tone marks
//! between vowels and no maintained crate implements the Vietnamese orthography rules.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The five tone marks as combining characters (huyền, sắc, ngã, hỏi, nặng).
const TONE_MARKS: [char; 5] = ['\u{0300}', '\u{0301}', '\u{0303}', '\u{0309}', '\u{0323}'];
/// Vowel-quality marks: circumflex (â ê ô), breve (ă), horn (ơ ư).
const QUALITY_MARKS: [char; 3] = ['\u{0302}', '\u{0306}', '\u{031B}'];

/// Where the tone mark goes in open syllables with `oa`, `oe`, `uy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToneStyle {
    /// Traditional placement, the one most civil-status papers use: `hòa`, `khỏe`, `thủy`.
    /// This is ansinh's canonical form.
    #[default]
    Traditional,
    /// "New" placement on the main vowel: `hoà`, `khoẻ`, `thuỷ`.
    Modern,
}

/// Replaces every run of whitespace (including no-break and zero-width spaces) with one
/// ASCII space and trims both ends.
pub fn clean_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for ch in s.chars() {
        if ch.is_whitespace() || matches!(ch, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}') {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(ch);
    }
    out
}

/// NFC form.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// NFC, whitespace cleaned and tone marks in the traditional canonical place.
pub fn canonical(s: &str) -> String {
    place_tones(&clean_whitespace(s), ToneStyle::Traditional)
}

/// Canonical text with each word capitalised: `nguyễn  VĂN an` → `Nguyễn Văn An`.
pub fn normalize_name(s: &str) -> String {
    capitalize_words(&canonical(s))
}

/// `normalize_name` and the search key of its result, for many names at a time: each
/// distinct word is worked out once (a registry's million names draw on a few thousand
/// words). The output is exactly `(normalize_name(s), search_key(&normalize_name(s)))`: both
/// functions work word by word once `clean_whitespace` has left single spaces between the
/// words (a space never composes with its neighbours, so the Unicode normalisation of the
/// whole is that of its words).
#[derive(Default)]
pub struct NameNormalizer {
    words: std::collections::HashMap<String, (String, String)>,
}

impl NameNormalizer {
    /// Words kept at most; then the memory starts over (a file of random text stays small).
    const MAX_WORDS: usize = 100_000;

    /// The normalised name and its search key.
    pub fn normalize(&mut self, s: &str) -> (String, String) {
        let cleaned = clean_whitespace(s);
        let mut name = String::with_capacity(cleaned.len() + 4);
        let mut key = String::with_capacity(cleaned.len());
        if self.words.len() > Self::MAX_WORDS {
            self.words.clear();
        }
        for w in cleaned.split(' ').filter(|w| !w.is_empty()) {
            let (n, k) = match self.words.get(w) {
                Some(v) => v,
                None => {
                    let n = normalize_name(w);
                    let k = search_key(&n);
                    self.words.entry(w.to_string()).or_insert((n, k))
                }
            };
            if !name.is_empty() {
                name.push(' ');
                key.push(' ');
            }
            name.push_str(n);
            key.push_str(k);
        }
        (name, key)
    }
}

/// Upper-cases the first letter of each space-separated word and lower-cases the rest.
pub fn capitalize_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for ch in s.chars() {
        if ch.is_whitespace() || ch == '-' {
            at_word_start = true;
            out.push(ch);
        } else if at_word_start {
            out.extend(ch.to_uppercase());
            at_word_start = false;
        } else {
            out.extend(ch.to_lowercase());
        }
    }
    out
}

/// The search key: lower case, no diacritics (đ → d), whitespace cleaned.
/// `Nguyễn Văn Hoà` and `nguyen van  hòa` have the same key `nguyen van hoa`.
pub fn search_key(s: &str) -> String {
    let cleaned = clean_whitespace(s);
    let mut out = String::with_capacity(cleaned.len());
    for ch in cleaned.nfd() {
        if is_combining_mark(ch) {
            continue;
        }
        match ch {
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(ch.to_lowercase()),
        }
    }
    out
}

/// Puts every word's tone mark in the place `style` prescribes and returns NFC text.
pub fn place_tones(s: &str, style: ToneStyle) -> String {
    let decomposed: Vec<char> = s.nfd().collect();
    let mut out: Vec<char> = Vec::with_capacity(decomposed.len());
    let mut word: Vec<char> = Vec::new();
    for ch in decomposed {
        if ch.is_alphabetic() || is_combining_mark(ch) {
            word.push(ch);
        } else {
            place_tone_in_word(&word, style, &mut out);
            word.clear();
            out.push(ch);
        }
    }
    place_tone_in_word(&word, style, &mut out);
    out.into_iter().nfc().collect()
}

/// A letter of a decomposed word: its base character, its quality marks and the index
/// range it covers in the word without tone marks.
struct Letter {
    base: char,
    has_quality: bool,
    chars: Vec<char>,
}

fn is_vowel(c: char) -> bool {
    matches!(c.to_lowercase().next(), Some('a' | 'e' | 'i' | 'o' | 'u' | 'y'))
}

fn lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn place_tone_in_word(word: &[char], style: ToneStyle, out: &mut Vec<char>) {
    let tone = word.iter().copied().find(|c| TONE_MARKS.contains(c));
    let Some(tone) = tone else {
        out.extend_from_slice(word);
        return;
    };
    // Group into letters, dropping tone marks.
    let mut letters: Vec<Letter> = Vec::new();
    for &c in word {
        if TONE_MARKS.contains(&c) {
            continue;
        }
        if is_combining_mark(c) {
            if let Some(last) = letters.last_mut() {
                last.has_quality |= QUALITY_MARKS.contains(&c);
                last.chars.push(c);
                continue;
            }
        }
        letters.push(Letter { base: c, has_quality: false, chars: vec![c] });
    }
    let target = tone_position(&letters, style);
    for (i, l) in letters.iter().enumerate() {
        out.extend_from_slice(&l.chars);
        if Some(i) == target {
            out.push(tone);
        }
    }
    if target.is_none() {
        // No vowel to carry it (not a Vietnamese syllable): keep the mark at the end
        // rather than losing information.
        out.push(tone);
    }
}

fn tone_position(letters: &[Letter], style: ToneStyle) -> Option<usize> {
    let mut start = letters.iter().position(|l| is_vowel(l.base))?;
    let mut end = start;
    while end < letters.len() && is_vowel(letters[end].base) {
        end += 1;
    }
    // "qu" and "gi" + vowel: the u / i belongs to the initial consonant.
    if start > 0 && end - start > 1 {
        let prev = lower(letters[start - 1].base);
        let first = lower(letters[start].base);
        if (prev == 'q' && first == 'u') || (prev == 'g' && first == 'i' && !letters[start].has_quality) {
            start += 1;
        }
    }
    let nucleus = start..end;
    let has_final = end < letters.len();
    if let Some(i) = nucleus.clone().rev().find(|&i| letters[i].has_quality) {
        return Some(i);
    }
    match nucleus.len() {
        0 => None,
        1 => Some(start),
        2 => {
            let pair: String = [lower(letters[start].base), lower(letters[start + 1].base)].iter().collect();
            let glide_pair = matches!(pair.as_str(), "oa" | "oe" | "uy");
            if has_final || (glide_pair && style == ToneStyle::Modern) {
                Some(start + 1)
            } else {
                Some(start)
            }
        }
        _ => Some(start + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_tone_placement() {
        for (input, want) in [
            ("hoà", "hòa"),
            ("Hòa", "Hòa"),
            ("thuỷ", "thủy"),
            ("khoẻ", "khỏe"),
            ("Nguyễn Thị Thuỷ", "Nguyễn Thị Thủy"),
            ("hoàng", "hoàng"),
            ("hoang\u{300}", "hoàng"),
            ("huỳnh", "huỳnh"),
            ("quý", "quý"),
            ("già", "già"),
            ("gìn", "gìn"),
            ("người", "người"),
            ("mùa", "mùa"),
            ("tuyết", "tuyết"),
            ("khuỷu", "khuỷu"),
            ("ngoái", "ngoái"),
            ("Đồng Nai", "Đồng Nai"),
            ("Xuân Hoà", "Xuân Hòa"),
        ] {
            assert_eq!(canonical(input), want, "{input}");
        }
        assert_eq!(place_tones("hòa thủy khỏe", ToneStyle::Modern), "hoà thuỷ khoẻ");
    }

    #[test]
    fn nfd_input_becomes_nfc() {
        let nfd: String = "Nguyễn Văn Hòa".nfd().collect();
        assert_ne!(nfd, "Nguyễn Văn Hòa");
        assert_eq!(canonical(&nfd), "Nguyễn Văn Hòa");
    }

    #[test]
    fn search_keys() {
        assert_eq!(search_key("Nguyễn Văn An"), "nguyen van an");
        assert_eq!(search_key("  ĐỖ   thị\u{a0}Hoà "), "do thi hoa");
        assert_eq!(search_key("Hòa"), search_key("Hoà"));
        assert_eq!(search_key("Phường Biên Hòa"), "phuong bien hoa");
    }

    #[test]
    fn names() {
        assert_eq!(normalize_name("  nguyễn   VĂN an "), "Nguyễn Văn An");
        assert_eq!(normalize_name("TRẦN THỊ THUỶ"), "Trần Thị Thủy");
        assert_eq!(clean_whitespace("a\u{200B}\tb\n c"), "a b c");
    }

    proptest! {
        #[test]
        fn canonical_is_idempotent(s in "[ a-zA-ZàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđĐ]{0,30}") {
            let once = canonical(&s);
            prop_assert_eq!(canonical(&once), once.clone());
            // placement never changes what a search finds
            prop_assert_eq!(search_key(&once), search_key(&s));
        }

        /// The word-by-word normaliser gives what the functions give for the whole name,
        /// with its memory of earlier words in use (Vietnamese letters in both cases and
        /// tone placements, combining marks, odd spaces, hyphens, digits, any character).
        #[test]
        fn name_normalizer_is_normalize_name_and_search_key(
            names in proptest::collection::vec(
                "[ \t\u{200B}\u{00A0}a-zA-ZàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđĐÀÁĐƠƯ\u{0300}\u{0301}\u{0303}\u{0309}\u{0323}0-9'.-]{0,24}|\\PC{0,12}",
                1..12,
            )
        ) {
            let mut n = NameNormalizer::default();
            for s in names.iter().chain(names.iter()) {
                let whole = normalize_name(s);
                prop_assert_eq!(n.normalize(s), (whole.clone(), search_key(&whole)), "{:?}", s);
            }
        }

        #[test]
        fn styles_agree_on_search_key(s in "\\PC{0,30}") {
            let a = place_tones(&s, ToneStyle::Traditional);
            let b = place_tones(&s, ToneStyle::Modern);
            prop_assert_eq!(search_key(&a), search_key(&b));
        }
    }
}
