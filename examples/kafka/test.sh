#!/usr/bin/env bash
# Checks the Kafka example: the Compose file, then the cluster test.
# Run from anywhere, e.g. from the repository root: examples/kafka/test.sh
# PORTENV_E2E=1 turns "no Docker engine" from a skip into a failure.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$dir"

# 1. docker-compose.yml and docker-compose.socketless.yml are valid, and
#    the portenv template reaches the container exactly as written.
want='INSIDE://{{.Container.Hostname}}:29092,OUTSIDE://127.0.0.1:{{port "9092"}}'
if command -v docker-compose >/dev/null 2>&1; then
	compose=(docker-compose)
	format=yaml
elif docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
	format=json
else
	echo "test.sh: neither docker-compose nor 'docker compose' is installed" >&2
	exit 1
fi
"${compose[@]}" -f docker-compose.socketless.yml config -q
# The docker-shim profile brings in way 3's service, whose values are
# checked too.
compose+=(--profile docker-shim -f docker-compose.yml)
"${compose[@]}" config -q
if [[ $format == json ]]; then
	config="$("${compose[@]}" config --format json)"
else
	config="$("${compose[@]}" config)"
fi
WANT="$want" FORMAT="$format" /usr/bin/python3 -c '
import json, os, sys
text = sys.stdin.read()
if os.environ["FORMAT"] == "json":
    doc = json.loads(text)
else:
    import yaml
    doc = yaml.safe_load(text)
got = doc["services"]["kafka"]["environment"]["PORTENV_SET_KAFKA_ADVERTISED_LISTENERS"]
if got != os.environ["WANT"]:
    sys.exit("docker-compose.yml: PORTENV_SET_KAFKA_ADVERTISED_LISTENERS is %r after compose, want %r" % (got, os.environ["WANT"]))
print("compose config ok: PORTENV_SET_KAFKA_ADVERTISED_LISTENERS=" + got)
# Way 3: the hooks of the start script reach the container as written. Compose
# prints a literal $ as $$ in its config output.
shim = doc["services"]["kafka-shim"]["environment"]
for name, want in [("PORT_COMMAND", "docker port $(hostname) 9092/tcp | cut -d: -f2"),
                   ("KAFKA_ADVERTISED_LISTENERS", "INSIDE://:29092,OUTSIDE://127.0.0.1:_{PORT_COMMAND}")]:
    got = shim[name].replace("$$", "$")
    if got != want:
        sys.exit("docker-compose.yml: kafka-shim %s is %r after compose, want %r" % (name, got, want))
    print("compose config ok: kafka-shim " + name + "=" + got)
' <<<"$config"

# 2. Go code is formatted and vetted, then the cluster test runs.
unformatted="$(gofmt -l .)"
if [[ -n $unformatted ]]; then
	echo "test.sh: not gofmt'ed: $unformatted" >&2
	exit 1
fi
go vet ./...
PORTENV_E2E="${PORTENV_E2E:-}" go test -count=1 -v ./...
