package doctest

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// commandTests are the checks of the blocks marked <!-- test: NAME -->:
// each runs the block's own text and compares what it printed with what
// the engine says.
var commandTests = map[string]func(d *docEnv, b block){
	"print":            testPrint,
	"doctor":           testDoctor,
	"start-kafka-line": testStartKafkaLine,
	"dockerfile":       testDockerfile,
	"dockerfile-shim":  testDockerfile,
	"exec-prefix":      testExecPrefix,
	"init-script":      testInitScript,
	"dotenv-file":      testDotenvFile,
	"portenv-port":     testPortenvPort,
	"hooks":            testHooks,
	"template-file":    testTemplateFile,
	"socketless":       testSocketless,
}

// TestCommands runs every block marked <!-- test: NAME --> against the
// local engine. Without an engine it skips loudly; with PORTENV_E2E=1 a
// missing engine is a failure.
func TestCommands(t *testing.T) {
	enginetest.Require(t)
	d := newDocEnv(t)
	for _, b := range docBlocks(t) {
		kind, name, _ := strings.Cut(b.marker, ":")
		if kind != "test" {
			continue
		}
		name = strings.TrimSpace(name)
		check := commandTests[name]
		if check == nil {
			continue // TestBlocksMarked says so
		}
		t.Run(name, func(t *testing.T) {
			t.Logf("%s:\n%s", b, b.text)
			check(d.with(t), b)
		})
	}
}

// docEnv is what the checks share: the images made for them and the
// prefix of every name they create.
type docEnv struct {
	t      *testing.T
	prefix string // of containers, volumes and networks; also the label's value
	image  string // stands for the image portenv: /portenv, its entrypoint, and busybox
	base   string // an application image without portenv: busybox and the stand-ins
}

const label = "portenv-doctest"

func (d *docEnv) with(t *testing.T) *docEnv {
	c := *d
	c.t = t
	return &c
}

func newDocEnv(t *testing.T) *docEnv {
	rnd := make([]byte, 4)
	if _, err := rand.Read(rnd); err != nil {
		t.Fatal(err)
	}
	d := &docEnv{t: t, prefix: "portenv-doctest-" + hex.EncodeToString(rnd)}
	d.image = d.prefix + ":portenv"
	d.base = d.prefix + ":app"
	bin := enginetest.Binary(t)
	d.importImage(d.image, bin, `ENTRYPOINT ["/portenv"]`)
	d.importImage(d.base, "", `CMD ["start-kafka.sh"]`)
	t.Cleanup(func() {
		for _, kind := range []string{"container", "volume", "network"} {
			list := exec.Command("docker", kind, "ls", "-q", "--filter", "label="+label+"="+d.prefix)
			if kind == "container" {
				list = exec.Command("docker", "ps", "-aq", "--filter", "label="+label+"="+d.prefix)
			}
			out, _ := list.Output()
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				rm := append([]string{kind, "rm", "-f"}, ids...)
				if kind == "container" {
					rm = append([]string{"rm", "-f", "-v"}, ids...)
				}
				if kind == "network" {
					rm = append([]string{"network", "rm"}, ids...)
				}
				if out, err := exec.Command("docker", rm...).CombinedOutput(); err != nil {
					t.Logf("cleanup: docker %s: %v: %s", strings.Join(rm, " "), err, out)
				}
			}
		}
		exec.Command("docker", "rmi", "-f", d.image, d.base).Run()
	})
	return d
}

