package main

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

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
	kube      *discover.Kube   // the cluster's API, when it is the source
	record    *discover.Record // with --from, this container's record once found
	tried     []discover.Attempt
	container *discover.Container
	info      templates.EngineInfo // the host's facts, as the source gives them
	close     func()
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

// target is what finding the container needs, and all a run, doctor,
// portenv port and the docker shim share of their configuration.
type target struct {
	container string // --container, or "" for this container
	from      string // --from: the agent's directory, or "" for the engine
	source    string // PORTENV_SOURCE: auto, docker or kubernetes
	timeout   time.Duration
}

// prepare runs the pipeline within cfg.Timeout. The session it returns
// holds whatever was found, also when err says where it stopped.
func prepare(ctx context.Context, cfg *config, env environ, log logSink) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	s, err := find(ctx, cfg.target(), env, log)
	// A --template file may still ask the engine (.Host.Name), so the
	// connection lasts until every output is rendered.
	defer s.close()
	if err != nil {
		return s, err
	}
	return s, s.compute(cfg, cfg.outputs, env, log)
}

// find finds the container, through the engine, the cluster's API or in
// the records of portenv agent, within ctx. close ends the session's connection.
func find(ctx context.Context, t target, env environ, log logSink) (*session, error) {
	s := &session{close: func() {}}
	var c *discover.Container
	var err error
	switch src, why := t.sourceOf(env); src {
	case "records":
		c, err = s.fromDir(ctx, t, log)
	case sourceKubernetes:
		log.Debugf("reading the Kubernetes API (%s)", why)
		c, err = s.fromCluster(ctx, t, env, log)
	default:
		c, err = s.fromEngine(ctx, t, env, log)
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
	return s, nil
}

// findContainer is find alone, within t.timeout, for the commands that
// need only the container: portenv port and the docker shim.
func findContainer(ctx context.Context, t target, env environ, log logSink) (*discover.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	s, err := find(ctx, t, env, log)
	s.close()
	return s.container, err
}

func (s *session) fromEngine(ctx context.Context, t target, env environ, log logSink) (*discover.Container, error) {
	engine, err := discover.Connect(ctx, env.get, log.Warnf)
	if err != nil {
		return nil, err
	}
	s.engine, s.close = engine, func() { engine.Close() }
	c, tried, err := engine.Self(ctx, discover.SelfOptions{Container: t.container})
	s.tried = tried
	// After the first inspection, which may have refused a pinned version.
	log.Debugf("engine %s, API %s", engine.Endpoint, engine.APIVersion)
	s.info = func() (string, string, error) {
		h, err := engine.HostInfo(ctx)
		return h.Name, h.SwarmNodeAddr, err
	}
	return c, err
}

// fromDir finds the container in the records of portenv agent, without
// the engine; the engine's host facts come from the record too.
func (s *session) fromDir(ctx context.Context, t target, log logSink) (*discover.Container, error) {
	log.Debugf("reading the records of portenv agent in %s (--from); the engine is not asked", t.from)
	c, rec, tried, err := discover.FromDir(ctx, discover.DirOptions{Dir: t.from, Container: t.container, Debugf: log.Debugf})
	s.tried, s.record = tried, rec
	if err != nil {
		return nil, err
	}
	s.info = rec.HostName
	return c, nil
}

// withoutDiscovery is the session of a run whose discovery failed under
// --optional: no container and no variables. The formats are written, empty,
// so that no value of an earlier start survives in -o's file; template
// files, which need the container, are not rendered and keep what they
// held. It returns the destinations so left.
func withoutDiscovery(cfg *config, env environ, log logSink) (*session, []string, error) {
	s := &session{container: &discover.Container{}}
	var formats []output
	var kept []string
	for _, o := range cfg.outputs {
		if o.template == "" {
			formats = append(formats, o)
		} else if o.path != "" {
			kept = append(kept, o.path)
		}
	}
	return s, kept, s.compute(cfg, formats, env, log)
}

// compute sets the variables and renders outs in memory.
func (s *session) compute(cfg *config, outs []output, env environ, log logSink) error {
	r := templates.NewRenderer(s.container, templates.Options{HostIP: cfg.HostIP, Getenv: env.get, Info: s.info, Delims: cfg.delims})
	var err error
	if s.container.ID != "" {
		s.result, err = vars.Build(s.container, cfg.vars, r.Value, env.lookup, log.Infof)
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
	for _, o := range outs {
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
