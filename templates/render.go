package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"unicode/utf8"

	"github.com/portenv/portenv/internal/atomicfile"

	"github.com/portenv/portenv/discover"
)

//go:embed *.tmpl
var builtin embed.FS

// Formats lists the built-in output formats, each a file NAME.tmpl here.
func Formats() []string {
	names, _ := fs.Glob(builtin, "*.tmpl")
	for i, n := range names {
		names[i] = strings.TrimSuffix(n, ".tmpl")
	}
	return names
}

// Options shape a Renderer.
type Options struct {
	// HostIP is the address to report for wildcard bindings (--host-ip).
	HostIP string
	// Getenv reads portenv's environment for the env function.
	Getenv func(string) string
	// Info asks the engine for .Host.Name and .Swarm.NodeAddr.
	Info EngineInfo
	// Gateway reads this process's default gateway; nil reads
	// /proc/net/route.
	Gateway func() (string, error)
	// Delims are the user's template delimiters (--delims).
	Delims Delims
}

// Renderer renders templates over one container.
type Renderer struct {
	c       *discover.Container
	opt     Options
	data    *data
	gateway func() (string, error)
}

// NewRenderer prepares to render templates over container c.
func NewRenderer(c *discover.Container, opt Options) *Renderer {
	if opt.Getenv == nil {
		opt.Getenv = func(string) string { return "" }
	}
	gw := opt.Gateway
	if gw == nil {
		gw = func() (string, error) { return discover.DefaultGateway("") }
	}
	return &Renderer{c: c, opt: opt, data: newData(c, opt.Info), gateway: sync.OnceValues(gw)}
}

// Delims are the action delimiters of the user's templates (--set values
// and --template files); the zero value is text/template's {{ and }}.
// Other delimiters let a template pass through a tool that expands {{ }}
// itself, as Swarm does in a service's environment.
type Delims struct{ Left, Right string }

// ParseDelims reads --delims "LEFT,RIGHT", such as "[[,]]"; "" is the
// default {{ }}.
func ParseDelims(s string) (Delims, error) {
	if s == "" {
		return Delims{}, nil
	}
	l, r, ok := strings.Cut(s, ",")
	if !ok || l == "" || r == "" || strings.ContainsAny(s, " \t\n") || strings.Contains(r, ",") {
		return Delims{}, fmt.Errorf("%q: write the left and right delimiters with a comma between them and no spaces, such as '[[,]]'", s)
	}
	return Delims{Left: l, Right: r}, nil
}

func (r *Renderer) funcs() template.FuncMap {
	return template.FuncMap{
		"port":    r.port,
		"hostIP":  r.hostIPOf,
		"addr":    r.addr,
		"gateway": r.gatewayIP,
		"env":     r.env,
		"shell":   shellQuote,
		"dotenv":  dotenvValue,
		"json":    jsonValue,
		"index":   index,
	}
}

// index replaces text/template's own, which gives an empty value for a key
// a map does not have: {{(index .Networks "kafka_defualt").IP}} would
// advertise an empty address instead of failing.
func index(item any, keys ...any) (any, error) {
	v := reflect.ValueOf(item)
	for _, k := range keys {
		switch v.Kind() {
		case reflect.Map:
			kv := reflect.ValueOf(k)
			if !kv.IsValid() || !kv.Type().AssignableTo(v.Type().Key()) {
				return nil, fmt.Errorf("index: %v is not a key of this map (write it as a quoted string)", k)
			}
			e := v.MapIndex(kv)
			if !e.IsValid() {
				names := make([]string, 0, v.Len())
				for _, mk := range v.MapKeys() {
					names = append(names, fmt.Sprint(mk.Interface()))
				}
				sort.Strings(names)
				return nil, fmt.Errorf("index: no %q here; there are: %s", fmt.Sprint(k), strings.Join(names, ", "))
			}
			v = e
		case reflect.Slice, reflect.Array:
			i, ok := k.(int)
			if !ok || i < 0 || i >= v.Len() {
				return nil, fmt.Errorf("index: %v is not a position in a list of %d", k, v.Len())
			}
			v = v.Index(i)
		default:
			return nil, fmt.Errorf("index: cannot index %s", describe(v))
		}
	}
	if !v.IsValid() {
		return nil, nil
	}
	return v.Interface(), nil
}

func describe(v reflect.Value) string {
	if !v.IsValid() {
		return "nothing"
	}
	switch v.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Pointer:
		return "an object (use its fields, such as .IP)"
	}
	return "a " + v.Kind().String()
}

