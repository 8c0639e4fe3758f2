#!/usr/bin/env bash
# Installs the tools CI and releases use, at pinned versions, into a cache directory, once:
# a tool whose binary already records the pinned module version is left alone.
# Prints the directory holding the binaries on stdout, and nothing else there;
# what it does goes to stderr.
#
# Environment:
#   TOOLS_BIN   where the binaries go (default /var/cache/portenv-tools/bin)
set -euo pipefail
export PATH=$PATH:/usr/local/go/bin

bin=${TOOLS_BIN:-/var/cache/portenv-tools/bin}
mkdir -p "$bin"

# name  module path (what `go version -m` reports)  package to install  version
tools=(
  "goreleaser github.com/goreleaser/goreleaser/v2 github.com/goreleaser/goreleaser/v2 v2.15.1"
  "cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod v1.10.0"
  "staticcheck honnef.co/go/tools honnef.co/go/tools/cmd/staticcheck v0.8.2"
)

# Two runs at once would build the same tool twice; the second waits.
exec 9>"${TMPDIR:-/tmp}/portenv-tools.lock"
flock 9

for entry in "${tools[@]}"; do
  read -r name mod pkg version <<<"$entry"
  have=$(go version -m "$bin/$name" 2>/dev/null | awk -v m="$mod" '$1 == "mod" && $2 == m { print $3 }' || true)
  if [ "$have" = "$version" ]; then
    echo "tools: $name $version present" >&2
    continue
  fi
  echo "tools: installing $name $version${have:+ (found $have)}" >&2
  start=$(date +%s)
  # GOFLAGS from the caller (e.g. -mod=vendor) must not apply to the tools' modules.
  GOBIN=$bin GOFLAGS= CGO_ENABLED=0 go install "$pkg@$version" >&2
  echo "tools: $name $version installed in $(($(date +%s) - start))s" >&2
done
echo "$bin"
