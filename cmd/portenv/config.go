package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/portenv/portenv/templates"
	"github.com/portenv/portenv/vars"
)

// settings are the PORTENV_ variables; each flag of the same name wins
// over its variable.
type settings struct {
	Container string        `envconfig:"CONTAINER"`
	Ports     []string      `envconfig:"PORTS"`
	NoAuto    bool          `envconfig:"NO_AUTO"`
	Prefix    string        `envconfig:"PREFIX" default:"HOST_"`
	Force     bool          `envconfig:"FORCE"`
	Output    string        `envconfig:"OUTPUT"`
	Format    string        `envconfig:"FORMAT" default:"shell"`
	Template  string        `envconfig:"TEMPLATE"`
	Timeout   time.Duration `envconfig:"TIMEOUT" default:"10s"`
	Optional  bool          `envconfig:"OPTIONAL"`
	HostIP    string        `envconfig:"HOST_IP"`
	Delims    string        `envconfig:"DELIMS"`
	LogLevel  string        `envconfig:"LOG_LEVEL" default:"info"`
}

// config is everything one run of portenv needs to know.
type config struct {
	settings
	vars    vars.Config
	delims  templates.Delims
	command []string
	version bool

	// renderer is set once the container is known.
	renderer *templates.Renderer
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// repeated collects a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

const setPrefix = "PORTENV_SET_"

func parseConfig(args, environ []string, help io.Writer) (*config, error) {
	var s settings
	// An empty PORTENV_ variable (as "PORTENV_TIMEOUT=" in a compose file
	// leaves it) means the default, as an absent one does.
	for _, kv := range environ {
		if k, v, _ := strings.Cut(kv, "="); v == "" && strings.HasPrefix(k, "PORTENV_") {
			os.Unsetenv(k)
		}
	}
	if err := envconfig.Process("portenv", &s); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return nil, usagef("%s=%q: %v", pe.KeyName, pe.Value, pe.Err)
		}
		return nil, usagef("%v", err)
	}
	var ports, sets repeated
	var quiet, verbose bool
	c := &config{}
	fs := flag.NewFlagSet("portenv", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.Container, "container", s.Container, "use container `ID|NAME` instead of finding this one (PORTENV_CONTAINER)")
	fs.Var(&ports, "port", "set `NAME=PORT[/PROTO]`: NAME gets the host port of container PORT; repeatable (PORTENV_PORTS, comma-separated)")
	fs.Var(&sets, "set", "set `NAME=TEMPLATE`: NAME gets TEMPLATE rendered; repeatable (PORTENV_SET_<NAME>=TEMPLATE)")
	fs.BoolVar(&s.NoAuto, "no-auto", s.NoAuto, "do not set the automatic HOST_PORT_* and HOST_IP_* variables (PORTENV_NO_AUTO)")
	fs.StringVar(&s.Prefix, "prefix", s.Prefix, "prefix `P` of the automatic variables (PORTENV_PREFIX)")
	fs.BoolVar(&s.Force, "force", s.Force, "overwrite variables that are already set and non-empty (PORTENV_FORCE)")
	fs.StringVar(&s.Output, "o", s.Output, "write the variables to `FILE` (PORTENV_OUTPUT)")
	fs.StringVar(&s.Output, "output", s.Output, "the same as -o `FILE`")
	fs.StringVar(&s.Format, "format", s.Format, "output `format`: shell, dotenv or json (PORTENV_FORMAT)")
	fs.StringVar(&s.Template, "template", s.Template, "render template `FILE` as the output (PORTENV_TEMPLATE)")
	fs.DurationVar(&s.Timeout, "timeout", s.Timeout, "how long to wait for the engine and for published ports (PORTENV_TIMEOUT)")
	fs.BoolVar(&s.Optional, "optional", s.Optional, "if discovery fails, warn and still run COMMAND, without the variables (PORTENV_OPTIONAL)")
	fs.StringVar(&s.HostIP, "host-ip", s.HostIP, "the `IP` to report for bindings on 0.0.0.0 / :: (PORTENV_HOST_IP)")
	fs.StringVar(&s.Delims, "delims", s.Delims, "`LEFT,RIGHT` delimiters of --set and --template templates instead of {{,}}, such as '[[,]]' where Swarm would expand {{ }} (PORTENV_DELIMS)")
	fs.BoolVar(&quiet, "q", false, "log errors only (PORTENV_LOG_LEVEL=error)")
	fs.BoolVar(&verbose, "v", false, "log how the container was found and what was set (PORTENV_LOG_LEVEL=debug)")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			printUsage(help, fs)
			return nil, err
		}
		return nil, usagef("%v (portenv --help lists the flags)", err)
	}
	c.command = fs.Args()
	switch {
	case quiet && verbose:
		return nil, usagef("-q and -v contradict each other; give one")
	case quiet:
		s.LogLevel = "error"
	case verbose:
		s.LogLevel = "debug"
	}
	switch s.LogLevel {
	case "error", "info", "debug":
	default:
		return nil, usagef("PORTENV_LOG_LEVEL=%q: use error, info or debug", s.LogLevel)
	}
	if s.Template == "" && !slices.Contains(templates.Formats, s.Format) {
		return nil, usagef("--format %q: use one of %s", s.Format, strings.Join(templates.Formats, ", "))
	}
	if s.Timeout <= 0 {
		return nil, usagef("--timeout %v: give a positive duration such as 10s", s.Timeout)
	}
	if !vars.ValidName(s.Prefix + "PORT_1") {
		return nil, usagef("--prefix %q: the variables it makes would not be valid names (letters, digits and _, not starting with a digit)", s.Prefix)
	}
	if s.HostIP != "" && !validIP(s.HostIP) {
		return nil, usagef("--host-ip %q is not an IP address", s.HostIP)
	}

	delims, err := templates.ParseDelims(s.Delims)
	if err != nil {
		return nil, usagef("%v", err)
	}

	var flagRules, envRules []vars.Rule
	for _, p := range ports {
		r, err := vars.ParseRule(p, "--port", true, delims)
		if err != nil {
			return nil, usagef("%v", err)
		}
		flagRules = append(flagRules, r)
	}
	for _, p := range sets {
		r, err := vars.ParseRule(p, "--set", false, delims)
		if err != nil {
			return nil, usagef("%v", err)
		}
		flagRules = append(flagRules, r)
	}
	for _, p := range s.Ports {
		r, err := vars.ParseRule(strings.TrimSpace(p), "PORTENV_PORTS", true, delims)
		if err != nil {
			return nil, usagef("%v", err)
		}
		envRules = append(envRules, r)
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, setPrefix)
		if !ok {
			continue
		}
		r, err := vars.ParseRule(name+"="+v, k, false, delims)
		if err != nil {
			return nil, usagef("%v", err)
		}
		envRules = append(envRules, r)
	}
	rules, err := vars.Merge(flagRules, envRules)
	if err != nil {
		return nil, usagef("%v", err)
	}
	c.settings = s
	c.delims = delims
	c.vars = vars.Config{Prefix: s.Prefix, NoAuto: s.NoAuto, Force: s.Force, HostIP: s.HostIP, Rules: rules}
	return c, nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage:
  portenv [flags] [--] COMMAND [ARG...]    find the published ports, then exec COMMAND with the variables
  portenv [flags]                          print the variables (export lines for eval)
  portenv [flags] -o FILE [-- COMMAND...]  write the variables to FILE (then exec COMMAND)
  portenv doctor [flags]                   explain what portenv sees
  portenv version

Every published container port gives HOST_PORT_<port> (HOST_PORT_<port>_UDP for udp),
and HOST_IP_<port> where it is bound to one host address.

Flags (each has the PORTENV_ variable named beside it; the flag wins):
`)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		line := "  " + dash + f.Name
		if name != "" {
			line += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0s" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%-28s %s\n", line, usage)
	})
	fmt.Fprint(w, `
The engine is found as the Docker client finds it: DOCKER_HOST, DOCKER_TLS_VERIFY,
DOCKER_CERT_PATH, DOCKER_API_VERSION. Exit codes: 0 success, 1 discovery failed,
2 usage error, 126 COMMAND not executable, 127 COMMAND not found.
`)
}
