#!/usr/bin/env bash
# post-comment.sh: posts the PR comment built by plan-comment.sh, or updates the one posted before
# (found by its first line, the marker `<!-- schema-upgrade-plan -->`), so a PR carries ONE plan
# comment however often CI runs.
#
#   post-comment.sh github --repo OWNER/REPO --pr N --body FILE [--api URL]   token: $GITHUB_TOKEN
#   post-comment.sh gitlab --project ID --mr IID --body FILE [--api URL]      token: $GITLAB_TOKEN
#
# --api defaults to $GITHUB_API_URL / https://api.github.com, or $CI_API_V4_URL. The token goes to
# curl on stdin (--config -), never on its command line. Needs curl and jq.
# Exit: 0 posted or updated (prints "created ID" / "updated ID"), 1 the API refused, 2 bad input.
set -euo pipefail

forge=${1:-}
shift || true
api="" repo="" pr="" project="" mr="" body=""
while (($#)); do
  case $1 in
    --api) api=${2:?}; shift 2 ;;
    --repo) repo=${2:?}; shift 2 ;;
    --pr) pr=${2:?}; shift 2 ;;
    --project) project=${2:?}; shift 2 ;;
    --mr) mr=${2:?}; shift 2 ;;
    --body) body=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "post-comment.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "post-comment.sh: $tool is not installed" >&2; exit 2; }
done
[[ -f $body ]] || { echo "post-comment.sh: --body FILE is required (the comment.md plan-comment.sh wrote)" >&2; exit 2; }
marker=$(head -n 1 -- "$body")
[[ $marker == '<!-- schema-upgrade-plan -->' ]] ||
  { echo "post-comment.sh: $body does not start with the marker line <!-- schema-upgrade-plan -->" >&2; exit 2; }

case $forge in
  github)
    [[ -n $repo && -n $pr ]] || { echo "post-comment.sh: github needs --repo OWNER/REPO and --pr N" >&2; exit 2; }
    token=${GITHUB_TOKEN:?post-comment.sh: set GITHUB_TOKEN}
    api=${api:-${GITHUB_API_URL:-https://api.github.com}}
    auth="header = \"Authorization: Bearer $token\""
    list_url="$api/repos/$repo/issues/$pr/comments"
    create_url=$list_url
    update_url="$api/repos/$repo/issues/comments"
    update_method=PATCH
    ;;
  gitlab)
    [[ -n $project && -n $mr ]] || { echo "post-comment.sh: gitlab needs --project ID and --mr IID" >&2; exit 2; }
    token=${GITLAB_TOKEN:?post-comment.sh: set GITLAB_TOKEN}
    api=${api:-${CI_API_V4_URL:?post-comment.sh: give --api or set CI_API_V4_URL}}
    auth="header = \"PRIVATE-TOKEN: $token\""
    list_url="$api/projects/$project/merge_requests/$mr/notes"
    create_url=$list_url
    update_url=$list_url
    update_method=PUT
    ;;
  *) echo "post-comment.sh: the first argument is github or gitlab" >&2; exit 2 ;;
esac

# call METHOD URL [JSON-FILE]: the response body on stdout; exit 1 with the API's answer on failure.
call() {
  local out status
  out=$(mktemp)
  status=$(printf '%s\n' "$auth" 'header = "Accept: application/json"' |
    curl -sS --config - -X "$1" -o "$out" -w '%{http_code}' \
      ${3:+--header "Content-Type: application/json" --data-binary "@$3"} "$2") || { rm -f "$out"; exit 1; }
  if [[ $status != 2* ]]; then
    echo "post-comment.sh: $1 $2 answered $status: $(head -c 500 "$out")" >&2
    rm -f "$out"
    exit 1
  fi
  cat "$out"
  rm -f "$out"
}

# Our comment: the first one (oldest) whose body starts with the marker, over every page.
id=""
page=1
while :; do
  chunk=$(call GET "$list_url?per_page=100&page=$page")
  [[ $(jq 'length' <<<"$chunk") == 0 ]] && break
  id=$(jq -r --arg m "$marker" '[.[] | select(.body | startswith($m))][0].id // empty' <<<"$chunk")
  [[ -n $id ]] && break
  page=$((page + 1))
done

payload=$(mktemp)
trap 'rm -f "$payload"' EXIT
jq -Rs '{body: .}' <"$body" >"$payload"
if [[ -n $id ]]; then
  call "$update_method" "$update_url/$id" "$payload" >/dev/null
  echo "updated $id"
else
  new=$(call POST "$create_url" "$payload")
  echo "created $(jq -r '.id' <<<"$new")"
fi
