package main

import (
	"strings"
	"testing"
)

// shimStop is a PORTENV_LOG_LEVEL that the configuration refuses: argv
// that the shim accepts then ends in that refusal, before any discovery.
const shimStop = "fuzz-stops-here"

// FuzzDockerShim feeds arbitrary argv to portenv run as docker (the
// arguments after "docker", NUL-separated, as no argument can hold NUL):
// it never panics; it prints help, refuses the argv with one of docker's
// exit codes, or accepts it; what it says is one line, in a user's words.
// Every argument also goes to dockerPortSpec, whose accepted ports write
// back as they were given.
func FuzzDockerShim(f *testing.F) {
	for _, seed := range []string{
		"port\x00app\x009092", "container\x00port\x00app\x0053/udp", "port\x00app", "port\x00app\x009092/sctp/x",
		"port\x00-h", "port\x00app\x00--help", "port\x00--\x00-x\x009092", "port\x00--format\x00x\x00app",
		"port\x00app\x009092/", "port\x00app\x0009092", "port\x00app\x0065536", "port\x00app\x00+1", "port\x00app\x00-",
		"port\x00a\x00b\x00c", "port", "container", "ps\x00-a", "", "\x00",
	} {
		f.Add(seed)
	}
	env := environ{"PATH=/usr/bin:/bin", "PORTENV_LOG_LEVEL=" + shimStop, "DOCKER_HOST=unix:///nonexistent/docker.sock"}
	f.Fuzz(func(t *testing.T, in string) {
		var args []string
		if in != "" {
			args = strings.Split(in, "\x00")
		}
		var stdout, stderr strings.Builder
		code := dockerShim(args, env, &stdout, &stderr)
		out, msg := stdout.String(), stderr.String()
		stopped := strings.HasPrefix(msg, "portenv: PORTENV_LOG_LEVEL=") && strings.Contains(msg, shimStop)
		if !stopped && strings.HasPrefix(msg, "portenv: ") {
			t.Fatalf("docker %q got past its arguments to %q: this target must stop before discovery", args, msg)
		}
		switch {
		case code == exitOK && msg == "" && strings.Contains(out, "Usage:  "+dockerUsage):
		case code == 125 && out == "" && strings.HasPrefix(msg, "docker: unknown flag: -"):
		case code == exitFailure && out == "" && msg != "" && (stopped || strings.HasPrefix(msg, "docker: ") || strings.HasPrefix(msg, "Error: invalid port (")):
		default:
			t.Fatalf("docker %q: exit %d, stdout %q, stderr %q", args, code, out, msg)
		}
		if msg != "" {
			checkShimMessage(t, args, msg)
		}
		for _, a := range args {
			p, err := dockerPortSpec(a)
			if err != nil {
				checkShimMessage(t, []string{a}, err.Error()+"\n")
				continue
			}
			want := a
			if !strings.Contains(a, "/") {
				want += "/tcp"
			}
			if p.Num < 1 || p.Num > 65535 || p.Proto == "" || p.String() != want {
				t.Fatalf("dockerPortSpec(%q) = %+v, written %q", a, p, p.String())
			}
			if q, err := dockerPortSpec(p.String()); err != nil || q != p {
				t.Fatalf("dockerPortSpec(%q) = %+v, but of its writing %q: %+v, %v", a, p, p.String(), q, err)
			}
		}
	})
}

// checkShimMessage holds what the shim prints on stderr, for args, to what
// a user may be shown: one line, no Go names. A message that quotes an
// argument as it was given takes that argument's line breaks with it,
// as docker's own do.
func checkShimMessage(t *testing.T, args []string, msg string) {
	t.Helper()
	for _, bad := range []string{"strconv.", "%!", "runtime", "panic", "goroutine", "discover.", "main."} {
		if strings.Contains(msg, bad) && !strings.Contains(strings.Join(args, "\x00"), bad) {
			t.Fatalf("docker %q says %q, which holds %q", args, msg, bad)
		}
	}
	lines := strings.Count(msg, "\n")
	for _, a := range args {
		lines -= strings.Count(a, "\n")
	}
	if !strings.HasSuffix(msg, "\n") || lines > 1 {
		t.Fatalf("docker %q says %q: not one line", args, msg)
	}
}
