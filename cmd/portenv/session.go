package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/templates"
	"github.com/portenv/portenv/vars"
)

// session is one pass of the pipeline: find the container (through the
// engine, or in the records of portenv agent with --from), compute the
// variables and render every output in memory. A run then writes the
// outputs and execs; doctor presents the same session, so the two cannot
// disagree.
type session struct {
	engine    *discover.Engine // nil when it could not be reached, or with --from
	record    *discover.Record // with --from, this container's record once found
	tried     []discover.Attempt
	container *discover.Container
	result    vars.Result
	rendered  []rendered
}

type rendered struct {
	output
	content []byte
}

// logSink receives what the pipeline tells as it goes: a run logs it on
// stderr, doctor prints it as notes.
type logSink interface {
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
}

// prepare runs the pipeline within cfg.Timeout. The session it returns
// holds whatever was found, also when err says where it stopped.
func prepare(ctx context.Context, cfg *config, env environ, log logSink) (*session, error) {
	s := &session{}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var c *discover.Container
	var info templates.EngineInfo
	var err error
	if cfg.From != "" {
		c, info, err = s.fromDir(ctx, cfg, log)
	} else {
		var done func()
		c, info, done, err = s.fromEngine(ctx, cfg, log)
		// A --template file may still ask the engine (.Host.Name), so the
		// connection lasts until every output is rendered.
		defer done()
	}
	for _, a := range s.tried {
		log.Debugf("find container by %s: %s", a.Method, a.Result)
	}
	if err != nil {
		return s, err
	}
	s.container = c
	if c.HostNetwork {
		log.Infof("container %s uses the host's network, so the engine publishes nothing: its ports are reached on the host at their own numbers%s", c.Name, ownNumbers(c))
	}
	return s, s.compute(cfg, env, log, info)
}

// fromEngine finds the container through the engine. done closes the
// connection.
func (s *session) fromEngine(ctx context.Context, cfg *config, log logSink) (*discover.Container, templates.EngineInfo, func(), error) {
	engine, err := discover.Connect(ctx, log.Warnf)
	if err != nil {
		return nil, nil, func() {}, err
	}
	s.engine = engine
	c, tried, err := engine.Self(ctx, discover.SelfOptions{Container: cfg.Container})
	s.tried = tried
	// After the first inspection, which may have refused a pinned version.
	log.Debugf("engine %s, API %s", engine.Endpoint, engine.APIVersion)
	info := func() (string, string, error) {
		h, err := engine.HostInfo(ctx)
		return h.Name, h.SwarmNodeAddr, err
	}
	return c, info, func() { engine.Close() }, err
}

// fromDir finds the container in the records of portenv agent, without
// the engine; the engine's host facts come from the record too.
func (s *session) fromDir(ctx context.Context, cfg *config, log logSink) (*discover.Container, templates.EngineInfo, error) {
	log.Debugf("reading the records of portenv agent in %s (--from); the engine is not asked", cfg.From)
	c, rec, tried, err := discover.FromDir(ctx, discover.DirOptions{Dir: cfg.From, Container: cfg.Container, Debugf: log.Debugf})
	s.tried, s.record = tried, rec
	if err != nil {
		return nil, nil, err
	}
	return c, rec.HostName, nil
}

// withoutDiscovery is the session of a run whose discovery failed under
// --optional: no container and no variables. The formats are written, empty,
// so that no value of an earlier start survives in -o's file; template
// files, which need the container, are not rendered and keep what they
// held. It returns the destinations so left.
func withoutDiscovery(cfg *config, env environ, log logSink) (*session, []string, error) {
	s := &session{container: &discover.Container{}}
	c := *cfg
	c.outputs = nil
	var kept []string
	for _, o := range cfg.outputs {
		if o.template == "" {
			c.outputs = append(c.outputs, o)
		} else if o.path != "" {
			kept = append(kept, o.path)
		}
	}
	return s, kept, s.compute(&c, env, log, nil)
}

func (s *session) compute(cfg *config, env environ, log logSink, info templates.EngineInfo) error {
	r := templates.NewRenderer(s.container, templates.Options{HostIP: cfg.HostIP, Getenv: env.get, Info: info, Delims: cfg.delims})
	var err error
	if s.container.ID != "" {
		s.result, err = vars.Build(s.container, cfg.vars, r, env.lookup, log.Infof)
		if err != nil {
			return err
		}
	}
	if s.result.Set == nil {
		s.result.Set = map[string]string{}
	}
	for _, name := range s.names() {
		log.Debugf("set %s=%s", name, s.result.Set[name])
		if n := len(name) + len(s.result.Set[name]) + 2; len(cfg.command) > 0 && n > maxEnvString {
			return fmt.Errorf("%s=VALUE is %d bytes with its closing NUL, and Linux passes at most %d as one variable to a command; shorten %s, or write it to a file with --template SRC:DEST or -o instead", name, n, maxEnvString, name)
		}
	}
	for _, o := range cfg.outputs {
		var b bytes.Buffer
		if o.template != "" {
			err = r.File(&b, o.template, s.result.Set)
		} else {
			err = r.Format(&b, o.format, s.result.Set)
		}
		if err != nil {
			return err
		}
		s.rendered = append(s.rendered, rendered{o, b.Bytes()})
	}
	return nil
}

// names lists the variables set, sorted.
func (s *session) names() []string {
	names := make([]string, 0, len(s.result.Set))
	for k := range s.result.Set {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func ownNumbers(c *discover.Container) string {
	if len(c.Ports) == 0 {
		return ""
	}
	parts := make([]string, len(c.Ports))
	for i, b := range c.Ports {
		parts[i] = b.Port.String() + " at " + strconv.Itoa(b.HostPort)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
