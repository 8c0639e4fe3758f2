package templates

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portenv/portenv/discover"
)

func testContainer() *discover.Container {
	return &discover.Container{
		ID: strings.Repeat("c", 64), Name: "kafka-1", Hostname: "k1", Image: "broker:1",
		Labels: map[string]string{"tier": "data"},
		Ports: []discover.Binding{
			{Port: discover.Port{Num: 9092, Proto: "tcp"}, HostIP: "0.0.0.0", HostPort: 32769},
			{Port: discover.Port{Num: 9092, Proto: "tcp"}, HostIP: "::", HostPort: 32769},
			{Port: discover.Port{Num: 53, Proto: "udp"}, HostIP: "127.0.0.1", HostPort: 32770},
		},
	}
}

func TestFormats(t *testing.T) {
	vars := map[string]string{"B": "it's", "A": "x=1 y", "C": "<&>"}
	r := NewRenderer(testContainer(), Options{})
	for format, want := range map[string]string{
		"shell":  "export A='x=1 y'\nexport B='it'\\''s'\nexport C='<&>'\n",
		"dotenv": "A=x=1 y\nB=it's\nC=<&>\n",
		"json":   `{"A":"x=1 y","B":"it's","C":"<&>"}` + "\n",
	} {
		var b strings.Builder
		if err := r.Format(&b, format, vars); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if b.String() != want {
			t.Errorf("%s:\n got %q\nwant %q", format, b.String(), want)
		}
	}
	var b strings.Builder
	if err := r.Format(&b, "yaml", vars); err == nil || err.Error() != `unknown format "yaml"; use one of dotenv, json, shell` {
		t.Errorf("unknown format: %v", err)
	}
}

