package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/portenv/portenv/templates"
	"github.com/portenv/portenv/vars"
)

// settings are the PORTENV_ variables; each flag of the same name wins
// over its variable. The names come from the fields (split_words), never
// from an envconfig tag: a tag would make envconfig fall back to the bare
// name, so that an image's own TIMEOUT or OUTPUT would configure portenv.
type settings struct {
	Container string
	Ports     []string
	NoAuto    bool   `split_words:"true"`
	Prefix    string `default:"HOST_"`
	Force     bool
	Output    string
	Format    string `default:"shell"`
	Template  []string
	Timeout   time.Duration `default:"10s"`
	Optional  bool
	HostIP    string `split_words:"true"`
	Delims    string
	From      string
	Source    string `default:"auto"`
	LogLevel  string `split_words:"true" default:"info"`
}

// config is everything one run of portenv needs to know.
type config struct {
	settings
	vars    vars.Config
	delims  templates.Delims
	outputs []output
	command []string
	version bool
}

func (c *config) target() target {
	return target{container: c.Container, from: c.From, source: c.Source, timeout: c.Timeout}
}

// output is one thing a run writes: the variables in a format, or a
// template file rendered, to a file or (path "") to stdout.
type output struct {
	template string // a template file, or "" for the format
	format   string
	path     string
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

func parseConfig(args []string, env environ, help io.Writer) (*config, error) {
	var s settings
	if err := readSettings(env, &s); err != nil {
		return nil, err
	}
	c := &config{}
	f, err := c.parseFlags(args, &s, help)
	if err != nil {
		return nil, err
	}
	if err := c.check(&s, f.from); err != nil {
		return nil, err
	}
	rules, err := parseRules(f, s.Ports, env, c.delims)
	if err != nil {
		return nil, err
	}
	c.settings = s
	c.vars = vars.Config{Prefix: s.Prefix, NoAuto: s.NoAuto, Force: s.Force, HostIP: s.HostIP, Rules: rules}
	return c, nil
}

// flagged is what the flags gave beside the settings: the rules, and
// where each value came from.
type flagged struct {
	ports, sets repeated
	// from names where a value came from in its message: the flag when
	// given, else its variable.
	from func(flagName, variable string) string
}

// parseFlags sets s from the flags, which win over the variables, and
// takes the command after them.
func (c *config) parseFlags(args []string, s *settings, help io.Writer) (*flagged, error) {
	f := &flagged{}
	var tmpls repeated
	var quiet, verbose bool
	fs := newFlagSet("portenv")
	fs.StringVar(&s.Container, "container", s.Container, "use container `ID|NAME` instead of finding this one (PORTENV_CONTAINER)")
	fs.Var(&f.ports, "port", "set `NAME=PORT[/PROTO]`: NAME gets the host port of container PORT; repeatable (PORTENV_PORTS, comma-separated)")
	fs.Var(&f.sets, "set", "set `NAME=TEMPLATE`: NAME gets TEMPLATE rendered; repeatable (PORTENV_SET_<NAME>=TEMPLATE)")
	fs.BoolVar(&s.NoAuto, "no-auto", s.NoAuto, "do not set the automatic HOST_PORT_* and HOST_IP_* variables (PORTENV_NO_AUTO)")
	fs.StringVar(&s.Prefix, "prefix", s.Prefix, "prefix `P` of the automatic variables (PORTENV_PREFIX)")
	fs.BoolVar(&s.Force, "force", s.Force, "overwrite variables that are already set and non-empty (PORTENV_FORCE)")
	fs.StringVar(&s.Output, "o", s.Output, "write the variables to `FILE` (PORTENV_OUTPUT)")
	fs.StringVar(&s.Output, "output", s.Output, "the same as -o `FILE`")
	fs.StringVar(&s.Format, "format", s.Format, "output `format`: shell, dotenv or json (PORTENV_FORMAT)")
	fs.Var(&tmpls, "template", "render template `SRC` as the output, or SRC:DEST to file DEST before COMMAND runs; repeatable (PORTENV_TEMPLATE, comma-separated)")
	fs.DurationVar(&s.Timeout, "timeout", s.Timeout, "how long to wait for the engine and for published ports (PORTENV_TIMEOUT)")
	fs.BoolVar(&s.Optional, "optional", s.Optional, "if discovery fails, warn and still run COMMAND, without the variables (PORTENV_OPTIONAL)")
	fs.StringVar(&s.HostIP, "host-ip", s.HostIP, "the `IP` to report for bindings on 0.0.0.0 / :: (PORTENV_HOST_IP)")
	fs.StringVar(&s.Delims, "delims", s.Delims, "`LEFT,RIGHT` delimiters of --set and --template templates instead of {{,}}, such as '[[,]]' where Swarm would expand {{ }} (PORTENV_DELIMS)")
	fs.StringVar(&s.From, "from", s.From, "read this container's bindings from `DIR`, where portenv agent writes them, instead of asking the engine: no socket needed (PORTENV_FROM)")
	fs.StringVar(&s.Source, "source", s.Source, "where to read this container: `auto`, docker (the engine) or kubernetes (the cluster's API, in a pod); auto takes docker where DOCKER_HOST is set or the socket exists, else kubernetes in a pod (PORTENV_SOURCE)")
	fs.BoolVar(&quiet, "q", false, "log errors only (PORTENV_LOG_LEVEL=error)")
	fs.BoolVar(&verbose, "v", false, "log how the container was found and what was set (PORTENV_LOG_LEVEL=debug)")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			printUsage(help, fs)
			return nil, err
		}
		return nil, usagef("%s (portenv --help lists the flags)", flagError(err, fs))
	}
	c.command = fs.Args()
	if len(tmpls) > 0 {
		s.Template = tmpls
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	f.from = func(flagName, variable string) string {
		if given[flagName] {
			return "--" + flagName + " "
		}
		return "PORTENV_" + variable + "="
	}
	var err error
	s.LogLevel, err = logLevel(quiet, verbose, s.LogLevel)
	return f, err
}

