#!/usr/bin/env bash
# Newer container engines for the end-to-end tests, beside the host's own:
# each made from Debian's packages into a root of its own, and run in a
# network namespace and a private mount namespace of its own, rooted
# (pivot_root) in that root. Nothing of an engine is installed on the host.
#
#   bash .ci/engines.sh prepare NAME         make the engine's root (cached)
#   bash .ci/engines.sh start NAME           prepare, start, wait until it answers
#   bash .ci/engines.sh stop NAME            stop it and everything it started,
#                                            delete its network namespace
#   bash .ci/engines.sh run NAME -- CMD...   start, run CMD, stop; exit with
#                                            CMD's status
#   bash .ci/engines.sh env NAME             print what run sets, as shell
#   bash .ci/engines.sh list                 the engines, prepared or running
#
# Engines (NAME):
#   docker26  Debian trixie's docker.io (26.x)
#   docker28  Debian sid's docker.io and docker-cli (28.x)
#   docker29  the docker28 root with dockerd and docker-proxy of the Docker
#             29 line (moby v2.0.0-beta.24), built with Go from source;
#             its CLI is sid's docker-cli
#   podman5   Debian sid's podman (5.x), serving its Docker-compatible API
#
# run puts CMD in the engine's network namespace (only loopback and the
# engine's own networks: 127.0.0.1 reaches the published ports; nothing
# beyond the machine, so fetch Go modules before, e.g. go mod download),
# with
#   DOCKER_HOST   unix://ROOT/run/docker.sock (podman5: ROOT/run/podman/podman.sock)
#   PATH          prefixed by a directory of wrappers that run the engine's
#                 own CLIs from its root: docker and docker-compose (podman5:
#                 podman, and docker as podman, as podman-docker does)
#   PORTENV_E2E_ENGINE           NAME
#   PORTENV_E2E_PODMAN_SOCKET    (podman5) the API socket, for e2e/podman_test.go
# The engine's mount namespace shows the host's /tmp, and its own /run
# again at ROOT/run, so a path under /tmp or the socket's host path names
# the same file for CMD and for the engine (-v SRC:DEST). Its own
# /var/run/docker.sock is its own socket. run stops the engine at the end
# unless it was running before.
#
# Each step prints one line with its time; any failure prints one line
# starting "engines: NAME: FAILED" (with the end of the step's log above
# it) and exits non-zero. A Debian suite that serves another major version
# than the one named here is such a failure.
#
# Environment:
#   PORTENV_ENGINES_CACHE  roots and binaries (default /var/cache/portenv-ci/engines);
#                          made from nothing when absent, reused when there
#   DEBIAN_MIRROR          archive to debootstrap from (default: the machine's
#                          apt source of Debian main)
#   GO                     go command for docker29's build (default: go on
#                          PATH, else /usr/local/go/bin/go)
set -eEuo pipefail
# A command that fails where no step says what it was still gets its line.
trap 'rc=$?; echo "engines: ${name:--}: FAILED: \`$BASH_COMMAND\` exited $rc (line $LINENO)" >&2; exit $rc' ERR

cache=${PORTENV_ENGINES_CACHE:-/var/cache/portenv-ci/engines}
state_base=/run/portenv-ci/engines
moby_version=v2.0.0-beta.24
engines=(docker26 docker28 docker29 podman5)

name=-
log() { echo "engines: $name: $*"; }
die() {
  echo "engines: $name: FAILED: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# step WHAT CMD...: runs CMD with its output in a log; one line with the
# time, or the end of the log and a FAILED line.
step() {
  local what=$1 t0 steplog
  shift
  t0=$(now)
  steplog=$(mktemp "${TMPDIR:-/tmp}/engines-step.XXXXXX")
  if "$@" >"$steplog" 2>&1; then
    log "$what ($(since "$t0"))"
    rm -f "$steplog"
  else
    local rc=$?
    tail -n 25 "$steplog" | sed 's/^/  | /' >&2
    rm -f "$steplog"
    die "$what (exit $rc after $(since "$t0"))"
  fi
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# ---- what each engine is ------------------------------------------------

# suite, packages, and the packages whose major version is pinned (pkg=MAJOR).
suite_of() {
  case $1 in
  docker26) echo trixie ;;
  docker28 | podman5) echo sid ;;
  esac
}
packages_of() {
  local base="iptables ca-certificates procps iproute2"
  case $1 in
  docker26) echo "docker.io docker-cli containerd runc tini docker-compose $base" ;;
  docker28) echo "docker.io docker-cli containerd runc tini docker-compose $base" ;;
  podman5) echo "podman crun conmon netavark aardvark-dns passt catatonit uidmap nftables fuse-overlayfs runc $base" ;;
  esac
}
pins_of() {
  case $1 in
  docker26) echo "docker.io=26 docker-cli=26" ;;
  docker28) echo "docker.io=28 docker-cli=28" ;;
  podman5) echo "podman=5" ;;
  esac
}

