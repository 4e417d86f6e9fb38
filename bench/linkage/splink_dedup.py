#!/usr/bin/env python3
"""Deduplication of the benchmark registry with Splink 5 (DuckDB backend, in memory): what a
competent Splink user would write for Vietnamese person records.

    splink_dedup.py IN.csv OUT_clusters.csv [--pairs OUT_pairs.csv] [--threshold 0.9]

IN.csv: record_id,full_name,birth_date,sex,personal_id,commune (generate.py). Writes
OUT_clusters.csv (record_id,cluster_id, every input record, singletons included) and, with
--pairs, the scored pairs at or above the threshold. Timings per phase go to stderr; the whole
run, preprocessing included, is what the benchmark times.

Preprocessing (DuckDB SQL, before Splink sees the data):
  * full_name: NFC, lower case, whitespace runs collapsed; folded = diacritics stripped and
    đ -> d ("Nguyễn  Văn Hoà" -> "nguyen van hoa"). Surname = first word, given name = last
    word, middle = the words between (NULL when none). The given name is also kept with its
    diacritics, tone mark moved to the canonical vowel ("hoà" -> "hòa"), so that Hòa/Hoa or
    Thủy/Thúy, which fold to the same letters, can still be told apart.
  * birth_date: dd/mm/yyyy -> dob (ISO string), birth_year, birth_month, birth_day; a bare
    year ("1948") -> birth_year only (dob NULL).
  * personal_id, commune: trimmed, empty -> NULL. sex: lower case.

Model (Fellegi-Sunter, comparisons in order of their levels):
  surname     exact (term-frequency adjusted) | Damerau-Levenshtein <= 1 | else
  given       exact with diacritics (TF) | exact folded (TF) | Damerau-Levenshtein <= 1 | else
              (no Jaro-Winkler level: given names are short, a single typo is already
              Damerau-Levenshtein 1, and EM drove that level's m below 1e-300, which Splink 5
              rejects with a ValueError)
  middle      exact | one contains the other (a dropped second middle name) |
              Damerau-Levenshtein <= 1 | else   (NULL when either has none)
  birth date  exact (TF: "01/01/yyyy" placeholders are common) | day and month swapped |
              same year, one side year-only | same day and month, year +-1 | same year |
              year +-1 | else
  personal_id exact | Damerau-Levenshtein <= 1 (one wrong or transposed digit) | else
  commune     exact (TF) | else
  sex         exact | else

Blocking rules for prediction (a pair is scored when any rule holds):
  personal_id | surname+given+birth_year | surname+given+birth_month+birth_day | given+dob |
  given+birth_year+commune | dob+commune | folded full name+commune
Training: probability_two_random_records_match from deterministic rules (personal_id;
folded name+dob+commune) with an assumed recall of 0.7; u by random sampling (1e7 pairs,
seed 42); m by EM, two sessions: blocked on personal_id (names, dates, commune, sex), and on
dob+commune (personal_id, names, sex).
Prediction at --threshold, then connected components at the same threshold.
"""
import argparse
import logging
import sys
import time

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

T0 = time.perf_counter()
_last = [T0]


def phase(label):
    now = time.perf_counter()
    print(f"[splink] {label:<34} {now - _last[0]:8.1f} s   (total {now - T0:7.1f} s)", file=sys.stderr, flush=True)
    _last[0] = now


# Tone mark on the first vowel of a final open oa / oe / uy ("hòa", "thủy"): the form the
# generator and ansinh treat as canonical; "hoà", "thuỷ" are rewritten to it. ("quý" is not
# affected: there u belongs to the consonant.)
def _canonical_tone_sql(col):
    expr = col
    pairs = []
    for second, toned in (("a", "àáảãạ"), ("e", "èéẻẽẹ")):
        for i, t in enumerate(toned):
            pairs.append((f"o{t}$", "òóỏõọ"[i] + second))
    for i, t in enumerate("ỳýỷỹỵ"):
        pairs.append((f"([^q])u{t}$", "\\1" + "ùúủũụ"[i] + "y"))
    for pattern, repl in pairs:
        expr = f"regexp_replace({expr}, '{pattern}', '{repl}')"
    return expr


def sql(con, query, params=None):
    """Runs a statement to completion (DuckDB 2 keeps a connection busy until its result is
    fetched, and Splink shares the connection)."""
    return con.execute(query, params).fetchall()


