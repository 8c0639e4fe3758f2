#!/usr/bin/env bash
# Builds a snapshot release with goreleaser (.goreleaser.yaml) from a clean
# clone of HEAD, publishing and signing nothing, moves it to dist/, and checks
# what a release would ship:
#
#   - every platform's binary is a static ELF of its architecture, built
#     without cgo and with -trimpath, and prints the snapshot's version, commit
#     and date when run (under Debian's qemu-user-static where it is not the
#     host's architecture);
#   - checksums.txt names every binary and archive, and `sha256sum -c` passes;
#   - each archive holds that binary, LICENSE, README.md and CHANGELOG.md, and
#     has a CycloneDX SBOM naming github.com/moby/moby/api and
#     github.com/kelseyhightower/envconfig at the versions go.mod requires;
#   - no binary links github.com/docker/docker, github.com/moby/moby/client,
#     go.opentelemetry.io or github.com/distribution/reference (their
#     package initialisation would run at every start);
#   - each platform's image is that platform's, holds only /portenv and carries
#     the OCI labels; the amd64 image runs and prints the version, and its
#     layout is the one the root Dockerfile builds;
#   - a build outside a release prints "dev" and the commit it was built from.
#
# The clone is what a release builds from: committed files only, a .git
# directory that every tool reads (goreleaser, cyclonedx-gomod and the go
# command all need one; a worktree's .git file is not enough for the last
# two), and a remote. Uncommitted changes are not part of the check.
#
# Environment:
#   ROOT_IMAGE  an image built from the root Dockerfile to compare layouts with
#               (.ci/run passes the one .ci/image-test.sh checked); without it
#               one is built, and removed at the end
#   TOOLS_BIN   where .ci/tools.sh keeps goreleaser and cyclonedx-gomod
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export PATH=$PATH:/usr/local/go/bin
export DEBIAN_FRONTEND=noninteractive
# The engine's own builder: FROM scratch and COPY need neither a registry nor
# BuildKit, and `docker build --platform` tags the image with the platform.
export DOCKER_BUILDKIT=0

source_url=https://github.com/portenv/portenv
image_repo=ghcr.io/portenv/portenv

# dist name suffix | GOARCH | GOARM | what file(1) says | qemu program | image platform
platforms=(
  "amd64|amd64||ELF 64-bit LSB executable, x86-64,||linux/amd64"
  "arm64|arm64||ELF 64-bit LSB executable, ARM aarch64,|qemu-aarch64-static|linux/arm64"
  "armv6|arm|6|ELF 32-bit LSB executable, ARM, EABI5|qemu-arm-static|linux/arm/v6"
  "armv7|arm|7|ELF 32-bit LSB executable, ARM, EABI5|qemu-arm-static|linux/arm/v7"
  "386|386||ELF 32-bit LSB executable, Intel 80386,|qemu-i386-static|linux/386"
  "ppc64le|ppc64le||ELF 64-bit LSB executable, 64-bit PowerPC or cisco 7500, OpenPOWER ELF V2 ABI,|qemu-ppc64le-static|linux/ppc64le"
  "s390x|s390x||ELF 64-bit MSB executable, IBM S/390,|qemu-s390x-static|linux/s390x"
  "riscv64|riscv64||ELF 64-bit LSB executable, UCB RISC-V,|qemu-riscv64-static|linux/riscv64"
)

tmp=$(mktemp -d)
images_before=$tmp/images.before
images_listed=0
stage_id=
own_root_image=
start_all=$(date +%s)