dir_of() { echo "$cache/$1"; }
root_of() { echo "$cache/$1/root"; }
wrap_of() { echo "$cache/$1/bin"; }
stamp_of() { echo "$cache/$1/prepared"; }
state_of() { echo "$state_base/$1"; }
netns_of() { echo "pe-$1"; }
sock_of() {
  case $1 in
  podman5) echo "$(root_of "$1")/run/podman/podman.sock" ;;
  *) echo "$(root_of "$1")/run/docker.sock" ;;
  esac
}

check_name() {
  local e
  for e in "${engines[@]}"; do [ "$1" = "$e" ] && return 0; done
  name=$1
  die "unknown engine; one of: ${engines[*]}"
}

# ---- host tools -----------------------------------------------------------

host_tools() {
  local need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v ip >/dev/null || need+=(iproute2)
  command -v nsenter >/dev/null || need+=(util-linux)
  command -v pivot_root >/dev/null || need+=(util-linux)
  [ ${#need[@]} -eq 0 ] && return 0
  log "installing ${need[*]} on the host"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null 2>&1 ||
    { apt-get -o DPkg::Lock::Timeout=300 update -qq && apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null; } ||
    die "could not install ${need[*]} with apt-get"
}

# shellcheck source=.ci/debian-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh"
# shellcheck source=.ci/roots.sh
. "$(dirname "${BASH_SOURCE[0]}")/roots.sh"

# ---- roots ----------------------------------------------------------------

# pkg_version ROOT PKG: the candidate version apt would install.
candidate() {
  in_root "$1" apt-cache policy "$2" | awk '/Candidate:/ { print $2 }'
}

# bootstrap ENGINE TMPROOT: debootstrap, apt configuration, packages.
bootstrap() {
  local e=$1 root=$2 suite archive p pkg major got pins=() line
  suite=$(suite_of "$e")
  archive=${DEBIAN_MIRROR:-$(debian_mirror "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" | head -n1)}
  [ -n "$archive" ] || die "no apt source of Debian main found in /etc/apt/sources.list{,.d}; set DEBIAN_MIRROR"
  step "debootstrap --variant=minbase $suite from $archive" debootstrap --variant=minbase "$suite" "$root" "$archive"
  # The archive may be a snapshot whose Release files are past their
  # Valid-Until; containers' daemons must not start at install.
  cat >"$root/etc/apt/apt.conf.d/90portenv-ci" <<'EOF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  step "apt-get update ($suite)" in_root "$root" apt-get update -q
  for p in $(pins_of "$e"); do
    pkg=${p%=*} major=${p#*=}
    got=$(candidate "$root" "$pkg")
    [ -n "$got" ] && [ "$got" != "(none)" ] || die "$suite has no package $pkg"
    # Debian versions: [epoch:]upstream[-revision]
    line=${got#*:}
    [ "${line%%.*}" = "$major" ] || die "$suite serves $pkg $got, not major version $major as this script expects"
    log "$suite serves $pkg $got"
    pins+=("$pkg=$got")
  done
  # shellcheck disable=SC2046
  step "apt-get install ($suite): $(packages_of "$e")" in_root "$root" apt-get install -y -q $(packages_of "$e") "${pins[@]}"
  in_root "$root" apt-get clean
  rm -f "$root/etc/resolv.conf"
  : >"$root/etc/resolv.conf"
}

# configure ENGINE ROOT: the engine's own settings.
configure() {
  local e=$1 root=$2
  mkdir -p "$root/.pivot" "$root/tmp"
  case $e in
  podman5)
    # No systemd (cgroupfs, events in a file); crun refuses this host's
    # hybrid cgroups, runc does not; rlimits runc may set in a nested or
    # limited host (a pod's infra container takes its own only from here).
    mkdir -p "$root/etc/containers"
    cat >"$root/etc/containers/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
    ;;
  esac
}

# loader ROOT: the root's own dynamic loader and library path, to run the
# root's binaries from the host's mount namespace.
wrappers() {
  local e=$1 root=$2 wrap=$3 ld lib
  lib=$root/usr/lib/x86_64-linux-gnu
  ld=$lib/ld-linux-x86-64.so.2
  [ -e "$ld" ] || die "no dynamic loader at $ld"
  mkdir -p "$wrap"
  # tool NAME BINARY [ENV]: a wrapper NAME running BINARY of the root.
  tool() {
    cat >"$wrap/$1" <<EOF
#!/bin/sh
# $1 of the engine $e: $2 of its root, run with the root's loader and
# libraries, so that it works from the host's mount namespace.
${3:-}exec "$ld" --argv0 "$1" --library-path "$lib" "$root$2" "\$@"
EOF
    chmod 755 "$wrap/$1"
  }
  case $e in
  podman5)
    tool podman /usr/bin/podman "export CONTAINER_HOST=\"\${CONTAINER_HOST:-unix://$(sock_of "$e")}\"
set -- --remote \"\$@\"
"
    cat >"$wrap/docker" <<EOF
#!/bin/sh
# docker as Podman's emulation (podman-docker): the engine $e's podman.
exec "$wrap/podman" "\$@"
EOF
    chmod 755 "$wrap/docker"
    ;;
  *)
    tool docker /usr/bin/docker
    if [ -x "$root/usr/bin/docker-compose" ]; then
      tool docker-compose /usr/bin/docker-compose
    fi
    ;;
  esac
}

# docker29_binaries: dockerd and docker-proxy of the Docker 29 line, built
# once and kept in the cache.
docker29_binaries() {
  local bin=$cache/docker29-bin go t0
  if [ -x "$bin/dockerd" ] && [ -x "$bin/docker-proxy" ] && [ "$(cat "$bin/version" 2>/dev/null)" = "$moby_version" ]; then
    log "dockerd and docker-proxy $moby_version cached in $bin"
    return 0
  fi
  go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  [ -x "$go" ] || command -v "$go" >/dev/null || die "docker29 is built from source and needs Go (GO=...)"
  rm -rf "$bin.tmp"
  mkdir -p "$bin.tmp"
  t0=$(now)
  step "go install dockerd and docker-proxy $moby_version (static)" \
    env GOBIN="$bin.tmp" CGO_ENABLED=0 GOFLAGS= "$go" install -tags 'netgo osusergo static_build' \
    "github.com/moby/moby/v2/cmd/dockerd@$moby_version" "github.com/moby/moby/v2/cmd/docker-proxy@$moby_version"
  echo "$moby_version" >"$bin.tmp/version"
  rm -rf "$bin"
  mv "$bin.tmp" "$bin"
  log "built in $(since "$t0"): $(du -sh "$bin" | cut -f1) in $bin"
}

prepare() {
  local e=$1 root tmp t0 dir
  name=$e
  root=$(root_of "$e")
  dir=$(dir_of "$e")
  if [ -f "$(stamp_of "$e")" ] && [ -d "$root" ]; then
    [ "$e" = docker29 ] && docker29_binaries
    wrappers "$e" "$root" "$(wrap_of "$e")"
    log "prepared: $(cat "$(stamp_of "$e")")"
    return 0
  fi
  running "$e" && die "running, but its root is not complete; stop it first"
  t0=$(now)
  host_tools
  mkdir -p "$dir"
  tmp=$dir/root.tmp
  rm -rf "$tmp" "$root" "$(stamp_of "$e")"
  if [ "$e" = docker29 ]; then
    docker29_binaries
    (with_lock docker28 prepare docker28)
    name=$e
    running docker28 && die "docker28 runs; its root is copied only while it is stopped"
    step "copy the docker28 root" cp -a "$(root_of docker28)" "$tmp"
    # Without docker28's state: its images, containers and sockets.
    rm -rf "$tmp/var/lib/docker" "$tmp/var/lib/containerd" "$tmp/run" "$tmp$cache"
    mkdir -p "$tmp/run" "$tmp/var/lib/docker"
    local b f
    for b in dockerd docker-proxy; do
      f=
      for f in usr/sbin/$b usr/bin/$b usr/libexec/docker/$b; do [ -e "$tmp/$f" ] && break; f=; done
      [ -n "$f" ] || die "no $b in the docker28 root to replace"
      install -m 755 "$cache/docker29-bin/$b" "$tmp/$f"
      log "/$f is now $moby_version's"
    done
  else
    bootstrap "$e" "$tmp"
  fi
  configure "$e" "$tmp"
  mv "$tmp" "$root"
  wrappers "$e" "$root" "$(wrap_of "$e")"
  name=$e
  local what
  case $e in
  docker29) what="dockerd $("$root/usr/sbin/dockerd" --version 2>/dev/null || true) ($moby_version), $(in_root "$root" dpkg-query -W -f '${Package} ${Version}, ' docker-cli containerd runc)" ;;
  podman5) what=$(in_root "$root" dpkg-query -W -f '${Package} ${Version}, ' podman conmon runc netavark) ;;
  *) what=$(in_root "$root" dpkg-query -W -f '${Package} ${Version}, ' docker.io docker-cli docker-compose containerd runc) ;;
  esac
  echo "${what%, }" >"$(stamp_of "$e")"
  log "prepared in $(since "$t0"): ${what%, }; root $(du -sh "$root" | cut -f1) in $root"
}

