#!/usr/bin/env bash
# What reading a pod from the Kubernetes API costs portenv's binary and its
# start, measured: client-go (rest.InClusterConfig, kubernetes.NewForConfig,
# CoreV1().Pods().Get) against portenv's narrow client (discover.ConnectKube,
# Kube.Pod), beside an empty Go program for scale and portenv itself as
# built from this tree and from a baseline revision. Each program is
# static and stripped, as portenv is released, and returns at once in main.
# client-go is built in a temporary module and is never added to portenv's
# go.mod.
#
#   bash bench/kubeclient/client-go-vs-narrow.sh [-baseline REV] [-client-go VERSION] [-runs N] [-init-runs N]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
baseline=f44928a # the last revision before the Kubernetes client
client_go=v0.37.2
runs=50
init_runs=20
while [ $# -gt 0 ]; do
  case $1 in
    -baseline) baseline=$2; shift 2 ;;
    -client-go) client_go=$2; shift 2 ;;
    -runs) runs=$2; shift 2 ;;
    -init-runs) init_runs=$2; shift 2 ;;
    *) echo "usage: $0 [-baseline REV] [-client-go VERSION] [-runs N] [-init-runs N]" >&2; exit 2 ;;
  esac
done

tmp=$(mktemp -d /tmp/kubeclient-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod
build() { go build -trimpath -ldflags='-s -w' -o "$@"; }

# A main package of its own module, from one of this directory's files
# (which carry an ignore tag so that portenv's own build skips them).
module() {
  local name=$1 src=$2
  mkdir -p "$tmp/$name"
  sed '/^\/\/go:build ignore$/d' "bench/kubeclient/$src" >"$tmp/$name/main.go"
  (cd "$tmp/$name" && go mod init "kubeclient-bench/$name" >/dev/null 2>&1)
}

echo "== building (client-go $client_go, baseline $baseline)" >&2
module timer timer.go
(cd "$tmp/timer" && go build -o timer .)
module empty empty.go
(cd "$tmp/empty" && build empty .)
module clientgo clientgo.go
(cd "$tmp/clientgo" && go get -d "k8s.io/client-go@$client_go" >/dev/null 2>&1 && go mod tidy >/dev/null 2>&1 && build clientgo .)
module narrow narrow.go
(cd "$tmp/narrow" &&
  go mod edit -require=github.com/portenv/portenv@v0.0.0 -replace="github.com/portenv/portenv=$root" &&
  go mod tidy >/dev/null 2>&1 && build narrow .)
build "$tmp/portenv" ./cmd/portenv
# This tree once more, with the Kubernetes path referenced from main, as
# it will be once the finder asks it: what linking it adds.
mkdir "$tmp/linked"
tar --exclude=./.git -c . | tar -x -C "$tmp/linked"
cat >"$tmp/linked/cmd/portenv/zz_kube_linked.go" <<'GO'
package main

import (
	"context"
	"os"

	"github.com/portenv/portenv/discover"
)

func init() {
	if os.Getenv("PORTENV_BENCH_NEVER") != "x" {
		return
	}
	k, _ := discover.ConnectKube(os.Getenv, discover.DefaultServiceAccountDir)
	ctx := context.Background()
	k.Pod(ctx, k.Namespace, "")
	k.Services(ctx, k.Namespace)
	k.Node(ctx, "")
}
GO
(cd "$tmp/linked" && build "$tmp/portenv-linked" ./cmd/portenv)
mkdir "$tmp/base"
git archive "$baseline" | tar -x -C "$tmp/base"
(cd "$tmp/base" && build "$tmp/portenv-base" ./cmd/portenv)

"$tmp/timer/timer" -runs "$runs" -init-runs "$init_runs" \
  "empty Go main=$tmp/empty/empty" \
  "client-go $client_go: InClusterConfig + NewForConfig + Pods().Get=$tmp/clientgo/clientgo" \
  "portenv's narrow client: ConnectKube + Kube.Pod=$tmp/narrow/narrow" \
  "portenv version, baseline $baseline=$tmp/portenv-base,version" \
  "portenv version, this tree=$tmp/portenv,version" \
  "portenv version, this tree with the Kubernetes path linked=$tmp/portenv-linked,version"

size=$(stat -c %s "$tmp/portenv")
base=$(stat -c %s "$tmp/portenv-base")
echo
linked=$(stat -c %s "$tmp/portenv-linked")
echo "portenv stripped: $size bytes (baseline $base, $((size - base)) bytes more); with the Kubernetes path linked $linked ($((linked - base)) bytes more)"
for f in "$size" "$linked"; do
  if [ "$f" -le $((12 << 20)) ]; then verdict=PASS; else verdict=FAIL; fi
  echo "$verdict portenv at most 12 MiB stripped: $f bytes"
done
