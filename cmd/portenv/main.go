// Command portenv finds the container it runs in through the Docker Engine
// API, reads how its ports are published on the host, and execs a command
// with those facts as environment variables, or prints or writes them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/templates"
	"github.com/portenv/portenv/vars"
)

const (
	exitOK          = 0
	exitDiscovery   = 1
	exitUsage       = 2
	exitNotExecable = 126
	exitNotFound    = 127
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	// "doctor" and "version" are words only in first place, so that
	// "portenv -- doctor" still runs a program named doctor.
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintln(stdout, "portenv", versionString())
			return exitOK
		case "doctor":
			return doctor(args[1:], environ, stdout, stderr)
		}
	}
	cfg, err := parseConfig(args, environ, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "portenv:", err)
		return exitUsage
	}
	if cfg.version {
		fmt.Fprintln(stdout, "portenv", versionString())
		return exitOK
	}
	log := newLogger(stderr, cfg.LogLevel)

	set, done, err := discoverVars(cfg, environ, log)
	// A --template file may still ask the engine (.Host.Name), so the
	// connection lasts until the output is written.
	defer done()
	if err != nil {
		if !cfg.Optional {
			log.Errorf("%v", err)
			return exitDiscovery
		}
		log.Warnf("%v; going on without the variables (--optional)", err)
		set = nil
	}
	if cfg.Output != "" {
		if err := writeFile(cfg.Output, func(w io.Writer) error { return cfg.render(w, set) }); err != nil {
			log.Errorf("%v", err)
			return exitDiscovery
		}
		log.Debugf("wrote %d variables to %s", len(set), cfg.Output)
	}
	if len(cfg.command) == 0 {
		if cfg.Output != "" {
			return exitOK
		}
		if err := cfg.render(stdout, set); err != nil {
			log.Errorf("%v", err)
			return exitDiscovery
		}
		return exitOK
	}
	done()
	return execCommand(cfg.command, environ, set, log)
}

// discoverVars does the work: reach the engine, find the container, and
// compute the variables. done releases the engine and the timeout; until
// then templates may still ask the engine.
func discoverVars(cfg *config, environ []string, log *logger) (set map[string]string, done func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	done = cancel
	engine, err := discover.Connect(ctx)
	if err != nil {
		return nil, done, err
	}
	done = sync.OnceFunc(func() { engine.Close(); cancel() })
	engine.Warnf = log.Warnf
	log.Debugf("engine %s, API %s", engine.Endpoint, engine.APIVersion)
	c, tried, err := engine.Self(ctx, discover.SelfOptions{Container: cfg.Container})
	for _, a := range tried {
		log.Debugf("find container by %s: %s", a.Method, a.Result)
	}
	if err != nil {
		return nil, done, err
	}
	getenv := envLookup(environ)
	info := func() (string, string, error) { return engine.Info(ctx) }
	cfg.renderer = templates.NewRenderer(c, cfg.HostIP, func(k string) string { v, _ := getenv(k); return v }, info).WithDelims(cfg.delims)
	res, err := vars.Build(c, cfg.vars, cfg.renderer, getenv, log.Infof)
	if err != nil {
		return nil, done, err
	}
	if c.NetworkMode == "host" && !cfg.NoAuto {
		log.Infof("container %s uses the host's network (--network host), so no port is published and no %sPORT_ variable is set; its ports are reached on the host at their own numbers", c.Name, cfg.Prefix)
	}
	if log.level >= 2 {
		names := make([]string, 0, len(res.Set))
		for name := range res.Set {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			log.Debugf("set %s=%s", name, res.Set[name])
		}
	}
	return res.Set, done, nil
}

func envLookup(environ []string) func(string) (string, bool) {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := cutEnv(kv); ok {
			m[k] = v
		}
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func cutEnv(kv string) (string, string, bool) {
	// A name may not hold "=", but on some systems "=C:" style entries
	// start with one; they are kept whole as names.
	for i := 1; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// render writes the variables in the chosen format or template. With no
// container (a discovery failure under --optional) only the built-in
// formats can be written.
func (c *config) render(w io.Writer, set map[string]string) error {
	r := c.renderer
	if r == nil {
		r = templates.NewRenderer(&discover.Container{}, c.HostIP, os.Getenv, nil).WithDelims(c.delims)
	}
	if c.Template != "" {
		return r.File(w, c.Template, set)
	}
	return r.Format(w, c.Format, set)
}

func validIP(s string) bool { return net.ParseIP(s) != nil }
