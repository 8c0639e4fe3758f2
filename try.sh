#!/usr/bin/env bash
# Shows what portenv does, on this machine, in about a minute once the
# engine and the images are there:
#
#   1. a Docker engine: the one that answers, or Debian's docker.io,
#      installed and started where none answers (it says so, and how to
#      undo it);
#   2. the image portenv, built from the repository's Dockerfile; its
#      base, where the engine does not have it, assembled without a
#      registry from Go of the version its tag names: this machine's, or
#      the Go module proxy's (as root, it installs curl, unzip and
#      busybox-static for that, and says how to undo it);
#   3. a container published with -p 9092 -p 127.0.0.1::53/udp and the
#      engine's socket, portenv as its entrypoint: the variables portenv
#      gave the program it ran, beside `docker port` for the same container;
#   4. Go for the Kafka client: this machine's, or the build image's;
#   5. three Kafka brokers behind published ports, and a Kafka client that
#      bootstraps through one of them and reaches all three at the
#      addresses portenv had them advertise (examples/kafka's test); then
#      the same brokers without portenv, where the client fails;
#   6. clean-up of what it started.
#
# Run it from a clone of the repository, as root or as a user who may use
# sudo (it asks for sudo only where this user cannot reach an engine):
#
#   bash try.sh
#
# It keeps the engine it installed, the image portenv and the Go build
# image, and says how to remove them.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$repo"
export PATH=$PATH:/usr/local/go/bin
export DEBIAN_FRONTEND=noninteractive
# The Dockerfile's base image may exist only in the local store (made
# offline by .ci/go-image.sh), where the classic builder looks first.
export DOCKER_BUILDKIT=0

steps=6
n=0
run=portenv-try-$$
tmp=$(mktemp -d)
app_image=
container=
started=$(date +%s.%N)

