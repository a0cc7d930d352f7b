#!/usr/bin/env bash
# Docker smoke test (issue 15): builds the project's Dockerfile as it is and checks what a
# self-hoster does with the image. `.ci/run` runs it; it needs root.
#
#   scripts/docker-smoke.sh          # reuses cached base images and the builder's cache
#   scripts/docker-smoke.sh --cold   # first drops them (to measure a build from nothing)
#
# What it does:
# - installs docker.io, docker-compose and debootstrap (Debian's) when missing, with retries;
# - starts dockerd when none answers, and stops it at the end if it started it;
# - makes the two base images the Dockerfile names, locally (no registry is reachable here):
#   the Debian one with debootstrap, the Rust one from it plus this machine's Rust toolchain and
#   the dependencies of Cargo.lock vendored, so the image build downloads no crate. Both are kept
#   between runs, labelled with a hash of their inputs, and remade only when an input changes;
# - builds the Dockerfile with BuildKit as Debian's docker 20.10 does (DOCKER_BUILDKIT=1), then
#   through docker-compose 1.29 as the README says;
# - runs the image: healthy within its HEALTHCHECK interval (on a SWITCHYARD_LISTEN port that is
#   not 5678), non-root, `docker exec ... api-key create`, a credential created through the API
#   survives `docker restart` and still decrypts, `docker stop` during a slow execution lets it
#   finish and be stored, bind mounts owned by 10001:10001 work;
# - `docker-compose config` refuses a .env without the encryption key (or the Postgres password)
#   and hands the Switchyard service no POSTGRES_PASSWORD variable.
# It removes every container, volume, image and file it made, except the cached base images.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

COLD=false
for arg in "$@"; do
  case $arg in
    --cold) COLD=true ;;
    *) echo "usage: $0 [--cold]" >&2; exit 2 ;;
  esac
done

PASSED=0
T0=$(date +%s)
step() { printf '\n==> [%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
ok() { PASSED=$((PASSED + 1)); echo "    ok: $*"; }
fail() {
  echo "docker-smoke: FAILED: $*" >&2
  # In a command substitution, the caller's own failure reports the count.
  ((BASH_SUBSHELL > 0)) || echo "docker-smoke: $PASSED passed, 1 failed"
  exit 1
}
now_ms() { date +%s%3N; }
# retry N DELAY COMMAND...: the command, up to N times, DELAY seconds apart (network steps).
retry() {
  local n=$1 delay=$2 i
  shift 2
  for ((i = 1; i <= n; i++)); do
    "$@" && return 0
    echo "    attempt $i of $n failed: $*" >&2
    ((i < n)) && sleep "$delay"
  done
  return 1
}

[ "$(id -u)" = 0 ] || fail "needs root (to install packages, start dockerd and import base images)"

# One smoke run at a time on this machine: they share dockerd and the cached base images.
exec 9>/var/lock/switchyard-docker-smoke.lock
flock -w 3600 9 || fail "another docker-smoke run held the lock for an hour"

# Under the lock, a work folder left by an earlier run (killed, say) belongs to no one.
rm -rf /var/tmp/switchyard-docker-smoke.*
WORK=$(mktemp -d /var/tmp/switchyard-docker-smoke.XXXXXX)
RUN_ID=$$
APP=sy-smoke-app-$RUN_ID
SLOW=sy-smoke-slow-$RUN_ID
VOLUME=sy-smoke-data-$RUN_ID
IMAGE=switchyard-smoke:$RUN_ID
COMPOSE_IMAGE=switchyard-smoke-compose:$RUN_ID
STARTED_DOCKERD=
DOCKER=/usr/bin/docker # Debian's client: its BuildKit needs no buildx component

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" != 0 ] && [ -x "$DOCKER" ] && $DOCKER info >/dev/null 2>&1; then
    for c in "$APP" "$SLOW"; do
      if $DOCKER inspect "$c" >/dev/null 2>&1; then
        echo "--- last log lines of $c ---" >&2
        $DOCKER logs --tail 40 "$c" 2>&1 | sed 's/^/    /' >&2
      fi
    done
  fi
  if [ -x "$DOCKER" ] && $DOCKER info >/dev/null 2>&1; then
    $DOCKER rm -f "$APP" "$SLOW" sy-smoke-bind-$RUN_ID >/dev/null 2>&1
    $DOCKER volume rm -f "$VOLUME" >/dev/null 2>&1
    $DOCKER rmi "$IMAGE" "$COMPOSE_IMAGE" >/dev/null 2>&1
  fi
  if [ -n "$STARTED_DOCKERD" ]; then
    [ "$rc" != 0 ] && { echo "--- dockerd log (tail) ---" >&2; tail -n 20 "$WORK/dockerd.log" >&2; }
    kill -TERM "$STARTED_DOCKERD" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 0.5; done
    echo "stopped the dockerd this run started"
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'fail "line $LINENO: command failed: $BASH_COMMAND"' ERR

# --- Tools -----------------------------------------------------------------------------------
step "install what is missing: docker.io, docker-compose, debootstrap"
missing=()
[ -x /usr/bin/docker ] && command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
for tool in curl jq perl openssl; do command -v $tool >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  echo "    installing: ${missing[*]}"
  apt_install() {
    timeout 300 apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
        -o DPkg::Lock::Timeout=300 "${missing[@]}" >"$WORK/apt.log" 2>&1 ||
      { tail -n 20 "$WORK/apt.log" >&2; return 1; }
  }
  retry 4 20 apt_install || fail "could not install ${missing[*]} (see the apt lines above)"
fi
ok "$($DOCKER --version), $(docker-compose --version)"

step "docker daemon"
if ! timeout 20 $DOCKER info >/dev/null 2>&1; then
  echo "    no daemon answers; starting dockerd"
  dockerd >"$WORK/dockerd.log" 2>&1 9>&- &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 120); do
    timeout 5 $DOCKER info >/dev/null 2>&1 && break
    kill -0 "$STARTED_DOCKERD" 2>/dev/null || fail "dockerd exited: $(tail -n 5 "$WORK/dockerd.log")"
    sleep 0.5
  done
