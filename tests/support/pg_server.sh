#!/bin/bash
# A throwaway PostgreSQL 15 server for tests.
#
#   pg_server.sh start DIR [OWNER_PID]   starts a server with its data and unix socket in DIR
#                                        (created), prints its libpq URL on stdout; if
#                                        OWNER_PID is given, a watchdog stops the server and
#                                        removes DIR once that process is gone (test crashed)
#   pg_server.sh stop DIR                stops it and removes DIR
#
# Unix socket only (listen_addresses=''), a random port number (names the socket), trust
# auth for user postgres, fsync/synchronous_commit/full_page_writes off: nothing here has to
# survive a crash, and startup stays well under a second. The initdb'd cluster is made once
# per user and copied (initdb takes ~2 s, a copy ~0.2 s). As root, the server runs as
# `postgres` (initdb and postgres refuse to run as root). Binaries: $PG_BIN or Debian's
# /usr/lib/postgresql/15/bin.
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [OWNER_PID]" >&2; exit 2; }
[ -x "$BIN/pg_ctl" ] || { echo "pg_server.sh: no PostgreSQL server binaries in $BIN (install postgresql-15)" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
  owner=postgres
else
  as_pg() { "$@"; }
  owner=$(id -un)
fi

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "$cmd" in
  start)
    tmp=${TMPDIR:-/tmp}
    template="$tmp/ztcore-pg-template-$(id -u)-15"
    (
      flock 9
      if [ ! -f "$template/data/PG_VERSION" ]; then
        # Made aside and renamed when complete, so a crash never leaves a half template.
        rm -rf "$template" "$template.new"
        mkdir -p "$template.new"
        chown "$owner" "$template.new"
        as_pg "$BIN/initdb" -D "$template.new/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
          >"$template.new/initdb.log" 2>&1 || { cat "$template.new/initdb.log" >&2; rm -rf "$template.new"; exit 1; }
        mv "$template.new" "$template"
      fi
    ) 9>"$template.lock"
    mkdir -p "$dir"
    chmod 700 "$dir"
    cp -a "$template/data" "$dir/data"
    chown -R "$owner" "$dir"
    for attempt in 1 2 3 4 5; do
      port=$((20000 + RANDOM % 40000))
      if as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o \
        "-k $dir -c listen_addresses= -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=16MB" \
        start >/dev/null 2>&1; then
        if [ -n "${3:-}" ]; then
          owner_pid=$3
          setsid bash -c "while kill -0 $owner_pid 2>/dev/null && [ -d '$dir' ]; do sleep 1; done; '$self' stop '$dir'" \
            </dev/null >/dev/null 2>&1 &
        fi
        echo "postgresql:///postgres?host=$dir&port=$port&user=postgres"
        exit 0
      fi
    done
    cat "$dir/server.log" >&2 || true
    stop
    exit 1
    ;;
  stop)
    stop
    ;;
  *)
    echo "usage: $0 start|stop DIR [OWNER_PID]" >&2
    exit 2
    ;;
esac
