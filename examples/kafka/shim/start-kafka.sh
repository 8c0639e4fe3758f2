#!/bin/sh
# A start script written the way Kafka images' start scripts are (such as
# wurstmeister/kafka's start-kafka.sh): it asks the docker CLI for the host
# port that KAFKA_PORT is published on, and evaluates PORT_COMMAND and
# HOSTNAME_COMMAND into the _{PORT_COMMAND} and _{HOSTNAME_COMMAND}
# placeholders of the KAFKA_ variables. Then it execs its arguments, the
# broker.
#
# The example's test runs it unchanged in an image whose only docker is
# portenv, copied to /usr/bin/docker.

if [ -z "$KAFKA_PORT" ]; then
	export KAFKA_PORT=9092
fi

if [ -z "$KAFKA_ADVERTISED_PORT" ] && [ -z "$KAFKA_LISTENERS" ] &&
	[ -z "$KAFKA_ADVERTISED_LISTENERS" ] && [ -S /var/run/docker.sock ]; then
	KAFKA_ADVERTISED_PORT=$(docker port "$(hostname)" $KAFKA_PORT | sed -r 's/.*:(.*)/\1/g' | head -n1)
	export KAFKA_ADVERTISED_PORT
fi

# fill_in PLACEHOLDER VALUE: every KAFKA_ variable that holds PLACEHOLDER
# gets VALUE in its place.
fill_in() {
	for name in $(env | sed -n "s/^\(KAFKA_[A-Z0-9_]*\)=.*$1.*/\1/p"); do
		eval "old=\$$name"
		export "$name=$(printf '%s' "$old" | sed "s/$1/$2/g")"
	done
}
if [ -n "$HOSTNAME_COMMAND" ]; then
	fill_in '_{HOSTNAME_COMMAND}' "$(eval "$HOSTNAME_COMMAND")"
fi
if [ -n "$PORT_COMMAND" ]; then
	fill_in '_{PORT_COMMAND}' "$(eval "$PORT_COMMAND")"
fi

exec "$@"