# ---- running ----------------------------------------------------------------

pid_of() { cat "$(state_of "$1")/pid" 2>/dev/null || true; }

running() {
  local pid
  pid=$(pid_of "$1")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
    [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$(cat "$(state_of "$1")/mntns" 2>/dev/null)" ]
}

# answers ENGINE: the engine answers on its socket.
answers() {
  local wrap
  wrap=$(wrap_of "$1")
  case $1 in
  podman5) CONTAINER_HOST="unix://$(sock_of "$1")" timeout 10 "$wrap/podman" version --format '{{.Server.Version}}' ;;
  *) DOCKER_HOST="unix://$(sock_of "$1")" timeout 10 "$wrap/docker" version --format '{{.Server.Version}} (API {{.Server.APIVersion}}, minimum {{.Server.MinAPIVersion}})' ;;
  esac
}

start() {
  local e=$1 root state ns sock t0 pid engine_cmd
  prepare "$e"
  name=$e
  root=$(root_of "$e")
  state=$(state_of "$e")
  ns=$(netns_of "$e")
  sock=$(sock_of "$e")
  if running "$e"; then
    if answers "$e" >/dev/null 2>&1; then
      log "already running (pid $(pid_of "$e")), answers on $sock"
      return 0
    fi
    die "running (pid $(pid_of "$e")) but not answering on $sock; stop it first"
  fi
  t0=$(now)
  # What a run that did not stop left.
  [ -d "$state" ] && leftovers_gone "$e"
  ip netns delete "$ns" 2>/dev/null || true
  rm -rf "$state"
  mkdir -p "$state"
  find "$root/run" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  case $e in
  podman5)
    mkdir -p "$root/run/podman"
    engine_cmd="podman system service --time=0 unix:///run/podman/podman.sock"
    ;;
  *)
    engine_cmd="dockerd -H unix:///var/run/docker.sock --data-root /var/lib/docker --exec-root /var/run/docker --pidfile /var/run/docker.pid"
    ;;
  esac
  mkdir -p "$root$root/run"
  # The engine's /run is shown again at the host path of the root's /run,
  # so that socket paths are the same inside and out; /tmp is the host's.
  # shellcheck disable=SC2016
  root_boot "$root" "$state" "$ns" 'mount --bind /tmp "$r/tmp"; mount --bind "$r/run" "$r$r/run"' "$engine_cmd"
  local i
  for i in $(seq 600); do
    if [ -s "$state/pid" ] && answers "$e" >"$state/version" 2>/dev/null; then
      log "started in $(since "$t0") (pid $(pid_of "$e"), network namespace $ns): $(cat "$state/version") on $sock"
      return 0
    fi
    if [ -s "$state/pid" ] && ! kill -0 "$(pid_of "$e")" 2>/dev/null; then
      tail -n 25 "$state/engine.log" | sed 's/^/  | /' >&2
      die "the engine exited at start (log $state/engine.log)"
    fi
    sleep 0.1
  done
  tail -n 25 "$state/engine.log" | sed 's/^/  | /' >&2
  die "not answering on $sock within 60s (log $state/engine.log)"
}

