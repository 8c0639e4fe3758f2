package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

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

// dockerUsage is the one command portenv answers as docker.
const dockerUsage = "docker port CONTAINER [PRIVATE_PORT[/PROTO]]"

// dockerShim is portenv installed under the name docker, for images whose
// start scripts run `docker port "$(hostname)" 9092`: it answers docker
// port in docker port's format, through the same pipeline as a run, and
// refuses every other docker command. Exit codes are docker's: 0, 1 for
// any failure, 125 for an unknown flag.
func dockerShim(args []string, env environ, stdout, stderr io.Writer) int {
	rest, ok := dockerPortArgs(args)
	if !ok {
		what := "docker"
		if len(args) > 0 {
			what += " " + args[0]
		}
		fmt.Fprintf(stderr, "docker: %q is not available: this docker is portenv %s, which provides only %s; other commands need the Docker CLI\n", what, releaseVersion(), dockerUsage)
		return exitFailure
	}
	pos, flags, bad := splitArgs(rest, "-h", "--help")
	switch {
	case flags["-h"] || flags["--help"]:
		fmt.Fprintf(stdout, "\nUsage:  %s\n\nList port mappings or a specific mapping for the container\n(this docker is portenv %s, which provides only docker port)\n", dockerUsage, releaseVersion())
		return exitOK
	case bad != "":
		fmt.Fprintf(stderr, "docker: unknown flag: %s; usage: %s\n", bad, dockerUsage)
		return 125
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintf(stderr, "docker: \"docker port\" requires at least 1 and at most 2 arguments; usage: %s\n", dockerUsage)
		return exitFailure
	}
	ref := pos[0]
	var want *discover.Port
	if len(pos) == 2 {
		p, err := dockerPortSpec(pos[1])
		if err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			return exitFailure
		}
		want = &p
	}
	t, level, err := portTarget(env)
	if err != nil {
		fmt.Fprintln(stderr, "portenv:", err)
		return exitFailure
	}
	// The container's own hostname names this container, found as portenv
	// finds itself, whatever other container may carry that name: a start
	// script's `docker port "$(hostname)"` means this one. Any other
	// reference is looked up as --container looks it up.
	if host, err := where.hostname(); err != nil || ref != host {
		t.container = ref
	}
	log := newLogger(stderr, level)
	ctx, _, release := stopOnSignal()
	defer release()
	c, err := findContainer(ctx, t, env, log)
	var nf *discover.NotFoundError
	switch {
	case errors.As(err, &nf) && t.container == ref:
		fmt.Fprintf(stderr, "Error response from daemon: No such container: %s\n", ref)
		return exitFailure
	case err != nil:
		log.Errorf("%v", err)
		return exitFailure
	}
	lines, ok := portLines(c, want, log.Infof)
	if !ok {
		// The port as it was given, as the docker CLI since 23 prints it.
		fmt.Fprintf(stderr, "Error: No public port '%s' published for %s\n", pos[1], ref)
		return exitFailure
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	return exitOK
}

// splitArgs reads the arguments of docker port and portenv port: flags
// anywhere, of those known, until "--"; a lone "-" is an argument. It
// returns the arguments, the flags given, and the first unknown flag
// (after which it reads no further), or "".
func splitArgs(args []string, known ...string) (pos []string, flags map[string]bool, unknown string) {
	flags = map[string]bool{}
	for i, a := range args {
		switch {
		case a == "--":
			return append(pos, args[i+1:]...), flags, ""
		case slices.Contains(known, a):
			flags[a] = true
		case len(a) > 1 && a[0] == '-':
			return pos, flags, a
		default:
			pos = append(pos, a)
		}
	}
	return pos, flags, ""
}

// dockerPortArgs returns the arguments of docker port, given as `docker
// port ...` or `docker container port ...`, and false for any other
// docker command.
func dockerPortArgs(args []string) ([]string, bool) {
	switch {
	case len(args) >= 1 && args[0] == "port":
		return args[1:], true
	case len(args) >= 2 && args[0] == "container" && args[1] == "port":
		return args[2:], true
	}
	return nil, false
}