log() { echo "release-check: $*"; }
fail() {
  echo "release-check: FAIL: $*" >&2
  exit 1
}
phase() { # name, start
  log "$1 took $(($(date +%s) - $2))s"
}
cleanup() {
  # Remove the tags the snapshot made, which no run had before this one, and
  # the root image if this script built it.
  if [ "$images_listed" = 1 ]; then
    docker image ls "$image_repo" --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | sort >"$tmp/images.after" || true
    comm -13 "$images_before" "$tmp/images.after" | while read -r tag; do
      docker rmi "$tag" >/dev/null 2>&1 || true
    done
  fi
  [ -z "$own_root_image" ] || docker rmi "$own_root_image" >/dev/null 2>&1 || true
  # The classic builder keeps the root Dockerfile's build stage, untagged.
  if [ -n "$stage_id" ] && [ "$(docker image inspect -f '{{len .RepoTags}}' "$stage_id" 2>/dev/null)" = 0 ]; then
    docker rmi "$stage_id" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Two runs at once would share image tags.
exec 8>"${TMPDIR:-/tmp}/portenv-release-check.lock"
flock 8

# --- tools ---------------------------------------------------------------------
t=$(date +%s)
need=()
command -v file >/dev/null || need+=(file)
command -v jq >/dev/null || need+=(jq)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
tools_bin=$(bash .ci/tools.sh)
export PATH=$tools_bin:$PATH
phase "tools" "$t"

docker info >/dev/null 2>&1 || fail "the Docker engine does not answer (docker info)"

# --- goreleaser ------------------------------------------------------------------
commit=$(git rev-parse HEAD)
[ -z "$(git status --porcelain)" ] || log "note: uncommitted changes are not checked; this checks $commit"
clone=$tmp/clone
git clone -q --no-checkout "$repo" "$clone"
git -C "$clone" checkout -q --detach "$commit"

t=$(date +%s)
(cd "$clone" && goreleaser check) || fail "goreleaser check rejects .goreleaser.yaml"
phase "goreleaser check" "$t"

docker image ls "$image_repo" --format '{{.Repository}}:{{.Tag}}' | sort >"$images_before"
images_listed=1

t=$(date +%s)
if ! (cd "$clone" && goreleaser release --snapshot --clean --skip=sign) >"$tmp/goreleaser.log" 2>&1; then
  tail -n 60 "$tmp/goreleaser.log" >&2
  fail "goreleaser release --snapshot --clean --skip=sign failed"
fi
rm -rf dist
mv "$clone/dist" dist
# A release publishes each bare binary under its own name (the `binary`
# archives of .goreleaser.yaml), which goreleaser keeps in its build
# directory; put them beside the archives, as the download page has them.
jq -r '.[] | select(.type == "Binary" and .name != "portenv") | "\(.path)\t\(.name)"' dist/artifacts.json |
  while IFS=$'\t' read -r path name; do
    cp "${path/#$clone\//}" "dist/$name"
  done
release_seconds=$(($(date +%s) - t))
phase "goreleaser release --snapshot" "$t"

# --- what the snapshot must carry ----------------------------------------------
[ -f dist/metadata.json ] || fail "dist/metadata.json is missing"
version=$(jq -r .version dist/metadata.json)
commit_date=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)
case "$version" in
  *-snapshot.*) ;;
  *) fail "dist/metadata.json says version '$version', want a snapshot version" ;;
esac
[ "$(jq -r .commit dist/metadata.json)" = "$commit" ] ||
  fail "dist/metadata.json says commit $(jq -r .commit dist/metadata.json), HEAD is $commit"
want_line="portenv $version (commit $commit, built $commit_date)"
log "snapshot $version; every binary must print: $want_line"

# setting KEY: the value of a build setting in $buildinfo (`go version -m`).
setting() { printf '%s\n' "$buildinfo" | awk -v k="$1" '$1 == "build" { split($2, kv, "="); if (kv[1] == k) { sub(/^[^=]*=/, "", $2); print $2 } }'; }
modversion() { (cd "$clone" && go list -m -f '{{.Version}}' "$1"); }
api_version=$(modversion github.com/moby/moby/api)
envconfig_version=$(modversion github.com/kelseyhightower/envconfig)

# --- binaries, archives, SBOMs ---------------------------------------------------
t=$(date +%s)
[ -f dist/checksums.txt ] || fail "dist/checksums.txt is missing"
(cd dist && sha256sum --quiet -c checksums.txt) || fail "sha256sum -c checksums.txt fails"
log "sha256sum -c checksums.txt: $(wc -l <dist/checksums.txt) files OK"

