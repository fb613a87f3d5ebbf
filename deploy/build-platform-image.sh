#!/usr/bin/env bash
# Builds the durabox platform image (deploy/platform.Dockerfile) on this Docker daemon.
#   deploy/build-platform-image.sh [durabox-<version>.tgz]   from a packed package (else `npm pack` here)
#   --local-base     without a registry: the base is this host's durabox/terminal image (Debian bookworm)
#                    with this host's Node.js binary, instead of node:20-bookworm-slim
# DURABOX_PLATFORM_IMAGE names the result (default durabox/platform:<version>).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tarball="" local_base=0
for a in "$@"; do
  case "$a" in
    --local-base) local_base=1 ;;
    *) tarball=$(realpath "$a") ;;
  esac
done
version=$(node -p "require('$root/package.json').version")
tag=${DURABOX_PLATFORM_IMAGE:-durabox/platform:$version}
base=${DURABOX_PLATFORM_BASE:-node:20-bookworm-slim}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
# A step's output only when it fails (the legacy builder's deprecation notice is noise otherwise).
quiet() { "$@" >"$ctx/step.log" 2>&1 || { cat "$ctx/step.log" >&2; return 1; }; }

if [ -z "$tarball" ]; then
  (cd "$root" && npm pack --silent --pack-destination "$ctx" >/dev/null)
  tarball=$(ls "$ctx"/durabox-*.tgz)
fi
# Installed here, not in the image: the build needs no registry, only what this host's npm reaches.
quiet npm install --no-audit --no-fund --omit=dev --prefix "$ctx/app" "$tarball"

if [ $local_base = 1 ]; then
  base=durabox/node-base:local
  cp "$(command -v node)" "$ctx/node"
  printf 'FROM %s\nUSER root\nCOPY node /usr/local/bin/node\n' "${DURABOX_TERMINAL_IMAGE:-durabox/terminal:6}" >"$ctx/base.Dockerfile"
  quiet docker build -q -t "$base" -f "$ctx/base.Dockerfile" "$ctx"
fi
quiet docker build -q -t "$tag" --build-arg BASE="$base" -f "$here/platform.Dockerfile" "$ctx"
echo "built $tag (base $base)"
