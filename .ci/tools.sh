#!/usr/bin/env bash
# Installs the pinned tools CI runs into /var/cache/portenv-tools/bin, once:
# each is built from the Go module proxy at its pinned version and kept
# while that version stays pinned here.
#
#   .ci/tools.sh staticcheck [...]
set -euo pipefail
export PATH=$PATH:/usr/local/go/bin
bin=/var/cache/portenv-tools/bin
mkdir -p "$bin"

install() { # name module version
  local stamp="$bin/.$1.version"
  if [ -x "$bin/$1" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$3" ]; then return; fi
  echo "== installing $1 $3"
  GOBIN="$bin" go install "$2@$3"
  echo "$3" > "$stamp"
}

for tool in "$@"; do
  case "$tool" in
    staticcheck) install staticcheck honnef.co/go/tools/cmd/staticcheck v0.8.2 ;;
    *) echo "tools.sh: unknown tool $tool" >&2; exit 2 ;;
  esac
done
