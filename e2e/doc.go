// Package e2e holds portenv's engine tests: each starts real containers
// with real -p publications on the local engine (Docker, Podman, Swarm) and
// runs the static binary inside them. Without an engine they skip loudly;
// with PORTENV_E2E=1 a missing engine fails them.
//
// The engine is the one DOCKER_HOST names, or else /var/run/docker.sock;
// what the tests expect of it (API versions, network mode, the docker
// CLI's words) they ask it. .ci/engines.sh runs them against newer engines
// than the host's, each in a network namespace of its own:
//
//	bash .ci/engines.sh run docker28 -- env PORTENV_E2E=1 go test -count=1 ./e2e/
//	bash .ci/engines.sh run podman5 -- env PORTENV_E2E=1 go test -count=1 -run Podman ./e2e/
package e2e
