#!/usr/bin/env bash
# Builds durabox's sandbox images on this Docker daemon.
# With a registry reachable, `docker build` of the Dockerfiles beside this script is the ordinary path
# (DURABOX_IMAGE_SOURCE=dockerfile). Without one (the default when the base image is absent), a Debian
# rootfs is made with debootstrap from this machine's own apt mirror and brought in with `docker import`.
# Both paths install the same Debian packages, so they give the same content.
# Running it again is harmless: an image that exists is left alone unless FORCE=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suite=${DURABOX_IMAGE_SUITE:-bookworm}
python_image=${DURABOX_PYTHON_IMAGE:-durabox/python:4}
terminal_image=${DURABOX_TERMINAL_IMAGE:-durabox/terminal:6}
# The built-in `browser` template's image: the terminal image plus Chromium (browser.packages). Its name is
# the platform's (BROWSER_IMAGE in contract/templates.ts): sessions of the template ask every host for it.
browser_image=durabox/browser:2
work=${DURABOX_IMAGE_WORKDIR:-/var/tmp/durabox-images}
# The CA bundle pip trusts while building (a proxy that re-signs TLS has its CA here); '' for the image's own.
build_ca=${DURABOX_BUILD_CA_FILE-/etc/ssl/certs/ca-certificates.crt}

# The Debian packages of each image, read from the lists beside this script (the Dockerfiles read them too).
packages() { cat "$@" | sed 's/#.*//' | xargs; }

# The apt mirrors this machine already uses (deb822 or one-line sources), so no other host is needed.
mirror() {
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hsE '^deb\s+\S*debian/?\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}
security_mirror() {
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}' | grep security | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hsE '^deb\s+\S*debian-security/?\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
  echo "$m"
}

# A minimal Debian, then the image's packages installed by apt inside it exactly as the Dockerfiles do
# (debootstrap's own resolver always takes the first of alternative dependencies, apt honours what is named),
# then finish-image.sh (the sandbox user, matplotlib's font cache).
install_rootfs() {
  local dir=$1 packages=$2 sec
  sec=$(security_mirror)
  debootstrap --variant=minbase "$suite" "$dir" "$(mirror)" &&
  { echo "deb $(mirror) $suite main"; echo "deb $(mirror) $suite-updates main"
    [ -z "$sec" ] || echo "deb $sec $suite-security main"; } >"$dir/etc/apt/sources.list" &&
  chroot "$dir" apt-get update &&
  # shellcheck disable=SC2086 # one word per package
  chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages &&
  chroot "$dir" apt-get clean &&
  cp "$here/python.pip" "$dir/tmp/" &&
  if [ -n "$build_ca" ] && [ -f "$build_ca" ]; then cp "$build_ca" "$dir/tmp/build-ca.crt"; ca_env=PIP_CERT=/tmp/build-ca.crt; else ca_env=; fi &&
  # A clean environment: nothing of this machine's (pip settings, proxies' CA paths) leaks into the image.
  chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 $ca_env /bin/sh -c "$(cat "$here/finish-image.sh")"
}

import_rootfs() {
  local tag=$1 packages=$2
  local dir="$work/${tag//[:\/]/_}"
  rm -rf "$dir"; mkdir -p "$dir"
  install_rootfs "$dir" "$packages" >"$dir.log" 2>&1 || { tail -n 30 "$dir.log" >&2; return 1; }
  tar -C "$dir" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /workspace' \
    - "$tag" >/dev/null
  rm -rf "$dir" "$dir.log"
  echo "built $tag"
}

build_dockerfile() {
  docker build -t "$1" -f "$here/$2" "$here"
}

need() { [ "${FORCE:-0}" = 1 ] || ! docker image inspect "$1" >/dev/null 2>&1; }

pids=()
if need "$python_image"; then
  if [ "${DURABOX_IMAGE_SOURCE:-rootfs}" = dockerfile ]; then build_dockerfile "$python_image" python.Dockerfile
  else import_rootfs "$python_image" "$(packages "$here/python.packages")" & pids+=($!); fi
fi
if need "$terminal_image"; then
  if [ "${DURABOX_IMAGE_SOURCE:-rootfs}" = dockerfile ]; then build_dockerfile "$terminal_image" terminal.Dockerfile
  else import_rootfs "$terminal_image" "$(packages "$here/python.packages" "$here/terminal.packages")" & pids+=($!); fi
fi
for p in "${pids[@]}"; do wait "$p"; done

# The browser image is the terminal image plus its packages, on both paths: built FROM the local terminal
# image (no registry needed), so the two share their layers. A new terminal image makes a new browser image.
if need "$browser_image" || [ "$(docker image inspect -f '{{index .Config.Labels "io.durabox.base"}}' "$browser_image" 2>/dev/null)" != "$(docker image inspect -f '{{.Id}}' "$terminal_image")" ]; then
  docker build -q --build-arg BASE="$terminal_image" --label "io.durabox.base=$(docker image inspect -f '{{.Id}}' "$terminal_image")" \
    -t "$browser_image" -f "$here/browser.Dockerfile" "$here" >/dev/null
  echo "built $browser_image"
fi
