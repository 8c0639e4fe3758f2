package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/docker/docker/client"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/templates"
	"github.com/portenv/portenv/vars"
)

// doctor explains, in sentences, what portenv sees: the engine, how the
// container was found, its bindings and the variables that would be set.
// It stops at the first thing that is wrong and exits 1, the problem
// written with the same message a normal run gives.
func doctor(args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, environ, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "portenv:", err)
		return exitUsage
	}
	fail := func(err error) int {
		fmt.Fprintln(stdout, "PROBLEM:", err)
		return exitDiscovery
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()

	if h := os.Getenv(client.EnvOverrideHost); h != "" {
		fmt.Fprintf(stdout, "Engine: %s (DOCKER_HOST)\n", h)
	} else {
		fmt.Fprintf(stdout, "Engine: %s (the default; DOCKER_HOST is not set)\n", client.DefaultDockerHost)
	}
	engine, err := discover.Connect(ctx)
	if err != nil {
		return fail(err)
	}
	defer engine.Close()
	engine.Warnf = func(f string, a ...any) { fmt.Fprintln(stdout, "Note:", fmt.Sprintf(f, a...)) }
	how := "negotiated"
	if engine.Pinned {
		how = "fixed by DOCKER_API_VERSION"
	}
	fmt.Fprintf(stdout, "  answers; API version %s, %s (the engine offers up to %s)\n", engine.APIVersion, how, engine.EngineAPI)
	// One request a normal run does not send; a proxy that refuses it
	// changes nothing else, so its refusal is not reported.
	if rootless, err := engine.Rootless(ctx); err == nil && rootless {
		fmt.Fprintln(stdout, "  runs rootless (GET /info): its port forwarder publishes the ports on the host, so the HOST_ values are the host's; this container's own addresses and {{gateway}} are in the engine's private network, from which the host's 127.0.0.1 is not reached")
	}

	c, tried, err := engine.Self(ctx, discover.SelfOptions{Container: cfg.Container})
	fmt.Fprintln(stdout, "Finding this container (+ found, - did not):")
	for _, a := range tried {
		mark := "-"
		if a.OK {
			mark = "+"
		}
		fmt.Fprintf(stdout, "  %s %-13s %s\n", mark, a.Method, a.Result)
	}
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "Container: %s (id %s, hostname %s, image %s, network %s)\n", c.Name, shortID(c.ID), c.Hostname, c.Image, c.NetworkMode)
	switch {
	case c.NetworkMode == "host":
		fmt.Fprintln(stdout, "Published ports: none; the container uses the host's network (--network host), where ports are reached at their own numbers")
	case len(c.Ports) == 0:
		fmt.Fprintln(stdout, "Published ports: none")
	default:
		of := ""
		if c.NetworkOf != "" {
			of = " (of container " + c.NetworkOf + ", whose network this one shares)"
		}
		fmt.Fprintf(stdout, "Published ports%s:\n", of)
		for _, b := range c.Ports {
			fmt.Fprintf(stdout, "  %-10s -> %s\n", b.Key(), joinHostPort(b))
		}
	}
	var unpublished []string
	for _, p := range c.Exposed {
		port, proto, ok := discover.ParsePort(p)
		if ok && len(c.Published(port, proto)) == 0 {
			unpublished = append(unpublished, p)
		}
	}
	if len(unpublished) > 0 && c.NetworkMode != "host" {
		sort.Strings(unpublished)
		fmt.Fprintf(stdout, "Exposed but not published (no variable; publish with -p): %s\n", strings.Join(unpublished, ", "))
	}

	var notes []string
	getenv := envLookup(environ)
	r := templates.NewRenderer(c, cfg.HostIP, func(k string) string { v, _ := getenv(k); return v },
		func() (string, string, error) { return engine.Info(ctx) }).WithDelims(cfg.delims)
	res, err := vars.Build(c, cfg.vars, r, getenv, func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) })
	for _, n := range notes {
		fmt.Fprintln(stdout, "Note:", n)
	}
	if err != nil {
		return fail(err)
	}
	names := make([]string, 0, len(res.Set))
	for k := range res.Set {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintln(stdout, "Variables portenv would set:")
	if len(names) == 0 {
		fmt.Fprintln(stdout, "  none")
	}
	for _, k := range names {
		fmt.Fprintf(stdout, "  %s=%s\n", k, res.Set[k])
	}
	fmt.Fprintln(stdout, "OK")
	return exitOK
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func joinHostPort(b discover.Binding) string {
	ip := b.HostIP
	if b.IPv6() {
		ip = "[" + ip + "]"
	}
	return fmt.Sprintf("%s:%d", ip, b.HostPort)
}
