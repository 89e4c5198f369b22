#!/usr/bin/env bash
# `make sam-local`: every function run by `sam local invoke` in a container against the local emulator,
# each answer and the emulator's state checked. Sets up what is missing first, reusing what is there:
#   1. a Docker engine: Debian's docker.io, dockerd started only if none answers (and stopped at the end
#      only if this script started it);
#   2. the Lambda base image SAM runs functions on, built locally (no registry is reachable here):
#      Debian minbase with ca-certificates, imported as public.ecr.aws/lambda/provided:al2023;
#   3. `sam build` (cargo-lambda and Zig from .venv-tools), when the bootstraps are missing or older than
#      the sources;
# then the checks themselves (testkit/local/src/bin/sam_local.rs). Never pulls an image.
#
#   tools/sam-local.sh                 set up, build, check
#   KEEP_DOCKERD=1 tools/sam-local.sh  leave a dockerd this script started running
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=public.ecr.aws/lambda/provided:al2023
STATE=.sam-local/state
TOOLS=.venv-tools/bin
export SAM_CLI_TELEMETRY=0
mkdir -p "$STATE"

log() { printf '[%4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

STARTED_DOCKERD=""
cleanup() {
  local rc=$?
  if [ -n "$STARTED_DOCKERD" ] && [ "${KEEP_DOCKERD:-0}" != 1 ]; then
    log "stopping the dockerd this script started"
    kill -TERM "$STARTED_DOCKERD" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$STARTED_DOCKERD" 2>/dev/null || true
  fi
  exit $rc
}
trap cleanup EXIT

APT_UPDATED=0
apt_install() { # only the packages missing
  local missing=() package
  for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ $APT_UPDATED = 1 ] || { apt-get update -qq; APT_UPDATED=1; }
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$STATE/apt.log" 2>&1 \
    || { tail -20 "$STATE/apt.log" >&2; die "apt-get install ${missing[*]}"; }
}

wait_for_docker() { # SECONDS [PID]: until `docker info` answers; fails early if PID died
  local deadline=$((SECONDS + $1)) pid=${2:-}
  until docker info >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.25
  done
}

ensure_engine() {
  command -v docker >/dev/null && docker info >/dev/null 2>&1 && { log "Docker engine: running, reused"; return; }
  command -v dockerd >/dev/null || apt_install docker.io
  if pgrep -x dockerd >/dev/null; then
    wait_for_docker 60 && return
    die "a dockerd is running but never answered"
  fi
  # A pid file left by a killed daemon stops a new one.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
  # overlay2 where the kernel has overlayfs and Docker's data is not on one already; vfs copies each
  # layer (slower, always works).
  local driver=vfs
  mkdir -p /var/lib/docker
  if grep -qw overlay /proc/filesystems && [ "$(findmnt -no FSTYPE -T /var/lib/docker 2>/dev/null)" != overlay ]; then
    driver=overlay2
  fi
  log "starting dockerd --iptables=false --storage-driver=$driver"
  setsid nohup dockerd --iptables=false --storage-driver="$driver" >"$STATE/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  wait_for_docker 60 "$pid" || { tail -20 "$STATE/dockerd.log" >&2; die "dockerd did not come up"; }
  STARTED_DOCKERD=$pid
}

# Bumped when the base image changes; an image of another version is built again.
BASE_VERSION=2

ensure_image() {
  local version
  version=$(docker image inspect -f '{{ index .Config.Labels "gemini-webhooks.base" }}' "$IMAGE" 2>/dev/null || true)
  if [ "$version" = "$BASE_VERSION" ]; then
    log "base image: present, reused"
  else
    apt_install debootstrap
    local rootfs
    rootfs=$(mktemp -d /var/tmp/lambda-rootfs.XXXXXX)
    log "base image: debootstrap bookworm minbase (the bootstraps link only glibc)"
    nice -n 10 debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" \
      >"$STATE/debootstrap.log" 2>&1 || { tail -20 "$STATE/debootstrap.log" >&2; die debootstrap; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    # Amazon Linux 2023's bundle path, which the template's SSL_CERT_FILE names.
    mkdir -p "$rootfs/etc/pki/tls/certs"
    ln -s /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/pki/tls/certs/ca-bundle.crt"
    tar -C "$rootfs" -c . | docker import --change "LABEL gemini-webhooks.base=$BASE_VERSION" - "$IMAGE" >/dev/null
    rm -rf "$rootfs"
    # SAM layers its runtime emulator on the base image; a copy made on an older base must go.
    docker image rm "$IMAGE-rapid-x86_64" >/dev/null 2>&1 || true
  fi
  docker tag "$IMAGE" "$IMAGE-x86_64"
}

ensure_build() {
  local built=.aws-sam/build/ReceiverFunction/bootstrap
  if [ -f "$built" ] && [ -z "$(find shared functions Cargo.toml Cargo.lock template.yaml -newer "$built" -type f 2>/dev/null | head -1)" ]; then
    log "sam build: up to date, reused"
    return
  fi
  log "sam build (release, cargo-lambda; minutes on 2 cores)"
  PATH="$PWD/$TOOLS:$PATH" "$TOOLS/sam" build --build-in-source \
    --parameter-overrides DeployExampleConsumer=true WorkflowStarter=true >"$STATE/sam-build.log" 2>&1 \
    || { tail -30 "$STATE/sam-build.log" >&2; die "sam build"; }
}

ensure_engine
ensure_image
ensure_build
# Containers reach the host at the default bridge's gateway, where the emulator listens; sam-local finds
# it (the bridge's IPAM configuration, else the docker0 interface: a first start of the engine can
# leave the former empty) and stops at once, saying what was empty, when neither has it.
command -v ip >/dev/null || apt_install iproute2
log "checks: the emulator on the Docker bridge, reached from the containers as host.docker.internal"
cargo run --quiet -p local-stack --bin sam-local -- \
  --docker-bridge --container-host host.docker.internal --sam "$TOOLS/sam"
log "done"