func (r *Renderer) env(name string) string { return r.opt.Getenv(name) }

// lookup finds the binding of a container port written as a template
// argument: "9092", "53/udp", or the number 9092.
func (r *Renderer) lookup(spec any) (discover.Binding, error) {
	var s string
	switch v := spec.(type) {
	case string:
		s = v
	case int:
		s = strconv.Itoa(v)
	default:
		return discover.Binding{}, fmt.Errorf("%v is not a container port; write it as \"9092\" or \"53/udp\"", spec)
	}
	p, err := discover.ParsePort(s)
	if err != nil {
		return discover.Binding{}, fmt.Errorf("%v, as in {{port \"9092\"}}", err)
	}
	b, _, err := r.c.Lookup(p)
	return b, err
}

func (r *Renderer) port(spec any) (string, error) {
	b, err := r.lookup(spec)
	return strconv.Itoa(b.HostPort), err
}

func (r *Renderer) hostIPOf(spec any) (string, error) {
	b, err := r.lookup(spec)
	return b.ReportedIP(r.opt.HostIP), err
}

func (r *Renderer) addr(spec any) (string, error) {
	b, err := r.lookup(spec)
	return b.Addr(r.opt.HostIP), err
}

func (r *Renderer) gatewayIP() (string, error) { return r.gateway() }

// Template is a --set template, parsed once, when the rule is read, so
// that a malformed one is refused before any discovery is done.
type Template struct{ t *template.Template }

// Parse parses text as a template with delimiters d.
func Parse(name, text string, d Delims) (*Template, error) {
	t, err := parse(name, text, d, (*Renderer)(nil).funcs())
	if err != nil {
		return nil, err
	}
	return &Template{t}, nil
}

func parse(name, text string, d Delims, funcs template.FuncMap) (*template.Template, error) {
	t, err := template.New(name).Delims(d.Left, d.Right).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, cleanTemplateError(err)
	}
	return t, nil
}

// Value renders t, the template of a --set NAME=TEXT rule; source names
// the rule in messages ("--set NAME", "PORTENV_SET_NAME").
func (r *Renderer) Value(source string, t *Template) (string, error) {
	// The functions answer for this container: a clone takes them, and
	// the parsed template stays as it was.
	own, err := t.t.Clone()
	if err != nil {
		return "", fmt.Errorf("%s: %v", source, err)
	}
	var b strings.Builder
	if err := r.execute(&b, own.Funcs(r.funcs()), nil); err != nil {
		return "", fmt.Errorf("%s: %v", source, err)
	}
	return b.String(), nil
}

// Format writes vars in a built-in format ("shell", "dotenv", "json").
func (r *Renderer) Format(w io.Writer, format string, vars map[string]string) error {
	text, err := builtin.ReadFile(format + ".tmpl")
	if err != nil {
		return fmt.Errorf("unknown format %q; use one of %s", format, strings.Join(Formats(), ", "))
	}
	return r.render(w, format, string(text), Delims{}, vars)
}

// File writes vars through the template file at path (--template).
func (r *Renderer) File(w io.Writer, path string, vars map[string]string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read the template %s: %v; check the path, and that the file is in the container (COPY it into the image, or mount it with -v)", path, atomicfile.Unwrap(err))
	}
	if err := r.render(w, path, string(text), r.opt.Delims, vars); err != nil {
		return fmt.Errorf("template %s: %v", path, err)
	}
	return nil
}

// render executes into a buffer first, so that a failing template writes
// nothing at all rather than half a file.
func (r *Renderer) render(w io.Writer, name, text string, delims Delims, vars map[string]string) error {
	t, err := parse(name, text, delims, r.funcs())
	if err != nil {
		return err
	}
	return r.execute(w, t, vars)
}

