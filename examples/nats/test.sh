#!/usr/bin/env bash
# Checks the NATS example: the Compose file, then the cluster test, which
# builds the image from ./Dockerfile and runs it on the local engine.
# Run from anywhere, e.g. from the repository root: examples/nats/test.sh
#
# Environment (passed on to the test):
#   DEBIAN_IMAGE    the Dockerfile's Debian base (default debian:bookworm-slim;
#                   .ci/debian-image.sh makes one without any registry)
#   PORTENV_IMAGE   an image holding /portenv (default: built from the
#                   repository's Dockerfile by the test)
#   PORTENV_E2E=1   turns "no Docker engine" from a skip into a failure
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$dir"

# 1. docker-compose.yml is valid.
if command -v docker-compose >/dev/null 2>&1; then
	compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
else
	echo "test.sh: neither docker-compose nor 'docker compose' is installed" >&2
	exit 1
fi
"${compose[@]}" -f docker-compose.yml config -q
echo "compose config ok"

# 2. Go code is formatted and vetted, then the cluster test runs.
unformatted="$(gofmt -l .)"
if [[ -n $unformatted ]]; then
	echo "test.sh: not gofmt'ed: $unformatted" >&2
	exit 1
fi
go vet ./...
PORTENV_E2E="${PORTENV_E2E:-}" go test -count=1 -v ./...