for p in "${platforms[@]}"; do
  IFS='|' read -r suffix goarch goarm want_file qemu platform <<<"$p"
  name=portenv_${version}_linux_$suffix
  bin=dist/$name
  archive=dist/$name.tar.gz
  sbom=dist/$name.tar.gz.cdx.json
  for f in "$bin" "$archive" "$sbom"; do
    [ -f "$f" ] || fail "$f is missing"
  done
  for f in "$name" "$name.tar.gz"; do
    awk -v f="$f" '$2 == f { found = 1 } END { exit !found }' dist/checksums.txt ||
      fail "checksums.txt does not name $f"
  done

  # A static ELF of the platform's architecture.
  desc=$(file -b "$bin")
  case "$desc" in
    "$want_file"*"statically linked"*) ;;
    *) fail "$bin: file(1) says '$desc'; want '$want_file ... statically linked'" ;;
  esac

  # Built as the release builds: the platform's GOARCH and GOARM, no cgo,
  # -trimpath, the stamp.
  buildinfo=$(go version -m "$bin")
  [ "$(setting GOARCH)" = "$goarch" ] || fail "$bin: GOARCH=$(setting GOARCH), want $goarch"
  [ "$(setting GOARM)" = "$goarm" ] || fail "$bin: GOARM=$(setting GOARM), want '$goarm'"
  [ "$(setting CGO_ENABLED)" = 0 ] || fail "$bin: CGO_ENABLED=$(setting CGO_ENABLED), want 0"
  [ "$(setting -trimpath)" = true ] || fail "$bin: not built with -trimpath"
  unwanted=$(printf '%s\n' "$buildinfo" | awk '$1 == "dep" || $1 == "=>" { print $2 }' |
    grep -E '^(github.com/docker/docker|github.com/moby/moby/client|go.opentelemetry.io/|github.com/distribution/reference)' || true)
  [ -z "$unwanted" ] || fail "$bin links $(printf '%s' "$unwanted" | tr '\n' ' ')which portenv does without"

  # It runs, and says what it is. An x86-64 kernel runs 386 binaries itself;
  # Debian 12's qemu-i386-static (7.2) crashes in Go's 386 runtime at start
  # ("fatal: morestack on gsignal").
  if [ "$goarch" = 386 ] && [ "$(uname -m)" = x86_64 ]; then
    qemu=
  fi
  if [ -n "$qemu" ]; then
    out=$("$qemu" "$bin" version 2>&1) || fail "$qemu $bin version failed: $out"
  else
    out=$("$bin" version 2>&1) || fail "$bin version failed: $out"
  fi
  [ "$out" = "$want_line" ] || fail "${qemu:+$qemu }$bin version prints '$out', want '$want_line'"

  # The archive: the same binary and the project's files, nothing else.
  got=$(tar -tzf "$archive" | sort | tr '\n' ' ')
  [ "$got" = "CHANGELOG.md LICENSE README.md portenv " ] ||
    fail "$archive holds '$got', want 'CHANGELOG.md LICENSE README.md portenv'"
  [ "$(tar -xzOf "$archive" portenv | sha256sum | cut -d' ' -f1)" = "$(sha256sum <"$bin" | cut -d' ' -f1)" ] ||
    fail "$archive's portenv differs from $bin"

  # The SBOM names the main dependencies at the versions go.mod requires.
  [ "$(jq -r .bomFormat "$sbom")" = CycloneDX ] || fail "$sbom is not a CycloneDX document"
  for dep in "github.com/moby/moby/api=$api_version" "github.com/kelseyhightower/envconfig=$envconfig_version"; do
    got=$(jq -r --arg n "${dep%%=*}" '[.components[]? | select(.name == $n) | .version] | join(" ")' "$sbom")
    [ "$got" = "${dep#*=}" ] || fail "$sbom: ${dep%%=*} has version '$got', want '${dep#*=}'"
  done

  log "$suffix: $(printf '%s' "$desc" | cut -d, -f1-2 | tr -s ' '), static; ${qemu:-native}: $out"
done
phase "binary, archive and SBOM checks" "$t"

# --- images ----------------------------------------------------------------------
t=$(date +%s)
# The layer of an image: mode, owner and name of every entry.
layer_listing() {
  local dir=$tmp/save-$RANDOM
  mkdir "$dir"
  docker save "$1" | tar -xf - -C "$dir"
  local layers
  layers=$(jq -r '.[0].Layers[]' "$dir/manifest.json")
  [ "$(printf '%s\n' "$layers" | wc -l)" = 1 ] || fail "$1 has $(printf '%s\n' "$layers" | wc -l) layers, want 1"
  tar --numeric-owner -tvf "$dir/$layers" | awk '{ print $1, $2, $NF }'
  rm -rf "$dir"
}
config_of() {
  docker image inspect -f '{{.Os}} entrypoint={{json .Config.Entrypoint}} cmd={{json .Config.Cmd}} env={{json .Config.Env}} workdir={{json .Config.WorkingDir}} user={{json .Config.User}} ports={{json .Config.ExposedPorts}} volumes={{json .Config.Volumes}} labels={{range $k, $v := .Config.Labels}}{{$k}},{{end}}' "$1"
}
label() { docker image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$2\"}}" "$1"; }

