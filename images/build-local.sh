#!/usr/bin/env bash
# build-local.sh: builds the controller's container image on this machine, with no registry and no
# base image to pull: a root filesystem holding build/schema-upgrade, the shared libraries it links
# (from `ldd`), PostgreSQL 15's pg_dump, pg_restore and psql with theirs (backups and restores),
# the CA bundle, the time zone database (maintenance windows) and an /etc/passwd with the non-root
# user 65532 ("nonroot"), imported with `podman import`. Same layout, user, entrypoint and
# environment as the Containerfile's image, so manifests/ and the chart run it unchanged.
#
#   images/build-local.sh [--binary PATH] [--force] [--no-dev-tag]
#
# Prints the image reference (localhost/schema-upgrade:<version>) on stdout and progress on
# stderr; also tags localhost/schema-upgrade:dev unless --no-dev-tag. <version> is what
# `schema-upgrade version` prints. Idempotent: the image is rebuilt only when it is missing or an
# input changed (a hash of this script, the binary, the PostgreSQL tools, every library and the
# bundled data files, kept as the label io.schema-upgrade.build-hash); --force rebuilds anyway.
# Safe to run concurrently (tests call it from their setup): runs are serialised with flock.
# Load it into a cluster's nodes yourself (e.g. `podman save | ctr -n k8s.io images import -`,
# `kind load image-archive`), or push it: `podman push localhost/schema-upgrade:0.1.0 REGISTRY/...`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BINARY=${SU_BINARY:-$ROOT/build/schema-upgrade}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_TOOLS=(pg_dump pg_restore psql)
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
ZONEINFO=${ZONEINFO:-/usr/share/zoneinfo}
REPO=localhost/schema-upgrade
UID_NONROOT=65532

