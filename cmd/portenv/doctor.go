package main

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/templates"
	"github.com/portenv/portenv/vars"
)

// doctor explains, in sentences, what portenv sees: the engine, how the
// container was found, its bindings and the variables that would be set.
// It exits 1 at the first thing that is wrong, with the same message a
// normal run gives.
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

	engine, err := discover.Connect(ctx)
	if err != nil {
		return fail(err)
	}
	defer engine.Close()
	how := "negotiated"
	if engine.Pinned {
		how = "fixed by DOCKER_API_VERSION"
	}
	fmt.Fprintf(stdout, "Engine: %s, API version %s (%s)\n", engine.Endpoint, engine.APIVersion, how)

	c, tried, err := engine.Self(ctx, discover.SelfOptions{Container: cfg.Container})
	fmt.Fprintln(stdout, "Finding this container:")
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
	fmt.Fprintf(stdout, "Container: %s (id %s, hostname %s, image %s, network %s)\n", c.Name, c.ID[:12], c.Hostname, c.Image, c.NetworkMode)
	if len(c.Ports) == 0 {
		fmt.Fprintln(stdout, "Published ports: none")
	} else {
		fmt.Fprintln(stdout, "Published ports:")
		for _, b := range c.Ports {
			fmt.Fprintf(stdout, "  %-10s -> %s\n", b.Key(), joinHostPort(b))
		}
	}
	var notes []string
	getenv := envLookup(environ)
	r := templates.NewRenderer(c, cfg.HostIP, func(k string) string { v, _ := getenv(k); return v },
		func() (string, string, error) { return engine.Info(ctx) })
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

func joinHostPort(b discover.Binding) string {
	ip := b.HostIP
	if b.IPv6() {
		ip = "[" + ip + "]"
	}
	return fmt.Sprintf("%s:%d", ip, b.HostPort)
}
