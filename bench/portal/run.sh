#!/usr/bin/env bash
# Citizen portal benchmark (issue 9): over the demo registry of PERSONS persons, an officer
# issues N persons' printed lookup codes; each citizen identifies (personal ID + birth date +
# code: argon2id verification, per-ID limit in the database), then reads their page (12 months
# of entitlements computed by the rules engine + payment history). Compared in the same run
# with the officer's reads of the same persons (dossier; 12 months of entitlements).
#
#   bench/portal/run.sh [PERSONS] [POSTGRES_URL]
#
# Needs release builds: cargo build --release -p ansinh -p ansinh-bench
# KEEP_DB=1 reuses the SQLite database of a previous run (the demo is then not rebuilt);
# SKIP_SQLITE=1 runs PostgreSQL only; N=… sets the number of citizens (default 200).
set -euo pipefail
cd "$(dirname "$0")/../.."
persons=${1:-1000000}
pg=${2:-}
n=${N:-200}
bin=target/release/ansinh
bench=target/release/ansinh-bench
work=${BENCH_DIR:-/tmp/ansinh-bench-portal}
mkdir -p "$work"
t() { /usr/bin/time -f "  -> %e s, peak %M KB" "$@"; }

run() {
  local url=$1 label=$2 port=$3
  echo "== $label: demo of $persons persons"
  t $bin demo --no-serve --persons "$persons" --database-url "$url" | head -1   # kept when present
  $bin serve --database-url "$url" --port "$port" > "$work/serve-$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
  echo "== $label: $n citizens over HTTP"
  $bench portal --base "http://127.0.0.1:$port" --persons "$n"
  kill $pid; wait $pid 2>/dev/null || true
}

if [ -z "${SKIP_SQLITE:-}" ]; then
  [ -n "${KEEP_DB:-}" ] || rm -f "$work/bench.db" "$work/bench.db-wal" "$work/bench.db-shm"
  run "sqlite://$work/bench.db" sqlite 18441
fi
if [ -n "$pg" ]; then
  [ -n "${KEEP_DB:-}" ] || psql "$pg" -q -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public;" >/dev/null
  run "$pg" postgres 18442
fi
