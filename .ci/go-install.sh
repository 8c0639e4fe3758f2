#!/usr/bin/env bash
# Installs the Go toolchain go.mod asks for, from the Go module proxy, where
# none is there: the toolchain module golang.org/toolchain, as `go` itself
# fetches it when it switches toolchains, checked against the checksum
# database (through the proxy) before it is unpacked into place.
#
#   bash .ci/go-install.sh [--same-minor] [DIR]
#
# DIR defaults to /usr/local/go. A Go at DIR/bin/go or on PATH at least as
# new as go.mod's go line (with --same-minor: of that line's minor version,
# as the build image's tag names it) is kept and nothing is fetched.
# Prints the GOROOT to use on stdout, and one line on stderr when it
# installs.
#
# Environment:
#   GO_INSTALL_VERSION  e.g. 1.26.8 (default: the newest patch of go.mod's
#                       minor version that the proxy lists)
#   GOPROXY             the first http(s) entry is used (default
#                       https://proxy.golang.org)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
same_minor=0
[ "${1:-}" = --same-minor ] && { same_minor=1; shift; }
dir=${1:-/usr/local/go}

die() {
  echo "go-install: $*" >&2
  exit 1
}

want=$(sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' "$repo/go.mod")
[ -n "$want" ] || die "no go line in $repo/go.mod"
minor=$(echo "$want" | cut -d. -f1,2)

# fits GO: GO runs and is go.mod's version or newer (same minor if asked).
fits() {
  local have
  have=$("$1" env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9][0-9.]*\).*/\1/p') || return 1
  [ -n "$have" ] || return 1
  [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" = "$want" ] || return 1
  [ $same_minor = 0 ] || [ "$(echo "$have" | cut -d. -f1,2)" = "$minor" ]
}
for g in "$dir/bin/go" "$(command -v go || true)"; do
  if [ -n "$g" ] && [ -x "$g" ] && fits "$g"; then
    GOTOOLCHAIN=local "$g" env GOROOT
    exit 0
  fi
done

for tool in curl unzip sha256sum; do
  command -v $tool >/dev/null || die "needs $tool to fetch Go; install it (apt-get install curl unzip) and run again"
done
proxy=https://proxy.golang.org
for p in $(echo "${GOPROXY:-}" | tr ',|' '  '); do
  case $p in http://* | https://*) proxy=${p%/} && break ;; esac
done
case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
*) die "no Go toolchain for $(uname -m) here; install Go $minor by hand" ;;
esac
t0=$(date +%s)
version=${GO_INSTALL_VERSION:-}
if [ -z "$version" ]; then
  version=$(curl -sSfL "$proxy/golang.org/toolchain/@v/list" |
    sed -n "s/^v0\.0\.1-go\($minor\(\.[0-9]*\)\{0,1\}\)\.linux-$arch\$/\1/p" | sort -V | tail -n1) ||
    die "could not list the Go toolchains at $proxy/golang.org/toolchain/@v/list; set GOPROXY or GO_INSTALL_VERSION"
  [ -n "$version" ] || die "$proxy lists no Go $minor toolchain for linux-$arch"
fi
mod=v0.0.1-go$version.linux-$arch

tmp=$(mktemp -d "$(dirname "$dir")/.go-install.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -sSfL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/$mod.zip" ||
  die "could not fetch $proxy/golang.org/toolchain/@v/$mod.zip"
sum=$(curl -sSfL "$proxy/sumdb/sum.golang.org/lookup/golang.org/toolchain@$mod" |
  awk -v m="$mod" '$1 == "golang.org/toolchain" && $2 == m { print $3 }') ||
  die "could not look up golang.org/toolchain@$mod in the checksum database through $proxy"
unzip -q "$tmp/go.zip" -d "$tmp/x"
# The module's hash (h1, as go.sum has it): SHA-256 over the sorted list of
# each file's SHA-256 and its path in the zip.
hex=$(cd "$tmp/x" && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
# shellcheck disable=SC2059
got=h1:$(printf "$(echo "$hex" | sed 's/../\\x&/g')" | base64)
[ "$got" = "$sum" ] || die "golang.org/toolchain@$mod from $proxy has hash $got, the checksum database says $sum; nothing installed"
# A module's zip holds no go.mod below its root, so the toolchain comes
# without those of the standard library and of cmd; tools that ask for the
# module std (an SBOM's standard library component) need them. Each is
# written again from the vendor/modules.txt beside it, which lists the same
# requirements.
root=$tmp/x/golang.org/toolchain@$mod
for m in std:src cmd:src/cmd; do
  name=${m%%:*} at=$root/${m#*:}
  [ -e "$at/go.mod" ] || [ ! -e "$at/vendor/modules.txt" ] && continue
  awk -v name="$name" -v go="$minor" '
    BEGIN { print "module " name "\n\ngo " go "\n\nrequire (" }
    /^# / { m = $2 " " $3 }
    /^## explicit/ { if (m != "") print "\t" m; m = "" }
    END { print ")" }' "$at/vendor/modules.txt" >"$at/go.mod"
done
rm -rf "$dir.old"
[ -e "$dir" ] && mv "$dir" "$dir.old"
mv "$root" "$dir"
rm -rf "$dir.old"
echo "go-install: go$version from $proxy into $dir in $(($(date +%s) - t0))s (checked against the checksum database; remove: rm -rf $dir)" >&2
echo "$dir"
