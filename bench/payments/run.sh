#!/usr/bin/env bash
# Payment cycle benchmark (issue 6): generate and write a cycle for about 1,000,000
# beneficiaries — from the registry, through the rules engine, into the database — on SQLite
# and on PostgreSQL; then the month after, with the first month approved, exported, its results
# recorded (2 % failed) and closed, so that the second generation reads a million scheduled
# items and carries the failed lines. Prints time and peak memory of each step.
#
#   bench/payments/run.sh [PERSONS] [POSTGRES_URL]
#
# PERSONS defaults to 1,800,000 (the demo registry then has 1.26 million persons with a merit
# or assistance record, 999,897 of them due an allowance in 2026-10). POSTGRES_URL is a database
# to fill (it is emptied first); without it only SQLite runs. Needs a release build:
#   cargo build --release -p ansinh
set -euo pipefail
cd "$(dirname "$0")/../.."
persons=${1:-1800000}
pg=${2:-}
bin=target/release/ansinh
work=${BENCH_DIR:-/tmp/ansinh-bench-payments}
mkdir -p "$work"
t() { /usr/bin/time -f "  -> %e s, peak %M KB" "$@"; }

run() {
  local url=$1 label=$2
  echo "== $label: demo registry of $persons persons (no payment history)"
  t $bin demo --no-serve --no-payments --persons "$persons" --database-url "$url" | head -1
  echo "== $label: first cycle (2026-10)"
  t $bin payments generate --month 2026-10 --as sonoivu --database-url "$url"
  t $bin payments check 1 --as kiemtra --database-url "$url"
  t $bin payments approve 1 --as giamdocso --database-url "$url"
  rm -rf "$work/out-$label"
  t $bin payments export 1 --out "$work/out-$label" --as sonoivu --database-url "$url" | tail -3
  python3 - "$work/out-$label/cycle-1-results-template.csv" "$work/results-$label.csv" <<'PY'
import csv, sys
rows = csv.DictReader(open(sys.argv[1], encoding="utf-8"))
with open(sys.argv[2], "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["reference", "result", "amount"])
    for i, r in enumerate(rows):
        w.writerow([r["reference"], "failed" if i % 50 == 0 else "paid", r["amount"]])
PY
  t $bin payments reconcile 1 "$work/results-$label.csv" --as sonoivu --database-url "$url"
  t $bin payments close 1 --as sonoivu --database-url "$url"
  echo "== $label: second cycle (2026-11: a million scheduled items read, failed lines carried)"
  t $bin payments generate --month 2026-11 --as sonoivu --database-url "$url"
  t $bin payments verify 1 --database-url "$url" | tail -1
}

rm -f "$work/bench.db" "$work/bench.db-wal" "$work/bench.db-shm"
run "sqlite://$work/bench.db" sqlite
if [ -n "$pg" ]; then
  psql "$pg" -q -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public;" >/dev/null
  run "$pg" postgres
fi
