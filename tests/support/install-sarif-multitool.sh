#!/bin/sh
# install-sarif-multitool.sh DIR: make Microsoft's SARIF Multitool available under DIR (a cache,
# e.g. the build folder's tools/) and print the path of its executable.
# The npm package @microsoft/sarif-multitool pulls @microsoft/sarif-multitool-linux, which ships a
# self-contained .NET single-file executable (no .NET runtime needed). Its postinstall only does
# `chmod u+x`, which npm >= 11 may skip (install scripts need approval), so we do it here.
# Idempotent and safe to run concurrently (flock); npm checks the packages' integrity hashes.
set -eu
PKG="@microsoft/sarif-multitool@5.7.0"
DIR="${1:?usage: install-sarif-multitool.sh DIR}"
BIN="$DIR/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"
mkdir -p "$DIR"
exec 9>"$DIR/.install.lock"
flock 9
if [ ! -f "$BIN" ]; then
  command -v npm >/dev/null 2>&1 || { echo "install-sarif-multitool.sh: npm is needed (make deps installs it)" >&2; exit 1; }
  echo "install-sarif-multitool.sh: installing $PKG from npm into $DIR (about 100 MB)" >&2
  npm install --prefix "$DIR" --no-audit --no-fund --silent "$PKG" >&2 \
    || { echo "install-sarif-multitool.sh: npm install $PKG failed; check access to the npm registry" >&2; exit 1; }
fi
[ -f "$BIN" ] || { echo "install-sarif-multitool.sh: $BIN missing after install (not linux-x64?)" >&2; exit 1; }
chmod u+x "$BIN"
echo "$BIN"