// check refuses the values no run can use, and reads the delimiters and
// the outputs.
func (c *config) check(s *settings, from func(flagName, variable string) string) error {
	if formats := templates.Formats(); !slices.Contains(formats, s.Format) {
		return usagef("%s%q: use one of %s", from("format", "FORMAT"), s.Format, strings.Join(formats, ", "))
	}
	if err := checkTimeout(s.Timeout, from("timeout", "TIMEOUT")); err != nil {
		return err
	}
	if err := checkSource(s.Source, s.From, from); err != nil {
		return err
	}
	if !vars.ValidName(s.Prefix + "PORT_1") {
		return usagef("%s%q: the variables it makes would not be valid names (letters, digits and _, not starting with a digit)", from("prefix", "PREFIX"), s.Prefix)
	}
	if s.HostIP != "" && net.ParseIP(s.HostIP) == nil {
		return usagef("%s%q is not an IP address", from("host-ip", "HOST_IP"), s.HostIP)
	}
	var err error
	if c.delims, err = templates.ParseDelims(s.Delims); err != nil {
		return usagef("%s%v", from("delims", "DELIMS"), err)
	}
	c.outputs, err = outputs(*s, from("template", "TEMPLATE"), len(c.command) > 0)
	return err
}

// checkTimeout refuses a timeout that gives no time; from names it as
// given ("--timeout ", "PORTENV_TIMEOUT=").
func checkTimeout(d time.Duration, from string) error {
	if d <= 0 {
		return usagef("%s%v: give a positive duration such as 10s", from, d)
	}
	return nil
}