def quote(path):
    return "'" + path.replace("'", "''") + "'"


def preprocess(con, path):
    sql(con, "CREATE TABLE raw AS SELECT * FROM read_csv(?, header = true, all_varchar = true)", [path])
    sql(con, f"""
        CREATE TABLE persons AS
        WITH n AS (
            SELECT record_id,
                   regexp_replace(trim(lower(nfc_normalize(full_name))), '\\s+', ' ', 'g') AS name_lc,
                   trim(birth_date) AS bd,
                   lower(trim(sex)) AS sex,
                   nullif(trim(personal_id), '') AS personal_id,
                   nullif(trim(commune), '') AS commune
            FROM raw
        ), t AS (
            SELECT *,
                   replace(strip_accents(name_lc), 'đ', 'd') AS name_folded,
                   string_split(name_lc, ' ') AS w_acc,
                   regexp_extract(bd, '^(\\d{{1,2}})/(\\d{{1,2}})/(\\d{{4}})$', ['d', 'm', 'y']) AS dmy
            FROM n
        ), u AS (
            SELECT *, string_split(name_folded, ' ') AS w,
                   TRY_CAST(CASE WHEN regexp_matches(bd, '^\\d{{4}}$') THEN bd ELSE nullif(dmy.y, '') END AS INTEGER) AS birth_year,
                   TRY_CAST(nullif(dmy.m, '') AS INTEGER) AS birth_month,
                   TRY_CAST(nullif(dmy.d, '') AS INTEGER) AS birth_day
            FROM t
        )
        SELECT record_id,
               name_folded,
               CASE WHEN len(w) > 1 THEN w[1] END AS surname,
               w[-1] AS given,
               {_canonical_tone_sql('w_acc[-1]')} AS given_acc,
               CASE WHEN len(w) > 2 THEN array_to_string(w[2:-2], ' ') END AS middle,
               strftime(try(make_date(birth_year, birth_month, birth_day)), '%Y-%m-%d') AS dob,
               birth_year,
               CASE WHEN try(make_date(birth_year, birth_month, birth_day)) IS NOT NULL THEN birth_month END AS birth_month,
               CASE WHEN try(make_date(birth_year, birth_month, birth_day)) IS NOT NULL THEN birth_day END AS birth_day,
               sex, personal_id, commune
        FROM u
    """)
    sql(con, "DROP TABLE raw")


