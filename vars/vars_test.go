package vars

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/templates"
)

func container() *discover.Container {
	return &discover.Container{
		ID: strings.Repeat("ab", 32), Name: "kafka-1", NetworkMode: "bridge",
		Exposed: []discover.Port{{Num: 7000, Proto: "tcp"}, {Num: 9092, Proto: "tcp"}},
		Ports: []discover.Binding{
			{Port: discover.Port{Num: 9092, Proto: "tcp"}, HostIP: "0.0.0.0", HostPort: 32769},
			{Port: discover.Port{Num: 9092, Proto: "tcp"}, HostIP: "::", HostPort: 32769},
			{Port: discover.Port{Num: 53, Proto: "udp"}, HostIP: "127.0.0.1", HostPort: 32770},
			{Port: discover.Port{Num: 2905, Proto: "sctp"}, HostIP: "10.0.0.5", HostPort: 32771},
		},
	}
}

func build(t *testing.T, c *discover.Container, cfg Config, env map[string]string) (Result, []string, error) {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = "HOST_"
	}
	var logs []string
	r := templates.NewRenderer(c, templates.Options{HostIP: cfg.HostIP, Getenv: func(k string) string { return env[k] }})
	res, err := Build(c, cfg, r.Value, func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) })
	return res, logs, err
}