func TestDotenvRefusesWhatEnvFileCannotCarry(t *testing.T) {
	r := NewRenderer(testContainer(), Options{})
	for v, reason := range map[string]string{
		"a\nb":   "it holds a newline, and --env-file reads one line per variable",
		"a\r":    "it ends in a carriage return, which --env-file drops",
		"a\xffb": "it is not valid UTF-8, which --env-file refuses",
	} {
		var b strings.Builder
		err := r.Format(&b, "dotenv", map[string]string{"OK": "fine", "X": v})
		want := "X (" + quote(v) + ") cannot be written as dotenv: " + reason + "; use --format shell or json"
		if err == nil || err.Error() != want {
			t.Errorf("%q:\n got %v\nwant %s", v, err, want)
		}
		if b.Len() != 0 {
			t.Errorf("%q: wrote %q before failing", v, b.String())
		}
	}
	for _, v := range []string{"", " lead and trail ", "a\rb", "#not a comment", "'quoted'", `"dq"`, "ünïcode", "$HOME"} {
		if got, err := dotenvValue(v); err != nil || got != v {
			t.Errorf("%q: got %q, %v", v, got, err)
		}
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteString(`"`)
	for _, c := range []byte(s) {
		switch c {
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0xff:
			b.WriteString(`\xff`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String() + `"`
}

func TestTemplateData(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "t.tmpl")
	text := `{{.Container.Name}} {{.Container.Hostname}} {{.Container.Image}} {{.Container.Labels.tier}} {{len .Container.ID}}
{{range .Ports}}{{.Port}}/{{.Proto}}={{.HostIP}}:{{.HostPort}} {{end}}
{{port "9092"}} {{port "53/udp"}} {{hostIP "9092"}} {{hostIP "53/udp"}} {{env "E"}}
{{range $k, $v := .Vars}}{{$k}}={{shell $v}};{{end}} {{dotenv "d"}} {{json .Vars}}
`
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := 0
	info := func() (string, string, error) { calls++; return "host-a", "10.1.2.3", nil }
	r := NewRenderer(testContainer(), Options{HostIP: "192.0.2.1", Getenv: func(k string) string { return map[string]string{"E": "e!"}[k] }, Info: info})
	var b strings.Builder
	if err := r.File(&b, file, map[string]string{"V": "a b"}); err != nil {
		t.Fatal(err)
	}
	want := `kafka-1 k1 broker:1 data 64
9092/tcp=0.0.0.0:32769 9092/tcp=:::32769 53/udp=127.0.0.1:32770 
32769 32770 192.0.2.1 127.0.0.1 e!
V='a b'; d {"V":"a b"}
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	if calls != 0 {
		t.Errorf("the engine was asked for /info %d times by a template that does not use it", calls)
	}
	v, err := value(r, "--set H", "H", "{{.Host.Name}} {{.Host.Name}}")
	if err != nil || v != "host-a host-a" || calls != 1 {
		t.Errorf(".Host.Name: %q, %v, %d calls (want 1)", v, err, calls)
	}
}

func TestSwarmData(t *testing.T) {
	info := func() (string, string, error) { return "node-1", "10.0.0.9", nil }
	r := NewRenderer(testContainer(), Options{Info: info})
	if _, err := value(r, "--set S", "S", "{{.Swarm.Service}}"); err == nil || !strings.Contains(err.Error(), "this container is not a Swarm task, so .Swarm has no value") {
		t.Errorf("outside Swarm: %v", err)
	}
	c := testContainer()
	c.Swarm = &discover.SwarmTask{ServiceID: "s1", ServiceName: "kafka", Slot: 2}
	r = NewRenderer(c, Options{Info: info})
	v, err := value(r, "--set S", "S", "{{.Swarm.Service}}.{{.Swarm.Slot}}@{{.Swarm.NodeAddr}}")
	if err != nil || v != "kafka.2@10.0.0.9" {
		t.Errorf("got %q, %v", v, err)
	}
}

func TestValueErrors(t *testing.T) {
	r := NewRenderer(testContainer(), Options{})
	for text, want := range map[string]string{
		`{{port "9093"}}`:  "port 9093/tcp of container kafka-1 is not published; publish it with -p 9093; published: 9092/tcp, 53/udp",
		`{{port "x"}}`:     `--set N: "x" is not a container port; write it as 9092 or 53/udp, as in {{port "9092"}}`,
		`{{.Nope}}`:        `--set N: template: N:1:2: at <.Nope>: no such field; the data is .Container, .Ports, .Networks, .Compose, .Host, .Swarm, .Pod, .Node, .Service and .Vars (docs/reference.md#templates lists their fields)`,
		`{{.Container.X}}`: `--set N: template: N:1:12: at <.Container.X>: no such field; the data is .Container, .Ports, .Networks, .Compose, .Host, .Swarm, .Pod, .Node, .Service and .Vars (docs/reference.md#templates lists their fields)`,
	} {
		_, err := value(r, "--set N", "N", text)
		if err == nil || (err.Error() != want && err.Error() != "--set N: "+want) {
			t.Errorf("%s:\n got %v\nwant %s", text, err, want)
		}
	}
}

// Compose numbers the replicas of docker-compose up; a one-off container of
// docker-compose run has a project and a service but no number.
func TestCompose(t *testing.T) {
	c := testContainer()
	c.Labels = map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "kafka", "com.docker.compose.container-number": "3"}
	if v, err := value(NewRenderer(c, Options{}), "--set N", "N", "{{.Compose.Project}}/{{.Compose.Service}}/{{.Compose.Number}}"); err != nil || v != "shop/kafka/3" {
		t.Errorf("replica: %q, %v", v, err)
	}
	c.Labels = map[string]string{"com.docker.compose.project": "shop", "com.docker.compose.service": "kafka", "com.docker.compose.oneoff": "True"}
	_, err := value(NewRenderer(c, Options{}), "--set N", "N", "{{.Compose.Number}}")
	if want := "--set N: this container was started by docker-compose run, and Compose numbers only the replicas of docker-compose up, so .Compose.Number has no value; start it with docker-compose up, or take .Compose.Number out of the template"; err == nil || err.Error() != want {
		t.Errorf("one-off: %v, want %s", err, want)
	}
	c.Labels = nil
	_, err = value(NewRenderer(c, Options{}), "--set N", "N", "{{.Compose.Service}}")
	if want := "--set N: this container was not started by Compose (it has no com.docker.compose.service label), so .Compose has no value; start it with docker-compose up, or take .Compose out of the template"; err == nil || err.Error() != want {
		t.Errorf("no compose: %v, want %s", err, want)
	}
}

// index fails on a network the container is not on, rather than giving an
// empty address.
func TestIndex(t *testing.T) {
	c := testContainer()
	c.Networks = map[string]discover.Network{"kafka_default": {IP: "172.20.0.3"}, "bridge": {IP: "172.17.0.2"}}
	r := NewRenderer(c, Options{})
	if v, err := value(r, "--set X", "X", `{{(index .Networks "kafka_default").IP}} {{(index .Ports 2).HostPort}}`); err != nil || v != "172.20.0.3 32770" {
		t.Errorf("got %q, %v", v, err)
	}
	for text, want := range map[string]string{
		`{{(index .Networks "kafka_defualt").IP}}`: `--set X: index: no "kafka_defualt" here; there are: bridge, kafka_default`,
		`{{index .Ports 7}}`:                       `--set X: index: 7 is not a position in a list of 3`,
		`{{index .Container.Name 0}}`:              `--set X: index: cannot index a string`,
	} {
		if _, err := value(r, "--set X", "X", text); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", text, err, want)
		}
	}
}

// value parses and renders a --set template as a run does.
func value(r *Renderer, source, name, text string) (string, error) {
	t, err := Parse(name, text, r.opt.Delims)
	if err != nil {
		return "", fmt.Errorf("%s: %v", source, err)
	}
	return r.Value(source, t)
}
