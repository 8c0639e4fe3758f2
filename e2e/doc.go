// Package e2e holds portenv's engine tests: each starts real containers
// with real -p publications on the local engine (Docker, Podman, Swarm) and
// runs the static binary inside them. Without an engine they skip loudly;
// with PORTENV_E2E=1 a missing engine fails them.
package e2e
