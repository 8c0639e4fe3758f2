package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
	"github.com/portenv/portenv/internal/readproxy"
)

// startKafka is the start script of the Kafka example: written the way
// Kafka images' scripts are, it asks `docker port "$(hostname)"` for the
// host port of KAFKA_PORT (cut out with sed and head) when no advertised
// port or listener is given and the socket is mounted, evaluates
// PORT_COMMAND and HOSTNAME_COMMAND into the _{...} placeholders of the
// KAFKA_ variables, and execs its arguments.
var startKafka = filepath.Join(enginetest.RepoRoot(), "examples", "kafka", "shim", "start-kafka.sh")

// printKafka is what the start script execs in these tests: it prints
// what a broker would be configured with.
var printKafka = []string{"sh", "-c", `echo "KAFKA_ADVERTISED_PORT=$KAFKA_ADVERTISED_PORT"; echo "KAFKA_ADVERTISED_LISTENERS=$KAFKA_ADVERTISED_LISTENERS"` + andWait}

// shimImage makes an image whose only docker is portenv, copied to
// /usr/bin/docker, with busybox's sh, sed, head, cut, hostname, route and
// awk, the example's start script at /start-kafka.sh, and /usr/bin/portenv as a
// link to /usr/bin/docker (a multi-call binary answers to its name). There
// is no entrypoint. The image is removed when the test ends.
func shimImage(t *testing.T) string {
	t.Helper()
	enginetest.Require(t)
	bb, err := os.ReadFile(enginetest.Busybox)
	if err != nil {
		t.Fatalf("the shim image needs a static busybox at %s (apt-get install busybox-static): %v", enginetest.Busybox, err)
	}
	pe, err := os.ReadFile(enginetest.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "usr", "usr/bin", "etc", "tmp", "var", "var/run", "run"} {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		add(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: mode}, nil)
	}
	file := func(name string, mode int64, data []byte) {
		add(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))}, data)
	}
	file("bin/busybox", 0o755, bb)
	file("usr/bin/docker", 0o755, pe)
	script, err := os.ReadFile(startKafka)
	if err != nil {
		t.Fatal(err)
	}
	file("start-kafka.sh", 0o755, script)
	file("etc/passwd", 0o644, []byte("root:x:0:0:root:/:/bin/sh\n"))
	file("etc/group", 0o644, []byte("root:x:0:\n"))
	add(&tar.Header{Name: "usr/bin/portenv", Typeflag: tar.TypeSymlink, Linkname: "docker", Mode: 0o777}, nil)
	for _, a := range []string{"sh", "sed", "head", "cut", "hostname", "route", "awk", "env", "cat", "echo", "printf", "sleep", "test", "[", "grep"} {
		add(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("portenv-e2e-shim:%d", time.Now().UnixNano()%1e9)
	cmd := exec.Command("docker", "import", "--change", "ENV PATH=/usr/bin:/bin", "-", tag)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// startFrom starts a container of image in the background; it is removed
// when the test ends (enginetest.Name).
func startFrom(t *testing.T, image, name string, dockerArgs []string, command ...string) {
	t.Helper()
	args := append([]string{"run", "-d", "--name", name}, dockerArgs...)
	args = append(append(args, image), command...)
	enginetest.Docker(t, args...)
}

// The classic start-script line and a PORT_COMMAND, in an image whose only
// docker is portenv and which has no portenv entrypoint, give the host port
// the engine chose: with the default hostname, with a custom one, and with
// a hostname that is another container's name.
func TestShimStartScript(t *testing.T) {
	image := shimImage(t)
	decoy := enginetest.Name(t, "shim-decoy")
	startFrom(t, image, decoy, []string{"-p", "9092"}, "sleep", "600")
	decoyPort := enginetest.HostPort(t, decoy, "9092/tcp")
	for _, tc := range []struct {
		name      string
		args      []string
		listeners string // {port} is the container's host port of 9092
	}{
		{name: "default-hostname"},
		{name: "custom-hostname", args: []string{"--hostname", "broker-3"}},
		{name: "hostname-of-another-container", args: []string{"--hostname", decoy}},
		{
			name: "port-command",
			args: []string{
				"-e", "PORT_COMMAND=docker port $(hostname) 9092/tcp | cut -d: -f2",
				"-e", "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:_{PORT_COMMAND}",
			},
			listeners: "PLAINTEXT://localhost:{port}",
		},
		{
			name: "portenv-port-command",
			args: []string{
				"--hostname", "broker-3",
				"-e", "PORT_COMMAND=portenv port 9092 | cut -d: -f2",
				"-e", "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:_{PORT_COMMAND}",
			},
			listeners: "PLAINTEXT://localhost:{port}",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := enginetest.Name(t, "shim-"+tc.name)
			args := append([]string{"-v", enginetest.SocketMount, "-p", "9092"}, tc.args...)
			startFrom(t, image, name, args, append([]string{"/start-kafka.sh"}, printKafka...)...)
			out, errOut := enginetest.Output(t, name)
			port := enginetest.HostPort(t, name, "9092/tcp")
			want := "KAFKA_ADVERTISED_PORT=" + port + "\nKAFKA_ADVERTISED_LISTENERS=\n"
			if tc.listeners != "" {
				want = "KAFKA_ADVERTISED_PORT=\nKAFKA_ADVERTISED_LISTENERS=" + strings.ReplaceAll(tc.listeners, "{port}", port) + "\n"
			}
			wantErr := enginetest.DualStackNote(t, name, "9092/tcp", "printing")
			if out != want || errOut != wantErr {
				t.Errorf("start script printed\n%s(stderr %q)\nwant\n%s(stderr %q)", out, errOut, want, wantErr)
			}
			if port == decoyPort {
				t.Fatalf("the decoy and the container share host port %s", port)
			}
			t.Logf("host port %s (the container named by the hostname %q has %s)", port, decoy, decoyPort)
		})
	}
}

// withoutDualStack drops from the real CLI's lines the IPv6 line of each
// publication on every address whose IPv4 line is there too: on the same
// host port, or on another where the engine's IPv4 and IPv6 allocators
// have drifted apart. The CLI 20.10 prints it ":::32769", later ones
// "[::]:32769".
func withoutDualStack(lines []string) []string {
	split := func(l string) (from, addr string) {
		from, addr, found := strings.Cut(l, " -> ")
		if !found {
			return "", l
		}
		return from, addr
	}
	v4 := map[string]bool{} // container port ("" for one port's lines) with a line on 0.0.0.0
	for _, l := range lines {
		if from, addr := split(l); strings.HasPrefix(addr, "0.0.0.0:") {
			v4[from] = true
		}
	}
	var out []string
	for _, l := range lines {
		from, addr := split(l)
		if (strings.HasPrefix(addr, "[::]:") || strings.HasPrefix(addr, ":::")) && v4[from] {
			continue
		}
		out = append(out, l)
	}
	return out
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// cliSorts reports whether the docker CLI on the host sorts docker port's
// lines (23.0 and later); 20.10 prints them in map order.
func cliSorts(t *testing.T) bool {
	v := enginetest.Docker(t, "version", "--format", "{{.Client.Version}}")
	major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return major >= 23
}

// The docker CLI on the host and the shim in the container print the same
// lines, but for the IPv6 line of a dual-stack publication.
func TestShimMatchesDockerPort(t *testing.T) {
	image := shimImage(t)
	name := enginetest.Name(t, "shim-cli")
	queries := []string{"", "9092", "9092/tcp", "53/udp", "9000", "9001/tcp"}
	script := ""
	for _, q := range queries {
		script += `docker port "$(hostname)" ` + q + "; echo \"== $?\"; "
	}
	startFrom(t, image, name, []string{"-v", enginetest.SocketMount, "-p", "9092", "-p", "127.0.0.1::53/udp", "-p", "9000-9001:9000-9001"},
		"sh", "-c", script+"echo "+enginetest.Marker+"; exec sleep 600")
	out, errOut := enginetest.Output(t, name)
	// Three queries ask for 9092: all ports, 9092 and 9092/tcp.
	if note := enginetest.DualStackNote(t, name, "9092/tcp", "printing"); errOut != strings.Repeat(note, 3) {
		t.Errorf("stderr %q, want %q", errOut, strings.Repeat(note, 3))
	}
	got := strings.Split(strings.TrimSuffix(out, "== 0\n"), "== 0\n")
	if len(got) != len(queries) {
		t.Fatalf("the shim's answers, each ending == 0 (its exit status):\n%s", out)
	}
	p9092, p53 := enginetest.HostPort(t, name, "9092/tcp"), enginetest.HostPort(t, name, "53/udp")
	exact := map[string]string{
		"":         "53/udp -> 127.0.0.1:" + p53 + "\n9000/tcp -> 0.0.0.0:9000\n9001/tcp -> 0.0.0.0:9001\n9092/tcp -> 0.0.0.0:" + p9092 + "\n",
		"9092":     "0.0.0.0:" + p9092 + "\n",
		"9092/tcp": "0.0.0.0:" + p9092 + "\n",
		"53/udp":   "127.0.0.1:" + p53 + "\n",
		"9000":     "0.0.0.0:9000\n",
		"9001/tcp": "0.0.0.0:9001\n",
	}
	sorts := cliSorts(t)
	dropped := 0
	for i, q := range queries {
		if got[i] != exact[q] {
			t.Errorf("docker port $(hostname) %s in the container:\n%s\nwant\n%s", q, got[i], exact[q])
		}
		args := []string{"port", name}
		if q != "" {
			args = append(args, q)
		}
		real := lines(enginetest.Docker(t, args...))
		want := withoutDualStack(real)
		dropped += len(real) - len(want)
		shim := lines(got[i])
		if !sorts {
			sort.Strings(want)
			sort.Strings(shim)
		}
		if strings.Join(shim, "\n") != strings.Join(want, "\n") {
			t.Errorf("docker port %s: the CLI on the host printed\n%s\nwhich without dual-stack IPv6 lines is\n%s\nbut the shim printed\n%s", q, strings.Join(real, "\n"), strings.Join(want, "\n"), got[i])
		}
	}
	t.Logf("%d queries compared with the host CLI (order compared too: %v); %d dual-stack IPv6 lines of the CLI left out", len(queries), sorts, dropped)
}

// The shim's answers and failures for other containers, other names and
// other commands, through a read-only proxy that records every request:
// GET and HEAD only.
func TestShimLookupsAndRequests(t *testing.T) {
	image := shimImage(t)
	other := enginetest.Name(t, "shim-other")
	startFrom(t, image, other, []string{"-p", "8080", "-p", "127.0.0.1::5353/udp"}, "sleep", "600")
	otherID := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", other)
	sock := filepath.Join(socketDir(t), "ro.sock")
	proxy := readproxy.New(enginetest.SocketPath(t), "/_ping", "/containers/*/json")
	stop, err := readproxy.Serve(sock, proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	name := enginetest.Name(t, "shim-lookups")
	script := `docker port "$(hostname)" 9092; echo "== $?"
docker port "$(hostname)" 9999; echo "== $?"
docker port ` + other + `; echo "== $?"
docker port ` + otherID[:12] + ` 5353/udp; echo "== $?"
docker port no-such-container-here 9092; echo "== $?"
docker ps; echo "== $?"
docker run --rm busybox; echo "== $?"
echo ` + enginetest.Marker + `; exec sleep 600`
	startFrom(t, image, name, []string{"-v", sock + ":/var/run/docker.sock", "-p", "9092", "--hostname", "kafka-1"}, "sh", "-c", script)
	out, errOut := enginetest.Output(t, name)
	id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
	wantOut := "0.0.0.0:" + enginetest.HostPort(t, name, "9092/tcp") + "\n== 0\n" +
		"== 1\n" +
		"5353/udp -> 127.0.0.1:" + enginetest.HostPort(t, other, "5353/udp") + "\n8080/tcp -> 0.0.0.0:" + enginetest.HostPort(t, other, "8080/tcp") + "\n== 0\n" +
		"127.0.0.1:" + enginetest.HostPort(t, other, "5353/udp") + "\n== 0\n" +
		"== 1\n== 1\n== 1\n"
	// "portenv dev (commit ..., built ...)": the shim names the version alone.
	version := "portenv " + strings.Fields(enginetest.Docker(t, "run", "--rm", "--entrypoint", "/usr/bin/portenv", image, "version"))[1]
	// The failures in the words of the docker CLI on PATH: the engine's own
	// under .ci/engines.sh, the current CLI on the host; the shim follows the
	// CLI since 23.
	noPort := strings.ReplaceAll(cliError(t, "port", name, "9999"), name, "kafka-1")
	noContainer := cliError(t, "port", "no-such-container-here", "9092")
	wantErr := enginetest.DualStackNote(t, name, "9092/tcp", "printing") +
		noPort +
		enginetest.DualStackNote(t, other, "8080/tcp", "printing") +
		noContainer +
		`docker: "docker ps" is not available: this docker is ` + version + ", which provides only docker port CONTAINER [PRIVATE_PORT[/PROTO]]; other commands need the Docker CLI\n" +
		`docker: "docker run" is not available: this docker is ` + version + ", which provides only docker port CONTAINER [PRIVATE_PORT[/PROTO]]; other commands need the Docker CLI\n"
	if out != wantOut || errOut != wantErr {
		t.Errorf("stdout\n%s\nwant\n%s\nstderr\n%s\nwant\n%s", out, wantOut, errOut, wantErr)
	}
	want := []string{
		"HEAD /_ping", "GET /containers/" + id + "/json",
		"HEAD /_ping", "GET /containers/" + id + "/json",
		"HEAD /_ping", "GET /containers/" + other + "/json",
		"HEAD /_ping", "GET /containers/" + otherID[:12] + "/json",
		"HEAD /_ping", "GET /containers/no-such-container-here/json",
	}
	if got := proxy.Requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests through the read-only proxy:\n got %q\nwant %q", got, want)
	}
	t.Logf("%d requests, all GET or HEAD", len(proxy.Requests()))
}

// cliError runs the docker CLI, which must fail with exit 1, and returns
// what it printed on stderr.
func cliError(t *testing.T, args ...string) string {
	t.Helper()
	var stderr strings.Builder
	cmd := exec.Command("docker", args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("docker %s: %v, want exit 1; stderr %q", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

// portenv port in a container: the shim's lines for this container, and
// -q for the bare host port.
func TestPortCommandInContainer(t *testing.T) {
	image := shimImage(t)
	name := enginetest.Name(t, "port-cmd")
	startFrom(t, image, name, []string{"-v", enginetest.SocketMount, "-p", "9092", "-p", "127.0.0.1::53/udp", "--hostname", "broker-1"},
		"sh", "-c", `portenv port; echo ==; portenv port 9092; echo ==; portenv port -q 9092; echo ==; portenv port -q 53/udp; echo ==; portenv port 9999; echo "== $?"; echo `+enginetest.Marker+`; exec sleep 600`)
	out, errOut := enginetest.Output(t, name)
	p9092, p53 := enginetest.HostPort(t, name, "9092/tcp"), enginetest.HostPort(t, name, "53/udp")
	want := "53/udp -> 127.0.0.1:" + p53 + "\n9092/tcp -> 0.0.0.0:" + p9092 + "\n==\n" +
		"0.0.0.0:" + p9092 + "\n==\n" +
		p9092 + "\n==\n" +
		p53 + "\n==\n" +
		"== 1\n"
	note := enginetest.DualStackNote(t, name, "9092/tcp", "printing")
	wantErr := note + note + note + "portenv: port 9999/tcp of container " + name + " is not published; publish it with -p 9999; published: 9092/tcp, 53/udp\n"
	if out != want || errOut != wantErr {
		t.Errorf("stdout\n%s\nwant\n%s\nstderr %q\nwant   %q", out, want, errOut, wantErr)
	}
}

// Docker 20.10 gives the IPv4 and IPv6 halves of a -p different host ports
// once a port was published on IPv4 only: its two allocators drift apart.
// A run, docker port and portenv port all give the IPv4 port, as one
// number, and each says once what it left out.
func TestDualStackDrift(t *testing.T) {
	image := shimImage(t)
	// An IPv4-only publication moves the IPv4 allocator alone.
	startFrom(t, image, enginetest.Name(t, "drift-v4only"), []string{"-p", "0.0.0.0::9999"}, "sleep", "600")
	name := enginetest.Name(t, "drift")
	startFrom(t, image, name, []string{"-v", enginetest.SocketMount, "-p", "9092"}, "sh", "-c",
		`portenv -- sh -c 'echo $HOST_PORT_9092'; docker port "$(hostname)" 9092 | cut -d: -f2; portenv port -q 9092; echo `+enginetest.Marker+`; exec sleep 600`)
	out, errOut := enginetest.Output(t, name)
	v4 := enginetest.HostPort(t, name, "9092/tcp")
	v6 := enginetest.HostPortIPv6(t, name, "9092/tcp")
	if v4 == v6 {
		t.Skipf("SKIPPING %s: this engine gave both halves host port %s after an IPv4-only publication; its allocators do not drift", t.Name(), v4)
	}
	note := "port 9092/tcp is published on host port " + v4 + " (0.0.0.0) and on " + v6 + " (::); "
	wantErr := "portenv: " + note + "using " + v4 + "\n" + "portenv: " + note + "printing " + v4 + "\n" + "portenv: " + note + "printing " + v4 + "\n"
	if want := strings.Repeat(v4+"\n", 3); out != want || errOut != wantErr {
		t.Errorf("stdout %q, stderr\n%s\nwant stdout %q, stderr\n%s", out, errOut, want, wantErr)
	}
	t.Logf("IPv4 host port %s, IPv6 host port %s: %s printed three times", v4, v6, v4)
}
