package vars

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/templates"
)

// ValidName reports whether name can be an environment variable that a
// shell and `docker run -e` both accept: a letter or underscore, then
// letters, digits and underscores.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ParseRule reads "NAME=VALUE" as a --port (port=true) or --set rule; a
// --set template is checked with delimiters d (--delims).
func ParseRule(s, source string, port bool, d templates.Delims) (Rule, error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	want := "NAME=TEMPLATE"
	if port {
		want = "NAME=PORT[/PROTO]"
	}
	if !ok {
		return Rule{}, fmt.Errorf("%s %q: write it as %s", source, s, want)
	}
	if !ValidName(name) {
		return Rule{}, fmt.Errorf("%s %q: %q is not a valid variable name (letters, digits and _, not starting with a digit)", source, s, name)
	}
	r := Rule{Name: name, Source: source, IsPort: port}
	if port {
		p, err := discover.ParsePort(strings.TrimSpace(value))
		if err != nil {
			return Rule{}, fmt.Errorf("%s %q: %v", source, s, err)
		}
		r.Port = p
	} else {
		t, err := templates.Parse(name, value, d)
		if err != nil {
			return Rule{}, fmt.Errorf("%s %q: %v", source, s, err)
		}
		r.Template = t
	}
	return r, nil
}

// Merge joins the rules of the command line and of the environment. A name
// set twice in one of them is an error, since one rule would silently
// lose; a command-line rule replaces the environment's rule of that name,
// as every flag wins over its variable.
func Merge(flags, env []Rule) ([]Rule, error) {
	if err := unique(flags); err != nil {
		return nil, err
	}
	if err := unique(env); err != nil {
		return nil, err
	}
	out := append([]Rule(nil), flags...)
	for _, r := range env {
		if !slices.ContainsFunc(flags, func(f Rule) bool { return f.Name == r.Name }) {
			out = append(out, r)
		}
	}
	return out, nil
}

func unique(rules []Rule) error {
	by := map[string]Rule{}
	for _, r := range rules {
		if prev, ok := by[r.Name]; ok {
			if prev.Source == r.Source {
				return fmt.Errorf("%s is set twice in %s; keep one", r.Name, r.Source)
			}
			return fmt.Errorf("%s is set twice, by %s and by %s; keep one", r.Name, prev.Source, r.Source)
		}
		by[r.Name] = r
	}
	return nil
}