# leftovers_gone ENGINE: kills what is left of the engine (roots.sh).
leftovers_gone() { ns_kill "$(state_of "$1")"; }

stop() {
  local e=$1 state ns pid t0 i
  name=$e
  state=$(state_of "$e")
  ns=$(netns_of "$e")
  t0=$(now)
  if ! [ -d "$state" ] && ! ip netns list | grep -qx "$ns\( .*\)\{0,1\}"; then
    log "not running"
    return 0
  fi
  pid=$(pid_of "$e")
  if running "$e"; then
    if [ "$e" = podman5 ]; then
      # The service leaves containers running when it stops.
      CONTAINER_HOST="unix://$(sock_of "$e")" timeout 60 "$(wrap_of "$e")/podman" stop --all --time 2 >/dev/null 2>&1 || true
    fi
    kill -TERM "$pid"
    for i in $(seq 450); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && log "pid $pid still there 45s after SIGTERM"
  fi
  leftovers_gone "$e"
  ip netns delete "$ns" 2>/dev/null || true
  ip netns list | grep -q "^$ns\b" && die "network namespace $ns is still there"
  rm -f "$(sock_of "$e")"
  mkdir -p "$state_base/last"
  mv -f "$state/engine.log" "$state_base/last/$e.log" 2>/dev/null || true
  rm -rf "$state"
  log "stopped in $(since "$t0"); nothing of it runs, namespace $ns deleted (its log: $state_base/last/$e.log)"
}