def settings():
    surname = cl.CustomComparison(
        output_column_name="surname",
        comparison_levels=[
            cll.NullLevel("surname"),
            cll.ExactMatchLevel("surname", term_frequency_adjustments=True),
            cll.DamerauLevenshteinLevel("surname", 1),
            cll.ElseLevel(),
        ],
    )
    given = cl.CustomComparison(
        output_column_name="given",
        comparison_levels=[
            cll.NullLevel("given"),
            cll.ExactMatchLevel("given_acc", term_frequency_adjustments=True).configure(
                label_for_charts="Exact match with diacritics"),
            cll.ExactMatchLevel("given", term_frequency_adjustments=True).configure(
                label_for_charts="Exact match without diacritics"),
            cll.DamerauLevenshteinLevel("given", 1),
            cll.ElseLevel(),
        ],
    )
    middle = cl.CustomComparison(
        output_column_name="middle",
        comparison_levels=[
            cll.NullLevel("middle"),
            cll.ExactMatchLevel("middle"),
            cll.CustomLevel("contains(middle_l, middle_r) OR contains(middle_r, middle_l)",
                            label_for_charts="One middle name contains the other"),
            cll.DamerauLevenshteinLevel("middle", 1),
            cll.ElseLevel(),
        ],
    )
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_year"),
            cll.ExactMatchLevel("dob", term_frequency_adjustments=True),
            cll.CustomLevel("birth_year_l = birth_year_r AND birth_month_l = birth_day_r "
                            "AND birth_day_l = birth_month_r",
                            label_for_charts="Day and month swapped"),
            cll.CustomLevel("(dob_l IS NULL OR dob_r IS NULL) AND birth_year_l = birth_year_r",
                            label_for_charts="Same year, one side year only"),
            cll.CustomLevel("birth_month_l = birth_month_r AND birth_day_l = birth_day_r "
                            "AND abs(birth_year_l - birth_year_r) = 1",
                            label_for_charts="Same day and month, year +-1"),
            cll.CustomLevel("birth_year_l = birth_year_r", label_for_charts="Same year"),
            cll.CustomLevel("abs(birth_year_l - birth_year_r) <= 1", label_for_charts="Year +-1"),
            cll.ElseLevel(),
        ],
    )
    pid = cl.CustomComparison(
        output_column_name="personal_id",
        comparison_levels=[
            cll.NullLevel("personal_id"),
            cll.ExactMatchLevel("personal_id"),
            cll.DamerauLevenshteinLevel("personal_id", 1),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=[
            surname, given, middle, birth, pid,
            cl.ExactMatch("commune").configure(term_frequency_adjustments=True),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=BLOCKING_RULES,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


# A pair is scored when it agrees exactly on any of these. Each rule tolerates errors in the
# fields it leaves out (personal ID lost or mistyped; a name typo; a year off by one or cut to
# the year; a moved commune). Each must stay at a few million pairs at 1M records: surname and
# given name alone would give billions (38 % of Vietnamese are Nguyễn, and one woman in a
# hundred is "Nguyễn Thị Lan"). On the 1M benchmark file (seed 2025) the rules give 24 million
# pairs (sum over the rules, before Splink removes the overlap), and 97.9 % of the true duplicate
# pairs agree on at least one of them.
BLOCKING_RULES = [
    block_on("personal_id"),
    block_on("surname", "given", "birth_year"),
    block_on("surname", "given", "birth_month", "birth_day"),
    block_on("given", "dob"),
    block_on("given", "birth_year", "commune"),
    block_on("dob", "commune"),
    block_on("name_folded", "commune"),
]


def main():
    ap = argparse.ArgumentParser(description="Splink deduplication of the linkage benchmark data")
    ap.add_argument("input")
    ap.add_argument("clusters")
    ap.add_argument("--pairs", help="also write the scored pairs at or above the threshold")
    ap.add_argument("--threshold", type=float, default=0.9, help="match probability (default 0.9)")
    ap.add_argument("--model", help="also save the trained model (JSON)")
    ap.add_argument("--verbose", action="store_true", help="Splink's own INFO log")
    args = ap.parse_args()

    db_api = DuckDBAPI()  # in-memory DuckDB, all cores
    con = db_api.duckdb_con
    preprocess(con, args.input)
    n = sql(con, "SELECT count(*) FROM persons")[0][0]
    phase(f"load + preprocess ({n} records)")

    linker = Linker(db_api.register("persons"), settings(),
                    log_level=logging.INFO if args.verbose else logging.WARNING)
    phase("linker")

    # lambda: pairs that agree on the personal ID, or on the whole folded name, date of birth
    # and commune, are matches; assume these rules find 70 % of the duplicates.
    linker.training.estimate_probability_two_random_records_match(
        [block_on("personal_id"), block_on("name_folded", "dob", "commune")], recall=0.7)
    phase("train: probability two records match")
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=42)
    phase("train: u (random sampling, 1e7 pairs)")
    # Each EM session estimates m for the comparisons its blocking rule does not use; together
    # they cover all of them. Pairs sharing a personal ID are almost all matches: that session
    # learns how names, dates, communes and sex vary within a person. Pairs sharing date of
    # birth and commune are a mix of matches and non-matches: that one learns personal_id.
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("personal_id"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob", "commune"))
    phase("train: m (EM, 2 sessions)")
    if args.model:
        linker.misc.save_model_to_json(args.model, overwrite=True)

    pairs = linker.inference.predict(threshold_match_probability=args.threshold)
    n_pairs = sql(con, f"SELECT count(*) FROM {pairs.physical_name}")[0][0]
    phase(f"predict ({n_pairs} pairs >= {args.threshold})")

    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pairs, threshold_match_probability=args.threshold)
    phase("cluster (connected components)")

    sql(con, f"COPY (SELECT record_id, cluster_id FROM {clusters.physical_name}) "
             f"TO {quote(args.clusters)} (HEADER, DELIMITER ',')")
    if args.pairs:
        sql(con, f"COPY (SELECT record_id_l, record_id_r, match_weight, match_probability "
                 f"FROM {pairs.physical_name}) TO {quote(args.pairs)} (HEADER, DELIMITER ',')")
    n_clusters = sql(con, f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}")[0][0]
    phase(f"write ({n_clusters} clusters)")


if __name__ == "__main__":
    main()
