#!/usr/bin/env python3
"""Synthetic person registry for the integrity (record-linkage) benchmark.

    bench/linkage/generate.py N OUT_PREFIX [--seed S]

Writes OUT_PREFIX.csv (record_id,full_name,birth_date,sex,personal_id,commune) with N records
and OUT_PREFIX.truth.csv (record_id,entity_id). About 10 % of the records are noisy duplicates
of another record (most duplicated persons have 2 records, some 3). Deterministic for a seed;
standard library only (about 15 s per million records).

What makes it hard, on purpose:
  * Vietnamese names are few: a skewed surname distribution (Nguyễn ~38 %), a handful of
    middle names per sex, ~150 given names with a Zipf-like skew. Many different people are
    called "Nguyễn Thị Lan" and some of them share a birth year: natural hard negatives.
  * ~40 % of the persons live in families: spouses share a commune; siblings share surname,
    usually the middle name, the commune, and birth years a few years apart; a few are twins
    (same birth date, same surname and middle name, different given name).
  * Birth dates as registries hold them: ~5 % year only ("1948"), ~3 % "01/01/yyyy"
    placeholders; birth years 1920–2020 skewed to the elderly (social-policy beneficiaries).
  * personal_id follows the real 12-digit layout (birth-registration province, century/sex
    digit, 2-digit year, 6 random digits); ~8 % of records have none (old records).
  * Duplicates carry 1–3 realistic errors each (typos, lost diacritics, "Hoà"/"Hòa" tone
    placement, NFD, case and spaces, dropped middle name, day/month swap, date cut to the year
    ("1948" or "01/01/1948"), year off
    by one, personal-ID typo or loss, moved commune) so they stay plausibly the same person.

Names are written in NFC with the tone mark on the first vowel of open "oa"/"oe"/"uy"
syllables ("Hòa", "Thủy": ansinh's canonical form, crates/domain/src/text.rs); the other
placement ("Hoà", "Thuỷ") appears only as duplicate noise.
"""
import argparse
import csv
import math
import os
import random
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ADMIN = os.path.normpath(os.path.join(HERE, "..", "..", "data", "admin"))

# ---------------------------------------------------------------- names
# Surnames, percent of the population (national surveys; Huỳnh and Võ more common than Hoàng
# and Vũ in the South, where Đồng Nai is). Điểu, Thạch, Danh: S'tiêng and Khmer surnames
# (Bình Phước, merged into Đồng Nai in 2025).
SURNAMES = [
    ("Nguyễn", 38.0), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Huỳnh", 2.8), ("Hoàng", 2.2),
    ("Phan", 4.5), ("Võ", 2.4), ("Vũ", 1.6), ("Đặng", 2.0), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
    ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Trương", 1.2), ("Đinh", 0.9), ("Đoàn", 0.7),
    ("Lâm", 0.8), ("Mai", 0.7), ("Trịnh", 0.7), ("Đào", 0.6), ("Lương", 0.5), ("Cao", 0.5),
    ("Lưu", 0.5), ("Châu", 0.4), ("Tô", 0.4), ("Hà", 0.4), ("Thái", 0.35), ("La", 0.3),
    ("Tạ", 0.3), ("Thạch", 0.25), ("Vương", 0.2), ("Tăng", 0.2), ("Triệu", 0.2), ("Từ", 0.15),
    ("Quách", 0.15), ("Kiều", 0.15), ("Điểu", 0.15), ("Danh", 0.1), ("Mạc", 0.08), ("Lục", 0.08),
    ("Giang", 0.08), ("Doãn", 0.06), ("Kha", 0.06), ("Âu", 0.05), ("Khúc", 0.04),
]

# Middle names by sex, for people born before 1975 and after (Văn and Thị dominate among the
# elderly, much less among the young).
MIDDLE_MALE = ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Công", "Thanh", "Ngọc", "Xuân", "Quang",
               "Hoàng", "Gia", "Anh", "Tuấn", "Thành", "Trung", "Đình", "Bá", "Duy", "Thế", "Tấn",
               "Phước", "Trọng", "Chí", "Nhật", "Bảo"]