// parseRules reads the --port and --set rules, then the PORTENV_PORTS and
// PORTENV_SET_ ones, which the flags win over.
func parseRules(f *flagged, envPorts []string, env environ, d templates.Delims) ([]vars.Rule, error) {
	var flagRules, envRules []vars.Rule
	add := func(rules *[]vars.Rule, text, source string, port bool) error {
		r, err := vars.ParseRule(text, source, port, d)
		if err != nil {
			return usagef("%v", err)
		}
		*rules = append(*rules, r)
		return nil
	}
	for _, p := range f.ports {
		if err := add(&flagRules, p, "--port", true); err != nil {
			return nil, err
		}
	}
	for _, p := range f.sets {
		if err := add(&flagRules, p, "--set", false); err != nil {
			return nil, err
		}
	}
	for _, p := range envPorts {
		if strings.TrimSpace(p) == "" {
			continue // "A=9092," or "A=9092,,B=53/udp"
		}
		if err := add(&envRules, p, "PORTENV_PORTS", true); err != nil {
			return nil, err
		}
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, setPrefix); ok {
			if err := add(&envRules, name+"="+v, k, false); err != nil {
				return nil, err
			}
		}
	}
	rules, err := vars.Merge(flagRules, envRules)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return rules, nil
}

// newFlagSet is a command's flag set, which prints nothing itself: each
// command says what went wrong in its own words.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printFlags lists the flags of fs, one a line, the flag and its value's
// name in a column width wide.
func printFlags(w io.Writer, fs *flag.FlagSet, width int, withDefaults bool) {
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
		if withDefaults && f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0s" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "%-*s %s\n", width, line, usage)
	})
}

// readSettings reads the PORTENV_ variables of env into s, a settings
// struct or a smaller one with the fields a command uses. An empty one (as
// "PORTENV_TIMEOUT=" in a compose file leaves it) means the default, as an
// absent one does.
func readSettings(env environ, s any) error {
	settingsMu.Lock()
	defer settingsMu.Unlock()
	defer useSettings(env)()
	err := envconfig.Process("portenv", s)
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return usagef("%s=%q: %s", pe.KeyName, pe.Value, accepted(pe.TypeName))
	}
	if err != nil {
		return usagef("%v", err)
	}
	return nil
}

// settingsMu serializes readSettings, which lends the process environment
// to envconfig.
var settingsMu sync.Mutex

// useSettings makes the process's PORTENV_ variables the non-empty ones of
// env, for envconfig, which reads only the process environment, and
// returns what puts back the process's own. main passes the process
// environment, so a run changes nothing but the empty ones; a test passes
// its own.
func useSettings(env environ) (restore func()) {
	own := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PORTENV_") {
			own[k] = v
			os.Unsetenv(k)
		}
	}
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); v != "" && strings.HasPrefix(k, "PORTENV_") {
			os.Setenv(k, v)
		}
	}
	return func() {
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PORTENV_") {
				os.Unsetenv(k)
			}
		}
		for k, v := range own {
			os.Setenv(k, v)
		}
	}
}

// logLevel is the level -q, -v and PORTENV_LOG_LEVEL give.
func logLevel(quiet, verbose bool, level string) (string, error) {
	switch {
	case quiet && verbose:
		return "", usagef("-q and -v contradict each other; give one")
	case quiet:
		return "error", nil
	case verbose:
		return "debug", nil
	}
	switch l := strings.ToLower(level); l {
	case "error", "info", "debug":
		return l, nil
	}
	return "", usagef("PORTENV_LOG_LEVEL=%q: use error, info or debug", level)
}

// accepted says which values a flag or variable of a Go type takes.
func accepted(typeName string) string {
	switch typeName {
	case "bool":
		return "use true or false (or 1 or 0)"
	case "time.Duration", "duration":
		return "write a duration such as 10s, 500ms or 2m"
	}
	return "see portenv --help"
}