env_of() {
  local e=$1
  echo "DOCKER_HOST=unix://$(sock_of "$e")"
  echo "PATH=$(wrap_of "$e"):$PATH"
  echo "PORTENV_E2E_ENGINE=$e"
  [ "$e" = podman5 ] && echo "PORTENV_E2E_PODMAN_SOCKET=$(sock_of "$e")"
  return 0
}

run() {
  local e=$1 was_running=0 rc t0
  shift
  [ "${1:-}" = -- ] && shift
  [ $# -gt 0 ] || usage
  running "$e" && was_running=1
  start "$e"
  name=$e
  local vars=()
  mapfile -t vars < <(env_of "$e")
  t0=$(now)
  log "run: $*"
  rc=0
  nsenter --net="/run/netns/$(netns_of "$e")" -- env "${vars[@]}" "$@" 9>&- || rc=$?
  log "run: exit $rc after $(since "$t0")"
  if [ $was_running = 1 ]; then
    log "left running, as it was before"
  else
    stop "$e"
  fi
  return $rc
}

# with_lock ENGINE CMD...: one command at a time per engine.
with_lock() {
  local e=$1
  shift
  mkdir -p "$cache"
  # fd 9, which nothing that outlives this script may inherit.
  exec 9>"$cache/.$e.lock"
  flock 9
  "$@"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
list)
  for e in "${engines[@]}"; do
    s="not prepared"
    [ -f "$(stamp_of "$e")" ] && s="prepared ($(cat "$(stamp_of "$e")"))"
    running "$e" && s="$s, running (pid $(pid_of "$e"))"
    echo "$e: $s"
  done
  ;;
prepare | start | stop | run | env)
  [ $# -ge 1 ] || usage
  e=$1
  shift
  check_name "$e"
  name=$e
  [ "$(id -u)" = 0 ] || die "needs root (debootstrap, namespaces, mounts)"
  case $cmd in
  env) env_of "$e" | sed 's/^\([^=]*\)=\(.*\)$/export \1='"'"'\2'"'"'/' ;;
  run) with_lock "$e" run "$e" "$@" || exit $? ;; # CMD's status, no FAILED line
  *) with_lock "$e" "$cmd" "$e" ;;
  esac
  ;;
*) usage ;;
esac
