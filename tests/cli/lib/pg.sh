#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for a test (source this file):
#   pg_start DIR     initdb in DIR/pg (as an unprivileged user when run as
#                    root: postgres refuses root), a server listening only on
#                    a unix socket in DIR/pg (no TCP port), database
#                    "confpool"; sets PG_URL (postgresql:///confpool?host=...)
#                    and PG_PID.  Returns 77 (skip) without postgresql-15.
#   pg_stop          fast shutdown (idempotent; call it from the EXIT trap).
#   pg_psql SQL      run SQL as the superuser (quiet, unaligned).
#   pg_createdb NAME another database (each daemon has its own); prints its URL
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=
PG_URL=
PG_PID=
PG_RUNAS=()

pg_start() {
  local dir=$1
  [ -x "$PG_BIN/initdb" ] || { echo "postgresql-15 is required (scripts/install-deps.sh check)"; return 77; }
  PG_DIR="$dir/pg"
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    # the data directory belongs to the unprivileged user that runs the server
    PG_RUNAS=(runuser -u nobody --)
    chown nobody "$PG_DIR"
    chmod 755 "$dir"
  fi
  "${PG_RUNAS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
    || { echo "initdb failed:"; cat "$PG_DIR/initdb.log"; return 1; }
  # no TCP listener; the socket in the temporary directory; throw-away durability
  "${PG_RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
    -o "-c listen_addresses= -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null 2>&1 || { echo "postgres did not start:"; cat "$PG_DIR/server.log"; return 1; }
  PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
  "$PG_BIN/createdb" -h "$PG_DIR" -U postgres confpool || return 1
  PG_URL="postgresql:///confpool?host=$PG_DIR&user=postgres"
  export PG_URL
}

pg_createdb() { # name -> prints its URL
  "$PG_BIN/createdb" -h "$PG_DIR" -U postgres "$1" && echo "postgresql:///$1?host=$PG_DIR&user=postgres"
}

pg_psql() {
  "$PG_BIN/psql" -h "$PG_DIR" -U postgres -d confpool -qAt -v ON_ERROR_STOP=1 -c "$1"
}

pg_stop() {
  [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
  "${PG_RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
}
