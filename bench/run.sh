#!/usr/bin/env bash
# Measures portenv against the docker CLI pipeline it replaces and against
# the least possible program, on the local engine, then runs the parser and
# renderer micro-benchmarks briefly. Needs go and a Docker engine the user
# may use; installs nothing. Budget misses print FAIL without failing.
#
#   bench/run.sh [portenv-bench flags, e.g. -n 100 -docker /usr/bin/docker]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

# The pipeline runs the distribution's docker CLI, as an image that installs
# the docker package does; -docker overrides it.
cli=()
[ -x /usr/bin/docker ] && cli=(-docker /usr/bin/docker)
go run ./bench/cmd/portenv-bench -n "${PORTENV_BENCH_ROUNDS:-60}" "${cli[@]}" "$@"
echo
go test -run '^$' -bench . -benchtime=200x ./discover ./templates