fi
timeout 20 $DOCKER info >/dev/null 2>&1 || fail "dockerd does not answer after 60 s"
ok "dockerd $($DOCKER version -f '{{.Server.Version}}'), storage $($DOCKER info -f '{{.Driver}}')"
export DOCKER_BUILDKIT=1

# --- Base images -----------------------------------------------------------------------------
RUST_BASE=$(awk '$1 == "FROM" && $2 ~ /^rust:/ {print $2; exit}' Dockerfile)
DEBIAN_BASE=$(awk '$1 == "FROM" && $2 ~ /^debian:/ {print $2; exit}' Dockerfile)
[ -n "$RUST_BASE" ] && [ -n "$DEBIAN_BASE" ] ||
  fail "the Dockerfile should build FROM rust:... and run FROM debian:...; it names '$RUST_BASE' and '$DEBIAN_BASE'"
LABEL=org.switchyard.smoke.inputs

if $COLD; then
  step "--cold: dropping the cached base images and the builder cache"
  $DOCKER rmi -f "$RUST_BASE" "$DEBIAN_BASE" >/dev/null 2>&1 || true
  $DOCKER builder prune -af >/dev/null
  ok "nothing cached"
fi

# The inputs of an image, as a hash: the recipe's own text and what it reads.
inputs_hash() { sha256sum | cut -c1-32; }
# cached IMAGE HASH: true when IMAGE is there and was made from the same inputs. An image of that
# name made elsewhere (no label, say pulled from a registry) is used as it is.
cached() {
  local label
  $DOCKER image inspect "$1" >/dev/null 2>&1 || return 1
  label=$($DOCKER image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1")
  [ -z "$label" ] && { echo "    $1 exists and was not made by this script: using it as it is"; return 0; }
  [ "$label" = "$2" ]
}

# Debian bookworm, minimal, trimmed like the official slim image (no docs, man pages, locales or
# apt lists), apt sources as in that image.
make_debian_base() {
  local rootfs=$WORK/rootfs
  debootstrap_once() {
    rm -rf "$rootfs"
    timeout 900 debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
      >"$WORK/debootstrap.log" 2>&1 || { tail -n 15 "$WORK/debootstrap.log" >&2; return 1; }
  }
  retry 3 20 debootstrap_once || fail "debootstrap failed three times"
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  # As in the official slim image: no recommended packages, no binary package caches, no .deb
  # files left behind by an install (they would end up in the layers of every image built on it).
  cat >"$rootfs/etc/apt/apt.conf.d/slim" <<'EOF'
APT::Install-Recommends "false";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
EOF
  find "$rootfs/usr/share/doc" -mindepth 2 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
  local version
  version=$(cat "$rootfs/etc/debian_version")
  [ "debian:$version-slim" = "$DEBIAN_BASE" ] ||
    echo "    note: Debian's mirror is at $version, the Dockerfile names $DEBIAN_BASE (tagged with the latter)"
  tar --numeric-owner -C "$rootfs" -c . |
    $DOCKER import \
      --change "LABEL $LABEL=$DEBIAN_HASH" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' - "$DEBIAN_BASE" >/dev/null
  rm -rf "$rootfs"
}

# The Rust build image: the Debian base with a C compiler (for ring, SQLite, QuickJS), this
# machine's Rust toolchain laid out as in the official image (RUSTUP_HOME, CARGO_HOME), and the
# crates of Cargo.lock vendored, cargo told to use them offline.
make_rust_base() {
  local ctx=$WORK/rust-base sysroot toolchain
  sysroot=$(rustc --print sysroot)
  toolchain="$(rustc -V | awk '{print $2}')-$(rustc -vV | awk '/^host:/ {print $2}')"
  mkdir -p "$ctx/toolchain"
  tar -C "$sysroot" --exclude=./share -c . | tar -C "$ctx/toolchain" -x
  vendor_once() {
    rm -rf "$ctx/vendor"
    timeout 600 cargo vendor --locked --versioned-dirs "$ctx/vendor" >/dev/null 2>"$WORK/vendor.log" ||
      { tail -n 10 "$WORK/vendor.log" >&2; return 1; }
  }
  retry 3 15 vendor_once || fail "cargo vendor failed three times"
  cat >"$ctx/config.toml" <<'EOF'
[source.crates-io]
replace-with = "vendored"

[source.vendored]
directory = "/usr/local/cargo/vendor"

[net]
offline = true
EOF
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_BASE
RUN apt-get update -o Acquire::Retries=3 \\
 && apt-get install -y -o Acquire::Retries=3 gcc libc6-dev make pkg-config ca-certificates \\
 && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    RUST_VERSION=$(rustc -V | awk '{print $2}')
COPY toolchain /usr/local/rustup/toolchains/$toolchain
RUN mkdir -p /usr/local/cargo/bin \\
 && for b in cargo rustc rustdoc; do ln -s /usr/local/rustup/toolchains/$toolchain/bin/\$b /usr/local/cargo/bin/\$b; done \\
 && cargo --version && rustc --version
COPY vendor /usr/local/cargo/vendor
COPY config.toml /usr/local/cargo/config.toml
EOF
  timeout 1200 $DOCKER build --progress=plain --label "$LABEL=$RUST_HASH" -t "$RUST_BASE" "$ctx" \
    >"$WORK/rust-base.log" 2>&1 || { tail -n 30 "$WORK/rust-base.log" >&2; fail "could not build $RUST_BASE (log above)"; }
  rm -rf "$ctx"
}

step "base image $DEBIAN_BASE"
DEBIAN_HASH=$({ declare -f make_debian_base; echo "$DEBIAN_BASE"; } | inputs_hash)
if cached "$DEBIAN_BASE" "$DEBIAN_HASH"; then
  ok "cached ($($DOCKER image inspect -f '{{.Id}}' "$DEBIAN_BASE" | cut -c8-19))"
else
  t=$(now_ms)
  make_debian_base
  ok "made with debootstrap in $((($(now_ms) - t) / 1000)) s"
fi

step "base image $RUST_BASE"
RUST_HASH=$({
  declare -f make_rust_base
  echo "$RUST_BASE"
  $DOCKER image inspect -f '{{.Id}}' "$DEBIAN_BASE"
  rustc -vV
  cargo -V
  cat Cargo.lock
} | inputs_hash)
rust_minor=$(rustc -V | awk '{split($2, v, "."); print v[1] "." v[2]}')
[[ $RUST_BASE == rust:$rust_minor-* ]] ||
  echo "    note: this machine's Rust is $rust_minor, the Dockerfile names $RUST_BASE (tagged with the latter)"
if cached "$RUST_BASE" "$RUST_HASH"; then
  ok "cached ($($DOCKER image inspect -f '{{.Id}}' "$RUST_BASE" | cut -c8-19))"
else
  t=$(now_ms)
  make_rust_base
  ok "made from $DEBIAN_BASE and $(rustc -V | cut -d' ' -f1-2) in $((($(now_ms) - t) / 1000)) s"
fi

# A base image remade above leaves its predecessor untagged.
$DOCKER image prune -f --filter "label=$LABEL" >/dev/null

# --- The project's image -------------------------------------------------------------------
step "docker build (BuildKit, Debian's docker $($DOCKER version -f '{{.Client.Version}}')) of the Dockerfile as it is"
t=$(now_ms)
timeout 2400 $DOCKER build --progress=plain -t "$IMAGE" . >"$WORK/build.log" 2>&1 ||
  { tail -n 40 "$WORK/build.log" >&2; fail "docker build failed (log above)"; }
BUILD_SECS=$((($(now_ms) - t) / 1000))
SIZE_MB=$(($($DOCKER image inspect -f '{{.Size}}' "$IMAGE") / 1000000))
ok "built in $BUILD_SECS s; image $SIZE_MB MB"
grep -E 'useradd( warning)?:' "$WORK/build.log" >&2 && fail "useradd complained while making the user (above)"

step "image configuration"
cfg() { $DOCKER image inspect -f "$1" "$IMAGE"; }
[ "$(cfg '{{.Config.User}}')" = 10001:10001 ] || fail "USER is '$(cfg '{{.Config.User}}')', not 10001:10001"
[ "$(cfg '{{.Config.WorkingDir}}')" = /data ] || fail "WORKDIR is '$(cfg '{{.Config.WorkingDir}}')', not /data"
[ "$(cfg '{{json .Config.Healthcheck}}')" != null ] || fail "the image has no HEALTHCHECK"
INTERVAL_S=$(($(cfg "{{json .Config.Healthcheck.Interval}}") / 1000000000))
CHECK_TIMEOUT_S=$(($(cfg "{{json .Config.Healthcheck.Timeout}}") / 1000000000))
ok "user 10001:10001, workdir /data, HEALTHCHECK every $INTERVAL_S s: $(cfg '{{json .Config.Healthcheck.Test}}')"

# --- Running it ------------------------------------------------------------------------------
# As a self-hoster would: the key from a file (Docker secrets put it in /run/secrets), data in a
# named volume, the port on loopback. The listen port is not 5678, so the HEALTHCHECK must read
# it from SWITCHYARD_LISTEN.
LISTEN_PORT=8080
STOP_TIMEOUT=45
SLOW_SECS=15
mkdir -m 700 "$WORK/secrets"
openssl rand -hex 32 >"$WORK/secrets/switchyard_key"
chmod 444 "$WORK/secrets/switchyard_key"

wait_healthy() { # CONTAINER LIMIT_SECONDS
  local c=$1 limit_ms=$(($2 * 1000)) started status
  started=$(now_ms)
  while :; do
    status=$($DOCKER inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c")
    if [ "$status" = healthy ]; then
      HEALTHY_MS=$(($(now_ms) - started))
      return 0
    fi
    [ "$($DOCKER inspect -f '{{.State.Running}}' "$c")" = true ] ||
      fail "$c exited (code $($DOCKER inspect -f '{{.State.ExitCode}}' "$c")) before it was healthy"
    if (($(now_ms) - started > limit_ms)); then
      fail "$c not healthy after $2 s (status '$status'; last check: $($DOCKER inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' "$c" | tail -n 2))"
    fi
    sleep 0.25
  done
}
host_port() { $DOCKER port "$APP" "$LISTEN_PORT/tcp" | sed -n '1s/.*://p'; }

step "docker run (SQLite volume, key from a secret file, SWITCHYARD_LISTEN=0.0.0.0:$LISTEN_PORT, --stop-timeout $STOP_TIMEOUT)"
$DOCKER volume create "$VOLUME" >/dev/null
$DOCKER run -d --name "$APP" \
  --stop-timeout "$STOP_TIMEOUT" \
  -p "127.0.0.1::$LISTEN_PORT" \
  -v "$VOLUME:/data" \
  -v "$WORK/secrets/switchyard_key:/run/secrets/switchyard_key:ro" \
  -e SWITCHYARD_ENCRYPTION_KEY_FILE=/run/secrets/switchyard_key \
  -e SWITCHYARD_LISTEN="0.0.0.0:$LISTEN_PORT" \
  "$IMAGE" >/dev/null
HEALTH_LIMIT=$((INTERVAL_S + CHECK_TIMEOUT_S + 2))
wait_healthy "$APP" "$HEALTH_LIMIT"
ok "healthy $((HEALTHY_MS / 1000)).$((HEALTHY_MS % 1000 / 100)) s after docker run (limit: interval $INTERVAL_S s + check timeout + 2 s)"
PORT=$(host_port)
[ -n "$PORT" ] || fail "no host port published for $LISTEN_PORT"

step "runs as a non-root user"
uid=$($DOCKER exec "$APP" awk '/^Uid:/ {print $2}' /proc/1/status)
gid=$($DOCKER exec "$APP" awk '/^Gid:/ {print $2}' /proc/1/status)
[ "$uid:$gid" = 10001:10001 ] || fail "the server runs as $uid:$gid"
ok "the server (pid 1) runs as $uid:$gid"

step "API key through docker exec"
API_KEY=$($DOCKER exec "$APP" switchyard api-key create --name smoke | tail -n 1)
[[ $API_KEY == sy_* ]] || fail "api-key create printed no key on its last line"
printf 'X-N8N-API-KEY: %s\n' "$API_KEY" >"$WORK/api-key-header"
chmod 600 "$WORK/api-key-header"
unset API_KEY
ok "api-key create printed a key"

# api METHOD PATH [JSON]: the answer's body; fails on anything but 2xx.
api() {
  local code
  code=$(curl -sS -m 60 -o "$WORK/answer" -w '%{http_code}' -X "$1" \
    -H @"$WORK/api-key-header" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "http://127.0.0.1:$PORT$2") || fail "$1 $2: no answer from the server"
  [[ $code == 2* ]] || fail "$1 $2 answered $code: $(head -c 400 "$WORK/answer")"
  cat "$WORK/answer"
}

step "credential through the API"
api GET /api/v1/credentials/schema/salesforceOAuth2Api >/dev/null
SECRET=$(openssl rand -hex 12)
CRED_ID=$(api POST /api/v1/credentials \
  "{\"name\":\"smoke\",\"type\":\"salesforceOAuth2Api\",\"data\":{\"environment\":\"sandbox\",\"clientId\":\"smoke-client\",\"clientSecret\":\"$SECRET\"}}" |
  jq -r .id)
[ -n "$CRED_ID" ] && [ "$CRED_ID" != null ] || fail "POST /api/v1/credentials gave no id"
ok "credential $CRED_ID created"

# The export is written relative to WORKDIR (/data) by the unprivileged user, then compared with
# what was sent, without printing the secret.
check_credential() {
  local name stored
  name=$(api GET "/api/v1/credentials/$CRED_ID" | jq -r .name)
  [ "$name" = smoke ] || fail "GET /api/v1/credentials/$CRED_ID: name '$name'"
  $DOCKER exec "$APP" switchyard export credentials --decrypted --output smoke-export.json >/dev/null ||
    fail "export with a relative path under docker exec failed"
  stored=$($DOCKER exec "$APP" cat /data/smoke-export.json | jq -r ".[] | select(.id == \"$CRED_ID\") | .data.clientSecret")
  $DOCKER exec "$APP" rm -f /data/smoke-export.json
  [ "$stored" = "$SECRET" ] || fail "the exported credential's clientSecret differs from the one sent"
}
check_credential
ok "readable, and it decrypts (export --output smoke-export.json lands in /data)"

step "docker restart keeps the credential"
t=$(now_ms)
$DOCKER restart "$APP" >/dev/null
restart_ms=$(($(now_ms) - t))
wait_healthy "$APP" "$HEALTH_LIMIT"
PORT=$(host_port)
check_credential
ok "restart took $((restart_ms / 1000)) s, healthy $((HEALTHY_MS / 1000)) s later, credential still there and decrypts"

step "docker stop during a slow execution lets it finish"
# A server in the app's network namespace that answers after SLOW_SECS (more than Docker's default
# 10 s stop timeout, less than the server's 30 s drain).
$DOCKER run -d --name "$SLOW" --network "container:$APP" -e SLOW_SECS="$SLOW_SECS" "$DEBIAN_BASE" perl -e '
  use IO::Socket::INET;
  $| = 1;
  my $server = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 8099, Listen => 5, ReuseAddr => 1)
    or die "listen: $!";
  print "listening\n";
  while (my $c = $server->accept) {
    while (my $line = <$c>) { last if $line =~ /^\r?\n$/ }
    print "request received\n";
    sleep $ENV{SLOW_SECS};
    print $c "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"slow\":true}";
    close $c;
    print "answered\n";
  }' >/dev/null
for _ in $(seq 1 40); do $DOCKER logs "$SLOW" 2>/dev/null | grep >/dev/null listening && break; sleep 0.25; done
$DOCKER logs "$SLOW" | grep >/dev/null listening || fail "the slow server did not start: $($DOCKER logs "$SLOW" 2>&1 | tail -n 3)"
WF_ID=$(api POST /api/v1/workflows '{
  "name": "slow call", "settings": {"executionOrder": "v1"},
  "nodes": [
    {"name": "Start", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
    {"name": "Call", "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
     "parameters": {"method": "GET", "url": "http://127.0.0.1:8099/slow"}}
  ],
  "connections": {"Start": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}}
}' | jq -r .id)
EXEC_ID=$(api POST "/api/v1/workflows/$WF_ID/run" "{}" | jq -r .executionId)
[ -n "$EXEC_ID" ] && [ "$EXEC_ID" != null ] || fail "running the workflow gave no execution id"
for _ in $(seq 1 40); do $DOCKER logs "$SLOW" | grep >/dev/null 'request received' && break; sleep 0.25; done
$DOCKER logs "$SLOW" | grep >/dev/null 'request received' || fail "the HTTP Request node never reached the slow server"
t=$(now_ms)
$DOCKER stop "$APP" >/dev/null # no -t: the container's --stop-timeout applies
stop_ms=$(($(now_ms) - t))
code=$($DOCKER inspect -f '{{.State.ExitCode}}' "$APP")
[ "$code" = 0 ] || fail "the server exited with code $code after docker stop (137: killed mid-drain)"
((stop_ms >= (SLOW_SECS - 3) * 1000)) || fail "docker stop returned after $stop_ms ms, before the slow call could end"
$DOCKER logs "$APP" 2>&1 | grep >/dev/null 'still running at shutdown' && fail "the server gave up on running executions"
$DOCKER rm -f "$SLOW" >/dev/null
$DOCKER start "$APP" >/dev/null
wait_healthy "$APP" "$HEALTH_LIMIT"
PORT=$(host_port)
execution=$(api GET "/api/v1/executions/$EXEC_ID?includeData=true")
status=$(jq -r .status <<<"$execution")
[ "$status" = success ] || fail "the execution interrupted by docker stop is '$status', not success"
jq -e '.. | objects | select(.slow == true)' <<<"$execution" >/dev/null ||
  fail "the stored execution lacks the slow server's answer"
ok "docker stop waited $((stop_ms / 1000)) s, exit code 0; after start the execution is stored as success with the answer"

step "host bind mounts: owned by 10001:10001 works, owned by root is refused"
mkdir "$WORK/bind-ok" "$WORK/bind-root"
chown 10001:10001 "$WORK/bind-ok"
$DOCKER run --rm --name sy-smoke-bind-$RUN_ID -v "$WORK/bind-ok:/data" "$IMAGE" api-key create --name bind >/dev/null 2>"$WORK/bind.err" ||
  fail "a bind mount chowned 10001:10001 does not work: $(tail -n 3 "$WORK/bind.err")"
[ -f "$WORK/bind-ok/switchyard.db" ] || fail "no database in the bind mount"
if $DOCKER run --rm --name sy-smoke-bind-$RUN_ID -v "$WORK/bind-root:/data" "$IMAGE" api-key create --name bind >/dev/null 2>"$WORK/bind.err"; then
  fail "a root-owned bind mount was writable by the unprivileged user"
fi
ok "chowned mount works; root-owned one fails with: $(tail -n 1 "$WORK/bind.err" | cut -c1-160)"

# --- Compose ---------------------------------------------------------------------------------
step "docker-compose config refuses a .env without the encryption key"
compose() { env -u SWITCHYARD_ENCRYPTION_KEY -u POSTGRES_PASSWORD -u SWITCHYARD_PUBLIC_URL \
  PATH="/usr/bin:$PATH" docker-compose --project-name "sysmoke$RUN_ID" --project-directory "$ROOT" "$@"; }
echo "POSTGRES_PASSWORD=$(openssl rand -hex 16)" >"$WORK/env-no-key"
if compose --env-file "$WORK/env-no-key" -f docker-compose.yml config >/dev/null 2>"$WORK/compose.err"; then
  fail "docker-compose config accepted a .env without SWITCHYARD_ENCRYPTION_KEY"
fi
grep -q 'set SWITCHYARD_ENCRYPTION_KEY' "$WORK/compose.err" ||
  fail "docker-compose config failed without naming the key: $(tail -n 2 "$WORK/compose.err")"
echo "SWITCHYARD_ENCRYPTION_KEY=$(openssl rand -hex 32)" >"$WORK/env-no-password"
compose --env-file "$WORK/env-no-password" -f docker-compose.yml config >/dev/null 2>&1 &&
  fail "docker-compose config accepted a .env without POSTGRES_PASSWORD"
cat "$WORK/env-no-key" "$WORK/env-no-password" >"$WORK/env-ok"
compose --env-file "$WORK/env-ok" -f docker-compose.yml config >"$WORK/compose.yml" 2>"$WORK/compose.err" ||
  fail "docker-compose config refused a complete .env: $(tail -n 2 "$WORK/compose.err")"
/usr/bin/python3 - "$WORK/compose.yml" <<'EOF' || fail "the resolved compose file is not as expected (above)"
import sys, yaml
svc = yaml.safe_load(open(sys.argv[1]))["services"]["switchyard"]
env = svc.get("environment", {})
problems = []
if "POSTGRES_PASSWORD" in env: problems.append("Switchyard gets POSTGRES_PASSWORD")
if not env.get("SWITCHYARD_ENCRYPTION_KEY"): problems.append("Switchyard gets no SWITCHYARD_ENCRYPTION_KEY")
if "env_file" in svc: problems.append("Switchyard has an env_file")
grace = svc.get("stop_grace_period", "10s")
secs = int(grace[:-1]) * (60 if grace.endswith("m") else 1) if grace[-1] in "sm" else 0
if secs <= 30: problems.append(f"stop_grace_period {grace} is not above the 30 s drain")
for p in problems: print("    " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
ok "refused without the key (and without the password); with both, Switchyard gets the key, no POSTGRES_PASSWORD, stop_grace_period above 30 s"

step "docker-compose 1.29 builds the image (COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1)"
cat >"$WORK/compose.override.yml" <<EOF
services:
  switchyard:
    image: $COMPOSE_IMAGE
EOF
t=$(now_ms)
COMPOSE_DOCKER_CLI_BUILD=1 compose --env-file "$WORK/env-ok" -f docker-compose.yml -f "$WORK/compose.override.yml" \
  build switchyard >"$WORK/compose-build.log" 2>&1 ||
  { tail -n 20 "$WORK/compose-build.log" >&2; fail "docker-compose build failed"; }
$DOCKER image inspect "$COMPOSE_IMAGE" >/dev/null 2>&1 || fail "docker-compose build made no image"
ok "built through docker-compose in $((($(now_ms) - t) / 1000)) s (builder cache warm)"

step "tidy: the builder keeps at most 8 GB of cache between runs"
$DOCKER builder prune -f --keep-storage 8GB >/dev/null
ok "builder cache: $($DOCKER system df --format '{{if eq .Type "Build Cache"}}{{.Size}}{{end}}' | tr -d '\n')"

step "summary"
echo "    build: $BUILD_SECS s; image: $SIZE_MB MB; whole run: $(($(date +%s) - T0)) s"
echo "docker-smoke: $PASSED passed, 0 failed"
