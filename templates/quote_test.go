package templates

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portenv/portenv/discover"
)

// quoteSeeds are the values a quoting bug shows on first.
var quoteSeeds = []string{
	"",
	"plain",
	"it's",
	"''",
	`"double" and 'single'`,
	"$(touch /tmp/pwned)",
	"`id`",
	"${HOME} $HOME $1 $@ $$",
	`back\slash\`,
	`\'`,
	"line1\nline2\n",
	"\n",
	"tab\there\r\n",
	"\xff\xfe not utf-8 \xc3",
	"ünïcödé ☃",
	"; rm -rf / #",
	"a\\\nb",
	"!history !! ^old^new",
	"*?[a-z]~",
	"'$(`\\\"",
}

// shellRoundTrip evaluates the shell format's output for V=value in a real
// sh and returns what $V holds afterwards.
func shellRoundTrip(t *testing.T, value string) string {
	t.Helper()
	r := NewRenderer(&discover.Container{}, Options{})
	var out bytes.Buffer
	if err := r.Format(&out, "shell", map[string]string{"V": value}); err != nil {
		t.Fatalf("shell format of %q: %v", value, err)
	}
	cmd := exec.Command("sh", "-c", `eval "$1" && printf %s "$V"`, "sh", out.String())
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh could not eval %q: %v", out.String(), err)
	}
	return string(got)
}

func FuzzShellQuote(f *testing.F) {
	if _, err := exec.LookPath("sh"); err != nil {
		f.Fatalf("the round trip needs sh: %v", err)
	}
	for _, s := range quoteSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if strings.IndexByte(value, 0) >= 0 {
			t.Skip("NUL cannot be in an argument or an environment value")
		}
		if got := shellRoundTrip(t, value); got != value {
			t.Errorf("sh gave back %q for %q (quoted as %s)", got, value, shellQuote(value))
		}
	})
}

// jsonRunes is what encoding/json gives back for s: every byte that is not
// part of valid UTF-8 becomes U+FFFD.
func jsonRunes(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		b.WriteRune(r)
		s = s[n:]
	}
	return b.String()
}

func FuzzJSONFormat(f *testing.F) {
	for _, s := range quoteSeeds {
		f.Add(s)
	}
	f.Add("\x00\x01\x1f\u2028\u2029</script>&<>")
	f.Fuzz(func(t *testing.T, value string) {
		r := NewRenderer(&discover.Container{}, Options{})
		var out bytes.Buffer
		if err := r.Format(&out, "json", map[string]string{"V": value, "W": "x"}); err != nil {
			t.Fatalf("json format of %q: %v", value, err)
		}
		if !json.Valid(out.Bytes()) {
			t.Fatalf("not valid JSON for %q: %s", value, out.Bytes())
		}
		var m map[string]string
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 || m["V"] != jsonRunes(value) || m["W"] != "x" {
			t.Errorf("read back %q, want V=%q W=x", m, jsonRunes(value))
		}
	})
}
