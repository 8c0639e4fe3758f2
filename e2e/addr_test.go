package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// network creates a Docker network for the test, removed when it ends
// (after the containers on it, which are created later and removed
// first).
func network(t *testing.T, suffix string, args ...string) string {
	t.Helper()
	name := fmt.Sprintf("portenv-e2e-%s-%d", suffix, time.Now().UnixNano()%1e9)
	enginetest.Docker(t, append(append([]string{"network", "create"}, args...), name)...)
	t.Cleanup(func() { exec.Command("docker", "network", "rm", name).Run() })
	return name
}

// inspectedNetwork is what docker network inspect says of a network and of
// one container on it.
type inspectedNetwork struct {
	Gateway    string // of the IPv4 subnet
	IPv4, IPv6 string // the container's addresses, without the prefix length
}

func inspectNetwork(t *testing.T, network, containerID string) inspectedNetwork {
	t.Helper()
	var n struct {
		IPAM struct {
			Config []struct{ Subnet, Gateway string }
		}
		Containers map[string]struct{ IPv4Address, IPv6Address string }
	}
	if err := json.Unmarshal([]byte(enginetest.Docker(t, "network", "inspect", "-f", "{{json .}}", network)), &n); err != nil {
		t.Fatal(err)
	}
	var out inspectedNetwork
	for _, c := range n.IPAM.Config {
		if !strings.Contains(c.Subnet, ":") {
			out.Gateway = c.Gateway
		}
	}
	c, ok := n.Containers[containerID]
	if !ok {
		t.Fatalf("docker network inspect %s does not list container %s", network, containerID)
	}
	out.IPv4, _, _ = strings.Cut(c.IPv4Address, "/")
	out.IPv6, _, _ = strings.Cut(c.IPv6Address, "/")
	return out
}

// {{gateway}} is the gateway docker network inspect reports for the
// container's network (docker inspect, for the default bridge), and what `route -n | awk '/UG[ \t]/{print $2}'`
// prints in the container.
func TestGatewayMatchesNetworkInspect(t *testing.T) {
	image := shimImage(t)
	custom := network(t, "gw")
	for _, tc := range []struct{ name, network string }{
		{"default-bridge", "bridge"},
		{"user-network", custom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := enginetest.Name(t, "gw")
			startFrom(t, image, name, []string{"-v", enginetest.SocketMount, "--network", tc.network},
				"portenv", "--no-auto", "--set", "GW={{gateway}}", "--", "sh", "-c",
				`echo "$GW"; route -n | awk '/UG[ \t]/{print $2}'`+andWait)
			out, errOut := enginetest.Output(t, name)
			id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
			gw, from := inspectNetwork(t, tc.network, id).Gateway, "docker network inspect"
			if gw == "" && tc.network == "bridge" {
				// The default bridge's IPAM lists no gateway unless the
				// daemon is configured with one; the container's
				// endpoint has it.
				gw, from = enginetest.Docker(t, "inspect", "-f", "{{.NetworkSettings.Networks.bridge.Gateway}}", name), "docker inspect"
			}
			if gw == "" {
				t.Fatalf("neither docker network inspect %s nor docker inspect reports an IPv4 gateway", tc.network)
			}
			if want := gw + "\n" + gw + "\n"; out != want || errOut != "" {
				t.Errorf("{{gateway}} and route printed %q (stderr %q), want %q twice", out, errOut, gw)
			}
			t.Logf("network %s: gateway %s, as %s reports it", tc.network, gw, from)
		})
	}
}

