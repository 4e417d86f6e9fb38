#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on a free loopback port and prints
# `export ANSINH_TEST_POSTGRES_URL=…` plus `export ANSINH_TEST_PGDATA=…`.
# Stop it with: scripts/pg.sh stop "$ANSINH_TEST_PGDATA"
# Installs the Debian package when the server is missing (needs root for that).
# initdb refuses to run as root, so as root the cluster runs as the `postgres`
# system user (created by the package) or a dedicated `ansinh-pg` user.
set -euo pipefail

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$OWNER" -- "$@"; else "$@"; fi
}

if [ "${1:-}" = stop ]; then
  data=${2:?usage: pg.sh stop DATADIR}
  BIN=$(pg_bin)
  OWNER=$(stat -c %U "$data")
  as_owner "$BIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$data"
  exit 0
fi

BIN=$(pg_bin)
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL is not installed; run: sudo apt-get install -y postgresql" >&2
    exit 1
  fi
  echo "installing PostgreSQL (Debian package)…" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  BIN=$(pg_bin)
fi

if [ "$(id -u)" = 0 ]; then
  if id postgres >/dev/null 2>&1; then OWNER=postgres
  else
    id ansinh-pg >/dev/null 2>&1 || useradd --system --no-create-home ansinh-pg
    OWNER=ansinh-pg
  fi
else
  OWNER=$(id -un)
fi

DATA=$(mktemp -d /tmp/ansinh-pg.XXXXXX)
chown "$OWNER" "$DATA"
chmod 700 "$DATA"
# A free loopback port: try random ports until nothing answers (no python needed).
PORT=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "no free port found for PostgreSQL" >&2; exit 1; }

as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
  -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300" \
  start >/dev/null

echo "export ANSINH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
echo "export ANSINH_TEST_PGDATA=$DATA"
