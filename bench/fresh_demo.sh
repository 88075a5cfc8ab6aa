#!/bin/sh
# Times `make demo` on a fresh Debian 12, apt included (issue 10's "fresh-clone make demo under 5
# minutes including apt"), without a second machine: a minbase Debian 12 made with debootstrap in a
# folder, a clone of this repository inside it, and `make demo` run there in a chroot as root.
#
#   sudo bench/fresh_demo.sh [WORKDIR]     (default /var/tmp/su-fresh-demo; needs about 4 GB)
#
# Prints one line: the wall time of `apt-get update && apt-get install make && make demo` inside the
# fresh system and its exit code, then the split (apt, build, demo) read from the new system's apt
# log and build folder. The debootstrap'd base is kept in WORKDIR/base for the next run (its own
# time is not part of the figure); each run starts from a fresh copy of it.
# Needs root, debootstrap (installed if missing) and a reachable Debian mirror. The chroot gets
# /proc, /sys (recursively: podman needs the cgroup mount) and /dev, a tmpfs on /run and /tmp, and
# its root bind-mounted on itself (podman wants / to be a mount point). They are unmounted on exit;
# a folder is never removed while anything is mounted under it.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/var/tmp/su-fresh-demo}
ROOT=$WORK/root
[ "$(id -u)" = 0 ] || { echo "fresh_demo.sh: run as root (debootstrap, chroot, mounts)" >&2; exit 2; }

mounted_under() { awk -v p="$1" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/mounts | sort -r; }
unmount_all() {
  for _ in 1 2 3; do
    for m in $(mounted_under "$ROOT"); do umount "$m" 2>/dev/null || umount -l "$m"; done
  done
}
trap unmount_all EXIT

mkdir -p "$WORK"
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
if [ ! -d "$WORK/base" ]; then
  echo "fresh_demo.sh: debootstrap --variant=minbase bookworm (once; not timed)" >&2
  debootstrap --variant=minbase bookworm "$WORK/base.tmp" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || { echo "fresh_demo.sh: debootstrap failed, see $WORK/debootstrap.log" >&2; exit 1; }
  mv "$WORK/base.tmp" "$WORK/base"
fi

unmount_all
if [ -n "$(mounted_under "$ROOT")" ]; then
  echo "fresh_demo.sh: $ROOT still has mounts; not removing it" >&2
  exit 1
fi
rm -rf "$ROOT"
cp -a "$WORK/base" "$ROOT"
mount --bind "$ROOT" "$ROOT"
mount --bind /proc "$ROOT/proc"
mount --rbind /sys "$ROOT/sys" && mount --make-rslave "$ROOT/sys"
mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev"
mount -t tmpfs tmpfs "$ROOT/run"
mount -t tmpfs tmpfs "$ROOT/tmp"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
git clone -q "$REPO" "$ROOT/root/su"

echo "fresh_demo.sh: make demo in a fresh Debian 12 at $(git -C "$REPO" rev-parse --short HEAD); log: $WORK/demo.log" >&2
start=$(date +%s)
rc=0
chroot "$ROOT" sh -c 'cd /root/su && apt-get update -qq && apt-get install -y -qq make >/dev/null && make demo' \
  >"$WORK/demo.log" 2>&1 || rc=$?
end=$(date +%s)
echo "fresh make demo: $((end - start)) s wall, exit $rc"

# The split, from the new system's own records (its clock is the host's).
secs() { date -d "$1" +%s; }
apt_end=$(sed -n 's/^End-Date: //p' "$ROOT/var/log/apt/history.log" | tail -1)
build_start=$(stat -c %Y "$ROOT/root/su/build-demo/CMakeCache.txt" 2>/dev/null || echo "")
build_end=$(stat -c %Y "$ROOT/root/su/build-demo/schema-upgrade" 2>/dev/null || echo "")
if [ -n "$apt_end" ] && [ -n "$build_start" ] && [ -n "$build_end" ]; then
  echo "  apt (update, make, DEMO_PACKAGES): $(( $(secs "$apt_end") - start )) s;" \
       "configure + build: $(( build_end - build_start )) s; demo run: $(( end - build_end )) s"
fi
exit $rc
