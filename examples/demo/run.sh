#!/usr/bin/env bash
# The guided tour behind `make demo`: the Olympus CIAM stack (Kratos, Hydra, Athena) on
# podman-compose against a throwaway PostgreSQL, upgraded by the schema-upgrade controller.
#
#   run.sh [PATH/TO/schema-upgrade]       (default: build/schema-upgrade)
#
# Steps: start PostgreSQL (pg.sh), build the fixture images, create the databases, migrate them to
# today's versions and bring the stack up, show each SchemaUpgrade's plan, run the controller until
# all four resources are Succeeded, stop it with SIGTERM, then print status, history, the running
# containers and the migration tables. Everything it creates (containers, the compose network,
# PostgreSQL, temp folders) is removed on exit, also on failure or Ctrl-C.
# Needs podman, podman-compose, PostgreSQL 15 and python3 (`make deps`); runs in well under 2 minutes.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=${1:-$ROOT/build/schema-upgrade}
[[ $BIN == /* ]] || BIN=$PWD/$BIN
[[ -x $BIN ]] || { echo "run.sh: $BIN is not built (run: make build)" >&2; exit 1; }
for tool in podman podman-compose python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is not installed (run: make deps)" >&2; exit 1; }
done

# shellcheck source=examples/demo/pg.sh
. "$HERE/pg.sh"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/tests/fixtures/podman/containers.conf}
export SU_LOG_LEVEL=${SU_LOG_LEVEL:-warn}
CONTAINERS=(ciam-kratos ciam-hydra ciam-athena)
DATABASES=(kratos hydra athena app)
DEADLINE_S=${DEMO_DEADLINE_S:-90}   # bound on waiting for the controller

WORK=$(mktemp -d "${TMPDIR:-/tmp}/su-demo.XXXXXX")
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/su-demo-pg.XXXXXX")
export SU_STATE_DIR=$WORK/state
CONTROLLER_PID=

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [[ -n $CONTROLLER_PID ]] && kill -0 "$CONTROLLER_PID" 2>/dev/null; then
    kill -TERM "$CONTROLLER_PID"; wait "$CONTROLLER_PID" 2>/dev/null
  fi
  podman rm -f -t 0 --ignore "${CONTAINERS[@]}" >/dev/null 2>&1
  podman network rm -f compose_default >/dev/null 2>&1   # the network podman-compose created
  pg_stop >/dev/null 2>&1
  rm -rf "$WORK" "$PG_DIR"
  if (( rc != 0 )); then echo; echo "demo FAILED (exit $rc); everything it created was removed" >&2; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BOLD= DIM= PLAIN=
if [[ -t 1 ]]; then BOLD=$'\033[1m' DIM=$'\033[2m' PLAIN=$'\033[0m'; fi
step=0
section() {
  step=$((step + 1))
  printf '\n%s== %d. %s%s\n' "$BOLD" "$step" "$1" "$PLAIN"
}
say() { printf '   %s\n' "$*"; }
# Echoes a command (temp paths shortened to $WORK) and runs it.
run() { local c="$*"; printf '%s$ %s%s\n' "$DIM" "${c//$WORK/\$WORK}" "$PLAIN"; "$@"; }

podman_ps() {
  run podman ps -a --filter name=ciam- --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}'
}

# Waits until every container of the stack runs (bounded); prints the logs of one that exited.
wait_running() {
  local c state
  for _ in $(seq 1 50); do
    local all=1
    for c in "${CONTAINERS[@]}"; do
      state=$(podman inspect --format '{{.State.Status}}' "$c" 2>/dev/null || echo missing)
      [[ $state == running ]] || all=0
      if [[ $state == exited ]]; then podman logs "$c" >&2; return 1; fi
    done
    (( all )) && return 0
    sleep 0.2
  done
  echo "containers did not start" >&2
  return 1
}

echo "schema-upgrade demo: migrate first, then bump the image, verify, record."
echo "binary: $BIN"

section "A throwaway PostgreSQL 15 (127.0.0.1, random password, private socket folder)"
pg_start "$PG_DIR"
say "listening on 127.0.0.1:$PG_PORT; socket folder $PG_DIR (mounted into the containers)"

section "Fixture images standing in for Kratos, Hydra and Athena (no registry needed)"
"$ROOT/tests/fixtures/images/build.sh" | sed 's/^/   /'

section "Databases, and their DSNs in environment variables (never on a command line)"
for db in "${DATABASES[@]}"; do
  pg_psql postgres -c "CREATE DATABASE $db"
  say "created database $db -> \$$(tr a-z A-Z <<<"$db")_DSN"
done
KRATOS_DSN=$(pg_dsn kratos) HYDRA_DSN=$(pg_dsn hydra) ATHENA_DSN=$(pg_dsn athena) APP_DSN=$(pg_dsn app)
export KRATOS_DSN HYDRA_DSN ATHENA_DSN APP_DSN

# The tour's own copy of the demo folder: the controller edits the compose file in place.
mkdir -p "$WORK/compose" "$WORK/manifests"
sed -e "s|@PG_SOCKET_DIR@|$PG_DIR|g" -e "s|@PG_PORT@|$PG_PORT|g" \
  "$HERE/compose/docker-compose.yml" >"$WORK/compose/docker-compose.yml"
cp "$HERE"/manifests/*.yaml "$WORK/manifests/"
cp -r "$HERE/bootstrap" "$WORK/bootstrap"
ln -s "$HERE/app" "$WORK/app"
ln -s "$ROOT/tests/fixtures/images/athena" "$WORK/athena"
COMPOSE=$WORK/compose/docker-compose.yml
say "\$WORK=$WORK: the demo's copy of examples/demo (compose file rendered, manifests copied)"

section "Today's schemas: Kratos v1.1.0, Hydra v2.2.0, Athena v1.0.0 (examples/demo/bootstrap)"
run "$BIN" apply -q -f "$WORK/bootstrap" --state-dir "$WORK/bootstrap-state"
for db in kratos hydra; do
  say "$db: $(pg_psql "$db" -At -c 'SELECT count(*) FROM schema_migration') rows in schema_migration"
done
say "athena: $(pg_psql athena -At -c 'SELECT count(*) FROM drizzle.__drizzle_migrations') rows in drizzle.__drizzle_migrations"

section "The stack as it runs today (podman-compose up -d)"
say "compose file (rendered from examples/demo/compose/docker-compose.yml):"
grep -E '^\s+(image|container_name):' "$COMPOSE" | sed 's/^/   /'
(cd "$WORK/compose" && podman-compose -f "$COMPOSE" up -d >"$WORK/compose-up.log" 2>&1) \
  || { cat "$WORK/compose-up.log" >&2; exit 1; }
wait_running
podman_ps

section "What each SchemaUpgrade would do (schema-upgrade plan)"
say "manifests: examples/demo/manifests/ (kratos, hydra, athena: new images; app: a plain SQL folder)"
for m in kratos hydra athena app; do
  echo
  run "$BIN" plan -f "$WORK/manifests/$m.yaml" --compose "$COMPOSE" | sed 's/^/   /'
done

section "The controller reconciles the folder (background, until all four are Succeeded)"
SU_LOG_LEVEL=info "$BIN" controller --manifests "$WORK/manifests" --compose "$COMPOSE" --workers 2 --resync 30s \
  2>"$WORK/controller.log" &
CONTROLLER_PID=$!
say "schema-upgrade controller --manifests manifests/ --compose compose/docker-compose.yml  (pid $CONTROLLER_PID)"

# Prints one line per change of the phases; returns 0 once all four are Succeeded, 1 on Failed.
phases() {
  python3 -c '
import json, sys
try:
    items = json.load(sys.stdin)
except ValueError:
    sys.exit(2)
want = {"ciam/kratos", "ciam/hydra", "ciam/athena", "demo/app"}
seen = {}
for it in items:
    seen[it.get("resource", "?")] = it.get("phase", "?")
print("  ".join("%s=%s" % (k, seen.get(k, "-")) for k in sorted(want)))
if any(seen.get(k) == "Failed" for k in want): sys.exit(1)
sys.exit(0 if all(seen.get(k) == "Succeeded" for k in want) else 3)
'
}
start=$SECONDS
last=
while :; do
  if ! kill -0 "$CONTROLLER_PID" 2>/dev/null; then
    echo "the controller exited early:" >&2; tail -n 30 "$WORK/controller.log" >&2; exit 1
  fi
  rc=0
  line=$("$BIN" status --all -o json 2>/dev/null | phases) || rc=$?
  if [[ -n $line && $line != "$last" ]]; then say "$(printf '%3ss' $((SECONDS - start)))  $line"; last=$line; fi
  (( rc == 0 )) && break
  if (( rc == 1 )); then
    echo "an upgrade failed:" >&2; "$BIN" status --all >&2; tail -n 30 "$WORK/controller.log" >&2; exit 1
  fi
  if (( SECONDS - start > DEADLINE_S )); then
    echo "not converged after ${DEADLINE_S}s:" >&2; "$BIN" status --all >&2; tail -n 30 "$WORK/controller.log" >&2
    exit 1
  fi
  sleep 1
done
say "all four Succeeded after $((SECONDS - start))s; the controller's log, trimmed:"
grep -E 'reason=(Migrat|Bump|Verif|Succeeded|Backup)|msg=(upgrade|migrat|bump)' "$WORK/controller.log" \
  | head -n 24 | sed 's/^/     /' || true

section "SIGTERM: the controller finishes its step, releases its locks and exits 0"
kill -TERM "$CONTROLLER_PID"
rc=0; wait "$CONTROLLER_PID" || rc=$?
CONTROLLER_PID=
say "controller exit code: $rc"
(( rc == 0 )) || { tail -n 20 "$WORK/controller.log" >&2; exit 1; }
locks=$(pg_psql postgres -At -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
say "advisory locks still held: $locks"

section "Status of every resource (schema-upgrade status --all)"
run "$BIN" status --all | sed 's/^/   /'

section "The audit trail in each database (schema-upgrade history)"
for m in kratos hydra athena app; do
  echo
  run "$BIN" history -f "$WORK/manifests/$m.yaml" -n 10 | sed 's/^/   /'
done

section "The stack now runs the new images"
podman_ps
say "compose file after the bump (only the image lines changed):"
diff <(sed -e "s|@PG_SOCKET_DIR@|$PG_DIR|g" -e "s|@PG_PORT@|$PG_PORT|g" "$HERE/compose/docker-compose.yml") "$COMPOSE" \
  | sed 's/^/   /' || true

section "The history tables the services themselves read"
for db in kratos hydra app; do
  echo "   -- $db: SELECT * FROM schema_migration ORDER BY version DESC LIMIT 10"
  pg_psql "$db" -c 'SELECT * FROM schema_migration ORDER BY version DESC LIMIT 10' | sed 's/^/   /'
done
echo "   -- athena: SELECT id, left(hash, 16) AS hash, created_at FROM drizzle.__drizzle_migrations"
pg_psql athena -c 'SELECT id, left(hash, 16) AS hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id' \
  | sed 's/^/   /'

section "Clean up"
say "removing the containers, the compose network, PostgreSQL and $WORK"
