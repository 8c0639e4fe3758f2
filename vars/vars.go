// Package vars decides the environment variables portenv sets: the
// automatic HOST_PORT_* and HOST_IP_* of every published port, and the
// user's --port and --set rules.
package vars

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/templates"
)

// Rule is one --port or --set: Name gets the host port of container port
// Port when IsPort, or else Template rendered.
type Rule struct {
	Name     string
	IsPort   bool
	Port     discover.Port
	Template *templates.Template
	// Source says where the rule came from ("--port", "PORTENV_PORTS",
	// "PORTENV_SET_X"), for messages.
	Source string
}

// Config is what shapes the variables.
type Config struct {
	Prefix string // of the automatic variables, "HOST_" by default
	NoAuto bool
	Force  bool   // overwrite variables already set and non-empty
	HostIP string // reported for bindings on every address
	Rules  []Rule
}

// Result is the outcome of Build.
type Result struct {
	// Set holds the variables to set, by name.
	Set map[string]string
	// Kept lists, sorted, the variables left as they were because they are
	// already set and non-empty.
	Kept []string
}

// Render gives the value of a --set template; source names the rule in
// messages.
type Render func(source string, t *templates.Template) (string, error)

// Build computes the variables for container c. lookupEnv reads portenv's
// own environment; logf receives notes a user may want to know of.
func Build(c *discover.Container, cfg Config, render Render, lookupEnv func(string) (string, bool), logf func(string, ...any)) (Result, error) {
	set := map[string]string{}
	// A port on two host ports is said once, however many variables use it.
	noted := map[discover.Port]bool{}
	lookup := func(p discover.Port) (discover.Binding, error) {
		b, other, err := c.Lookup(p)
		if other != nil && !noted[p] {
			noted[p] = true
			logf("%s", discover.TwoHostPorts(b, *other, "using"))
		}
		return b, err
	}
	if !cfg.NoAuto {
		for _, p := range c.PublishedPorts() {
			b, _ := lookup(p)
			suffix := strconv.Itoa(p.Num)
			if p.Proto != "tcp" {
				suffix += "_" + strings.ToUpper(p.Proto)
			}
			set[cfg.Prefix+"PORT_"+suffix] = strconv.Itoa(b.HostPort)
			if !b.Wildcard() || cfg.HostIP != "" {
				set[cfg.Prefix+"IP_"+suffix] = b.ReportedIP(cfg.HostIP)
			}
		}
	}
	for _, rule := range cfg.Rules {
		var v string
		var err error
		if rule.IsPort {
			var b discover.Binding
			if b, err = lookup(rule.Port); err != nil {
				err = fmt.Errorf("%s %s: %w", rule.Source, rule.Name, err)
			}
			v = strconv.Itoa(b.HostPort)
		} else {
			source := rule.Source
			if source == "--set" {
				source += " " + rule.Name
			}
			v, err = render(source, rule.Template)
			if err == nil && strings.ContainsRune(v, 0) {
				// execve(2) ends each variable at its first NUL, and no
				// output format could carry it to a process either.
				err = fmt.Errorf("%s: its value holds a NUL byte, which no environment variable can hold; take it out of the template", source)
			}
		}
		if err != nil {
			return Result{}, err
		}
		set[rule.Name] = v
	}
	var res Result
	for name := range set {
		if old, ok := lookupEnv(name); ok && old != "" && !cfg.Force {
			res.Kept = append(res.Kept, name)
			delete(set, name)
		}
	}
	slices.Sort(res.Kept)
	for _, name := range res.Kept {
		logf("%s is already set; leaving it as it is (--force overwrites it)", name)
	}
	res.Set = set
	return res, nil
}