// The stand-ins for the programs the documentation names. Each prints what
// it was given; DOCTEST_SLEEP keeps it running, for containers whose
// bindings are compared after it printed.
const (
	// start-kafka.sh runs its docker port line, as wurstmeister/kafka's
	// does, only when KAFKA_ADVERTISED_PORT is empty.
	startKafka = `#!/bin/sh
[ -n "$KAFKA_PORT" ] || export KAFKA_PORT=9092
if [ -z "$KAFKA_ADVERTISED_PORT" ] && [ -z "$KAFKA_ADVERTISED_LISTENERS" ] && command -v docker >/dev/null; then
	KAFKA_ADVERTISED_PORT=$(docker port "$(hostname)" $KAFKA_PORT | sed -r 's/.*:(.*)/\1/g' | head -n1)
	export KAFKA_ADVERTISED_PORT
fi
env | grep '^KAFKA_' | sort
echo started
exec sleep "${DOCTEST_SLEEP:-0}"
`
	myServer = `#!/bin/sh
echo "my-server $*"
env | grep -E '^(LISTENERS|HOST_)' | sort
`
	redisServer = `#!/bin/sh
echo "redis-server $*"
cat "$1"
`
)

// importImage makes tag from busybox, the stand-ins and, when bin is
// given, portenv at /portenv (and as portenv on PATH), with docker import.
func (d *docEnv) importImage(tag, bin, change string) {
	t := d.t
	bb, err := os.ReadFile(enginetest.Busybox)
	if err != nil {
		t.Fatalf("the doc test's image needs a static busybox at %s (apt-get install busybox-static): %v", enginetest.Busybox, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, data []byte) {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			if _, err := tw.Write(data); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, dir := range []string{"bin", "etc", "usr", "usr/bin", "usr/local", "usr/local/bin", "run", "var", "var/run"} {
		add(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	add(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}, nil)
	add(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, bb)
	for _, applet := range []string{"sh", "env", "sort", "sleep", "cat", "cut", "sed", "head", "tr", "grep", "hostname", "ln", "cp", "rm", "printf", "echo", "test", "["} {
		add(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	add(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0:root:/:/bin/sh\n"))
	add(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:\n"))
	add(&tar.Header{Name: "usr/local/bin/start-kafka.sh", Typeflag: tar.TypeReg, Mode: 0o755}, []byte(startKafka))
	add(&tar.Header{Name: "usr/local/bin/my-server", Typeflag: tar.TypeReg, Mode: 0o755}, []byte(myServer))
	add(&tar.Header{Name: "usr/local/bin/redis-server", Typeflag: tar.TypeReg, Mode: 0o755}, []byte(redisServer))
	if bin != "" {
		pe, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		add(&tar.Header{Name: "portenv", Typeflag: tar.TypeReg, Mode: 0o755}, pe)
		add(&tar.Header{Name: "usr/local/bin/portenv", Typeflag: tar.TypeSymlink, Linkname: "/portenv", Mode: 0o777}, nil)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin", "--change", change, "-", tag)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import %s: %v: %s", tag, err, out)
	}
}

// docker runs the docker CLI; it returns stdout, and fails the test with
// stderr unless allowed to fail.
func (d *docEnv) docker(args ...string) string {
	d.t.Helper()
	out, stderr, err := d.try(args...)
	if err != nil {
		d.t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

func (d *docEnv) try(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return stdout.String(), stderr.String(), err
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		return stdout.String(), stderr.String(), fmt.Errorf("no end within 3 minutes")
	}
}

// runOptions lists docker run's options that take a value, as separate
// words.
var runOptions = []string{"-p", "--publish", "-v", "--volume", "-e", "--env", "--name", "--network", "--restart", "--entrypoint", "--hostname", "-h", "-w", "--workdir", "-u", "--user", "--group-add", "--pid", "-l", "--label", "--env-file", "--tmpfs", "--mount"}

// docRun is one documented docker command, split into words and made the
// test's own: its image names are the test's images, its containers,
// volumes and networks carry the test's prefix and label.
type docRun struct {
	args    []string // after "docker"
	options []string // docker run's options, as rewritten
	image   int      // index of the image in args
}

// rewrite makes a documented docker command (after "docker") the test's.
func (d *docEnv) rewrite(words []string) docRun {
	t := d.t
	t.Helper()
	images := map[string]string{"portenv": d.image, "my-kafka-image": d.image}
	named := func(n string) string { return d.prefix + "-" + n }
	switch {
	case len(words) >= 3 && words[0] == "volume" && words[1] == "create":
		return docRun{args: []string{"volume", "create", "--label", label + "=" + d.prefix, named(words[2])}, image: -1}
	case len(words) >= 1 && words[0] == "run":
	default:
		t.Fatalf("the doc test does not know how to run docker %s", strings.Join(words, " "))
	}
	r := docRun{args: []string{"run", "--label", label + "=" + d.prefix}, image: -1}
	hasName := false
	for i := 1; i < len(words); i++ {
		w := words[i]
		if r.image >= 0 || !strings.HasPrefix(w, "-") {
			if r.image < 0 {
				img, ok := images[w]
				if !ok {
					t.Fatalf("docker run of an image the doc test does not stand in for: %q", w)
				}
				if !hasName {
					// Named, so that it can be looked at and removed.
					r.args = append(r.args, "--name", named(fmt.Sprintf("c%d", time.Now().UnixNano()%1e9)))
				}
				r.image = len(r.args)
				w = img
			}
			r.args = append(r.args, w)
			continue
		}
		opt := []string{w}
		if slices.Contains(runOptions, w) && i+1 < len(words) {
			i++
			v := words[i]
			switch w {
			case "--name":
				v = named(v)
				hasName = true
			case "-v", "--volume":
				if src, rest, ok := strings.Cut(v, ":"); ok && !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "$") {
					v = named(src) + ":" + rest
				}
			}
			opt = append(opt, v)
		}
		r.args = append(r.args, opt...)
		switch w {
		case "--rm", "-d", "--name", "--restart":
		default:
			r.options = append(r.options, opt...)
		}
	}
	if r.image < 0 {
		t.Fatalf("docker %s names no image", strings.Join(words, " "))
	}
	return r
}

// words splits a shell command into words: single quotes, double quotes
// (with \" and \\ in them) and backslashes, as sh does, without expansion.
func words(t *testing.T, cmd string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(cmd[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unclosed ' in %s", cmd)
			}
			cur.WriteString(cmd[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(cmd) && cmd[i] != '"'; i++ {
				if cmd[i] == '\\' && i+1 < len(cmd) && (cmd[i+1] == '"' || cmd[i+1] == '\\') {
					i++
				}
				cur.WriteByte(cmd[i])
			}
			inWord = true
		case c == '\\' && i+1 < len(cmd):
			i++
			cur.WriteByte(cmd[i])
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// dockerLine runs one documented command line that starts with "docker",
// made the test's own; it returns the rewritten command, stdout and stderr.
func (d *docEnv) dockerLine(line string) (docRun, string, string) {
	d.t.Helper()
	w := words(d.t, line)
	if len(w) < 2 || w[0] != "docker" {
		d.t.Fatalf("not a docker command: %s", line)
	}
	r := d.rewrite(w[1:])
	out, stderr, err := d.try(r.args...)
	if err != nil {
		d.t.Fatalf("docker %s (as documented: %s): %v\n%s%s", strings.Join(r.args, " "), line, err, out, stderr)
	}
	return r, out, stderr
}

// live starts a container of the image portenv stands for, with options,
// running sleep behind portenv as its entrypoint, and waits until portenv
// has exec'd it (so the bindings are there and portenv found them).
func (d *docEnv) live(options ...string) string {
	d.t.Helper()
	name := fmt.Sprintf("%s-live-%d", d.prefix, time.Now().UnixNano()%1e9)
	args := append([]string{"run", "-d", "--name", name, "--label", label + "=" + d.prefix}, options...)
	d.docker(append(args, d.image, "--", "sleep", "600")...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _, _ := d.try("exec", name, "cat", "/proc/1/comm")
		if strings.TrimSpace(out) == "sleep" {
			return name
		}
		if state := strings.TrimSpace(d.docker("inspect", "-f", "{{.State.Status}}", name)); state != "running" || time.Now().After(deadline) {
			logs, _, _ := d.try("logs", name)
			d.t.Fatalf("container %s is %s, and portenv did not exec sleep: %s", name, state, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sh runs a shell script in container c and returns its stdout; the test
// fails if it fails.
func (d *docEnv) sh(c, script string) string {
	d.t.Helper()
	out, stderr, err := d.try("exec", c, "sh", "-c", script)
	if err != nil {
		d.t.Fatalf("in %s: sh -c %q: %v\n%s%s", c, script, err, out, stderr)
	}
	return out
}

// binding returns the host address and port that docker port gives for
// port (9092/tcp) of container c: the IPv4 line, or the only one.
func (d *docEnv) binding(c, port string) (string, string) {
	d.t.Helper()
	out := d.docker("port", c, port)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "[") {
			continue
		}
		i := strings.LastIndexByte(l, ':')
		if i < 0 {
			break
		}
		return l[:i], l[i+1:]
	}
	d.t.Fatalf("docker port %s %s gives no IPv4 binding: %q", c, port, out)
	return "", ""
}

func (d *docEnv) hostPort(c, port string) string {
	_, p := d.binding(c, port)
	return p
}

// expect fails the test unless got, line by line, is want.
func (d *docEnv) expect(what, got, want string) {
	d.t.Helper()
	if strings.TrimSpace(got) != strings.TrimSpace(want) {
		d.t.Errorf("%s:\ngot:\n%s\nwant (from the engine):\n%s", what, got, want)
	}
}

// contains fails the test unless got has the line want.
func (d *docEnv) contains(what, got, want string) {
	d.t.Helper()
	for _, l := range strings.Split(got, "\n") {
		if strings.TrimSpace(l) == want {
			return
		}
	}
	d.t.Errorf("%s: no line %q in:\n%s", what, want, got)
}

var varLineRE = regexp.MustCompile(`^(?:export )?HOST_(PORT|IP)_([0-9]+)(_UDP|_SCTP)?=`)

// engineValue is what docker port says a HOST_ variable of container c
// should hold.
func (d *docEnv) engineValue(c, name string) string {
	m := varLineRE.FindStringSubmatch(name + "=")
	if m == nil {
		d.t.Fatalf("not a HOST_ variable: %s", name)
	}
	proto := "tcp"
	if m[3] != "" {
		proto = strings.ToLower(m[3][1:])
	}
	ip, port := d.binding(c, m[2]+"/"+proto)
	if m[1] == "IP" {
		return ip
	}
	return port
}

// shape replaces the digits of quoted numbers, the values that change from
// run to run.
var numberRE = regexp.MustCompile(`'[0-9]+'|=[0-9]+$`)

func shape(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, numberRE.ReplaceAllStringFunc(strings.TrimRight(l, " "), func(n string) string {
			if strings.HasPrefix(n, "=") {
				return "=N"
			}
			return "'N'"
		}))
	}
	return strings.Join(out, "\n")
}

// --- the checks ------------------------------------------------------------

// testPrint: "$ docker run ... portenv" and the lines it prints. The
// command is run as written and must print lines of the same shape; the
// same options on a container that stays up, asked with docker exec, must
// print the values docker port gives.
func testPrint(d *docEnv, b block) {
	lines := strings.Split(b.text, "\n")
	var cmd []string
	i := 0
	for ; i < len(lines) && (strings.HasPrefix(lines[i], "$ ") || (i > 0 && strings.HasSuffix(lines[i-1], "\\"))); i++ {
		cmd = append(cmd, lines[i])
	}
	shown := strings.Join(lines[i:], "\n")
	cl := commandLines(strings.Join(cmd, "\n"))
	if len(cl) != 1 || !strings.Contains(shown, "HOST_") {
		d.t.Fatalf("want one $ command and the variables it prints, got %q", b.text)
	}
	r, out, _ := d.dockerLine(cl[0])
	d.expect("printed by the command as documented (numbers as N)", shape(out), shape(shown))

	c := d.live(r.options...)
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(shown), "\n") {
		name := strings.TrimPrefix(strings.SplitN(l, "=", 2)[0], "export ")
		want = append(want, fmt.Sprintf("export %s='%s'", name, d.engineValue(c, name)))
	}
	got := d.sh(c, "/portenv "+strings.Join(r.args[r.image+1:], " "))
	d.expect("printed in a container with the same options", got, strings.Join(want, "\n"))
}

// testDoctor: docker run ... portenv doctor ends with OK and shows the
// variable; in a container that stays up, with docker port's value.
func testDoctor(d *docEnv, b block) {
	cl := commandLines(b.text)
	if len(cl) != 1 {
		d.t.Fatalf("want one command, got %q", b.text)
	}
	r, out, _ := d.dockerLine(cl[0])
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[len(lines)-1] != "OK" {
		d.t.Errorf("doctor does not end with OK:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^\s*HOST_PORT_9092=[0-9]+$`).MatchString(out) {
		d.t.Errorf("doctor shows no HOST_PORT_9092=N:\n%s", out)
	}
	c := d.live(r.options...)
	got := d.sh(c, "/portenv doctor")
	d.contains("doctor in a container with the same options", got, "HOST_PORT_9092="+d.hostPort(c, "9092/tcp"))
}

// testStartKafkaLine: the start script's docker port line, in a container
// whose docker is portenv, gives docker port's host port.
func testStartKafkaLine(d *docEnv, b block) {
	c := d.live("-p", "9092", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro")
	d.sh(c, "ln -s /portenv /usr/bin/docker")
	got := d.sh(c, "KAFKA_PORT=9092\n"+b.text+"\necho \"$KAFKA_ADVERTISED_PORT\"")
	d.expect("KAFKA_ADVERTISED_PORT", got, d.hostPort(c, "9092/tcp"))
}

// testDockerfile: the Dockerfile lines, on an application image with a
// stand-in start-kafka.sh, build; a container of the image, published with
// -p 9092 and the socket, starts start-kafka.sh with KAFKA_ADVERTISED_PORT
// set to docker port's host port (by portenv as the entrypoint, or by the
// script's own docker port line with portenv as docker).
func testDockerfile(d *docEnv, b block) {
	dir := d.t.TempDir()
	text := strings.ReplaceAll(b.text, "--from=portenv ", "--from="+d.image+" ")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+d.base+"\n"+text+"\n"), 0o644); err != nil {
		d.t.Fatal(err)
	}
	tag := fmt.Sprintf("%s:built-%d", d.prefix, time.Now().UnixNano()%1e9)
	d.docker("build", "-q", "-t", tag, dir)
	d.t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	name := d.prefix + "-" + strings.ReplaceAll(strings.TrimPrefix(b.marker, "test: "), " ", "")
	d.docker("run", "-d", "--name", name, "--label", label+"="+d.prefix, "-e", "DOCTEST_SLEEP=600",
		"-p", "9092", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro", tag)
	var logs string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, stderr, _ := d.try("logs", name)
		logs = out + stderr
		if strings.Contains(logs, "started") {
			break
		}
	}
	d.contains("start-kafka.sh's environment", logs, "KAFKA_ADVERTISED_PORT="+d.hostPort(name, "9092/tcp"))
}

// testExecPrefix: exec portenv --set ... -- my-server: my-server gets its
// arguments and LISTENERS with docker port's address and port.
func testExecPrefix(d *docEnv, b block) {
	c := d.live("-p", "9092", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro")
	got := d.sh(c, b.text)
	d.contains("my-server", got, "my-server --config /etc/my.conf")
	ip, port := d.binding(c, "9092/tcp")
	d.contains("my-server's environment", got, "LISTENERS=PLAINTEXT://"+ip+":"+port)
}

// testInitScript: eval "$(portenv)" in a script gives it HOST_PORT_9092.
func testInitScript(d *docEnv, b block) {
	c := d.live("-p", "9092", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro")
	d.expect("the init script", d.sh(c, b.text), "reached at port "+d.hostPort(c, "9092/tcp"))
}

// testDotenvFile: portenv -o FILE --format dotenv writes docker port's value.
func testDotenvFile(d *docEnv, b block) {
	c := d.live("-p", "9092", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro")
	d.sh(c, b.text)
	file := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(b.text)
	if file == nil {
		d.t.Fatalf("no -o FILE in %q", b.text)
	}
	d.expect(file[1], d.sh(c, "cat "+file[1]), "HOST_PORT_9092="+d.hostPort(c, "9092/tcp"))
}

// testPortenvPort: each line prints docker port's host port.
func testPortenvPort(d *docEnv, b block) {
	c := d.live("-p", "9092", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro")
	want := d.hostPort(c, "9092/tcp")
	for _, l := range commandLines(b.text) {
		d.expect(l, d.sh(c, l), want)
	}
}

// testHooks: {{gateway}} and .Networks give what docker inspect says of
// the container on a network of its own, standing for kafka_default.
func testHooks(d *docEnv, b block) {
	network := d.prefix + "-kafka_default"
	d.docker("network", "create", "--label", label+"="+d.prefix, network)
	c := d.live("--network", network, "-p", "9092", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro")
	gateway := strings.TrimSpace(d.docker("inspect", "-f", `{{(index .NetworkSettings.Networks "`+network+`").Gateway}}`, c))
	ip := strings.TrimSpace(d.docker("inspect", "-f", `{{(index .NetworkSettings.Networks "`+network+`").IPAddress}}`, c))
	lines := commandLines(strings.ReplaceAll(b.text, `"kafka_default"`, `"`+network+`"`))
	if len(lines) != 2 {
		d.t.Fatalf("want 2 commands, got %q", lines)
	}
	d.contains(lines[0], d.sh(c, lines[0]), "KAFKA_ADVERTISED_HOST_NAME="+gateway)
	d.contains(lines[1], d.sh(c, lines[1]), "KAFKA_ADVERTISED_LISTENERS=INSIDE://"+ip+":9093,OUTSIDE://127.0.0.1:"+d.hostPort(c, "9092/tcp"))
}

// testTemplateFile: --template SRC:DEST renders the page's example line
// before the command runs.
func testTemplateFile(d *docEnv, b block) {
	c := d.live("-p", "6379", "-v", "/var/run/docker.sock:/var/run/docker.sock:ro")
	page := readPage(d.t, b.page)
	m := regexp.MustCompile("with `([^`]*)` in `redis.conf.tmpl`").FindStringSubmatch(page)
	if m == nil {
		d.t.Fatalf("%s: no line of redis.conf.tmpl after the block", b)
	}
	d.sh(c, "printf '%s\\n' '"+m[1]+"' >/etc/redis.conf.tmpl")
	got := d.sh(c, b.text)
	d.contains("redis-server", got, "redis-server /etc/redis.conf")
	d.contains("/etc/redis.conf", got, strings.Replace(m[1], "{{port 6379}}", d.hostPort(c, "6379/tcp"), 1))
}

// testSocketless: the volume, the agent with the socket, and a workload
// without it, as documented; the workload prints HOST_PORT_9092, and the
// same options on a container that stays up give docker port's value.
func testSocketless(d *docEnv, b block) {
	var last docRun
	var out string
	for _, l := range commandLines(b.text) {
		last, out, _ = d.dockerLine(l)
	}
	d.expect("the workload's output (numbers as N)", shape(out), "export HOST_PORT_9092='N'")
	if slices.ContainsFunc(last.options, func(o string) bool { return strings.Contains(o, "docker.sock") }) {
		d.t.Errorf("the workload mounts the socket: %q", last.options)
	}
	c := d.live(last.options...)
	d.expect("printed in a container with the same options", d.sh(c, "/portenv"), "export HOST_PORT_9092='"+d.hostPort(c, "9092/tcp")+"'")
}
