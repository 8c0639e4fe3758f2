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

# The pipelines run the distribution's docker CLI (the one matching its
# engine, as an image that installs the docker package has) and the current
# docker-ce CLI, where each is installed; -pipeline-cli overrides them, and
# -baseline REV adds portenv as built from another revision.
go run ./bench/cmd/portenv-bench -n "${PORTENV_BENCH_ROUNDS:-60}" "$@"
echo
go test -run '^$' -bench . -benchtime=200x ./discover ./templates