force=0
dev_tag=1
while (( $# )); do
  case $1 in
    --binary) [[ $# -ge 2 ]] || { echo "build-local.sh: --binary needs a path" >&2; exit 2; }
              BINARY=$2; shift ;;
    --binary=*) BINARY=${1#--binary=} ;;
    --force) force=1 ;;
    --no-dev-tag) dev_tag=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build-local.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

for tool in podman tar sha256sum flock ldd awk; do
  command -v "$tool" >/dev/null || { echo "build-local.sh: $tool is not installed" >&2; exit 1; }
done
[[ -x "$BINARY" ]] || { echo "build-local.sh: $BINARY not found: build it first (make bin), or pass --binary PATH" >&2; exit 2; }
for t in "${PG_TOOLS[@]}"; do
  [[ -x "$PG_BINDIR/$t" ]] || { echo "build-local.sh: $PG_BINDIR/$t not found (install postgresql-client-15, or set PG_BINDIR)" >&2; exit 1; }
done
[[ -f "$CA_BUNDLE" ]] || { echo "build-local.sh: $CA_BUNDLE not found (install ca-certificates, or set CA_BUNDLE)" >&2; exit 1; }
[[ -d "$ZONEINFO" ]] || { echo "build-local.sh: $ZONEINFO not found (install tzdata, or set ZONEINFO)" >&2; exit 1; }
if [[ -z "${CONTAINERS_CONF:-}" && -f "$ROOT/tests/fixtures/images/containers.conf" ]] && ! podman info >/dev/null 2>&1; then
  export CONTAINERS_CONF="$ROOT/tests/fixtures/images/containers.conf"
fi

version=$("$BINARY" version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+[^[:space:]]*' | head -n1 || true)
[[ -n "$version" ]] || { echo "build-local.sh: '$BINARY version' printed no version" >&2; exit 1; }
IMAGE=$REPO:$version

# Every shared library (and the loader) the binaries link, resolved to real files, sorted.
libraries() {
  local f
  for f in "$BINARY" "${PG_TOOLS[@]/#/$PG_BINDIR/}"; do
    ldd "$f" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'
  done | LC_ALL=C sort -u
}

input_hash() {
  {
    echo "$IMAGE $UID_NONROOT"
    cat "$HERE/build-local.sh"
    sha256sum "$BINARY" "${PG_TOOLS[@]/#/$PG_BINDIR/}" "$CA_BUNDLE" | cut -d' ' -f1
    local lib
    while read -r lib; do echo "$lib $(sha256sum <"$lib" | cut -d' ' -f1)"; done < <(libraries)
    (cd "$ZONEINFO" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

exec 9>"${TMPDIR:-/tmp}/su-controller-image.lock"
flock 9

hash=$(input_hash)
tag_dev() {
  if (( dev_tag )); then podman tag "$IMAGE" "$REPO:dev"; fi
}
if (( !force )) && podman image exists "$IMAGE"; then
  have=$(podman image inspect --format '{{ index .Labels "io.schema-upgrade.build-hash" }}' "$IMAGE" 2>/dev/null || true)
  if [[ "$have" == "$hash" ]]; then
    echo "up to date: $IMAGE" >&2
    tag_dev
    echo "$IMAGE"
    exit 0
  fi
fi

echo "building: $IMAGE from $BINARY" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/su-controller-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{usr/local/bin,etc/ssl/certs,usr/lib/ssl,usr/share,tmp,var/lib/schema-upgrade}
mkdir -p "$root$PG_BINDIR"
chmod 1777 "$root/tmp"
cp "$BINARY" "$root/usr/local/bin/schema-upgrade"
# Debug info is most of a -g build (100 MB of 107); the Containerfile strips too.
if command -v strip >/dev/null; then strip --strip-debug "$root/usr/local/bin/schema-upgrade"; fi
for t in "${PG_TOOLS[@]}"; do cp "$PG_BINDIR/$t" "$root$PG_BINDIR/$t"; done
while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done < <(libraries)
# Debian's usrmerge: /lib and /lib64 are links into /usr, where the loader's path may point.
for d in lib lib64; do
  if [[ -L /$d && -d "$root/$d" && ! -L "$root/$d" ]]; then
    mkdir -p "$root/usr/$d"
    cp -a "$root/$d/." "$root/usr/$d/"
    rm -rf "${root:?}/$d"
    ln -s "usr/$d" "$root/$d"
  fi
done
cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
cp -a "$ZONEINFO" "$root/usr/share/zoneinfo"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n' \
  "$UID_NONROOT" "$UID_NONROOT" >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:%d:\n' "$UID_NONROOT" >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"

# Everything owned by root but the state dir, which belongs to the non-root user.
tar --numeric-owner --owner=0 --group=0 --exclude=./var/lib/schema-upgrade -C "$root" -cf "$work/rootfs.tar" .
tar --numeric-owner --owner="$UID_NONROOT" --group="$UID_NONROOT" -C "$root" -rf "$work/rootfs.tar" ./var/lib/schema-upgrade

old=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
podman import --quiet \
  --change 'ENTRYPOINT ["/usr/local/bin/schema-upgrade"]' \
  --change 'CMD ["controller", "--kubernetes"]' \
  --change "USER $UID_NONROOT:$UID_NONROOT" \
  --change 'WORKDIR /' \
  --change "ENV SU_PG_BINDIR=$PG_BINDIR" \
  --change 'ENV SU_STATE_DIR=/var/lib/schema-upgrade' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'EXPOSE 8080/tcp' \
  --change 'EXPOSE 8081/tcp' \
  --change 'STOPSIGNAL SIGTERM' \
  --change "LABEL io.schema-upgrade.build-hash=$hash" \
  --change 'LABEL org.opencontainers.image.title=schema-upgrade-operator' \
  --change "LABEL org.opencontainers.image.version=$version" \
  --change 'LABEL org.opencontainers.image.description="schema-upgrade controller, built locally by images/build-local.sh"' \
  "$work/rootfs.tar" "$IMAGE" >/dev/null
# The image must start: the binary and the PostgreSQL tools find their libraries in it.
if ! out=$(podman run --rm --network none "$IMAGE" version 2>&1); then
  echo "build-local.sh: the new image does not run 'schema-upgrade version': $out" >&2
  exit 1
fi
for t in pg_dump pg_restore psql; do
  if ! out=$(podman run --rm --network none --entrypoint "$PG_BINDIR/$t" "$IMAGE" --version 2>&1); then
    echo "build-local.sh: $t does not run in the new image: $out" >&2
    exit 1
  fi
done
tag_dev
# The previous build of this tag is now dangling; remove it unless a container still uses it.
if [[ -n "$old" && "$old" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]]; then
  podman rmi "$old" >/dev/null 2>&1 || true
fi
echo "built: $IMAGE" >&2
echo "$IMAGE"
