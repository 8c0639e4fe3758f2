package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/internal/atomicfile"
)

// doctor explains, in sentences, what portenv sees: the engine, how the
// container was found, its bindings, the variables that would be set and
// the files that would be written. It runs the very pipeline a run does,
// and says OK only when that run would succeed; otherwise it ends with
// the problem, in the words a run uses, and exits 1.
func doctor(args []string, env environ, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, env, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err == nil && len(cfg.command) > 0 {
		err = usagef("doctor takes flags only, and runs no command (it was given %q); portenv doctor [flags]", strings.Join(cfg.command, " "))
	}
	if err != nil {
		fmt.Fprintln(stderr, "portenv:", err)
		return exitUsage
	}
	src, why := cfg.target().sourceOf(env)
	switch h := env.get("DOCKER_HOST"); {
	case src == sourceKubernetes:
		// Printed once the service account is read: it names the namespace.
	case cfg.From != "":
		fmt.Fprintf(stdout, "Records: %s (--from: written by portenv agent; the engine is not asked)\n", cfg.From)
	case h != "":
		fmt.Fprintf(stdout, "Engine: %s (DOCKER_HOST)\n", h)
	default:
		fmt.Fprintf(stdout, "Engine: %s (the default; DOCKER_HOST is not set)\n", discover.DefaultHost)
	}
	notes := &noteLog{}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	s, err := prepare(ctx, cfg, env, notes)
	if src == sourceKubernetes {
		fmt.Fprintln(stdout, clusterLine(s, env, why))
	}
	// One request a run does not send; a proxy that refuses it changes
	// nothing else, so its refusal is not reported.
	rootless := false
	if s.engine != nil {
		h, _ := s.engine.HostInfo(ctx)
		rootless = h.Rootless
	}
	report(stdout, s, rootless, notes.lines)
	if err == nil {
		err = checkOutputs(stdout, s)
	}
	if err != nil {
		fmt.Fprintln(stdout, "PROBLEM:", err)
		if cfg.Optional {
			fmt.Fprintln(stdout, "With --optional, a run warns of this and runs COMMAND without the variables.")
		}
		return exitFailure
	}
	fmt.Fprintln(stdout, "OK")
	return exitOK
}

// report presents as much of the session as was reached.
func report(w io.Writer, s *session, rootless bool, notes []string) {
	if e := s.engine; e != nil {
		how := "negotiated"
		if e.Pinned {
			how = "fixed by DOCKER_API_VERSION"
		}
		fmt.Fprintf(w, "  answers; API version %s, %s (the engine offers up to %s)\n", e.APIVersion, how, e.EngineAPI)
		if rootless {
			fmt.Fprintln(w, "  runs rootless (GET /info): its port forwarder publishes the ports on the host, so the HOST_ values are the host's; this container's own addresses and {{gateway}} are in the engine's private network, from which the host's 127.0.0.1 is not reached")
		}
	}
	if s.engine != nil || len(s.tried) > 0 {
		fmt.Fprintln(w, "Finding this container (+ found, - did not):")
	}
	for _, a := range s.tried {
		mark := "-"
		if a.OK {
			mark = "+"
		}
		fmt.Fprintf(w, "  %s %-13s %s\n", mark, a.Method, a.Result)
	}
	if c := s.container; c != nil && c.Pod != nil {
		reportPod(w, c)
	} else if c != nil {
		fmt.Fprintf(w, "Container: %s (id %s, hostname %s, image %s, network %s)\n", c.Name, c.ShortID(), c.Hostname, c.Image, c.NetworkMode)
		if r := s.record; r != nil {
			host := r.Host.Name
			if host == "" {
				host = "not recorded"
			}
			fmt.Fprintf(w, "Recorded by portenv agent: started %s, engine host %s\n", r.Container.StartedAt, host)
		}
		reportPorts(w, c)
	}
	for _, n := range notes {
		fmt.Fprintln(w, "Note:", n)
	}
	if s.container == nil || s.result.Set == nil {
		return
	}
	fmt.Fprintln(w, "Variables portenv would set:")
	if len(s.result.Set) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, k := range s.names() {
		fmt.Fprintf(w, "  %s=%s\n", k, s.result.Set[k])
	}
}

func reportPorts(w io.Writer, c *discover.Container) {
	switch {
	case c.HostNetwork:
		fmt.Fprintln(w, "Published ports: none; the container uses the host's network, where its ports are reached at their own numbers")
	case len(c.Ports) == 0:
		fmt.Fprintln(w, "Published ports: none")
	default:
		of := ""
		if c.NetworkOf != "" {
			of = " (of container " + c.NetworkOf + ", whose network this one shares)"
		}
		fmt.Fprintf(w, "Published ports%s:\n", of)
		for _, b := range c.Ports {
			fmt.Fprintf(w, "  %-10s -> %s\n", b.Port, b.Addr(""))
		}
	}
	var unpublished []string
	for _, p := range c.Exposed {
		if len(c.Published(p)) == 0 {
			unpublished = append(unpublished, p.String())
		}
	}
	switch {
	case len(unpublished) == 0 || c.HostNetwork:
	case c.Pod != nil:
		fmt.Fprintf(w, "Declared but not published (no variable; give it a hostPort, or a NodePort or LoadBalancer Service): %s\n", strings.Join(unpublished, ", "))
	default:
		fmt.Fprintf(w, "Exposed but not published (no variable; publish with -p): %s\n", strings.Join(unpublished, ", "))
	}
}

// reportPod presents a pod read from the cluster's API, and its ports.
func reportPod(w io.Writer, c *discover.Container) {
	p := c.Pod
	fmt.Fprintf(w, "Pod: %s/%s (uid %s, node %s at %s", p.Namespace, p.Name, c.ID, p.NodeName, p.NodeAddress)
	if p.HostNetwork {
		fmt.Fprint(w, ", hostNetwork")
	}
	fmt.Fprintln(w, ")")
	if p.Service != nil {
		fmt.Fprintf(w, "Service: %s (%s)\n", p.Service.Name, p.Service.Type)
	}
	reportPorts(w, c)
}

// checkOutputs checks, without writing, that every file a run would write
// can be written.
func checkOutputs(w io.Writer, s *session) error {
	for _, r := range s.rendered {
		if r.path == "" {
			continue
		}
		if err := atomicfile.CheckWritable(r.path); err != nil {
			return err
		}
		what := r.format
		if r.template != "" {
			what = "template " + r.template
		}
		fmt.Fprintf(w, "Would write %s (%s, %d bytes): its directory is writable\n", r.path, what, len(r.content))
	}
	return nil
}

// noteLog keeps what the pipeline tells, for doctor to print as notes.
type noteLog struct{ lines []string }

func (n *noteLog) Warnf(format string, args ...any) { n.add(format, args...) }
func (n *noteLog) Infof(format string, args ...any) { n.add(format, args...) }
func (n *noteLog) Debugf(string, ...any)            {}
func (n *noteLog) add(format string, args ...any) {
	n.lines = append(n.lines, fmt.Sprintf(format, args...))
}