// dockerPortSpec reads PRIVATE_PORT[/PROTO] as docker port does: the
// protocol is tcp when not given, and is kept as written otherwise, so
// that "53/UDP", which the engine does not know, is not published.
func dockerPortSpec(s string) (discover.Port, error) {
	num, proto, found := strings.Cut(s, "/")
	if !found || proto == "" {
		num, proto = s, "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != num {
		return discover.Port{}, fmt.Errorf("invalid port (%s): write PRIVATE_PORT[/PROTO] as a number from 1 to 65535, such as 9092 or 53/udp", num)
	}
	return discover.Port{Num: n, Proto: proto}, nil
}

// portTarget is the configuration of docker port and portenv port: the
// PORTENV_ variables that concern finding the container (through the
// engine, or in the agent's records) and waiting for it, and its log
// level. The variables and outputs of a run play no part here, so their
// values are not even read, and no rule of the image's environment can
// fail the lookup.
func portTarget(env environ) (target, string, error) {
	var ps struct {
		Container string
		From      string
		Source    string        `default:"auto"`
		Timeout   time.Duration `default:"10s"`
		LogLevel  string        `split_words:"true" default:"info"`
	}
	if err := readSettings(env, &ps); err != nil {
		return target{}, "", err
	}
	level, err := logLevel(false, false, ps.LogLevel)
	if err != nil {
		return target{}, "", err
	}
	if err := checkTimeout(ps.Timeout, "PORTENV_TIMEOUT="); err != nil {
		return target{}, "", err
	}
	if err := checkSource(ps.Source, ps.From, func(_, v string) string { return "PORTENV_" + v + "=" }); err != nil {
		return target{}, "", err
	}
	return target{container: ps.Container, from: ps.From, source: ps.Source, timeout: ps.Timeout}, level, nil
}

// portLines are c's bindings as docker port prints them: "9092/tcp ->
// 0.0.0.0:32769" for every port when want is nil, "0.0.0.0:32769" for
// port want, in the CLI's natural order. The IPv6 line of a dual-stack
// publication is left out: it is one port, and the pipelines that cut a
// number from docker port's output expect one line; where its host port
// differs from the IPv4 one, notef hears of it. ok is false when want is
// not published. On the host's network, where the engine publishes
// nothing, a port is reached at its own number on every address.
func portLines(c *discover.Container, want *discover.Port, notef func(string, ...any)) (lines []string, ok bool) {
	bindings := c.Ports
	if want != nil {
		bindings = c.Published(*want)
		if len(bindings) == 0 && c.HostNetwork {
			bindings = []discover.Binding{{Port: *want, HostPort: want.Num}}
		}
		if len(bindings) == 0 {
			return nil, false
		}
	}
	for _, b := range bindings {
		if v4, ok := c.IPv4Twin(b); ok {
			if v4.HostPort != b.HostPort {
				notef("%s", discover.TwoHostPorts(v4, b, "printing"))
			}
			continue
		}
		ip := b.HostIP
		if ip == "" && c.HostNetwork {
			ip = "0.0.0.0"
		}
		addr := net.JoinHostPort(ip, strconv.Itoa(b.HostPort))
		if want == nil {
			addr = b.Port.String() + " -> " + addr
		}
		lines = append(lines, addr)
	}
	sort.SliceStable(lines, func(i, j int) bool { return naturalLess(lines[i], lines[j]) })
	return lines, true
}

// naturalLess orders strings as the docker CLI orders docker port's lines:
// runs of digits compare as numbers, so 53/udp comes before 9000/tcp and
// 9000 before 32769; everything else compares byte by byte.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			da, db := digitRun(a), digitRun(b)
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			if da != db {
				return da < db // fewer leading zeros first
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitRun(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}
