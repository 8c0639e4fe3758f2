#!/usr/bin/env bash
# Provides the Dockerfile's build base (ARG GO_IMAGE) on an engine that cannot
# pull: the image is assembled from the local Go toolchain, busybox-static and
# the CA bundle, then tagged with exactly the Dockerfile's default so that
# `docker build .` (classic builder, no --pull) finds it locally.
#
# Environment:
#   GO_IMAGE   tag to produce (default: the Dockerfile's `ARG GO_IMAGE=` value)
#   GOROOT     toolchain to copy (default: `go env GOROOT`)
#   BUSYBOX    static busybox binary (default: /usr/bin/busybox)
#   FORCE=1    rebuild even if the tag exists
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "go-image: $*" >&2; exit 1; }

if [ -z "${GO_IMAGE:-}" ]; then
  GO_IMAGE=$(sed -n 's/^ARG[[:space:]]\{1,\}GO_IMAGE=//p' "$repo/Dockerfile" | head -n1)
  [ -n "$GO_IMAGE" ] || die "no 'ARG GO_IMAGE=' default in $repo/Dockerfile"
fi

exists() { docker image inspect "$GO_IMAGE" >/dev/null 2>&1; }

if [ "${FORCE:-0}" != 1 ] && exists; then
  echo "go-image: $GO_IMAGE present, nothing to do"
  exit 0
fi

GOROOT=${GOROOT:-$(go env GOROOT)}
BUSYBOX=${BUSYBOX:-/usr/bin/busybox}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

[ -x "$GOROOT/bin/go" ] || die "no Go toolchain at $GOROOT"
[ -f "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE (install ca-certificates)"
[ -x "$BUSYBOX" ] || die "no busybox at $BUSYBOX (install busybox-static)"
# A dynamically linked busybox would need the host's libc inside the image.
if "$BUSYBOX" env LD_TRACE_LOADED_OBJECTS=1 "$BUSYBOX" true 2>/dev/null | grep -q '=>'; then
  die "$BUSYBOX is dynamically linked; install busybox-static"
fi

# A tag that names one Go release must not silently hold another.
goversion=$("$GOROOT/bin/go" env GOVERSION)
tagversion=$(printf '%s\n' "${GO_IMAGE##*:}" | sed -n 's/^\([0-9]\{1,\}\(\.[0-9]\{1,\}\)\{0,2\}\).*/\1/p')
case "$goversion." in
  "go$tagversion."*) ;;
  *) [ -z "$tagversion" ] || die "$GO_IMAGE asks for Go $tagversion but $GOROOT is $goversion" ;;
esac

# Two concurrent runs would import twice; the second waits and then finds the tag.
exec 9>"${TMPDIR:-/tmp}/portenv-go-image.lock"
flock 9
if [ "${FORCE:-0}" != 1 ] && exists; then
  echo "go-image: $GO_IMAGE present, nothing to do"
  exit 0
fi

root=$(mktemp -d)
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc/ssl/certs,root,go/bin,go/src,go/pkg,var/tmp}
chmod 1777 "$root/var/tmp"
mkdir -m 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
# Applets go to busybox's own install paths (/bin/sh, /usr/bin/env, ...) so that
# scripts naming a tool by absolute path find it.
"$BUSYBOX" --list-full | while read -r applet; do
  [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
[ -L "$root/bin/sh" ] || die "busybox provides no sh applet"
cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# Without this file Go's resolver, like glibc, asks DNS before /etc/hosts.
echo 'hosts: files dns' >"$root/etc/nsswitch.conf"

# The tree under test/, api/ and doc/ serves only the toolchain's own test
# suite and documentation; `go build` and `go mod` never read it.
goroot_rel=${GOROOT#/}
start=$(date +%s)
tar -C "$root" -cf - --owner=0 --group=0 --numeric-owner . \
  -C / \
  --exclude="$goroot_rel/test" --exclude="$goroot_rel/api" --exclude="$goroot_rel/doc" \
  --transform="s,^$goroot_rel,usr/local/go," \
  "$goroot_rel" |
  docker import \
    --change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV GOLANG_VERSION='"${goversion#go}" \
    --change 'ENV GOTOOLCHAIN=local' \
    --change 'ENV GOPATH=/go' \
    --change 'ENV GOCACHE=/root/.cache/go-build' \
    --change 'WORKDIR /go' \
    --change 'CMD ["/bin/sh"]' \
    --change 'LABEL org.opencontainers.image.description="Go '"${goversion#go}"' toolchain with busybox, assembled from the host by .ci/go-image.sh"' \
    --message "assembled from $GOROOT ($goversion)" \
    - "$GO_IMAGE" >/dev/null

echo "go-image: built $GO_IMAGE ($goversion) in $(( $(date +%s) - start ))s, $(docker image inspect -f '{{.Size}}' "$GO_IMAGE") bytes"
