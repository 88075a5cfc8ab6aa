#!/usr/bin/env bash
# Records the status JSON the reconciler writes (reconcilers/schemaupgrade/status_json.cc) in the
# situations the GitOps health checks must read, by running the real `schema-upgrade apply`
# against a throwaway PostgreSQL (examples/demo/pg.sh). The health-check tests read the recorded
# files, so they test real shapes, not invented ones. Rerun after a change to the status or its
# conditions, and review the diff:
#   tests/integration/deploy/status_samples/generate.sh [build/schema-upgrade]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
BIN=${1:-$ROOT/build/schema-upgrade}
[[ $BIN == /* ]] || BIN=$PWD/$BIN
# shellcheck source=examples/demo/pg.sh
. "$ROOT/examples/demo/pg.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/su-samples.XXXXXX")
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/su-samples-pg.XXXXXX")  # its own: initdb runs as postgres
APPLY_PID=
cleanup() {
  [[ -n $APPLY_PID ]] && kill "$APPLY_PID" 2>/dev/null && wait "$APPLY_PID" 2>/dev/null
  pg_stop >/dev/null 2>&1 || true
  rm -rf "$WORK" "$PG_DIR"
}
trap cleanup EXIT
pg_start "$PG_DIR"
pg_psql postgres -c "CREATE DATABASE app"
export APP_DSN; APP_DSN=$(pg_dsn app)
export SU_LOG_LEVEL=error

mkdir -p "$WORK/m"
printf 'CREATE TABLE accounts (id bigint PRIMARY KEY);\n' > "$WORK/m/001_accounts.up.sql"
printf 'ALTER TABLE accounts ADD COLUMN email text;\nSELECT pg_sleep(3);\n' > "$WORK/m/002_email.up.sql"
mkdir -p "$WORK/m-broken"; cp "$WORK"/m/*.sql "$WORK/m-broken/"
printf 'ALTER TABLE no_such_table ADD COLUMN x int;\n' > "$WORK/m-broken/003_broken.up.sql"

# manifest NAME TARGET [POLICY-YAML] [FOLDER]: a sql-engine SchemaUpgrade without a workload
# (the sql engine applies every pending file of the folder; TARGET is the service's version).
manifest() {
  cat > "$WORK/$1.yaml" <<YAML
apiVersion: olympus.io/v1alpha1
kind: SchemaUpgrade
metadata: {name: $1, namespace: ciam}
spec:
  targetVersion: "$2"
  database: {dsnFrom: {env: APP_DSN}}
  migrations: {engine: sql, path: $WORK/${4:-m}}
  policy:
    retries: {limit: 1, backoff: {initial: 1s, max: 1s}}
${3:-}
YAML
}
# save SAMPLE NAME: copies the resource's status file (state dir/status/<namespace>__<name>.json).
save() {
  local f="$WORK/state/status/ciam__$2.json"
  # Temp paths become /samples so that a rerun diffs only where the behaviour changed.
  python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), indent=2, sort_keys=True).replace(sys.argv[2], "/samples"))' \
    "$f" "$WORK" > "$HERE/$1.json"
  echo "recorded $1.json (phase $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["phase"])' "$f"))"
}
apply() { "$BIN" apply -q --state-dir "$WORK/state" -f "$WORK/$1.yaml" >/dev/null 2>&1 || true; }

# Waiting for approval, and outside the maintenance window (a window that opened an hour ago
# for no time at all is closed now, whatever the clock says).
manifest approval 002 "    approval: {required: true}"; apply approval; save waiting-approval approval
start=$(date -u -d '-2 hours' +%H:%M); end=$(date -u -d '-1 hours' +%H:%M)
manifest window 002 "    maintenanceWindow: {start: \"$start\", end: \"$end\", timeZone: UTC}"; apply window; save waiting-window window
manifest dry 002 "    dryRun: true"; apply dry; save dry-run dry

# Mid-migration (Reconciling=True): 002 sleeps; the status is read while it runs.
manifest mid 002
"$BIN" apply -q --state-dir "$WORK/state" -f "$WORK/mid.yaml" >"$WORK/mid.log" 2>&1 & APPLY_PID=$!
for _ in $(seq 1 100); do
  grep -qs '"phase":"Migrating"' "$WORK/state/status/ciam__mid.json" && break
  sleep 0.1
done
save migrating mid
wait "$APPLY_PID" || { echo "apply of mid failed" >&2; cat "$WORK/mid.log" >&2; exit 1; }; APPLY_PID=
save succeeded mid

# A migration that fails: Failed, Stalled.
manifest broken 003 "" m-broken; apply broken; save failed broken

# The database goes away: a resource at its target keeps Succeeded with Ready=Unknown; one that
# is not there yet retries with Reconciling=True; past retries.limit it is Stalled.
pg_stop >/dev/null
apply mid; save database-down-at-target mid
manifest fresh 002; apply fresh; save database-down-retrying fresh
"$BIN" apply -q --wait 5s --state-dir "$WORK/state" -f "$WORK/fresh.yaml" >/dev/null 2>&1 || true
save retries-exhausted fresh