// .Networks holds, for each network of the container, the addresses that
// docker network inspect reports and the aliases that docker inspect
// reports; an internal listener can be written with it.
func TestNetworksMatchInspect(t *testing.T) {
	enginetest.Require(t)
	// A random unique-local /64, so that parallel runs do not collide.
	n := time.Now().UnixNano()
	v6 := fmt.Sprintf("fd%02x:%04x:%04x::/64", n&0xff, (n>>8)&0xffff, (n>>24)&0xffff)
	inside := network(t, "inside", "--ipv6", "--subnet", v6)
	outside := network(t, "outside")
	name := enginetest.Name(t, "nets")
	tmpl := `{{range $name, $n := .Networks}}{{$name}} ip={{$n.IP}} ipv6={{$n.IPv6}} gw={{$n.Gateway}} aliases={{range $i, $a := $n.Aliases}}{{if $i}},{{end}}{{$a}}{{end}}` + "\n{{end}}"
	enginetest.Docker(t, "create", "--name", name, "-v", enginetest.SocketMount, "-p", "9092",
		"--network", inside, "--network-alias", "kafka-inside", enginetest.BuildImage(t),
		"portenv", "--no-auto",
		"--set", "NETS="+tmpl,
		"--set", `LISTENERS=INSIDE://{{(index .Networks "`+inside+`").IP}}:9093,OUTSIDE://{{addr "9092"}}`,
		"--", "sh", "-c", `printf '%s' "$NETS"; echo "$LISTENERS"`+andWait)
	enginetest.Docker(t, "network", "connect", "--alias", "kafka-outside", outside, name)
	enginetest.Docker(t, "start", name)
	out, errOut := enginetest.Output(t, name)

	id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
	var aliases map[string]struct{ Aliases []string }
	if err := json.Unmarshal([]byte(enginetest.Docker(t, "inspect", "-f", "{{json .NetworkSettings.Networks}}", name)), &aliases); err != nil {
		t.Fatal(err)
	}
	nets := []string{inside, outside}
	sort.Strings(nets)
	want := ""
	for _, net := range nets {
		i := inspectNetwork(t, net, id)
		if i.IPv4 == "" || i.Gateway == "" {
			t.Fatalf("docker network inspect %s: no address or gateway for the container: %+v", net, i)
		}
		want += fmt.Sprintf("%s ip=%s ipv6=%s gw=%s aliases=%s\n", net, i.IPv4, i.IPv6, i.Gateway, strings.Join(aliases[net].Aliases, ","))
	}
	in := inspectNetwork(t, inside, id)
	if in.IPv6 == "" {
		t.Errorf("docker network inspect %s gives the container no IPv6 address; the IPv6 field goes unchecked", inside)
	}
	for net, alias := range map[string]string{inside: "kafka-inside", outside: "kafka-outside"} {
		if !strings.Contains(","+strings.Join(aliases[net].Aliases, ",")+",", ","+alias+",") {
			t.Errorf("docker inspect lists aliases %q on %s, without %s", aliases[net].Aliases, net, alias)
		}
	}
	want += "INSIDE://" + in.IPv4 + ":9093,OUTSIDE://0.0.0.0:" + enginetest.HostPort(t, name, "9092/tcp") + "\n"
	if out != want || errOut != "" {
		t.Errorf("got\n%s(stderr %q)\nwant\n%s", out, errOut, want)
	}
	t.Logf("%s", out)
}

// {{port}} takes a number as well as a string; {{addr}} joins the host
// address and port, with --host-ip for bindings on every address.
func TestPortTemplateFunctions(t *testing.T) {
	enginetest.Require(t)
	name := enginetest.Name(t, "funcs")
	enginetest.Start(t, name, []string{"-v", enginetest.SocketMount, "-p", "9092", "-p", "127.0.0.1::53/udp"},
		"sh", "-c", `portenv --no-auto --set 'V={{port 9092}} {{port "9092"}} {{addr "9092"}} {{addr "53/udp"}} {{hostIP "53/udp"}}' -- sh -c 'echo "$V"' && `+
			`portenv --no-auto --host-ip 192.0.2.7 --set 'V={{addr 9092}} {{addr "53/udp"}}' -- sh -c 'echo "$V"'`+andWait)
	out, errOut := enginetest.Output(t, name)
	p, p53 := enginetest.HostPort(t, name, "9092/tcp"), enginetest.HostPort(t, name, "53/udp")
	want := p + " " + p + " 0.0.0.0:" + p + " 127.0.0.1:" + p53 + " 127.0.0.1\n" +
		"192.0.2.7:" + p + " 127.0.0.1:" + p53 + "\n"
	if out != want || errOut != "" {
		t.Errorf("got %q (stderr %q), want %q", out, errOut, want)
	}
}

