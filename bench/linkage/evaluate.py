#!/usr/bin/env python3
"""Pairwise precision / recall / F1 of a clustering against the generator's truth.

    bench/linkage/evaluate.py TRUTH.csv CLUSTERS.csv [--name NAME]

TRUTH.csv: record_id,entity_id (generate.py). CLUSTERS.csv: a header with at least the columns
record_id and cluster_id (any others, in any order, are ignored). A predicted pair is any two
records in the same cluster, a true pair any two records of the same entity. Counted from
cluster sizes, without enumerating pairs (a cluster of 10,000 records costs nothing more):

    TP        = sum over (entity, cluster) intersections of C(k, 2)
    predicted = sum over clusters of C(size, 2)
    true      = sum over entities of C(size, 2)

Records of TRUTH missing from CLUSTERS count as singletons ("missing" in the output); records of
CLUSTERS not in TRUTH are ignored ("unknown", on stderr when non-zero). Prints one JSON line:
{"name", "precision", "recall", "f1", "records", "missing", "true_pairs", "predicted_pairs",
"true_positive_pairs", "clusters"}.
"""
import argparse
import csv
import json
import sys
from collections import Counter


def pairs(k):
    return k * (k - 1) // 2


def main():
    ap = argparse.ArgumentParser(description="pairwise precision/recall/F1 of a clustering")
    ap.add_argument("truth")
    ap.add_argument("clusters")
    ap.add_argument("--name", default=None)
    args = ap.parse_args()

    csv.field_size_limit(1 << 24)
    with open(args.truth, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        entity_of = {r["record_id"]: r["entity_id"] for r in reader}

    seen = set()
    cells = Counter()     # (entity, cluster) -> records
    cluster_size = Counter()
    unknown = duplicated = 0
    with open(args.clusters, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
        try:
            rid_i, cid_i = header.index("record_id"), header.index("cluster_id")
        except ValueError:
            sys.exit(f"{args.clusters}: needs columns record_id and cluster_id, has {header}")
        for row in reader:
            if not row:
                continue
            rid, cid = row[rid_i], row[cid_i]
            entity = entity_of.get(rid)
            if entity is None:
                unknown += 1
                continue
            if rid in seen:  # a record in two clusters: keep the first
                duplicated += 1
                continue
            seen.add(rid)
            cells[(entity, cid)] += 1
            cluster_size[cid] += 1

    missing = len(entity_of) - len(seen)
    entity_size = Counter(entity_of.values())
    true_pairs = sum(pairs(k) for k in entity_size.values())
    # missing records are singleton clusters: they add no predicted and no true-positive pair
    predicted_pairs = sum(pairs(k) for k in cluster_size.values())
    tp = sum(pairs(k) for k in cells.values())

    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    if unknown or duplicated:
        print(f"{args.clusters}: {unknown} rows with a record_id not in the truth, "
              f"{duplicated} record_ids repeated (first kept)", file=sys.stderr)
    print(json.dumps({
        "name": args.name or args.clusters,
        "precision": round(precision, 6), "recall": round(recall, 6), "f1": round(f1, 6),
        "records": len(entity_of), "missing": missing,
        "true_pairs": true_pairs, "predicted_pairs": predicted_pairs, "true_positive_pairs": tp,
        "clusters": len(cluster_size) + missing,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
