#!/usr/bin/env bash
# The entitlement benchmark (docs/benchmarks.md): N persons × 12 months of 2024 (Decree 77/2024
# and the new social-assistance standard level change the amounts in July), computed by the
# ansinh engine and by OpenFisca on the same facts and the same policy packs, in one run; the
# monthly totals must be identical.
#   bench/entitlements/run.sh [N]        (default 1000000; needs python3-venv and PyPI access)
set -euo pipefail
n=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${BENCH_DIR:-/tmp/ansinh-bench-entitlements}
mkdir -p "$work"
venv="$work/venv"
if [ ! -x "$venv/bin/python" ]; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian splits venv out of python3; install it when we can
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$venv"
      python3 -m venv "$venv"
    else
      echo "python3 -m venv failed: install the python3-venv package" >&2
      exit 1
    fi
  fi
  "$venv/bin/pip" install -q openfisca-core
fi
echo "openfisca-core $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("openfisca-core"))')"
[ -s "$work/facts-$n.jsonl" ] || python3 "$here/gen_facts.py" "$n" > "$work/facts-$n.jsonl"
(cd "$repo" && cargo build --release -q -p ansinh-bench)
echo "== ansinh"
/usr/bin/time -f "peak memory %M KB, wall %e s" "$repo/target/release/ansinh-bench" entitlements \
  --facts "$work/facts-$n.jsonl" --policies "$repo/policies" --from 2024-01 --to 2024-12 2>&1 | tee "$work/ansinh.txt"
echo "== openfisca"
/usr/bin/time -f "peak memory %M KB, wall %e s" "$venv/bin/python" "$here/openfisca_bench.py" \
  "$work/facts-$n.jsonl" "$repo/policies" 2024-01 2024-12 2>&1 | tee "$work/openfisca.txt"
if diff <(grep '^total' "$work/ansinh.txt") <(grep '^total' "$work/openfisca.txt"); then
  echo "totals: identical"
else
  echo "totals: DIFFERENT" >&2
  exit 1
fi
