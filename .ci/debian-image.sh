#!/usr/bin/env bash
# Provides a Debian bookworm base image on an engine that cannot pull: the
# root file system is made with debootstrap from the Debian archive this
# machine's apt already uses, then imported with `docker import`. Images
# whose Dockerfile takes its base by a build ARG (examples/nats) are built
# with `--build-arg DEBIAN_IMAGE=<this tag>`, their Dockerfile unchanged.
#
# Prints nothing but progress on stderr and, on the last line of stdout, the
# tag, so that callers can write: DEBIAN_IMAGE=$(.ci/debian-image.sh)
#
# Environment:
#   DEBIAN_IMAGE   tag to produce (default portenv-ci/debian:bookworm)
#   DEBIAN_MIRROR  archive to debootstrap from (default: the first source of
#                  bookworm/main in /etc/apt/sources.list{,.d/*.list,.d/*.sources})
#   FORCE=1        rebuild even if the tag exists (otherwise it is a cache)
set -euo pipefail

tag=${DEBIAN_IMAGE:-portenv-ci/debian:bookworm}
suite=bookworm

log() { echo "debian-image: $*" >&2; }
die() {
  echo "debian-image: $*" >&2
  exit 1
}

exists() { docker image inspect "$tag" >/dev/null 2>&1; }

if [ "${FORCE:-0}" != 1 ] && exists; then
  log "$tag present, nothing to do"
  echo "$tag"
  exit 0
fi

# shellcheck source=.ci/debian-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh"

archive=${DEBIAN_MIRROR:-$(debian_mirror "$suite" | head -n1)}
[ -n "$archive" ] || die "no apt source of $suite/main found in /etc/apt/sources.list or /etc/apt/sources.list.d/; set DEBIAN_MIRROR to a Debian archive URI"

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
    die "could not install debootstrap with apt-get; install it and run again"
fi
[ "$(id -u)" = 0 ] || die "debootstrap needs root (it creates device nodes and chroots); run as root"

# Two concurrent runs would bootstrap twice; the second waits and then finds the tag.
exec 9>"${TMPDIR:-/tmp}/portenv-debian-image.lock"
flock 9
if [ "${FORCE:-0}" != 1 ] && exists; then
  log "$tag present, nothing to do"
  echo "$tag"
  exit 0
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/portenv-debian-root.XXXXXX")
trap 'rm -rf "$root"' EXIT

start=$(date +%s)
log "debootstrap --variant=minbase $suite from $archive"
if ! debootstrap --variant=minbase "$suite" "$root" "$archive" >"$root.log" 2>&1; then
  tail -n 20 "$root.log" >&2
  rm -f "$root.log"
  die "debootstrap from $archive failed (log above)"
fi
rm -f "$root.log"

# What debootstrap downloaded is not part of the system; apt fetches fresh
# lists in the image's own build.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/debootstrap
# Like Debian's container images: no recommends, no caches left in layers.
cat >"$root/etc/apt/apt.conf.d/docker-no-recommends" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF

tar -C "$root" -cf - --numeric-owner . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change 'LABEL org.opencontainers.image.description="Debian '"$suite"' (debootstrap --variant=minbase), made by .ci/debian-image.sh"' \
    --message "debootstrap --variant=minbase $suite $archive" \
    - "$tag" >/dev/null

log "built $tag from $archive in $(($(date +%s) - start))s, $(docker image inspect -f '{{.Size}}' "$tag") bytes"
echo "$tag"
