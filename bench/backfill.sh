#!/usr/bin/env bash
# Issue 11's backfill benchmark: a table of BENCH_ROWS rows (5,000,000) under a concurrent write load
# (BENCH_WRITERS sessions of one-row UPDATE transactions, bench/backfill_writers.cc) is backfilled
#   (a) by one `UPDATE t SET v2 = v * 2` (psql), and
#   (b) by a `-- schema-upgrade: backfill` migration (`schema-upgrade apply`),
# each on its own identical, vacuumed copy of the table. Reports rows/s of both and their ratio, and
# the writers' transactions, p50, p99 and longest latency during each (a one-row update by key takes
# well under 1 ms alone, so its latency is its wait for our row locks).
# Goals (issue 11): (b) at least half of (a)'s rows/s; no writer waiting more than 200 ms during (b).
#
# usage: bench/backfill.sh path/to/schema-upgrade
#   BENCH_ROWS=5000000  BENCH_WRITERS=4  BENCH_BATCH=1000 (first batch; the backfill adapts)
#   BENCH_FSYNC=on (off: fsync, synchronous_commit and full_page_writes off)
# Exit 0 when both ran (a missed goal is reported, not an error: it is a benchmark, not a test);
# 1 when a run failed or left rows unfilled; 2 on bad usage or when the server cannot start.
# The server is a throwaway PostgreSQL (as bench/run.sh: temp folder, private port, random password
# in environment variables only), stopped by PID on exit.
set -euo pipefail
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "bench: $*" >&2; exit 2; }
progress() { echo "bench: $*" >&2; }

