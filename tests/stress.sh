#!/usr/bin/env bash
# stress.sh: runs a command (by default the integration, crash and e2e tests) with CPU-burning
# processes beside it, so tests that only pass on a quiet machine fail here instead of in CI.
#
#   tests/stress.sh [--hogs N] [--jobs J] [--build DIR] [-- COMMAND...]
#
# Without COMMAND: `ctest --output-on-failure -j J -L 'integration|e2e'` in the build folder
# (default ./build; J defaults to 2, as `make test` runs, so tests also overlap each other: the
# crash, integration and e2e tests share the machine's podman). N busy loops
# (`sh -c 'while kill -0 <this script> ...; do :; done'`, default 2) run for the whole time and
# are killed when this script ends, whatever the reason (normal end, failure, Ctrl-C, SIGTERM);
# after a kill -9 of the script they notice it is gone and stop.
# The exit code is the command's.
set -euo pipefail

hogs=2
jobs=2
build=build
while [[ $# -gt 0 ]]; do
  case $1 in
    --hogs) hogs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "stress.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

pids=()
stop_hogs() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Each hog also stops by itself once this script is gone (even after a kill -9, which no trap sees).
for ((i = 0; i < hogs; i++)); do
  sh -c "while kill -0 $$ 2>/dev/null; do :; done" &
  pids+=($!)
done
echo "stress.sh: $hogs CPU hog(s) running (pids ${pids[*]}); load $(cut -d' ' -f1-3 /proc/loadavg)"

start=$(date +%s)
status=0
if [[ $# -gt 0 ]]; then
  "$@" || status=$?
else
  (cd "$build" && ctest --output-on-failure -j "$jobs" -L 'integration|e2e' --timeout 1800) || status=$?
fi
echo "stress.sh: done in $(( $(date +%s) - start )) s with exit code $status; load $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
