#!/usr/bin/env bash
# Builds the image from the repository's Dockerfile and checks what it prints
# for published ports against the engine's own record of the bindings.
#
# Environment:
#   IMAGE         tag to build (default portenv:ci); removed at the end
#   KEEP_IMAGE=1  keep that tag
#   VERSION       version to stamp (default from git describe, else 0.0.0-ci)
#   BUILD_DATE    date to stamp (default the commit's, UTC, as the release stamps it)
#   BUSYBOX       static busybox, mounted to keep a container alive (default /usr/bin/busybox)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
image=${IMAGE:-portenv:ci}
version=${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo 0.0.0-ci)}
# --verify: in a repository without commits plain rev-parse prints "HEAD".
revision=$(git -C "$repo" rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
build_date=${BUILD_DATE-$(TZ=UTC git -C "$repo" log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || true)}
busybox=${BUSYBOX:-/usr/bin/busybox}
sock=/var/run/docker.sock
publish=(-p 9092 -p 127.0.0.1::53/udp)
run_id=portenv-ci-$$-$RANDOM

# The base image exists only in the local store, where the classic builder
# looks before any registry.
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0}

tmp=$(mktemp -d)
containers=()
image_id=
stage_id=

log() { echo "image-test: $*"; }
fail() {
  echo "image-test: FAIL: $*" >&2
  exit 1
}
cleanup() {
  local c
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  # Untag only what this run built, and only if no one has moved the tag since.
  if [ -n "$image_id" ] && [ "${KEEP_IMAGE:-0}" != 1 ] &&
    [ "$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null)" = "$image_id" ]; then
    docker rmi "$image" >/dev/null 2>&1 || true
  fi
  # The classic builder keeps the build stage's last image, untagged; remove
  # it and its untagged parents, unless something else has come to use them.
  if [ -n "$stage_id" ] && [ "$(docker image inspect -f '{{len .RepoTags}}' "$stage_id" 2>/dev/null)" = 0 ]; then
    docker rmi "$stage_id" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

docker info >/dev/null 2>&1 || fail "the Docker engine does not answer (docker info)"
[ -S "$sock" ] || fail "$sock is not a socket; the image reads the engine through it"

"$repo/.ci/go-image.sh"

log "building $image (VERSION=$version REVISION=$revision BUILD_DATE=$build_date)"
start=$(date +%s)
if ! docker build --force-rm \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg BUILD_DATE="$build_date" \
  -t "$image" "$repo" >"$tmp/build.log" 2>&1; then
  stage_id=$(awk '/^ ---> [0-9a-f]+$/ { id = $2 } /^Step [0-9]+\/[0-9]+ : FROM scratch/ { print id; exit }' "$tmp/build.log")
  tail -n 40 "$tmp/build.log" >&2
  fail "docker build failed"
fi
# The last image the build stage made: the line " ---> <id>" before FROM scratch.
stage_id=$(awk '/^ ---> [0-9a-f]+$/ { id = $2 } /^Step [0-9]+\/[0-9]+ : FROM scratch/ { print id; exit }' "$tmp/build.log")
build_seconds=$(($(date +%s) - start))
image_id=$(docker image inspect -f '{{.Id}}' "$image")
log "built $image_id in ${build_seconds}s"

# --- image metadata -----------------------------------------------------------
label() { docker image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$1\"}}" "$image"; }
[ "$(label version)" = "$version" ] || fail "label org.opencontainers.image.version is '$(label version)', want '$version'"
[ "$(label revision)" = "$revision" ] || fail "label org.opencontainers.image.revision is '$(label revision)', want '$revision'"
[ "$(label title)" = portenv ] || fail "label org.opencontainers.image.title is '$(label title)', want 'portenv'"
[ "$(label source)" = https://github.com/portenv/portenv ] ||
  fail "label org.opencontainers.image.source is '$(label source)', want 'https://github.com/portenv/portenv'"
[ "$(label licenses)" = Apache-2.0 ] || fail "label org.opencontainers.image.licenses is '$(label licenses)', want 'Apache-2.0'"
entrypoint=$(docker image inspect -f '{{json .Config.Entrypoint}}' "$image")
[ "$entrypoint" = '["/portenv"]' ] || fail "entrypoint is $entrypoint, want [\"/portenv\"]"
layers=$(docker image inspect -f '{{len .RootFS.Layers}}' "$image")
[ "$layers" = 1 ] || fail "image has $layers layers, want 1 (the binary on scratch)"

out=$(timeout 60 docker run --rm "$image" version 2>&1) || fail "'portenv version' failed: $out"
want_version="portenv $version (commit $revision, built ${build_date:-unknown})"
[ "$out" = "$want_version" ] || fail "'portenv version' prints '$out', want '$want_version' (-X main.version, main.commit, main.date)"
log "$out"

# --- printed variables versus the engine's bindings ---------------------------
# The engine forgets a container's bindings when it exits, so the comparison
# needs a container that is still running: portenv is its entrypoint and execs
# a static busybox (bind-mounted; the image has no shell), and `docker exec`
# runs the print form inside it.
[ -x "$busybox" ] || fail "no static busybox at $busybox"
live=$run_id-live
containers+=("$live")
docker run -d --name "$live" "${publish[@]}" -v "$sock:$sock" -v "$busybox:/busybox:ro" \
  "$image" -- /busybox sleep 600 >/dev/null

deadline=$(($(date +%s) + 30))
while :; do
  cmdline=$(docker exec "$live" /busybox cat /proc/1/cmdline 2>/dev/null | tr '\0' ' ' || true)
  case "$cmdline" in "/busybox sleep "*) break ;; esac
  if [ "$(docker inspect -f '{{.State.Running}}' "$live")" != true ]; then
    docker logs "$live" >&2 || true
    fail "portenv as entrypoint did not exec its command (exit $(docker inspect -f '{{.State.ExitCode}}' "$live"))"
  fi
  [ "$(date +%s)" -lt "$deadline" ] || fail "portenv as entrypoint did not exec its command within 30s"
  sleep 0.2
done

bindings=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{range $b}}{{$p}} {{.HostIp}} {{.HostPort}}{{"\n"}}{{end}}{{end}}' "$live")
log "engine bindings of $live:"
printf '%s\n' "$bindings" | sed 's/^/    /'
port_9092=$(printf '%s\n' "$bindings" | awk '$1 == "9092/tcp" && $2 == "0.0.0.0" { print $3; exit }')
port_53=$(printf '%s\n' "$bindings" | awk '$1 == "53/udp" && $2 == "127.0.0.1" { print $3; exit }')
[ -n "$port_9092" ] || fail "the engine reports no 0.0.0.0 binding for 9092/tcp"
[ -n "$port_53" ] || fail "the engine reports no 127.0.0.1 binding for 53/udp"