[[ $# -eq 1 ]] || die "usage: bench/backfill.sh path/to/schema-upgrade"
su_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[[ -x $su_bin ]] || die "$1 is not an executable (build it first: make)"
ROWS=${BENCH_ROWS:-5000000}
WRITERS=${BENCH_WRITERS:-4}
BATCH=${BENCH_BATCH:-1000}
FSYNC=${BENCH_FSYNC:-on}
[[ $ROWS =~ ^[1-9][0-9]*$ && $WRITERS =~ ^[1-9][0-9]*$ && $BATCH =~ ^[1-9][0-9]*$ ]] ||
  die "BENCH_ROWS, BENCH_WRITERS and BENCH_BATCH must be positive integers"
pg_bindir=${SU_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[[ -x $pg_bindir/initdb && -x $pg_bindir/postgres ]] || die "no PostgreSQL server binaries in '$pg_bindir'"

work=$(mktemp -d /tmp/su-bench-backfill-XXXXXX)
chmod 711 "$work"
pg_pid=""
writers_pid=""
cleanup() {
  local rc=$?
  [[ -z $writers_pid ]] || kill -TERM "$writers_pid" 2>/dev/null || true
  if [[ -n $pg_pid ]] && kill -0 "$pg_pid" 2>/dev/null; then
    kill -INT "$pg_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pg_pid" 2>/dev/null || true
  fi
  if [[ -n ${BENCH_KEEP:-} ]]; then echo "bench: kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_postgres=()
if [[ $(id -u) == 0 ]]; then as_postgres=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
mkdir -p "$work/pg" "$work/logs" "$work/sql" "$work/state"
password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$work/pg/pwfile"
chmod 600 "$work/pg/pwfile"
[[ -z ${as_postgres[*]} ]] || chown -R postgres:postgres "$work/pg"
"${as_postgres[@]}" "$pg_bindir/initdb" -D "$work/pg/data" -U postgres --pwfile="$work/pg/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync \
  >"$work/logs/initdb.log" 2>&1 || { cat "$work/logs/initdb.log" >&2; die "initdb failed"; }
rm -f "$work/pg/pwfile"
settings=(-c listen_addresses=127.0.0.1 -c max_connections=50 -c autovacuum=off -c shared_buffers=256MB)
[[ $FSYNC == on ]] || settings+=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
started=""
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  port_free "$port" || continue
  "${as_postgres[@]}" "$pg_bindir/postgres" -D "$work/pg/data" -p "$port" -k "$work/pg" "${settings[@]}" \
    >"$work/logs/server.log" 2>&1 &
  pg_pid=$!
  for _ in $(seq 600); do
    kill -0 "$pg_pid" 2>/dev/null || break
    if "$pg_bindir/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then started=1; break; fi
    sleep 0.1
  done
  [[ -n $started ]] && break
  kill -INT "$pg_pid" 2>/dev/null || true
  wait "$pg_pid" 2>/dev/null || true
  pg_pid=""
done
[[ -n $started ]] || { tail -n 20 "$work/logs/server.log" >&2; die "postgres did not start"; }
dsn="postgresql://postgres:$password@127.0.0.1:$port/postgres"
sql() { PGPASSWORD=$password psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres postgres -c "$1"; }

writers=$work/su-bench-writers
c++ -std=c++20 -O2 -pthread -I"$(pg_config --includedir)" -o "$writers" "$here/backfill_writers.cc" -lpq ||
  die "cannot compile bench/backfill_writers.cc"

progress "creating two tables of $ROWS rows"
for t in bench_a bench_b; do
  sql "CREATE TABLE $t (id bigint PRIMARY KEY, v int NOT NULL, w int NOT NULL DEFAULT 0, v2 int);
       INSERT INTO $t (id, v) SELECT g, g % 1000 FROM generate_series(1, $ROWS) g;"
  sql "VACUUM ANALYZE $t"
done
sql "CHECKPOINT"

now() { date +%s.%N; }
# Runs "$@" while the writers hammer table $1; prints "SECONDS TRANSACTIONS P50 P99 MAX ERRORS".
under_load() {
  local table=$1
  shift
  BENCH_DSN=$dsn "$writers" "$table" "$ROWS" "$WRITERS" >"$work/writers.out" &
  writers_pid=$!
  sleep 1  # the writers connect and settle; their first second counts too (no waits then)
  local t0 t1
  t0=$(now)
  "$@" >>"$work/logs/run.log" 2>&1 || { kill -TERM "$writers_pid"; wait "$writers_pid" || true; writers_pid=""; return 1; }
  t1=$(now)
  kill -TERM "$writers_pid"
  wait "$writers_pid"
  writers_pid=""
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') $(cat "$work/writers.out")"
}

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg)
progress "(a) one UPDATE of $ROWS rows under $WRITERS writers"
a=$(under_load bench_a sql "SET lock_timeout = 0; UPDATE bench_a SET v2 = v * 2") || { echo "bench: (a) failed" >&2; exit 1; }

cat >"$work/sql/20260101000001_fill.up.sql" <<EOF
-- schema-upgrade: backfill table=bench_b key=id batch=$BATCH
UPDATE bench_b SET v2 = v * 2 WHERE id BETWEEN \$1 AND \$2;
EOF
cat >"$work/manifest.yaml" <<EOF
apiVersion: olympus.io/v1alpha1
kind: SchemaUpgrade
metadata:
  name: bench-backfill
spec:
  service: bench
  targetVersion: v1
  database:
    dsnFrom:
      env: BENCH_DSN
  migrations:
    engine: sql
    path: $work/sql
  policy:
    backup:
      enabled: false
EOF
progress "(b) the backfill step, first batch $BATCH rows, under $WRITERS writers"
b=$(BENCH_DSN=$dsn under_load bench_b "$su_bin" apply -f "$work/manifest.yaml" --state-dir "$work/state") ||
  { tail -n 20 "$work/logs/run.log" >&2; echo "bench: (b) failed" >&2; exit 1; }
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg)

for t in bench_a bench_b; do
  left=$(sql "SELECT count(*) FROM $t WHERE v2 IS DISTINCT FROM v * 2")
  [[ $left == 0 ]] || { echo "bench: $t has $left rows not filled" >&2; exit 1; }
done

read -r a_s a_n a_p50 a_p99 a_max a_err <<<"$a"
read -r b_s b_n b_p50 b_p99 b_max b_err <<<"$b"
a_rate=$(awk -v r="$ROWS" -v s="$a_s" 'BEGIN{printf "%.0f", r / s}')
b_rate=$(awk -v r="$ROWS" -v s="$b_s" 'BEGIN{printf "%.0f", r / s}')
ratio=$(awk -v a="$a_rate" -v b="$b_rate" 'BEGIN{printf "%.2f", b / a}')
echo "backfill benchmark: $ROWS rows, $WRITERS writers, fsync $FSYNC, $(nproc) cores, load $load_before -> $load_after"
printf '%-16s %9s %10s %8s %8s %8s %9s %6s\n' "" seconds rows/s writes p50_ms p99_ms max_ms errors
printf '%-16s %9s %10s %8s %8s %8s %9s %6s\n' "(a) one UPDATE" "$a_s" "$a_rate" "$a_n" "$a_p50" "$a_p99" "$a_max" "$a_err"
printf '%-16s %9s %10s %8s %8s %8s %9s %6s\n' "(b) backfill" "$b_s" "$b_rate" "$b_n" "$b_p50" "$b_p99" "$b_max" "$b_err"
echo "backfill rows/s = ${ratio}x the single UPDATE's"
if awk -v r="$ratio" 'BEGIN{exit !(r >= 0.5)}'; then v=PASS; else v=FAIL; fi
echo "$v  backfill at least 0.5x the single UPDATE's rows/s: ${ratio}x"
if awk -v m="$b_max" 'BEGIN{exit !(m <= 200)}'; then v=PASS; else v=FAIL; fi
echo "$v  no writer waited more than 200 ms during the backfill: longest $b_max ms (p99 $b_p99 ms)"
}