for p in "${platforms[@]}"; do
  IFS='|' read -r suffix goarch goarm want_file qemu platform <<<"$p"
  image=$image_repo:$version-$suffix
  docker image inspect "$image" >/dev/null 2>&1 || fail "no image $image"
  got=$(docker image inspect -f '{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}' "$image")
  [ "$got" = "$platform" ] || fail "$image is for $got, want $platform"
  for want in "version=$version" "revision=$commit" "source=$source_url" "licenses=Apache-2.0" "title=portenv"; do
    [ "$(label "$image" "${want%%=*}")" = "${want#*=}" ] ||
      fail "$image: label org.opencontainers.image.${want%%=*} is '$(label "$image" "${want%%=*}")', want '${want#*=}'"
  done
  listing=$(layer_listing "$image")
  [ "$listing" = "-rwxr-xr-x 0/0 portenv" ] || fail "$image holds '$listing', want only /portenv, mode 0755, owned by 0/0"
  # The image's /portenv is the release binary.
  dir=$tmp/bin-$suffix
  mkdir "$dir"
  docker save "$image" | tar -xf - -C "$dir"
  tar -xOf "$dir/$(jq -r '.[0].Layers[0]' "$dir/manifest.json")" portenv | cmp -s - "dist/portenv_${version}_linux_$suffix" ||
    fail "$image's /portenv differs from dist/portenv_${version}_linux_$suffix"
  rm -rf "$dir"
done
log "8 images, one per platform, each only /portenv (the release binary) with labels version, revision, source, licenses"

amd64=$image_repo:$version-amd64
out=$(timeout 60 docker run --rm "$amd64" version 2>&1) || fail "docker run $amd64 version failed: $out"
[ "$out" = "$want_line" ] || fail "docker run $amd64 version prints '$out', want '$want_line'"
log "docker run --rm $amd64 version: $out"

# The same layout as the root Dockerfile's image.
root_image=${ROOT_IMAGE:-}
if [ -z "$root_image" ]; then
  root_image=portenv-release-check-root:$$
  own_root_image=$root_image
  bash .ci/go-image.sh
  log "building $root_image from the root Dockerfile"
  rc=0
  docker build --force-rm --build-arg VERSION="$version" --build-arg REVISION="$commit" \
    --build-arg BUILD_DATE="$commit_date" -t "$root_image" "$clone" >"$tmp/root-build.log" 2>&1 || rc=$?
  stage_id=$(awk '/^ ---> [0-9a-f]+$/ { id = $2 } /^Step [0-9]+\/[0-9]+ : FROM scratch/ { print id; exit }' "$tmp/root-build.log")
  [ "$rc" = 0 ] || { tail -n 40 "$tmp/root-build.log" >&2; fail "docker build of the root Dockerfile failed"; }
fi
root_listing=$(layer_listing "$root_image")
release_listing=$(layer_listing "$amd64")
root_config=$(config_of "$root_image")
release_config=$(config_of "$amd64")
[ "$root_listing" = "$release_listing" ] || fail "$root_image holds '$root_listing', $amd64 holds '$release_listing'"
[ "$root_config" = "$release_config" ] ||
  fail "image configurations differ: $root_image: $root_config; $amd64: $release_config"
log "$root_image (root Dockerfile) and $amd64 have the same layout and configuration:"
log "    $release_listing; $release_config"
phase "image checks" "$t"

# --- a build outside a release -----------------------------------------------------
t=$(date +%s)
tag=$(git -C "$clone" tag --points-at HEAD 'v*' | head -n1)
(cd "$clone" && GOFLAGS=-buildvcs=true CGO_ENABLED=0 go build -trimpath -o "$tmp/portenv-dev" ./cmd/portenv)
out=$("$tmp/portenv-dev" version)
# At a tag the go command records the tag, which portenv prints as the version.
dev_version=dev
[ -z "$tag" ] || dev_version=${tag#v}
want_dev="portenv $dev_version (commit $commit, built unknown)"
[ "$out" = "$want_dev" ] || fail "go build in the clone of HEAD prints '$out', want '$want_dev'"
log "go build in the clone of HEAD: $out"
phase "dev build check" "$t"

# --- dist/ -------------------------------------------------------------------------
log "dist/ (bytes, name):"
find dist -maxdepth 1 -type f -printf '%s %f\n' | sort -k2 | awk '{ printf "    %10d  %s\n", $1, $2; total += $1 } END { printf "    %10d  total, %d files\n", total, NR }'
log "goreleaser release --snapshot: ${release_seconds}s; whole check: $(($(date +%s) - start_all))s"
log "PASS"