want_vars=$(printf '%s\n' \
  "HOST_PORT_9092=$port_9092" \
  "HOST_PORT_53_UDP=$port_53" \
  "HOST_IP_53_UDP=127.0.0.1" | sort)
want_print=$(printf '%s\n' "$want_vars" | sed "s/^\([^=]*\)=\(.*\)$/export \1='\2'/")

compare() { # what, want, got
  if [ "$2" != "$3" ]; then
    echo "image-test: $1: want (sorted):" >&2
    printf '%s\n' "$2" | sed 's/^/    /' >&2
    echo "image-test: $1: got (sorted):" >&2
    printf '%s\n' "$3" | sed 's/^/    /' >&2
    fail "$1 differs from the engine's bindings"
  fi
}

if ! got=$(docker exec "$live" /portenv 2>"$tmp/exec.err"); then
  cat "$tmp/exec.err" >&2
  fail "'docker exec $live /portenv' failed"
fi
compare "printed variables (docker exec)" "$want_print" "$(printf '%s\n' "$got" | sort)"
log "printed variables match the engine:"
printf '%s\n' "$got" | sed 's/^/    /'

got_env=$(docker exec "$live" /busybox cat /proc/1/environ | tr '\0' '\n' | grep -E '^HOST_(PORT|IP)_' | sort || true)
compare "environment of the exec'd command" "$want_vars" "$got_env"
log "the command exec'd by portenv has the same variables"

# --- the documented one-shot form ----------------------------------------------
# The bindings are gone once it exits, so values are checked for form; the
# exact values were checked above.
once=$run_id-once
containers+=("$once")
rc=0
timeout 60 docker run --name "$once" "${publish[@]}" -v "$sock:$sock" "$image" \
  >"$tmp/once.out" 2>"$tmp/once.err" || rc=$?
if [ "$rc" != 0 ]; then
  cat "$tmp/once.err" >&2
  fail "docker run ${publish[*]} -v $sock:$sock $image exited $rc"
fi
got=$(sort "$tmp/once.out")
shape=$(printf '%s\n' "$got" | sed -E "s/^(export HOST_PORT_[0-9A-Z_]+=)'[1-9][0-9]{0,4}'$/\1'N'/")
want_shape=$(printf '%s\n' "$want_print" | sed -E "s/^(export HOST_PORT_[0-9A-Z_]+=)'[0-9]+'$/\1'N'/")
compare "printed variables (docker run)" "$want_shape" "$shape"
log "docker run ${publish[*]} -v $sock:$sock $image printed:"
sed 's/^/    /' "$tmp/once.out"

size=$(docker image inspect -f '{{.Size}}' "$image")
log "image size: $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }') MiB)"
log "build time: ${build_seconds}s"
log "PASS"