say() { echo "try: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# begin WHAT: the start of a step's line; end [NOTE]: its time, same line.
t0=
begin() {
	n=$((n + 1))
	t0=$(now)
	printf 'try: [%d/%d] %s ... ' "$n" "$steps" "$1"
}
end() { printf '%s%s\n' "$(since "$t0")" "${1:+, $1}"; }
# fail WHY [LOG]: ends the step's line with FAILED, shows the log's end.
fail() {
	printf 'FAILED after %s\n' "$(since "$t0")"
	if [ -n "${2:-}" ] && [ -s "$2" ]; then tail -n 30 "$2" | sed 's/^/  | /'; fi
	say "$1" >&2
	exit 1
}
# detail LINE...: indented lines under a step.
detail() { printf '      %s\n' "$@"; }

cleanup() {
	local rc=$?
	[ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1 || true
	[ -n "$app_image" ] && docker rmi "$app_image" >/dev/null 2>&1 || true
	rm -rf "$tmp"
	if [ "$rc" != 0 ]; then
		# go test removes what it created unless it was killed.
		left=$(docker ps -aq --filter label=portenv-kafka-test 2>/dev/null | wc -l)
		if [ "$left" != 0 ]; then
			say "the Kafka test left $left containers; remove them with:"
			say "  docker rm -f -v \$(docker ps -aq --filter label=portenv-kafka-test)"
		fi
	fi
}
trap cleanup EXIT

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# --- 1. the engine --------------------------------------------------------
# What is missing is known before the first line, so every line can say
# which step of how many it is.
install=0
start_engine=0
if ! command -v docker >/dev/null 2>&1 || ! engine_answers; then
	if command -v docker >/dev/null 2>&1; then
		why=$(docker version --format '{{.Server.Version}}' 2>&1 | grep -v '^$' | tail -n1 || true)
	else
		why="no docker command"
	fi
	if [ -n "${DOCKER_HOST:-}" ]; then
		say "DOCKER_HOST=$DOCKER_HOST does not answer ($why); unset DOCKER_HOST to use this machine's engine" >&2
		exit 1
	fi
	if [ "$(id -u)" != 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			say "no engine answers for $(id -un) ($why), and installing or starting one needs root; run as root: bash try.sh" >&2
			exit 1
		fi
		say "no engine answers for $(id -un) ($why); running try.sh again as root, with sudo"
		exec sudo bash "$repo/try.sh" "$@"
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		say "no engine answers ($why); try.sh installs one only on Debian or Ubuntu (apt-get): install Docker, start it, and run try.sh again" >&2
		exit 1
	fi
	command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 || install=1
	start_engine=1
fi
pkgs=()
[ "$install" = 1 ] && pkgs+=(docker.io)
# The build image is assembled where the engine does not have it, from Go
# of the version its tag names: this machine's, else Go from the module
# proxy (.ci/go-install.sh), which takes curl and unzip; the image's shell
# is Debian's static busybox. No registry is needed. Only root installs
# them; other users' engines pull the image instead.
go_image=$(sed -n 's/^ARG[[:space:]]\{1,\}GO_IMAGE=//p' Dockerfile | head -n1)
image_go=$(printf '%s\n' "${go_image##*:}" | sed -n 's/^\([0-9]\{1,\}\.[0-9]\{1,\}\).*/\1/p')
if [ "$(id -u)" = 0 ] && { [ "$start_engine" = 1 ] || ! docker image inspect "$go_image" >/dev/null 2>&1; }; then
	if ! GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | grep -q "^go$image_go\(\.\|$\)"; then
		command -v curl >/dev/null 2>&1 || pkgs+=(curl)
		command -v unzip >/dev/null 2>&1 || pkgs+=(unzip)
	fi
	dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q ' installed$' || pkgs+=(busybox-static)
fi
[ ${#pkgs[@]} = 0 ] || steps=$((steps + 1))
steps=$((steps + start_engine))

say "portenv, shown on this machine; each step says what it does and how long it took"
begin "looking for a Docker engine"
if [ "$start_engine" = 0 ]; then
	end "$(docker version --format 'Docker {{.Server.Version}} (API {{.Server.APIVersion}})') answers; nothing to install"
elif [ "$install" = 1 ]; then
	end "none answers ($why), and none is installed"
else
	end "dockerd is installed but does not answer ($why)"
fi
if [ ${#pkgs[@]} != 0 ]; then
	begin "installing Debian's ${pkgs[*]} (undo: apt-get purge ${pkgs[*]})"
	apt-get update -qq >"$tmp/apt.log" 2>&1 || fail "apt-get update failed" "$tmp/apt.log"
	apt-get install -y -qq "${pkgs[@]}" >>"$tmp/apt.log" 2>&1 || fail "apt-get install ${pkgs[*]} failed" "$tmp/apt.log"
	# Where the CLI is a package of its own (docker-cli), docker.io may
	# only recommend it.
	command -v docker >/dev/null 2>&1 || apt-get install -y -qq docker-cli >>"$tmp/apt.log" 2>&1 ||
		fail "apt-get install docker-cli failed" "$tmp/apt.log"
	end "$(dpkg-query -W -f '${Package} ${Version}, ' "${pkgs[@]}" | sed 's/, $//')"
fi
if [ "$start_engine" = 1 ]; then
	dockerd_log=/var/log/portenv-try-dockerd.log
	if engine_answers; then
		# The package's own service started it.
		begin "starting the engine"
	elif [ -d /run/systemd/system ]; then
		begin "starting the engine: systemctl start docker (stop it: systemctl stop docker docker.socket)"
		systemctl start docker >"$tmp/start.log" 2>&1 || fail "systemctl start docker failed" "$tmp/start.log"
		dockerd_log=$tmp/start.log
	else
		begin "starting the engine: dockerd in the background, log $dockerd_log (stop it: kill \$(cat /var/run/docker.pid))"
		nohup setsid dockerd >"$dockerd_log" 2>&1 </dev/null &
	fi
	for _ in $(seq 120); do engine_answers && break; sleep 0.5; done
	engine_answers || fail "the engine did not answer within 60s" "$dockerd_log"
	end "$(docker version --format 'Docker {{.Server.Version}} (API {{.Server.APIVersion}})') answers"
fi

# --- 2. the image ---------------------------------------------------------
begin "building the image portenv from the Dockerfile (FROM $go_image)"
base_note="$go_image was here"
if ! docker image inspect "$go_image" >/dev/null 2>&1; then
	# Assembled from Go of the tag's version without a registry (see
	# above); where that cannot be done, the engine pulls it.
	if goroot=$(bash .ci/go-install.sh --same-minor "$tmp/go" 2>"$tmp/go-install.log") &&
		GOROOT=$goroot bash .ci/go-image.sh >"$tmp/go-image.log" 2>&1; then
		if [ "$goroot" = "$tmp/go" ]; then
			base_note="$go_image assembled by .ci/go-image.sh from $("$goroot/bin/go" env GOVERSION) of the Go module proxy"
		else
			base_note="$go_image assembled by .ci/go-image.sh from this machine's $("$goroot/bin/go" env GOVERSION)"
		fi
	else
		base_note="$go_image pulled"
	fi
fi
docker build -t portenv . >"$tmp/build.log" 2>&1 || fail "docker build failed" "$tmp/build.log"
end "$base_note; $(docker image inspect -f '{{.Size}}' portenv | awk '{ printf "%.1f MiB", $1 / 1048576 }')"

# --- 3. one container, portenv's variables beside docker port -------------
begin "starting a container with -p 9092 -p 127.0.0.1::53/udp and the socket, portenv as its entrypoint"
# An image with a shell and portenv put in, as the README shows:
# COPY --from=portenv; the build image's shell is already on this machine.
app_image=$run:app
mkdir "$tmp/app"
cat >"$tmp/app/Dockerfile" <<EOF
FROM $go_image
COPY --from=portenv /portenv /usr/local/bin/portenv
ENTRYPOINT ["portenv", "--"]
CMD ["sleep", "600"]
EOF
docker build -q -t "$app_image" "$tmp/app" >"$tmp/app.log" 2>&1 || fail "docker build of the demo image failed" "$tmp/app.log"
container=$run
docker run -d --name "$container" -p 9092 -p 127.0.0.1::53/udp \
	-v /var/run/docker.sock:/var/run/docker.sock:ro "$app_image" >"$tmp/run.log" 2>&1 ||
	fail "docker run failed" "$tmp/run.log"
# portenv execs sleep once the variables are ready: sleep is then PID 1.
for _ in $(seq 100); do
	[ "$(docker exec "$container" cat /proc/1/comm 2>/dev/null)" = sleep ] && break
	[ "$(docker inspect -f '{{.State.Running}}' "$container")" = true ] ||
		{ docker logs "$container" >"$tmp/run.log" 2>&1; fail "portenv stopped the container" "$tmp/run.log"; }
	sleep 0.1
done
[ "$(docker exec "$container" cat /proc/1/comm 2>/dev/null)" = sleep ] ||
	{ docker logs "$container" >"$tmp/run.log" 2>&1; fail "portenv did not exec sleep within 10s" "$tmp/run.log"; }
docker exec "$container" sh -c "tr '\0' '\n' </proc/1/environ | grep -E '^HOST_(PORT|IP)_' | sort" >"$tmp/vars"
docker port "$container" >"$tmp/port"
end
# Side by side, then the check: each HOST_PORT_<port>[_UDP] is the host port
# that docker port lists for that port on IPv4 (or on its one address), and
# HOST_IP_<port>_UDP that address.
printf '      %-46s%s\n' "portenv's variables, as sleep got them:" "docker port $container:"
paste -d'|' "$tmp/vars" "$tmp/port" | awk -F'|' '{ printf "        %-44s  %s\n", $1, $2 }'
mismatch=$(awk '
	NR == FNR { split($0, kv, "="); vars[kv[1]] = kv[2]; next }
	{   # 9092/tcp -> 0.0.0.0:32769, 53/udp -> 127.0.0.1:32770, 9092/tcp -> [::]:32769
		split($1, pp, "/"); hostport = $3; sub(/.*:/, "", hostport); ip = $3; sub(/:[0-9]+$/, "", ip)
		if (ip ~ /:/) next  # IPv6: [::] (CLI 23 and later) or :: (CLI 20.10)
		suffix = (pp[2] == "tcp") ? "" : "_" toupper(pp[2])
		name = "HOST_PORT_" pp[1] suffix; seen[name] = 1
		if (vars[name] != hostport) print name "=" vars[name] " but docker port says " $0
		if (ip != "0.0.0.0" && vars["HOST_IP_" pp[1] suffix] != ip) print "HOST_IP_" pp[1] suffix "=" vars["HOST_IP_" pp[1] suffix] " but docker port says " $0
	}
	END { for (v in vars) if (v ~ /^HOST_PORT_/ && !(v in seen)) print v " has no line in docker port" }
' "$tmp/vars" "$tmp/port")
[ -z "$mismatch" ] || { printf '%s\n' "$mismatch" >"$tmp/mismatch"; fail "portenv and docker port disagree" "$tmp/mismatch"; }
detail "they agree: each HOST_PORT_ is docker port's IPv4 host port, HOST_IP_53_UDP its one address"
docker logs "$container" 2>&1 | sed -n 's/^portenv: /portenv said on stderr: /p' | while IFS= read -r l; do detail "$l"; done
docker rm -f "$container" >/dev/null 2>&1 && container=
docker rmi "$app_image" >/dev/null 2>&1 && app_image=

# --- 4. Go for the Kafka client --------------------------------------------
begin "finding Go for the Kafka client (examples/kafka/go.mod)"
want_go=$(sed -n 's/^go \([0-9.]*\)$/\1/p' examples/kafka/go.mod)
have_go=$(go env GOVERSION 2>/dev/null | sed 's/^go//' || true)
if [ -n "$have_go" ] && [ "$(printf '%s\n%s\n' "$want_go" "$have_go" | sort -V | head -n1)" = "$want_go" ]; then
	end "go$have_go at $(command -v go)"
elif [ -x "$tmp/go/bin/go" ]; then
	# The Go the build image was assembled from, fetched in step 2.
	export PATH=$tmp/go/bin:$PATH GOTOOLCHAIN=local
	end "${have_go:+go$have_go here is older than go$want_go; }$(go env GOVERSION) of the Go module proxy, for this run"
else
	# The build image's Go, copied out for this run and removed at its end.
	cid=$(docker create "$go_image" 2>"$tmp/go.log") || fail "docker create $go_image failed" "$tmp/go.log"
	docker cp "$cid:/usr/local/go" - 2>>"$tmp/go.log" | tar -x -C "$tmp" 2>>"$tmp/go.log" || { docker rm "$cid" >/dev/null; fail "copying Go out of $go_image failed" "$tmp/go.log"; }
	docker rm "$cid" >/dev/null
	export PATH=$tmp/go/bin:$PATH GOTOOLCHAIN=local
	end "${have_go:+go$have_go here is older than go$want_go; }$(go env GOVERSION) copied from $go_image for this run"
fi

# --- 5. Kafka ---------------------------------------------------------------
begin "Kafka: three brokers with -p 9092, portenv in front of each, and a Kafka client on this machine"
# The proof of examples/kafka (kafka_test.go): brokers made with franz-go's
# kfake, the client franz-go; the test builds its images without a registry
# and removes all it starts. Two of its cases: portenv's template in
# KAFKA_ADVERTISED_LISTENERS, and the same brokers without portenv.
(cd examples/kafka && PORTENV_E2E=1 go test -count=1 -v -timeout 10m \
	-run 'TestKafkaCluster/^(advertised_listeners|without_portenv)$' . >"$tmp/kafka.log" 2>&1) ||
	fail "the Kafka test failed; run it again with: cd examples/kafka && PORTENV_E2E=1 go test -count=1 -v ./..." "$tmp/kafka.log"
end
# What the test logged, shortened: the brokers' host ports (from docker
# inspect), what one broker advertises, the client's view and its records;
# then the brokers without portenv.
# The test's lines and its checks' (examples/kafka/check), without the
# file:line prefix; a line that is not there leaves a shorter summary, never
# a failed step.
logged() { sed -n -E 's/^ +[a-z_]+\.go:[0-9]+: //p' "$tmp/kafka.log" | { grep -E "$1" || true; }; }
detail "with portenv (PORTENV_SET_KAFKA_ADVERTISED_LISTENERS='PLAINTEXT://127.0.0.1:{{port \"9092\"}}'):"
logged '^(container .*-listeners-|metadata from broker 0|client bootstrapped|broker [0-9] at)' |
	sed -E -e 's/^container portenv-kafka-test-[0-9a-f]+-listeners-broker-([0-9]): /broker \1: /' -e 's/ \(docker inspect\)$//' |
	while IFS= read -r l; do detail "  $l"; done
detail "without portenv (each broker advertises the port it listens on, 127.0.0.1:9092):"
logged '^(metadata from 127.0.0.1:[0-9]+: broker 0|produce through)' |
	while IFS= read -r l; do detail "  $l"; done

# --- 6. clean-up ------------------------------------------------------------
begin "cleaning up"
left=$(docker ps -aq --filter "name=^$run" | wc -l)
[ "$left" = 0 ] || fail "$left containers of this run are left"
end "its containers, volumes and images are gone (the Kafka test removed its own)"
kept="the image portenv (docker rmi portenv)"
case $base_note in *assembled* | *pulled*) kept="$kept and $go_image, the Dockerfile's base (docker rmi $go_image)" ;; esac
say "done in $(since "$started"); kept: $kept"
say "next:"
say "  docker run --rm -p 9092 -v /var/run/docker.sock:/var/run/docker.sock:ro portenv          # print the variables"
say "  docker run --rm -p 9092 -v /var/run/docker.sock:/var/run/docker.sock:ro portenv doctor   # what portenv sees"
say "  docker run --rm portenv --help"
say "  README.md: the three ways to use it; docs/: the reference; bash .ci/run: every test"
