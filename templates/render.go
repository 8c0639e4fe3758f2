package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/portenv/portenv/discover"
)

//go:embed *.tmpl
var builtin embed.FS

// Formats are the built-in output formats, each a file NAME.tmpl here.
var Formats = []string{"shell", "dotenv", "json"}

// Renderer renders templates over one container.
type Renderer struct {
	c      *discover.Container
	hostIP string
	getenv func(string) string
	data   *Data
	delims Delims
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
		return Delims{}, fmt.Errorf("--delims %q: write the left and right delimiters with a comma between them and no spaces, such as '[[,]]'", s)
	}
	return Delims{Left: l, Right: r}, nil
}

// WithDelims makes r read the user's templates with delimiters d. The
// built-in formats keep {{ }}.
func (r *Renderer) WithDelims(d Delims) *Renderer {
	r.delims = d
	return r
}

// NewRenderer prepares to render templates over container c. hostIP is the
// address to report for wildcard bindings (--host-ip), or "". getenv reads
// portenv's environment for the env function.
func NewRenderer(c *discover.Container, hostIP string, getenv func(string) string, info EngineInfo) *Renderer {
	return &Renderer{c: c, hostIP: hostIP, getenv: getenv, data: NewData(c, info)}
}

func (r *Renderer) funcs() template.FuncMap {
	env := os.Getenv
	if r != nil && r.getenv != nil {
		env = r.getenv
	}
	return template.FuncMap{
		"port":   r.port,
		"hostIP": r.hostIPOf,
		"env":    env,
		"shell":  ShellQuote,
		"dotenv": DotenvValue,
		"json":   jsonValue,
	}
}

func (r *Renderer) lookup(spec string) (discover.Binding, error) {
	port, proto, ok := discover.ParsePort(spec)
	if !ok {
		return discover.Binding{}, fmt.Errorf("%q is not a container port; write it as 9092 or 53/udp", spec)
	}
	b, _, err := r.c.Lookup(port, proto)
	return b, err
}

func (r *Renderer) port(spec string) (string, error) {
	b, err := r.lookup(spec)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(b.HostPort), nil
}

func (r *Renderer) hostIPOf(spec string) (string, error) {
	b, err := r.lookup(spec)
	if err != nil {
		return "", err
	}
	return HostIP(b, r.hostIP), nil
}

// HostIP is the address to report for binding b: its own, or hostIP
// (--host-ip) when b is on every address and hostIP is set.
func HostIP(b discover.Binding, hostIP string) string {
	if b.Wildcard() && hostIP != "" {
		return hostIP
	}
	if b.HostIP == "" {
		return "0.0.0.0"
	}
	return b.HostIP
}

// Check parses text as a template with delimiters d, to refuse a
// malformed --set before any discovery is done.
func Check(name, text string, d Delims) error {
	_, err := template.New(name).Delims(d.Left, d.Right).Funcs((*Renderer)(nil).funcs()).Parse(text)
	return err
}

// Value renders the template text of --set NAME=TEXT.
func (r *Renderer) Value(name, text string) (string, error) {
	t, err := template.New(name).Delims(r.delims.Left, r.delims.Right).Funcs(r.funcs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("--set %s: %v", name, cleanTemplateError(err))
	}
	var b strings.Builder
	if err := t.Execute(&b, r.data); err != nil {
		return "", fmt.Errorf("--set %s: %v", name, cleanTemplateError(err))
	}
	return b.String(), nil
}

// Format writes vars in a built-in format ("shell", "dotenv", "json").
func (r *Renderer) Format(w io.Writer, format string, vars map[string]string) error {
	text, err := builtin.ReadFile(format + ".tmpl")
	if err != nil {
		return fmt.Errorf("unknown format %q; use one of %s", format, strings.Join(Formats, ", "))
	}
	return r.render(w, format, string(text), Delims{}, vars)
}

// File writes vars through the template file at path (--template).
func (r *Renderer) File(w io.Writer, path string, vars map[string]string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read the template: %v", err)
	}
	return r.render(w, path, string(text), r.delims, vars)
}

// render executes into a buffer first, so that a failing template writes
// nothing at all rather than half a file.
func (r *Renderer) render(w io.Writer, name, text string, delims Delims, vars map[string]string) error {
	t, err := template.New(name).Delims(delims.Left, delims.Right).Funcs(r.funcs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return cleanTemplateError(err)
	}
	d := *r.data
	d.Vars = vars
	if d.Vars == nil {
		d.Vars = map[string]string{}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, &d); err != nil {
		return cleanTemplateError(err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// cleanTemplateError drops text/template's wrapping from the errors of
// portenv's own functions, whose messages already say what to do.
func cleanTemplateError(err error) error {
	// A function's error reaches here wrapped twice: in text/template's
	// ExecError, then in "error calling NAME: %w". Errors of the template
	// itself (a missing field) wrap nothing and keep their position.
	var ee template.ExecError
	if errors.As(err, &ee) {
		if inner := errors.Unwrap(ee.Err); inner != nil {
			return inner
		}
	}
	return err
}

// ShellQuote quotes s for a POSIX shell: eval gives back s exactly,
// whatever bytes it holds.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ValueError says that a value cannot be carried by an output format.
type ValueError struct {
	Format, Reason string
	Value          string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("value %q cannot be written as %s: %s; use --format shell or json", e.Value, e.Format, e.Reason)
}

// DotenvValue returns s as `docker run --env-file` reads it back: that
// reader takes the rest of the line literally, so s is written as it is,
// and a value it would not give back unchanged is an error.
func DotenvValue(s string) (string, error) {
	switch {
	case strings.Contains(s, "\n"):
		return "", &ValueError{Format: "dotenv", Reason: "it holds a newline, and --env-file reads one line per variable", Value: s}
	case strings.HasSuffix(s, "\r"):
		return "", &ValueError{Format: "dotenv", Reason: "it ends in a carriage return, which --env-file drops", Value: s}
	case !utf8.ValidString(s):
		return "", &ValueError{Format: "dotenv", Reason: "it is not valid UTF-8, which --env-file refuses", Value: s}
	}
	return s, nil
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
