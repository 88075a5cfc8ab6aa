# Throwaway PostgreSQL for the demo and benchmarks (source this file).
#   pg_start DIR   initdb into DIR, start on a free 127.0.0.1 port; sets PG_PORT, PG_PASSWORD, PG_PID
#   pg_dsn DB      prints the URL DSN of database DB (put it in an env var; never on a command line)
#   pg_stop        stops the server by PID (fast shutdown) and removes DIR
# As root, the server runs as the `postgres` user (initdb refuses root).
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

_pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  PG_ROOT=$1
  mkdir -p "$PG_ROOT"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_ROOT"
  PG_PASSWORD="demo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  printf '%s\n' "$PG_PASSWORD" > "$PG_ROOT/pwfile"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_ROOT/pwfile"
  _pg_as "$PG_BIN/initdb" -D "$PG_ROOT/data" -U postgres --pwfile="$PG_ROOT/pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync >"$PG_ROOT/initdb.log" 2>&1 \
    || { cat "$PG_ROOT/initdb.log" >&2; return 1; }
  rm -f "$PG_ROOT/pwfile"
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  _pg_as "$PG_BIN/postgres" -D "$PG_ROOT/data" -p "$PG_PORT" -k "$PG_ROOT" -c listen_addresses=127.0.0.1 \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off >"$PG_ROOT/server.log" 2>&1 &
  PG_PID=$!
  for _ in $(seq 1 100); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then return 0; fi
    sleep 0.1
  done
  cat "$PG_ROOT/server.log" >&2
  return 1
}

pg_dsn() {
  printf 'postgresql://postgres:%s@127.0.0.1:%s/%s' "$PG_PASSWORD" "$PG_PORT" "${1:-postgres}"
}

pg_psql() {  # pg_psql DB args...: psql as the superuser over the private socket (no password)
  local db=$1; shift
  "$PG_BIN/psql" -X -q -h "$PG_ROOT" -p "$PG_PORT" -U postgres -d "$db" "$@"
}

pg_stop() {
  if [ -n "${PG_PID:-}" ] && kill -0 "$PG_PID" 2>/dev/null; then
    kill -INT "$PG_PID"
    for _ in $(seq 1 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PG_PID" 2>/dev/null || true
  fi
  [ -n "${PG_ROOT:-}" ] && rm -rf "$PG_ROOT"
  PG_PID=
}
