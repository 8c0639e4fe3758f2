package templates

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestParseDelims(t *testing.T) {
	for in, want := range map[string]Delims{"": {}, "[[,]]": {"[[", "]]"}, "<%,%>": {"<%", "%>"}} {
		got, err := ParseDelims(in)
		if err != nil || got != want {
			t.Errorf("ParseDelims(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"[[", "[[,", ",]]", "[[ ,]]", "[[,],]"} {
		if d, err := ParseDelims(in); err == nil {
			t.Errorf("ParseDelims(%q) = %+v, want an error", in, d)
		}
	}
}

// Other delimiters are what lets a --set value pass through Swarm, which
// expands {{ }} in a service's environment: {{ }} is then plain text.
func TestDelimsInValues(t *testing.T) {
	r := NewRenderer(testContainer(), Options{Delims: Delims{"[[", "]]"}})
	v, err := value(r, "--set L", "L", `PLAINTEXT://{{.Node.Hostname}}:[[port "9092"]] [[hostIP "53/udp"]]`)
	if want := "PLAINTEXT://{{.Node.Hostname}}:32769 127.0.0.1"; err != nil || v != want {
		t.Errorf("got %q, %v; want %q", v, err, want)
	}
	if _, err := Parse("L", `[[port "9092"]]`, Delims{"[[", "]]"}); err != nil {
		t.Errorf("Check with [[ ]]: %v", err)
	}
	if _, err := Parse("L", `{{port "9092"`, Delims{"[[", "]]"}); err != nil {
		t.Errorf("Check with [[ ]] of an unclosed {{: %v", err)
	}
	if _, err := Parse("L", `[[port "9092"`, Delims{"[[", "]]"}); err == nil {
		t.Error("Check accepted an unclosed [[")
	}
}

// --template files follow --delims; the built-in formats keep {{ }}, since
// they are portenv's own.
func TestDelimsInFiles(t *testing.T) {
	r := NewRenderer(testContainer(), Options{Delims: Delims{"[[", "]]"}})
	file := filepath.Join(t.TempDir(), "t")
	if err := os.WriteFile(file, []byte(`{{x}} [[.Vars.A]] [[port "9092"]]`), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.File(&b, file, map[string]string{"A": "a"}); err != nil || b.String() != "{{x}} a 32769" {
		t.Errorf("file: got %q, %v", b.String(), err)
	}
	b.Reset()
	if err := r.Format(&b, "dotenv", map[string]string{"A": "a"}); err != nil || b.String() != "A=a\n" {
		t.Errorf("dotenv: got %q, %v", b.String(), err)
	}
}