MIDDLE_FEMALE = ["Thị", "Ngọc", "Thu", "Kim", "Thanh", "Mỹ", "Thùy", "Hồng", "Bích", "Minh",
                 "Phương", "Ánh", "Diễm", "Khánh", "Bảo", "Hoài", "Tuyết", "Cẩm", "Mai", "Như",
                 "Thúy", "Hải", "Yến", "Quỳnh"]
# Share of the first middle name being the "default" one (Văn / Thị), by era.
DEFAULT_MIDDLE_SHARE = {"old": {"male": 0.70, "female": 0.85}, "mid": {"male": 0.45, "female": 0.55},
                        "young": {"male": 0.20, "female": 0.25}}

# Given names, most frequent first (weight 1/(rank + 6): the commonest name ~5 % of a sex and
# era, the tenth ~2.5 %, the fiftieth ~1 %). Tags restrict a name
# to an era: "o" only people born before 1975 (southern ordinal names, old-fashioned names),
# "y" only people born after 1985.
GIVEN_MALE = (
    "Hùng Dũng Tuấn Minh Anh Hải Long Nam Sơn Thắng Cường Hoàng Hưng Bình Phong Quang Thành Trung "
    "Tâm Tài Phúc Lộc Hòa Huy Vinh Toàn Thịnh Nghĩa Tùng Tiến Hiếu Khánh Đức Duy Việt Đạt Lâm "
    "Thuận Hiệp Trí Thọ Nhân Lợi Hậu Sang Thái Tú Danh Định Tuyến Tường Lực Mạnh Chiến Thông "
    "Thanh Tín An Quý Khoa Hào Giang Hoan Châu Công Kiên Phát Vũ Ba:o Út:o Tý:o Sáu:o Bảy:o Tư:o "
    "Khôi:y Kiệt:y Quân:y Bảo:y Khang:y Phúc:y Nguyên:y Thiện"
).split()
GIVEN_FEMALE = (
    "Lan Hương Hoa Hồng Thủy Mai Hạnh Phương Nga Linh Trang Hằng Hà Hiền Loan Dung Thúy Huyền "
    "Liên Nhung Yến Tuyết Xuân Thu Hòa Cúc:o Đào Lệ Ngọc Thảo Trinh Tâm Hậu Oanh Vân Thanh Bích "
    "Diễm Giang Khánh Ly My Nhàn Phượng Quỳnh Sương Thơ Thư Tiên Trâm Ánh Châu Duyên Gấm:o "
    "Hoài Kiều Lài:o Liễu Mận:o Nguyệt Nương:o Thắm Thoa Thuận Tươi Út:o Xoan:o Ngân Anh Diệp "
    "Quyên Uyên Hải Vui Nhi:y Vy:y Hân:y Như:y Thùy Thụy Hiếu Tú"
).split()


def _given_table(names, era):
    """(names, cumulative weights) for an era; weight 1/(rank + 6) over the allowed names."""
    out, cum, acc = [], [], 0.0
    for rank, item in enumerate(names, 1):
        name, _, tag = item.partition(":")
        if tag == "o" and era != "old" or tag == "y" and era != "young":
            continue
        acc += 1.0 / (rank + 6)
        out.append(name)
        cum.append(acc)
    return out, cum


def era_of(year):
    return "old" if year < 1975 else ("mid" if year <= 1985 else "young")


# ---------------------------------------------------------------- text noise helpers
# Tone mark on the first vowel ("Hòa", canonical) -> on the second ("Hoà"), in open syllables
# ending in oa / oe / uy (not after q: "Quý" is the same in both styles).
_TONED = {"à": "a", "á": "a", "ả": "a", "ã": "a", "ạ": "a"}
_OLD_STYLE = {}
for base, tones in (("o", "òóỏõọ"), ("u", "ùúủũụ")):
    for second, seconds in ((("a", "àáảãạ"), ("e", "èéẻẽẹ")) if base == "o" else (("y", "ỳýỷỹỵ"),)):
        for i, t in enumerate(tones):
            _OLD_STYLE[t + second] = base + seconds[i]


