package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/portenv/portenv/discover"
)

const portUsage = "portenv port [-q] [PRIVATE_PORT[/PROTO]]"

// portCommand is `portenv port [-q] [PRIVATE_PORT[/PROTO]]`: this
// container's bindings in docker port's format, as the docker shim prints
// them, for hooks such as PORT_COMMAND="portenv port 9092 | cut -d: -f2";
// with -q, the bare host port of one container port.
func portCommand(args []string, env environ, stdout, stderr io.Writer) int {
	pos, flags, bad := splitArgs(args, "-q", "-h", "-help", "--help")
	quiet := flags["-q"]
	switch {
	case flags["-h"] || flags["-help"] || flags["--help"]:
		fmt.Fprintf(stdout, `Usage: %s
Prints this container's published ports as docker port does:
  9092/tcp -> 0.0.0.0:32769    for every port
  0.0.0.0:32769                for PRIVATE_PORT (tcp unless /udp or /sctp)
A dual-stack publication (one -p on IPv4 and IPv6) is one line: IPv4's.
  -q    print only the host port of PRIVATE_PORT: 32769
`, portUsage)
		return exitOK
	case bad != "":
		fmt.Fprintf(stderr, "portenv: port: unknown flag %s; usage: %s\n", bad, portUsage)
		return exitUsage
	}
	var want *discover.Port
	switch {
	case len(pos) > 1:
		fmt.Fprintf(stderr, "portenv: port takes at most one PRIVATE_PORT (it was given %d); usage: %s\n", len(pos), portUsage)
		return exitUsage
	case len(pos) == 1:
		p, err := discover.ParsePort(pos[0])
		if err != nil {
			fmt.Fprintf(stderr, "portenv: port: %v\n", err)
			return exitUsage
		}
		want = &p
	case quiet:
		fmt.Fprintf(stderr, "portenv: port -q prints the host port of one container port; name it, as in portenv port -q 9092\n")
		return exitUsage
	}
	t, level, err := portTarget(env)
	if err != nil {
		fmt.Fprintln(stderr, "portenv:", err)
		return exitUsage
	}
	log := newLogger(stderr, level)
	ctx, _, release := stopOnSignal()
	defer release()
	c, err := findContainer(ctx, t, env, log)
	if err != nil {
		log.Errorf("%v", err)
		return exitFailure
	}
	if want != nil {
		// The message of a port that is not published says why and lists
		// the ones that are.
		b, other, err := c.Lookup(*want)
		if err != nil {
			log.Errorf("%v", err)
			return exitFailure
		}
		if quiet {
			if other != nil {
				log.Infof("%s", discover.TwoHostPorts(b, *other, "printing"))
			}
			fmt.Fprintln(stdout, strconv.Itoa(b.HostPort))
			return exitOK
		}
	}
	lines, _ := portLines(c, want, log.Infof)
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	return exitOK
}