// outputs decides what a run writes: each --template SRC:DEST to its file,
// and the variables (in the format, or through the one --template SRC) to
// -o FILE, or to stdout when there is no COMMAND and no file at all.
func outputs(s settings, templateSource string, command bool) ([]output, error) {
	var out []output
	main := output{format: s.Format, path: s.Output}
	for _, t := range s.Template {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		src, dest, ok := strings.Cut(t, ":")
		switch {
		case ok && (src == "" || dest == ""):
			return nil, usagef("%s%q: write it as SRC (the output) or SRC:DEST (a file written before COMMAND runs)", templateSource, t)
		case ok:
			out = append(out, output{template: src, path: dest})
		case main.template != "":
			return nil, usagef("%s: only one template may be the output (%s and %s); give the others a destination as SRC:DEST", strings.TrimRight(templateSource, " ="), main.template, src)
		default:
			main.template = src
		}
	}
	switch {
	case main.path != "" || (!command && (main.template != "" || len(out) == 0)):
		out = append(out, main)
	case main.template != "":
		return nil, usagef("%s%s: with a COMMAND nothing is printed; give the template a destination as %s:DEST, or -o FILE", templateSource, main.template, main.template)
	}
	seen := map[string]bool{}
	for _, o := range out {
		if o.path != "" && seen[o.path] {
			return nil, usagef("%s is written twice; give each output its own file", o.path)
		}
		seen[o.path] = true
	}
	return out, nil
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage:
  portenv [flags] [--] COMMAND [ARG...]    find the published ports, then exec COMMAND with the variables
  portenv [flags]                          print the variables (export lines for eval)
  portenv [flags] -o FILE [-- COMMAND...]  write the variables to FILE (then exec COMMAND)
  portenv [flags] --template SRC:DEST ... [-- COMMAND...]  render each template to its file (then exec)
  portenv --from DIR [flags] [-- COMMAND]  the same, from the records of portenv agent, without the socket
  portenv port [-q] [PORT[/PROTO]]         this container's ports in docker port's format
  portenv agent --dir DIR                  write every container's record to DIR (for --from), following the engine
  portenv doctor [flags]                   explain what portenv sees; OK only if the same run would succeed
  portenv help                             this text
  portenv version
  docker port CONTAINER [PORT[/PROTO]]     installed as docker, portenv answers docker port

Every published container port gives HOST_PORT_<port> (HOST_PORT_<port>_UDP for udp),
and HOST_IP_<port> where it is bound to one host address.

Flags (each has the PORTENV_ variable named beside it; the flag wins):
`)
	printFlags(w, fs, 28, true)
	fmt.Fprint(w, `
Only PORTENV_ variables configure portenv. The engine is found as the Docker client
finds it: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION.
In a Kubernetes pod without either, the cluster's API is read as the pod's service
account: the pod named by POD_NAME (or the hostname), its hostPorts and the NodePort
and LoadBalancer Services that select it.
Exit codes: 0 success, 1 discovery or output failed, 2 usage error,
126 COMMAND not executable, 127 COMMAND not found.
`)
}

// flagError says in portenv's words what the flag package refused: flags
// named as they are written (--timeout, -o), and the values they take.
func flagError(err error, fs *flag.FlagSet) string {
	msg := err.Error()
	dash := func(name string) string {
		if len(name) == 1 {
			return "-" + name
		}
		return "--" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag " + dash(strings.TrimPrefix(name, "-"))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return dash(strings.TrimPrefix(name, "-")) + " needs a value"
	}
	// invalid value "5" for flag -timeout: ...; invalid boolean value
	// "maybe" for -force: ...
	if _, rest, ok := strings.Cut(msg, "value "); ok {
		if value, rest, ok := strings.Cut(rest, " for "); ok {
			name := strings.TrimPrefix(strings.TrimPrefix(rest, "flag "), "-")
			name, _, _ = strings.Cut(name, ":")
			typ := "string"
			if f := fs.Lookup(name); f != nil {
				if g, ok := f.Value.(flag.Getter); ok {
					switch g.Get().(type) {
					case bool:
						typ = "bool"
					case time.Duration:
						typ = "duration"
					}
				}
			}
			return dash(name) + " " + value + ": " + accepted(typ)
		}
	}
	return msg
}