def old_style_tones(name):
    words = name.split(" ")
    changed = False
    for i, w in enumerate(words):
        tail = w[-2:].lower()
        if tail in _OLD_STYLE and not (tail[1] == "y" and w[-3:-2].lower() == "q"):
            new = _OLD_STYLE[tail]
            if w[-2].isupper():
                new = new[0].upper() + new[1]
            words[i] = w[:-2] + new
            changed = True
    return " ".join(words) if changed else None


def strip_diacritics(s):
    s = s.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
_KEYBOARD = "abcdeghiklmnopqrstuvxy"


def retone(ch, rng):
    """The same vowel with another (or no) tone mark: the commonest Vietnamese typing error."""
    d = unicodedata.normalize("NFD", ch)
    base = "".join(c for c in d if c not in _TONE_MARKS)
    current = [c for c in d if c in _TONE_MARKS]
    choices = [t for t in ["", *_TONE_MARKS] if [t] != current and not (t == "" and not current)]
    return unicodedata.normalize("NFC", base + rng.choice(choices))


def typo(word, rng):
    """One edit on a word: substitute (keyboard neighbour or wrong tone), delete, insert or
    transpose a letter. Keeps the first letter's case."""
    chars = list(word)
    n = len(chars)
    op = rng.random()
    if op < 0.40 or n < 3:  # substitute
        i = rng.randrange(n)
        c = chars[i]
        if strip_diacritics(c).lower() in "aeiouy" and rng.random() < 0.6:
            new = retone(c, rng)
        else:
            new = rng.choice(_KEYBOARD.replace(strip_diacritics(c).lower(), ""))
            if c.isupper():
                new = new.upper()
        chars[i] = new
    elif op < 0.65:  # delete (never the first letter: that one is seen)
        del chars[rng.randrange(1, n)]
    elif op < 0.85:  # insert: double a letter or add a stray one
        i = rng.randrange(1, n + 1)
        chars.insert(i, chars[i - 1].lower() if rng.random() < 0.5 else rng.choice(_KEYBOARD))
    else:  # transpose two neighbours
        i = rng.randrange(1, n - 1)
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def case_and_spaces(name, rng):
    original = name
    r = rng.random()
    if r < 0.35:
        name = name.upper()
    elif r < 0.6:
        name = name.lower()
    if rng.random() < 0.6:  # doubled space between two words, or stray spaces at the ends
        words = name.split(" ")
        i = rng.randrange(max(1, len(words) - 1))
        words[i] = words[i] + " "
        name = " ".join(words)
    if rng.random() < 0.3:
        name = rng.choice([" ", "  "]) + name + rng.choice(["", " "])
    return name if name != original else name.replace(" ", "  ", 1)


# ---------------------------------------------------------------- main
def load_admin():
    def col(path, name, where=None):
        with open(os.path.join(ADMIN, path), newline="", encoding="utf-8") as f:
            return [r[name] for r in csv.DictReader(f) if where is None or where(r)]
    dong_nai = col("dong_nai_communes_2025.csv", "commune_code")
    others = col("communes_2025.csv", "commune_code", lambda r: r["province_code"] != "75")
    prefixes = [p for p in col("id_birth_registration_codes.csv", "id_prefix") if p != "075"]
    return dong_nai, others, prefixes


