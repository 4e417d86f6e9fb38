#!/usr/bin/env bash
# Plan monitoring benchmark (issue 7): the leader's dashboard of Kế hoạch 230/KH-UBND over the
# demo registry of PERSONS persons with last month's payment cycle closed — computed indicators
# (people with merit paid monthly, lines paid within the cycle, assistance beneficiaries per
# commune) recomputed after every change vs served from the cache keyed by the data version;
# the indicator drill-down by commune; the compiled XLSX report from the CLI.
#
#   bench/plans/run.sh [PERSONS] [POSTGRES_URL]
#
# Needs release builds: cargo build --release -p ansinh -p ansinh-bench
# KEEP_DB=1 reuses the SQLite database of a previous run (the demo is then not rebuilt);
# SKIP_SQLITE=1 runs PostgreSQL only.
set -euo pipefail
cd "$(dirname "$0")/../.."
persons=${1:-1000000}
pg=${2:-}
bin=target/release/ansinh
bench=target/release/ansinh-bench
work=${BENCH_DIR:-/tmp/ansinh-bench-plans}
mkdir -p "$work"
t() { /usr/bin/time -f "  -> %e s, peak %M KB" "$@"; }

run() {
  local url=$1 label=$2 port=$3
  echo "== $label: demo of $persons persons (registry, last month's cycle, the plan and its reports)"
  t $bin demo --no-serve --persons "$persons" --database-url "$url" | head -1   # kept when present (KEEP_DB=1)
  echo "== $label: compiled report (CLI, cold: connect, compute, write XLSX)"
  t $bin plan export --plan 1 --output "$work/report-$label.xlsx" --database-url "$url"
  for round in 1 2 3; do
    $bin serve --database-url "$url" --port "$port" > "$work/serve-$label.log" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
    echo "== $label: dashboard over HTTP, server start $round"
    $bench plans --base "http://127.0.0.1:$port" --rounds 10 --warm 20
    kill $pid; wait $pid 2>/dev/null || true
  done
}

if [ -z "${SKIP_SQLITE:-}" ]; then
  [ -n "${KEEP_DB:-}" ] || rm -f "$work/bench.db" "$work/bench.db-wal" "$work/bench.db-shm"
  run "sqlite://$work/bench.db" sqlite 18431
fi
if [ -n "$pg" ]; then
  psql "$pg" -q -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public;" >/dev/null
  run "$pg" postgres 18432
fi
