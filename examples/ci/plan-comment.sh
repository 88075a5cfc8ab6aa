#!/usr/bin/env bash
# plan-comment.sh: the body of the PR comment for a version-bump PR, and the lint reports, built
# from the repository alone (no database): for every SchemaUpgrade manifest the PR changed,
# `schema-upgrade plan --from <base> -o markdown`; for every migration file it added or changed,
# `schema-upgrade lint -o sarif` (code scanning) and `-o github` (annotations).
#
#   plan-comment.sh --base REF [--out DIR] [--fail-on error|warning|none] [PATH...]
#
# PATH: where the SchemaUpgrade manifests live (default: the whole repository; only YAML files
# holding `kind: SchemaUpgrade` count). Run it from the repository (the PR's head checked out, with
# REF fetched: in GitHub Actions `fetch-depth: 0`, in GitLab `GIT_DEPTH: 0`).
# Writes DIR (default ./schema-upgrade-pr): comment.md (starts with the marker line
# `<!-- schema-upgrade-plan -->`, which the recipes use to update their one comment), lint.sarif,
# lint-github.txt, and changed-manifests.txt.
# Exit: 0 done; 1 the lint verdict fails --fail-on (default error), or a plan failed; 2 bad input.
# The comment is written in every case, so the recipe posts it before it fails the job.
# SCHEMA_UPGRADE names the binary (default: schema-upgrade on PATH).
set -euo pipefail

SU=${SCHEMA_UPGRADE:-schema-upgrade}
base="" out="schema-upgrade-pr" fail_on="error"
paths=()
while (($#)); do
  case $1 in
    --base) base=${2:?--base needs a git ref}; shift 2 ;;
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --fail-on) fail_on=${2:?--fail-on needs error, warning or none}; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    --) shift; paths+=("$@"); break ;;
    -*) echo "plan-comment.sh: unknown option $1" >&2; exit 2 ;;
    *) paths+=("$1"); shift ;;
  esac
done
[[ -n $base ]] || { echo "plan-comment.sh: --base REF is required (the PR's target branch, e.g. origin/main)" >&2; exit 2; }
case $fail_on in error|warning|none) ;; *) echo "plan-comment.sh: --fail-on must be error, warning or none" >&2; exit 2 ;; esac
command -v "$SU" >/dev/null || { echo "plan-comment.sh: $SU not found (set SCHEMA_UPGRADE)" >&2; exit 2; }
git rev-parse --verify --quiet "$base^{commit}" >/dev/null ||
  { echo "plan-comment.sh: git does not know $base here; fetch it (fetch-depth: 0 / GIT_DEPTH: 0)" >&2; exit 2; }
((${#paths[@]})) || paths=(.)

mkdir -p "$out"
comment="$out/comment.md"
head_sha=$(git rev-parse --short HEAD)
merge_base=$(git merge-base "$base" HEAD)

# Files the PR added, changed or renamed (NUL-separated: any file name is safe).
changed() { git diff -z --name-only --diff-filter=ACMR "$merge_base" HEAD -- "$@"; }

manifests=()
while IFS= read -r -d '' f; do
  case $f in *.yaml|*.yml) ;; *) continue ;; esac
  grep -qE '^kind:[[:space:]]*SchemaUpgrade[[:space:]]*$' -- "$f" && manifests+=("$f")
done < <(changed "${paths[@]}")
printf '%s\n' "${manifests[@]+"${manifests[@]}"}" >"$out/changed-manifests.txt"

sql_files=()
while IFS= read -r -d '' f; do
  case $f in *.down.sql) ;; *.sql) sql_files+=("$f") ;; esac
done < <(changed .)

status=0
{
  echo "<!-- schema-upgrade-plan -->"
  echo "## schema-upgrade: what this PR changes in the databases"
  echo
  if ((${#manifests[@]} == 0)); then
    echo "No SchemaUpgrade manifest changed in this PR."
    echo
  fi
} >"$comment"

for m in "${manifests[@]+"${manifests[@]}"}"; do
  set +e
  body=$("$SU" plan --from "$base" -f "$m" -o markdown 2>"$out/plan.err")
  rc=$?
  set -e
  if ((rc == 0)); then
    printf '%s\n\n' "$body" >>"$comment"
  else
    status=1
    {
      echo "### \`$m\`: ⛔ the plan failed (exit $rc)"
      echo
      echo '```'
      cat "$out/plan.err"
      echo '```'
      echo
    } >>"$comment"
  fi
done

# Lint of the migration files this PR adds or changes: SARIF for code scanning, annotations for
# the diff, and the verdict for the job. schema-upgrade runs these files and sets lock_timeout from
# policy.lockTimeout itself, so missing-lock-timeout is not reported (as `plan` does not).
lint_rc=0
if ((${#sql_files[@]})); then
  set +e
  "$SU" lint -o sarif --fail-on "$fail_on" --runner-sets-lock-timeout -- "${sql_files[@]}" >"$out/lint.sarif"
  lint_rc=$?
  "$SU" lint -o github --fail-on none --runner-sets-lock-timeout -- "${sql_files[@]}" >"$out/lint-github.txt"
  set -e
else
  "$SU" lint -o sarif --fail-on none >"$out/lint.sarif"
  : >"$out/lint-github.txt"
fi
if ((lint_rc == 2)); then status=2; elif ((lint_rc != 0)); then status=1; fi

{
  echo "---"
  echo "<sub>Computed offline by \`schema-upgrade plan --from $base\` at $head_sha from the manifests and migration"
  echo "files alone (no database); ${#sql_files[@]} migration file(s) linted."
  case $lint_rc in
    0) echo "Lint verdict: passes \`--fail-on $fail_on\`.</sub>" ;;
    1) echo "Lint verdict: **fails** \`--fail-on $fail_on\`.</sub>" ;;
    *) echo "Lint could not run (exit $lint_rc): see the job log.</sub>" ;;
  esac
} >>"$comment"
exit "$status"
