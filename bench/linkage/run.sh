#!/usr/bin/env bash
# Integrity benchmark: duplicate detection in a registry of N person records (default
# 1,000,000; ~10 % noisy duplicates, families and namesakes as hard negatives), by
# `ansinh dedup` and by Splink 5 (DuckDB) on the same file. Prints wall time, peak memory and
# pairwise precision / recall / F1 of each, as a markdown table.
#
#   bench/linkage/run.sh [N]
#
# Environment:
#   WORK       work directory (default /tmp/linkage-bench): data, outputs, logs, venv
#   ANSINH     the ansinh binary (default target/release/ansinh; build it first with
#              `cargo build --release -p ansinh`); skipped with a warning when missing
#   SPLINK_PY  a python that has splink 5.0.0 installed; otherwise $WORK/venv is created
#              with `pip install splink==5.0.0 duckdb==2.0.1` (needs python3-venv and PyPI)
#   SEED       generator seed (default 2025)
#   THRESHOLD  the match-probability threshold of both tools (default 0.9)
set -euo pipefail
n=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
work=${WORK:-/tmp/linkage-bench}
seed=${SEED:-2025}
threshold=${THRESHOLD:-0.9}
ansinh=${ANSINH:-target/release/ansinh}
mkdir -p "$work"

# ---- Splink's python
if [ -n "${SPLINK_PY:-}" ]; then
  py=$SPLINK_PY
else
  py=$work/venv/bin/python
  if [ ! -x "$py" ]; then
    if ! python3 -m venv "$work/venv" 2>/dev/null; then
      # Debian splits venv out of python3; install it when we can
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$work/venv"
        python3 -m venv "$work/venv"
      else
        echo "python3 -m venv failed: install the python3-venv package" >&2
        exit 1
      fi
    fi
    # duckdb pinned too: the version the published figures were measured with
    "$work/venv/bin/pip" install -q 'splink==5.0.0' 'duckdb==2.0.1'
  fi
fi
echo "splink $("$py" -c 'import splink, duckdb; print(splink.__version__, "/ duckdb", duckdb.__version__)')"

# ---- data (regenerated when N or the seed changed)
data=$work/data.csv
truth=$work/data.truth.csv
if [ ! -s "$data" ] || [ "$(cat "$work/data.params" 2>/dev/null)" != "$n $seed" ]; then
  echo "== generating $n records (seed $seed)"
  python3 "$here/generate.py" "$n" "$work/data" --seed "$seed"
  echo "$n $seed" > "$work/data.params"
fi

# ---- runs: /usr/bin/time -v writes its report to $work/<tool>.time
timed() {
  local tool=$1
  shift
  echo "== $tool: $*"
  if ! /usr/bin/time -v -o "$work/$tool.time" "$@" 2> "$work/$tool.log"; then
    tail -20 "$work/$tool.log" >&2
    echo "$tool failed (log: $work/$tool.log)" >&2
    return 1
  fi
  grep '^\[' "$work/$tool.log" || true  # per-phase timings, if the tool prints them
}

tools=()
if [ -x "$ansinh" ]; then
  rm -f "$work/ansinh_clusters.csv"
  timed ansinh "$ansinh" dedup --input "$data" --output "$work/ansinh_clusters.csv" --duplicate-at "$threshold" \
    --model "$work/ansinh_model.json" && tools+=(ansinh)
else
  echo "== ansinh: $ansinh not found, skipped (cargo build --release -p ansinh)" >&2
fi
rm -f "$work/splink_clusters.csv"
timed splink "$py" "$here/splink_dedup.py" "$data" "$work/splink_clusters.csv" \
  --threshold "$threshold" --model "$work/splink_model.json" && tools+=(splink)

# ---- evaluation and table
for tool in "${tools[@]}"; do
  python3 "$here/evaluate.py" "$truth" "$work/${tool}_clusters.csv" --name "$tool" > "$work/$tool.eval.json"
done
python3 - "$work" "${tools[@]}" <<'PY'
import json, re, sys
work, tools = sys.argv[1], sys.argv[2:]

def gnu_time(path):
    text = open(path, encoding="utf-8").read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return seconds, rss_kib / 1024

rows = {}
for tool in tools:
    wall, rss = gnu_time(f"{work}/{tool}.time")
    ev = json.load(open(f"{work}/{tool}.eval.json"))
    rows[tool] = dict(wall=wall, rss=rss, **ev)
    if ev["missing"]:
        print(f"note: {tool} left {ev['missing']} records out of its clusters (counted as singletons)")
print()
print("| tool | records | wall s | peak RSS MiB | precision | recall | F1 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for tool, r in rows.items():
    print(f"| {tool} | {r['records']:,} | {r['wall']:.1f} | {r['rss']:,.0f} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} |")
if "ansinh" in rows and "splink" in rows:
    a, s = rows["ansinh"], rows["splink"]
    print()
    print(f"ansinh/Splink: wall {a['wall'] / s['wall']:.3f}x, peak memory {a['rss'] / s['rss']:.3f}x")
PY
