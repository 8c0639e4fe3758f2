package templates

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
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

// shellFormat is the shell format's output for V=value.
func shellFormat(t *testing.T, value string) string {
	t.Helper()
	r := NewRenderer(&discover.Container{}, Options{})
	var out bytes.Buffer
	if err := r.Format(&out, "shell", map[string]string{"V": value}); err != nil {
		t.Fatalf("shell format of %q: %v", value, err)
	}
	return out.String()
}

// shellRoundTrip evaluates script, the shell format's output for V, in a
// real shell (argv, such as sh or busybox sh) and returns what $V holds
// afterwards.
func shellRoundTrip(t *testing.T, argv []string, script string) string {
	t.Helper()
	args := append(argv[1:len(argv):len(argv)], "-c", `eval "$1" && printf %s "$V"`, "sh", script)
	cmd := exec.Command(argv[0], args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s could not eval %q: %v", strings.Join(argv, " "), script, err)
	}
	return string(got)
}

// unquoteSingle reads word as a POSIX shell reads a word made only of
// single-quoted strings ('...', in which every byte but ' stands for
// itself) and backslash-escaped single quotes (\'): the form shellQuote
// writes, in which no expansion can happen. ok is false for a word with
// anything else in it, or an unterminated quote.
func unquoteSingle(word string) (value string, ok bool) {
	var b strings.Builder
	for word != "" {
		switch {
		case strings.HasPrefix(word, `\'`):
			b.WriteByte('\'')
			word = word[2:]
		case word[0] == '\'':
			end := strings.IndexByte(word[1:], '\'')
			if end < 0 {
				return "", false
			}
			b.WriteString(word[1 : 1+end])
			word = word[2+end:]
		default:
			return "", false
		}
	}
	return b.String(), true
}

func TestUnquoteSingle(t *testing.T) {
	for word, want := range map[string]string{
		`''`: "", `'a b'`: "a b", `'it'\''s'`: "it's", `\'`: "'", `'$x'\'\'''`: "$x''", "'\n'": "\n",
	} {
		if got, ok := unquoteSingle(word); !ok || got != want {
			t.Errorf("%s: got %q, %v; want %q", word, got, ok, want)
		}
	}
	for _, word := range []string{`'a`, `a`, `'a'b`, `"a"`, `\a`, `$'a'`, `'a' 'b'`, `'a'\`} {
		if got, ok := unquoteSingle(word); ok {
			t.Errorf("%s: read as %q; want it refused", word, got)
		}
	}
}

// realShellOneIn is how many of the fuzzer's inputs share one round trip
// through the real shells: a few milliseconds each, against microseconds
// for the rest of the check. The seeds always take it.
const realShellOneIn = 64

// realShellSample tells, the same way every time for one value, whether
// value is among those that go through the real shells.
func realShellSample(value string) bool {
	h := fnv.New32a()
	h.Write([]byte(value))
	return h.Sum32()%realShellOneIn == 0
}

// FuzzShellQuote holds the shell format to its promise: eval gives back
// the value exactly, whatever bytes it holds. Every input is read back by
// unquoteSingle, which reads the quoted word as a POSIX shell does; the
// seeds and a fixed sample of the rest (realShellOneIn) are also evaluated
// by sh, and by bash and busybox sh where they are installed.
func FuzzShellQuote(f *testing.F) {
	if _, err := exec.LookPath("sh"); err != nil {
		f.Fatalf("the round trip needs sh: %v", err)
	}
	shells := [][]string{{"sh"}}
	if _, err := exec.LookPath("bash"); err == nil {
		shells = append(shells, []string{"bash", "--posix"})
	}
	if bb, err := exec.LookPath("busybox"); err == nil && exec.Command(bb, "sh", "-c", "true").Run() == nil {
		shells = append(shells, []string{bb, "sh"})
	}
	seeds := map[string]bool{}
	for _, s := range quoteSeeds {
		seeds[s] = true
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		script := shellFormat(t, value)
		word, isExport := strings.CutPrefix(script, "export V=")
		word, isLine := strings.CutSuffix(word, "\n")
		if !isExport || !isLine {
			t.Fatalf("shell format of %q is not one export line: %q", value, script)
		}
		if got, ok := unquoteSingle(word); !ok || got != value {
			t.Fatalf("a POSIX shell reads %s as %q (%v), not %q", word, got, ok, value)
		}
		if !seeds[value] && !realShellSample(value) {
			return
		}
		if strings.IndexByte(value, 0) >= 0 {
			return // NUL cannot be in an argument or an environment value
		}
		for _, sh := range shells {
			if got := shellRoundTrip(t, sh, script); got != value {
				t.Errorf("%s gave back %q for %q (quoted as %s)", strings.Join(sh, " "), got, value, word)
			}
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
