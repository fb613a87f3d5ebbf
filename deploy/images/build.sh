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
python_image=${DURABOX_PYTHON_IMAGE:-durabox/python:2}
terminal_image=${DURABOX_TERMINAL_IMAGE:-durabox/terminal:2}
work=${DURABOX_IMAGE_WORKDIR:-/var/tmp/durabox-images}

# What both images carry for the code interpreter (runCode): IPython with its inline matplotlib backend,
# pandas with numpy, Node.js, bash. Keep in step with the Dockerfiles.
interpreter=python3,python3-ipython,python3-matplotlib,python3-matplotlib-inline,python3-pandas,nodejs,bash
terminal_tools=python3-pip,python3-venv,git,curl,ca-certificates,jq,ripgrep,tree,file,zip,unzip,sqlite3,procps,less

# The apt mirror this machine already uses (deb822 or one-line sources), so no other host is needed.
mirror() {
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hsE '^deb\s+\S*debian/?\s' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# Sandboxes run as uid 1000 ("sandbox") with /workspace and /tmp as tmpfs, so the image only needs the user.
# debootstrap follows Depends only (never Recommends), as `apt-get install --no-install-recommends` does.
import_rootfs() {
  local tag=$1 packages=$2
  local dir="$work/${tag//[:\/]/_}"
  rm -rf "$dir"; mkdir -p "$dir"
  debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$(mirror)" >"$dir.log" 2>&1 \
    || { tail -n 30 "$dir.log" >&2; return 1; }
  chroot "$dir" /bin/sh -c "$(cat "$here/finish-image.sh")"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/cache/debconf/*-old \
    "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/log/*.log
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
  else import_rootfs "$python_image" "$interpreter" & pids+=($!); fi
fi
if need "$terminal_image"; then
  if [ "${DURABOX_IMAGE_SOURCE:-rootfs}" = dockerfile ]; then build_dockerfile "$terminal_image" terminal.Dockerfile
  else import_rootfs "$terminal_image" "$interpreter,$terminal_tools" & pids+=($!); fi
fi
for p in "${pids[@]}"; do wait "$p"; done