func (r *Renderer) execute(w io.Writer, t *template.Template, vars map[string]string) error {
	d := *r.data
	d.Vars = vars
	if d.Vars == nil {
		d.Vars = map[string]string{}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, &d); err != nil {
		return cleanTemplateError(err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// cleanTemplateError says text/template's errors in a template writer's
// words: portenv's own functions' errors as they are (they say what to
// do), a missing field, a function that does not exist, or one called
// with the wrong arguments, each with the right form.
func cleanTemplateError(err error) error {
	msg := err.Error()
	// A function's error reaches here wrapped twice: in text/template's
	// ExecError, then in "error calling NAME: %w".
	var ee template.ExecError
	if errors.As(err, &ee) {
		if inner := errors.Unwrap(ee.Err); inner != nil {
			return inner
		}
	}
	// "template: N:1:2: executing "N" at <port>: wrong number of args
	// for port: want 1 got 0", or "template: N:1: function "x" not
	// defined": the position, and what went wrong.
	at, what := msg, ""
	if i := strings.Index(msg, ": executing "); i >= 0 {
		at = strings.TrimSuffix(msg[:i], ":") + ":"
		if j := strings.Index(msg[i:], " at <"); j >= 0 {
			if k := strings.Index(msg[i+j:], ">: "); k >= 0 {
				at += msg[i+j : i+j+k+1]
				what = msg[i+j+k+3:]
			}
		}
	} else if i := strings.LastIndex(msg, ": "); i >= 0 {
		at, what = msg[:i], msg[i+2:]
	}
	switch {
	case strings.HasPrefix(what, "can't evaluate field "):
		return errors.New(at + ": no such field; the data is .Container, .Ports, .Networks, .Compose, .Host, .Swarm, .Pod, .Node, .Service and .Vars (docs/reference.md#templates lists their fields)")
	case strings.HasPrefix(what, "wrong number of args for "):
		name, _, _ := strings.Cut(strings.TrimPrefix(what, "wrong number of args for "), ":")
		if ex, ok := funcExamples[name]; ok {
			return fmt.Errorf("%s: %s is called with the wrong number of arguments; write it as %s", at, name, ex)
		}
		return fmt.Errorf("%s: %s is called with the wrong number of arguments (%s)", at, name, strings.TrimPrefix(what, "wrong number of args for "+name+": "))
	case strings.HasPrefix(what, "wrong type for value; expected "):
		return fmt.Errorf("%s: an argument is of the wrong kind: %s; quote a port or a name, as in %s", at, strings.TrimPrefix(what, "wrong type for value; "), funcExamples["port"])
	case strings.HasPrefix(what, "function \"") && strings.HasSuffix(what, "\" not defined"):
		name := strings.TrimSuffix(strings.TrimPrefix(what, "function \""), "\" not defined")
		return fmt.Errorf("%s: there is no function %q; portenv's are %s, beside Go's own (printf, len, eq, ...)", at, name, strings.Join(funcNames(), ", "))
	}
	return err
}

// funcExamples shows each of portenv's template functions as it is
// written.
var funcExamples = map[string]string{
	"port":    `{{port "9092"}}`,
	"hostIP":  `{{hostIP "9092"}}`,
	"addr":    `{{addr "9092"}}`,
	"gateway": `{{gateway}}`,
	"env":     `{{env "KAFKA_PORT"}}`,
	"shell":   `{{shell .Vars.HOST_PORT_9092}}`,
	"dotenv":  `{{dotenv .Vars.HOST_PORT_9092}}`,
	"json":    `{{json .Vars.HOST_PORT_9092}}`,
	"index":   `{{index .Networks "bridge"}}`,
}

func funcNames() []string {
	names := make([]string, 0, len(funcExamples))
	for n := range funcExamples {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// shellQuote quotes s for a POSIX shell: eval gives back s exactly,
// whatever bytes it holds.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ValueError says that a variable's value cannot be carried by an output
// format.
type valueError struct {
	Format, Name, Reason string
	Value                string
}

func (e *valueError) Error() string {
	return fmt.Sprintf("%s (%q) cannot be written as %s: %s; use --format shell or json", e.Name, e.Value, e.Format, e.Reason)
}

// dotenvValue returns value as `docker run --env-file` reads it back: that
// reader takes the rest of the line literally, so value is written as it
// is, and one it would not give back unchanged is an error, naming the
// variable when the template gives its name.
func dotenvValue(value string, name ...string) (string, error) {
	reason := ""
	switch {
	case strings.Contains(value, "\n"):
		reason = "it holds a newline, and --env-file reads one line per variable"
	case strings.HasSuffix(value, "\r"):
		reason = "it ends in a carriage return, which --env-file drops"
	case !utf8.ValidString(value):
		reason = "it is not valid UTF-8, which --env-file refuses"
	default:
		return value, nil
	}
	e := &valueError{Format: "dotenv", Name: "a value", Reason: reason, Value: value}
	if len(name) > 0 {
		e.Name = name[0]
	}
	return "", e
}

func jsonValue(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
