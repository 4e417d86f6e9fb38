#!/usr/bin/env bash
# Runs every test of the workspace on both databases: SQLite (embedded) and a throwaway
# PostgreSQL that this script starts on a free loopback port and removes afterwards.
# Installs what is missing from Debian's packages when run as root: the PostgreSQL
# server (initdb refuses to run as root, so the cluster runs as the `postgres` user)
# Chromium and ChromeDriver for the browser tests, and the OpenAPI validator (PyPI).
#
#   scripts/test.sh              # all tests
#   scripts/test.sh -p ansinh-domain   # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromedriver ] || need_apt+=(chromium-driver)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
command -v pg_restore >/dev/null 2>&1 || need_apt+=(postgresql-client)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need_apt+=(postgresql)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing: ${need_apt[*]} — install them: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  echo "installing ${need_apt[*]} (Debian packages)…" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

# The reference OpenAPI validator, for the API document test (PyPI).
if ! python3 -c 'import openapi_spec_validator' >/dev/null 2>&1; then
  echo "installing openapi-spec-validator (PyPI)…" >&2
  python3 -m pip install -q openapi-spec-validator >&2 2>/dev/null \
    || python3 -m pip install -q --break-system-packages openapi-spec-validator >&2
fi

pgenv=$(scripts/pg.sh) || { echo "could not start PostgreSQL for the tests" >&2; exit 1; }
eval "$pgenv"
trap 'scripts/pg.sh stop "$ANSINH_TEST_PGDATA"' EXIT
echo "PostgreSQL for tests: $ANSINH_TEST_POSTGRES_URL" >&2

log=$(mktemp)
set +e
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over all test binaries (cargo prints one result line per binary).
passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
echo "ansinh: $passed passed, $failed failed"
exit "$status"
