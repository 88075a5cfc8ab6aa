#!/usr/bin/env bash
# bench/suite.sh: issue 10's apply benchmarks in one command (`make bench`): bench/run.sh for
# N = 100, 300, 1000 and 5000 small migrations and for the ~40 MB file (apply and `lint`), against
# psql and sql-migrate, contenders interleaved within each size (psql, ours, sql-migrate, then
# again) so that load from other work hits each of them alike. Prints one table of ratios with the
# load average beside each size, then the goals as PASS/FAIL lines; every size's full report
# follows it in the results file.
#
# usage: bench/suite.sh path/to/schema-upgrade
# environment (all optional):
#   BENCH_SIZES="100 300 1000 5000"  the small-migration sizes
#   BENCH_LARGE=1                    also the ~40 MB file (0: skip)
#   BENCH_REPEATS                    runs per contender and size (default: 5 up to N = 300, else 3)
#   BENCH_CONTENDERS                 as for run.sh (default "psql schema-upgrade sql-migrate")
#   BENCH_SUITE_RESULTS=bench/results/suite.txt   summary + every report ("" to skip)
# Exit status: run.sh's worst (1 when a contender failed or left a wrong schema); a missed goal is
# reported, not an error.
set -euo pipefail
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $# -eq 1 ]] || { echo "usage: bench/suite.sh path/to/schema-upgrade" >&2; exit 2; }
su_bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[[ -x $su_bin ]] || { echo "bench: $1 is not an executable (build it first: make)" >&2; exit 2; }
sizes=${BENCH_SIZES:-100 300 1000 5000}
large=${BENCH_LARGE:-1}
results=${BENCH_SUITE_RESULTS-$here/results/suite.txt}
export BENCH_CONTENDERS=${BENCH_CONTENDERS:-psql schema-upgrade sql-migrate}

# The binary under test is copied, so a rebuild during the (long) run cannot change it.
work=$(mktemp -d /tmp/su-bench-suite-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$su_bin" "$work/schema-upgrade"
[[ ! -f $(dirname "$su_bin")/CMakeCache.txt ]] || cp "$(dirname "$su_bin")/CMakeCache.txt" "$work/"

status=0
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d ' ' -f 1-3 /proc/loadavg)
runs=()
for n in $sizes; do runs+=("small:$n"); done
[[ $large == 0 ]] || runs+=("large:1")
for r in "${runs[@]}"; do
  shape=${r%%:*} n=${r#*:}
  reps=${BENCH_REPEATS:-$([[ $shape == small && $n -le 300 ]] && echo 5 || echo 3)}
  echo "bench: suite: $shape N=$n, $reps repeats ($(date -u '+%H:%M:%S'), load $(cut -d ' ' -f 1 /proc/loadavg))" >&2
  rc=0
  BENCH_SHAPE=$shape BENCH_MIGRATIONS=$n BENCH_REPEATS=$reps BENCH_RESULTS="$work/$shape-$n.txt" \
    "$here/run.sh" "$work/schema-upgrade" >/dev/null || rc=$?
  ((rc <= status)) || status=$rc
  [[ -f $work/$shape-$n.txt ]] || { echo "bench: suite: $shape N=$n produced no report" >&2; status=1; }
done

out=$work/summary.txt
say() { printf '%s\n' "$*" >>"$out"; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
say "schema-upgrade apply benchmarks (issue 10), $started to $(date -u '+%H:%M UTC')"
say "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); load $load_start at the start"
say "commit:  $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo unknown); contenders interleaved per size, medians"
say ""
printf -v line '%-18s %8s %9s %8s %9s %9s %10s %9s %9s %9s %6s' size psql ours "vs psql" "CPU ratio" \
  sql-migrate "no-op ours" "select 1" "no-op vs" "ours RSS" load
say "$line"
verdicts=()
for r in "${runs[@]}"; do
  shape=${r%%:*} n=${r#*:}
  line=$(grep '^RESULT' "$work/$shape-$n.txt" 2>/dev/null || true)
  [[ -n $line ]] || { say "$shape N=$n: no result (see its report below)"; continue; }
  label="N=$n"
  [[ $shape == small ]] || label="40 MB file"
  printf -v row '%-18s %7.2fs %8.2fs %7sx %8sx %8sx %8sms %7sms %8sx %6sMB %6s' "$label" "$(field "$line" psql_s)" \
    "$(field "$line" su_s)" "$(field "$line" apply_ratio)" "$(field "$line" cpu_ratio)" \
    "$(field "$line" sqlmigrate_ratio)" "$(field "$line" noop_ms)" "$(field "$line" select1_ms)" \
    "$(field "$line" noop_ratio)" "$(field "$line" su_rss_mb)" "$(field "$line" load)"
  say "$row"
  ratio=$(field "$line" apply_ratio)
  if [[ $shape == large || $n -ge 300 ]]; then
    verdicts+=("$(awk -v r="$ratio" 'BEGIN{print (r <= 1.10) ? "PASS" : "FAIL"}')  $label: apply within 1.10x of psql: ${ratio}x")
  fi
  nr=$(field "$line" noop_ratio)
  verdicts+=("$(awk -v r="$nr" 'BEGIN{print (r <= 1.3) ? "PASS" : "FAIL"}')  $label: no-op within 1.3x of psql -c 'select 1': ${nr}x")
  if [[ $shape == large ]]; then
    for k in su_rss_mb:apply lint_rss_mb:lint; do
      mb=$(field "$line" "${k%%:*}")
      verdicts+=("$(awk -v m="$mb" 'BEGIN{print (m < 150) ? "PASS" : "FAIL"}')  40 MB file: ${k#*:} peak RSS under 150 MB: $mb MB")
    done
  fi
done
say ""
say "vs psql: wall-time ratio of the medians; CPU ratio: our client + server CPU over psql's (median of"
say "the per-repetition ratios; less distorted by load than wall time); load: median 1-min load average"
say "at each run (2 cores: above 2 the runs wait for CPU and wall times stretch)."
say ""
for v in "${verdicts[@]}"; do say "$v"; done
say ""
for r in "${runs[@]}"; do
  shape=${r%%:*} n=${r#*:}
  [[ -f $work/$shape-$n.txt ]] || continue
  say "=================================================================================================="
  cat "$work/$shape-$n.txt" >>"$out"
  say ""
done
cat "$out"
if [[ -n $results ]]; then
  mkdir -p "$(dirname "$results")"
  cp "$out" "$results"
  echo "bench: suite report written to $results" >&2
fi
exit "$status"
}