def birth_year_table():
    """Cumulative weights over 1920..2020: elderly (normal around 1952, beneficiaries of merit
    and old-age allowances), working age (flat 1960–2000) and children (flat 2000–2020)."""
    years = list(range(1920, 2021))
    cum, acc = [], 0.0
    for y in years:
        w = 0.45 * math.exp(-0.5 * ((y - 1952) / 13.0) ** 2) / (13.0 * 2.5066)
        w += 0.35 / 41 if 1960 <= y <= 2000 else 0.0
        w += 0.20 / 21 if y >= 2000 else 0.0
        acc += w
        cum.append(acc)
    return years, cum


DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

# Duplicate noises and their relative frequency.
NOISES = [("typo", 18), ("no_diacritics", 12), ("old_tones", 6), ("nfd", 6), ("case_spaces", 8),
          ("drop_middle", 8), ("swap_day_month", 6), ("year_only", 6), ("year_off", 6),
          ("pid_typo", 8), ("pid_missing", 8), ("moved", 10)]
# Pairs that would hide each other (no diacritics left to decompose or move, etc.).
EXCLUSIVE = {"no_diacritics": ("old_tones", "nfd"), "old_tones": ("no_diacritics",), "nfd": ("no_diacritics",),
             "year_only": ("swap_day_month",), "swap_day_month": ("year_only",),
             "pid_typo": ("pid_missing",), "pid_missing": ("pid_typo",)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out_prefix")
    ap.add_argument("--seed", type=int, default=2025)
    args = ap.parse_args()
    n = args.n
    rng = random.Random(args.seed)

    dong_nai, other_communes, other_prefixes = load_admin()
    # Commune sizes differ: log-normal weights, fixed for the seed.
    dn_cum, acc = [], 0.0
    for _ in dong_nai:
        acc += rng.lognormvariate(0, 0.6)
        dn_cum.append(acc)

    def commune():
        if rng.random() < 0.9:
            return rng.choices(dong_nai, cum_weights=dn_cum)[0]
        return rng.choice(other_communes)

    s_names = [s for s, _ in SURNAMES]
    s_cum = []
    acc = 0.0
    for _, w in SURNAMES:
        acc += w
        s_cum.append(acc)

    def surname():
        return rng.choices(s_names, cum_weights=s_cum)[0]

    given_tables = {(sex, era): _given_table(GIVEN_MALE if sex == "male" else GIVEN_FEMALE, era)
                    for sex in ("male", "female") for era in ("old", "mid", "young")}

    def given(sex, year):
        names, cum = given_tables[(sex, era_of(year))]
        return rng.choices(names, cum_weights=cum)[0]

    def middles(sex, year):
        era = era_of(year)
        pool = MIDDLE_MALE if sex == "male" else MIDDLE_FEMALE
        r = rng.random()
        if r < 0.03:
            return []  # no middle name
        first = pool[0] if rng.random() < DEFAULT_MIDDLE_SHARE[era][sex] else rng.choice(pool[1:])
        if r > (0.93 if era == "old" else 0.80):  # two middle names ("Thị Thu", "Ngọc Bảo")
            second = rng.choice(pool[1:])
            return [first, second] if second != first else [first]
        return [first]

    years, y_cum = birth_year_table()

    def birth_year(lo=1920, hi=2020):
        while True:
            y = rng.choices(years, cum_weights=y_cum)[0]
            if lo <= y <= hi:
                return y

    def month_day():
        m = rng.randint(1, 12)
        return m, rng.randint(1, DAYS[m - 1])

    used_pids = set()

    def personal_id(year, sex):
        r = rng.random()
        prefix = "075" if r < 0.75 else ("070" if r < 0.85 else rng.choice(other_prefixes))
        digit = (0 if sex == "male" else 1) + (2 if year >= 2000 else 0)
        head = f"{prefix}{digit}{year % 100:02d}"
        while True:
            pid = f"{head}{rng.randrange(1_000_000):06d}"
            if pid not in used_pids:
                used_pids.add(pid)
                return pid

    # -------- entities: singles and families. An entity is a list
    # [surname, middles, given, sex, year, month, day, commune, pid]
    n_dup = round(n * 0.10)
    n_orig = n - n_dup
    entities = []

    def person(sex, year, sur=None, mids=None, md=None, com=None):
        m, d = md if md else month_day()
        return [sur or surname(), middles(sex, year) if mids is None else mids, given(sex, year),
                sex, year, m, d, com or commune(), personal_id(year, sex)]

    def family():
        """Parents and children in one commune (a tenth of the children moved elsewhere). The
        wife keeps her own surname; children take the father's; brothers (sisters) mostly
        share one middle name; children are born 1-4 years apart, a few are twins. Some
        families are only siblings (parents dead or not beneficiaries)."""
        com = commune()
        out = []
        father_year = birth_year(1920, 1990)
        mother_year = min(2000, max(1920, father_year + rng.choice([-2, -1, 0, 1, 2, 3, 3, 4, 5, 6, 8])))
        fam_surname = surname()
        # both parents 55 %, father only 15 %, mother only 15 %, siblings only 15 %
        with_father, with_mother = rng.choices([(True, True), (True, False), (False, True), (False, False)],
                                               weights=[55, 15, 15, 15])[0]
        if with_father:
            out.append(person("male", father_year, sur=fam_surname, com=com))
        if with_mother:
            out.append(person("female", mother_year, com=com))
        n_children = rng.choice([0, 1, 2, 2, 3, 3, 4]) if (with_father or with_mother) else rng.choice([2, 2, 3, 4])
        year = mother_year + rng.randint(19, 30)
        shared = {"male": middles("male", year), "female": middles("female", year)}
        prev = None
        for _ in range(n_children):
            if year > 2020:
                break
            sex = "male" if rng.random() < 0.5 else "female"
            mids = shared[sex] if rng.random() < 0.7 else None
            if prev is not None and rng.random() < 0.03:  # twins: same birth date
                c = person(sex, prev[4], sur=fam_surname, mids=mids, md=(prev[5], prev[6]), com=com)
            else:
                c = person(sex, year, sur=fam_surname, mids=mids, com=com)
                year += rng.randint(1, 4)
            if rng.random() < 0.1:
                c[7] = commune()
            out.append(c)
            prev = c
        return out

    while len(entities) < n_orig:
        # 16 % of the groups are families of ~3.5 persons: ~40 % of persons live in families
        if rng.random() < 0.16:
            entities.extend(family())
        else:
            sex = "male" if rng.random() < 0.47 else "female"  # more elderly women
            entities.append(person(sex, birth_year()))
    del entities[n_orig:]

    # -------- the original record of each entity
    def render_date(kind, y, m, d):
        if kind == "year":
            return str(y)
        if kind == "placeholder":
            return f"01/01/{y}"
        return f"{d:02d}/{m:02d}/{y}"

    records = []  # (entity index, full_name, birth_date, sex, personal_id, commune)
    originals = []  # per entity: date kind, pid present
    for i, e in enumerate(entities):
        r = rng.random()
        year_only_share = 0.13 if e[4] < 1945 else 0.035  # ~5 % overall
        kind = "year" if r < year_only_share else ("placeholder" if r < year_only_share + 0.03 else "full")
        has_pid = rng.random() >= 0.08
        originals.append((kind, has_pid))
        name = " ".join([e[0], *e[1], e[2]])
        records.append((i, name, render_date(kind, e[4], e[5], e[6]), e[3], e[8] if has_pid else "", e[7]))

    # -------- duplicates: 10 % of the records; most duplicated persons get one, some two
    weight = dict(NOISES)
    order = {k: i for i, k in enumerate(weight)}

    def duplicate(i):
        e = entities[i]
        kind, has_pid = originals[i]
        sur, mids, giv = e[0], list(e[1]), e[2]
        y, m, d = e[4], e[5], e[6]
        # an old record without the ID is often duplicated by a newer one with it
        pid = e[8] if has_pid or rng.random() < 0.5 else ""
        com = e[7]
        # 1-3 distinct noises among those that change something on this record
        applicable = ["typo", "no_diacritics", "nfd", "case_spaces", "year_off", "moved"]
        if old_style_tones(" ".join([sur, *mids, giv])):
            applicable.append("old_tones")
        if mids:
            applicable.append("drop_middle")
        if kind == "full" and d <= 12 and d != m:
            applicable.append("swap_day_month")
        if kind != "year":
            applicable.append("year_only")
        if pid:
            applicable += ["pid_typo", "pid_missing"]
        chosen = []
        for _ in range(rng.choices([1, 2, 3], weights=[45, 35, 20])[0]):
            pick = rng.choices(applicable, weights=[weight[a] for a in applicable])[0]
            chosen.append(pick)
            applicable = [a for a in applicable if a != pick and a not in EXCLUSIVE.get(pick, ())]
        tokens = [sur, *mids, giv]
        post = []  # whole-string noises, applied last in this order
        for noise in sorted(chosen, key=order.get):
            if noise == "typo":
                j = rng.randrange(len(tokens))
                tokens[j] = typo(tokens[j], rng)
            elif noise == "drop_middle":
                del tokens[rng.randrange(1, len(tokens) - 1)]
            elif noise == "swap_day_month":
                m, d = d, m
            elif noise == "year_only":  # written as "1948", sometimes as "01/01/1948"
                kind = "year" if kind == "placeholder" or rng.random() < 0.7 else "placeholder"
            elif noise == "year_off":
                y = y + 1 if y == 1920 else (y - 1 if y == 2020 else y + rng.choice([-1, 1]))
            elif noise == "pid_typo":
                digits = list(pid)
                j = rng.randrange(11)
                if rng.random() < 0.5 and digits[j] != digits[j + 1]:
                    digits[j], digits[j + 1] = digits[j + 1], digits[j]
                else:
                    digits[j] = rng.choice("0123456789".replace(digits[j], ""))
                pid = "".join(digits)
            elif noise == "pid_missing":
                pid = ""
            elif noise == "moved":
                while com == e[7]:
                    com = commune()
            elif noise in ("no_diacritics", "old_tones", "nfd", "case_spaces"):
                post.append(noise)
        name = " ".join(tokens)
        for noise in post:
            if noise == "no_diacritics":
                name = strip_diacritics(name)
            elif noise == "old_tones":
                name = old_style_tones(name) or name
            elif noise == "case_spaces":
                name = case_and_spaces(name, rng)
            elif noise == "nfd":
                name = unicodedata.normalize("NFD", name)
        return (i, name, render_date(kind, y, m, d), e[3], pid, com)

    dup_entities = rng.sample(range(n_orig), min(n_orig, n_dup))
    made = 0
    for i in dup_entities:
        if made >= n_dup:
            break
        for _ in range(2 if rng.random() < 0.15 and made + 2 <= n_dup else 1):
            records.append(duplicate(i))
            made += 1

    # -------- shuffle, random 8-character ids, write
    rng.shuffle(records)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32

    def rid(x):
        return "".join(alphabet[(x >> s) & 31] for s in (35, 30, 25, 20, 15, 10, 5, 0))

    ids = rng.sample(range(32 ** 8), len(records))
    with open(args.out_prefix + ".csv", "w", newline="", encoding="utf-8") as f, \
            open(args.out_prefix + ".truth.csv", "w", newline="", encoding="utf-8") as t:
        w, wt = csv.writer(f), csv.writer(t)
        w.writerow(["record_id", "full_name", "birth_date", "sex", "personal_id", "commune"])
        wt.writerow(["record_id", "entity_id"])
        for x, rec in zip(ids, records):
            r = rid(x)
            w.writerow((r, *rec[1:]))
            wt.writerow((r, f"E{rec[0]:07d}"))
    print(f"{len(records)} records, {n_orig} persons, {made} duplicates -> {args.out_prefix}.csv",
          file=sys.stderr)


if __name__ == "__main__":
    main()