func rules(t *testing.T, specs ...string) []Rule {
	t.Helper()
	var out []Rule
	for _, s := range specs {
		kind, rest, _ := strings.Cut(s, " ")
		r, err := ParseRule(rest, kind, kind == "--port", templates.Delims{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestAutomaticVariables(t *testing.T) {
	res, logs, err := build(t, container(), Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"HOST_PORT_9092":   "32769",
		"HOST_PORT_53_UDP": "32770", "HOST_IP_53_UDP": "127.0.0.1",
		"HOST_PORT_2905_SCTP": "32771", "HOST_IP_2905_SCTP": "10.0.0.5",
	}
	if !reflect.DeepEqual(res.Set, want) {
		t.Errorf("got %v\nwant %v", res.Set, want)
	}
	if len(logs) != 0 {
		t.Errorf("unexpected logs %q", logs)
	}
}

func TestPrefixHostIPAndNoAuto(t *testing.T) {
	res, _, err := build(t, container(), Config{Prefix: "PUB_", HostIP: "192.0.2.7"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Set["PUB_PORT_9092"] != "32769" || res.Set["PUB_IP_9092"] != "192.0.2.7" || res.Set["PUB_IP_53_UDP"] != "127.0.0.1" {
		t.Errorf("got %v", res.Set)
	}
	res, _, err = build(t, container(), Config{NoAuto: true, Rules: rules(t, "--port P=9092")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Set, map[string]string{"P": "32769"}) {
		t.Errorf("--no-auto: got %v", res.Set)
	}
}

func TestIPv4AndIPv6Differ(t *testing.T) {
	c := container()
	c.Ports[1].HostPort = 32800 // the [::] binding of 9092
	res, logs, err := build(t, c, Config{Rules: rules(t, "--port K=9092")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Set["HOST_PORT_9092"] != "32769" || res.Set["K"] != "32769" {
		t.Errorf("got %v, want the IPv4 port 32769", res.Set)
	}
	want := []string{
		"port 9092/tcp is published on host port 32769 (0.0.0.0) and on 32800 (::); using 32769",
	}
	if !reflect.DeepEqual(logs, want) {
		t.Errorf("logs %q\nwant %q", logs, want)
	}
}

func TestRulesAndTemplates(t *testing.T) {
	env := map[string]string{"BROKER": "b1"}
	res, _, err := build(t, container(), Config{NoAuto: true, Rules: rules(t,
		"--port KAFKA_ADVERTISED_PORT=9092",
		"--port DNS=53/udp",
		`--set L=PLAINTEXT://{{hostIP "53/udp"}}:{{port "9092"}},{{env "BROKER"}},{{.Container.Name}},{{len .Ports}}`,
	)}, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"KAFKA_ADVERTISED_PORT": "32769", "DNS": "32770", "L": "PLAINTEXT://127.0.0.1:32769,b1,kafka-1,4"}
	if !reflect.DeepEqual(res.Set, want) {
		t.Errorf("got %v\nwant %v", res.Set, want)
	}
}

func TestExistingValuesWin(t *testing.T) {
	env := map[string]string{"HOST_PORT_9092": "1", "K": "", "HOST_PORT_53_UDP": "7"}
	res, logs, err := build(t, container(), Config{Rules: rules(t, "--port K=9092")}, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Set["HOST_PORT_9092"]; ok || res.Set["K"] != "32769" {
		t.Errorf("got %v: HOST_PORT_9092 must be kept, empty K overwritten", res.Set)
	}
	if !reflect.DeepEqual(res.Kept, []string{"HOST_PORT_53_UDP", "HOST_PORT_9092"}) {
		t.Errorf("kept %v", res.Kept)
	}
	if len(logs) != 2 || logs[1] != "HOST_PORT_9092 is already set; leaving it as it is (--force overwrites it)" {
		t.Errorf("logs %q", logs)
	}
	res, _, _ = build(t, container(), Config{Force: true}, env)
	if res.Set["HOST_PORT_9092"] != "32769" || len(res.Kept) != 0 {
		t.Errorf("--force: got %v, kept %v", res.Set, res.Kept)
	}
}

func TestNotPublished(t *testing.T) {
	for spec, want := range map[string]string{
		"--port X=9093":             "--port X: port 9093/tcp of container kafka-1 is not published; publish it with -p 9093; published: 9092/tcp, 53/udp, 2905/sctp",
		"--port X=7000":             `--port X: port 7000/tcp of container kafka-1 is exposed but not published; publish it with -p 7000 (or ports: ["7000"] in Compose); published: 9092/tcp, 53/udp, 2905/sctp`,
		"--port X=53/tcp":           "--port X: port 53/tcp of container kafka-1 is not published; publish it with -p 53; published: 9092/tcp, 53/udp, 2905/sctp",
		`--set X={{port "54/udp"}}`: "--set X: port 54/udp of container kafka-1 is not published; publish it with -p 54/udp; published: 9092/tcp, 53/udp, 2905/sctp",
	} {
		_, _, err := build(t, container(), Config{Rules: rules(t, spec)}, nil)
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", spec, err, want)
		}
	}
}

func TestNamesAndDuplicates(t *testing.T) {
	for _, s := range []string{"1X=9092", "A-B=9092", "=9092", "A B=9092", "Ä=9092"} {
		if _, err := ParseRule(s, "--port", true, templates.Delims{}); err == nil {
			t.Errorf("ParseRule(%q) accepted an invalid name", s)
		}
	}
	for _, s := range []string{"X=90x", "X=", "X"} {
		if _, err := ParseRule(s, "--port", true, templates.Delims{}); err == nil {
			t.Errorf("ParseRule(%q) accepted", s)
		}
	}
	if _, err := ParseRule("X={{port", "--set", false, templates.Delims{}); err == nil {
		t.Error("a malformed template was accepted")
	}
	_, err := Merge(rules(t, "--port A=9092", "--set A=x"), nil)
	if err == nil || err.Error() != "A is set twice, by --port and by --set; keep one" {
		t.Errorf("duplicate flags: %v", err)
	}
	_, err = Merge(nil, rules(t, "PORTENV_PORTS A=9092", "PORTENV_SET_A A=x"))
	if err == nil || err.Error() != "A is set twice, by PORTENV_PORTS and by PORTENV_SET_A; keep one" {
		t.Errorf("duplicate variables: %v", err)
	}
	got, err := Merge(rules(t, "--port A=53/udp"), rules(t, "PORTENV_PORTS A=9092", "PORTENV_PORTS B=9092"))
	if err != nil || len(got) != 2 || got[0].Port.String() != "53/udp" || got[1].Name != "B" {
		t.Errorf("a flag must replace its variable's rule: %+v, %v", got, err)
	}
}