// --template SRC:DEST, repeated, writes every file before the command
// runs: the command reads them.
func TestTemplateDestFiles(t *testing.T) {
	enginetest.Require(t)
	src, dest := t.TempDir(), t.TempDir()
	files := map[string]string{
		"server.properties.tmpl": "broker.id={{env \"BROKER_ID\"}}\nadvertised.listeners=PLAINTEXT://{{addr \"9092\"}}\n",
		"redis.conf.tmpl":        "cluster-announce-port {{port 6379}}\ncluster-announce-bus-port {{port \"16379\"}}\n",
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(src, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name := enginetest.Name(t, "dests")
	enginetest.Start(t, name, []string{"-v", enginetest.SocketMount, "-p", "9092", "-p", "6379", "-p", "16379", "-e", "BROKER_ID=7", "-v", src + ":/tmpl:ro", "-v", dest + ":/out"},
		"portenv", "--template", "/tmpl/server.properties.tmpl:/out/server.properties", "--template", "/tmpl/redis.conf.tmpl:/out/redis.conf",
		"--", "sh", "-c", "cat /out/server.properties /out/redis.conf"+andWait)
	out, errOut := enginetest.Output(t, name)
	props := "broker.id=7\nadvertised.listeners=PLAINTEXT://0.0.0.0:" + enginetest.HostPort(t, name, "9092/tcp") + "\n"
	redis := "cluster-announce-port " + enginetest.HostPort(t, name, "6379/tcp") + "\ncluster-announce-bus-port " + enginetest.HostPort(t, name, "16379/tcp") + "\n"
	wantErr := enginetest.DualStackNote(t, name, "6379/tcp", "using") + enginetest.DualStackNote(t, name, "9092/tcp", "using") + enginetest.DualStackNote(t, name, "16379/tcp", "using")
	if out != props+redis || errOut != wantErr {
		t.Errorf("the command read\n%s(stderr %q)\nwant\n%s(stderr %q)", out, errOut, props+redis, wantErr)
	}
	for f, want := range map[string]string{"server.properties": props, "redis.conf": redis} {
		got, err := os.ReadFile(filepath.Join(dest, f))
		if err != nil || string(got) != want {
			t.Errorf("%s on the host: %q (%v), want %q", f, got, err, want)
		}
	}
	entries, _ := os.ReadDir(dest)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "redis.conf server.properties" {
		t.Errorf("the output directory holds %q; want the two files and nothing else", names)
	}
}

// docker-compose up --scale with --set 'KAFKA_BROKER_ID={{.Compose.Number}}'
// gives each replica its number as id, and its own host port.
func TestComposeScaleBrokerIDs(t *testing.T) {
	image := enginetest.BuildImage(t)
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Fatalf("docker-compose is not installed (apt-get install docker-compose; .ci/run installs it): %v", err)
	}
	dir := t.TempDir()
	compose := `services:
  kafka:
    image: ` + image + `
    ports: ["9092"]
    volumes: ["/var/run/docker.sock:/var/run/docker.sock:ro"]
    command:
      - portenv
      - --set
      - KAFKA_BROKER_ID={{.Compose.Number}}
      - --set
      - WHO={{.Compose.Project}}/{{.Compose.Service}}
      - --port
      - KAFKA_ADVERTISED_PORT=9092
      - --
      - sh
      - -c
      - echo "$$KAFKA_BROKER_ID $$KAFKA_ADVERTISED_PORT $$WHO"; echo ` + enginetest.Marker + `; exec sleep 600
`
	file := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	project := fmt.Sprintf("portenv-e2e-compose-%d", time.Now().UnixNano()%1e9)
	dc := func(args ...string) (string, error) {
		cmd := exec.Command("docker-compose", append([]string{"-p", project, "-f", file}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { dc("down", "-v", "--remove-orphans", "-t", "1") })
	if out, err := dc("up", "-d", "--scale", "kafka=3"); err != nil {
		t.Fatalf("docker-compose up: %v\n%s", err, out)
	}
	names := lines(enginetest.Docker(t, "ps", "-a", "--filter", "label=com.docker.compose.project="+project, "--format", "{{.Names}}"))
	if len(names) != 3 {
		t.Fatalf("project %s has containers %q, want 3", project, names)
	}
	ids, ports := map[string]bool{}, map[string]bool{}
	for _, name := range names {
		out, errOut := enginetest.Output(t, name)
		number := enginetest.Docker(t, "inspect", "-f", `{{index .Config.Labels "com.docker.compose.container-number"}}`, name)
		port := enginetest.HostPort(t, name, "9092/tcp")
		wantErr := enginetest.DualStackNote(t, name, "9092/tcp", "using")
		if want := number + " " + port + " " + project + "/kafka\n"; out != want || errOut != wantErr {
			t.Errorf("%s printed %q (stderr %q), want %q (stderr %q)", name, out, errOut, want, wantErr)
		}
		ids[number], ports[port] = true, true
		t.Logf("%s: KAFKA_BROKER_ID=%s KAFKA_ADVERTISED_PORT=%s", name, number, port)
	}
	if !ids["1"] || !ids["2"] || !ids["3"] || len(ports) != 3 {
		t.Errorf("ids %v and ports %v; want ids 1, 2, 3 and three ports", ids, ports)
	}
}
