package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/internal/enginetest"
	"github.com/portenv/portenv/internal/readproxy"
)

// agentAllows is what a read-only proxy must let portenv agent do; on a
// Swarm manager (the engine here may be one while the Swarm tests run), it
// reads the services of tasks published in ingress mode too.
var agentAllows = []string{"/_ping", "/info", "/events", "/containers/json", "/containers/*/json", "/services/*"}

// cuttableProxy is a recording read-only proxy on a unix socket that the
// test can cut off, as an engine restart does, and bring back.
type cuttableProxy struct {
	*readproxy.Proxy
	sock string
	stop func()
}

func newCuttableProxy(t *testing.T) *cuttableProxy {
	t.Helper()
	p := &cuttableProxy{Proxy: readproxy.New(enginetest.SocketPath(t), agentAllows...), sock: filepath.Join(socketDir(t), "docker.sock")}
	p.up(t)
	t.Cleanup(func() { p.down() })
	return p
}

func (p *cuttableProxy) up(t *testing.T) {
	t.Helper()
	os.Remove(p.sock)
	stop, err := readproxy.Serve(p.sock, p.Proxy)
	if err != nil {
		t.Fatal(err)
	}
	p.stop = stop
}

// down closes the socket and every connection through it.
func (p *cuttableProxy) down() {
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
}

// dockerArgs give a container the proxy's socket as its engine.
func (p *cuttableProxy) dockerArgs() []string {
	return []string{"-v", filepath.Dir(p.sock) + ":/run/engine", "-e", "DOCKER_HOST=unix:///run/engine/docker.sock"}
}

// onlyReads fails the test unless every request the proxy saw was a GET or
// HEAD on a path it allows.
func (p *cuttableProxy) onlyReads(t *testing.T) {
	t.Helper()
	kinds := map[string]int{}
	for _, r := range p.Requests() {
		method, rest, _ := strings.Cut(r, " ")
		allowed := false
		for _, pat := range agentAllows {
			if ok, _ := path.Match(pat, rest); ok {
				allowed = true
			}
		}
		if (method != "GET" && method != "HEAD") || !allowed {
			t.Errorf("the agent sent %s, which is not a GET or HEAD on %v", r, agentAllows)
		}
		if strings.HasPrefix(rest, "/containers/") && rest != "/containers/json" {
			rest = "/containers/{id}/json"
		}
		if strings.HasPrefix(rest, "/services/") {
			rest = "/services/{id}"
		}
		kinds[method+" "+rest]++
	}
	t.Logf("%d requests through the read-only proxy: %v", len(p.Requests()), kinds)
}

// workloadScript checks that the container has no socket and no
// DOCKER_HOST, then runs portenv --from and prints the environment.
const workloadScript = `if [ -e /var/run/docker.sock ]; then echo SOCKET=present; else echo SOCKET=absent; fi; echo "DOCKER_HOST=${DOCKER_HOST-unset}"; exec portenv --from /portenv --timeout 60s -- sh -c 'env; echo ` + enginetest.Marker + `; exec sleep 600'`

func startWorkload(t *testing.T, name, records string, extra ...string) {
	t.Helper()
	args := append([]string{"-p", "9092", "-p", "127.0.0.1::53/udp", "-v", records + ":/portenv:ro"}, extra...)
	enginetest.Start(t, name, args, "sh", "-c", workloadScript)
}

func checkWorkload(t *testing.T, name string) {
	t.Helper()
	out, errOut := enginetest.Output(t, name)
	got := envOf(out)
	if got["SOCKET"] != "absent" || got["DOCKER_HOST"] != "unset" {
		t.Errorf("%s: /var/run/docker.sock %s, DOCKER_HOST %s; want neither", name, got["SOCKET"], got["DOCKER_HOST"])
	}
	want := map[string]string{
		"HOST_PORT_9092":   enginetest.HostPort(t, name, "9092/tcp"),
		"HOST_PORT_53_UDP": enginetest.HostPort(t, name, "53/udp"),
		"HOST_IP_53_UDP":   "127.0.0.1",
	}
	assertVars(t, got, want)
	if wantErr := enginetest.DualStackNote(t, name, "9092/tcp", "using"); errOut != wantErr {
		t.Errorf("%s: stderr %q, want %q", name, errOut, wantErr)
	}
	t.Logf("%s, without socket: HOST_PORT_9092=%s HOST_PORT_53_UDP=%s, as docker port says", name, got["HOST_PORT_9092"], got["HOST_PORT_53_UDP"])
}

func startAgent(t *testing.T, name, records string, dockerArgs ...string) {
	t.Helper()
	args := append([]string{"-v", records + ":/portenv"}, dockerArgs...)
	enginetest.Start(t, name, args, "portenv", "agent", "-v", "--dir", "/portenv")
	t.Cleanup(func() {
		if t.Failed() {
			_, logs, _ := enginetest.DockerResult("logs", name)
			t.Logf("log of the agent %s:\n%s", name, logs)
		}
	})
}

func containerID(t *testing.T, name string) string {
	return enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
}

func readRecordFile(t *testing.T, records, id string) (*discover.Record, []byte) {
	t.Helper()
	data, err := os.ReadFile(discover.RecordFile(records, id))
	if err != nil {
		return nil, nil
	}
	rec, err := discover.DecodeRecord(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("record %s: %v", id, err)
	}
	return rec, data
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stillWaiting(t *testing.T, name string) {
	t.Helper()
	out, _, _ := enginetest.DockerResult("logs", name)
	state := enginetest.Docker(t, "inspect", "-f", "{{.State.Status}}", name)
	if strings.Contains(out, enginetest.Marker) || state != "running" {
		t.Fatalf("%s is %s and printed %q; want it running and waiting for its record", name, state, out)
	}
}

// Three workloads without the socket, started before the agent, wait for
// it, then each gets exactly its own bindings. The agent runs behind a
// recording read-only proxy; the proxy cuts its connection, and it catches
// up with what happened meanwhile.
func TestAgentSocketlessWorkloads(t *testing.T) {
	enginetest.Require(t)
	records := t.TempDir()
	proxy := newCuttableProxy(t)

	var workloads []string
	for i := range 3 {
		name := enginetest.Name(t, fmt.Sprintf("sl%d", i))
		startWorkload(t, name, records, "-e", "SECRET=hunter2")
		workloads = append(workloads, name)
	}
	time.Sleep(1500 * time.Millisecond)
	for _, w := range workloads {
		stillWaiting(t, w)
	}

	agent := enginetest.Name(t, "agent")
	startAgent(t, agent, records, proxy.dockerArgs()...)
	for _, w := range workloads {
		checkWorkload(t, w)
	}

	// What a record holds: the container, never its environment.
	id0 := containerID(t, workloads[0])
	rec, data := readRecordFile(t, records, id0)
	if rec == nil || rec.Container.Name != workloads[0] || rec.Host.Name != enginetest.Docker(t, "info", "-f", "{{.Name}}") {
		t.Fatalf("record of %s: %s", workloads[0], data)
	}
	if strings.Contains(string(data), "hunter2") || strings.Contains(string(data), "SECRET") {
		t.Errorf("the record holds the container's environment:\n%s", data)
	}

	// doctor --from explains what it found.
	out, errOut, err := enginetest.DockerResult("exec", workloads[0], "portenv", "doctor", "--from", "/portenv")
	startedAt := enginetest.Docker(t, "inspect", "-f", "{{.State.StartedAt}}", workloads[0])
	for _, want := range []string{
		"Records: /portenv (--from: written by portenv agent; the engine is not asked)\n",
		"  + mountinfo     id " + id0[:12] + " from /proc/self/mountinfo\n",
		"  + record        container " + id0[:12] + " (" + workloads[0] + ") in /portenv/" + id0 + ".json; it records the start at " + startedAt + ", this start (read from the engine at ",
		"Recorded by portenv agent: started " + startedAt + ", engine host " + rec.Host.Name + "\n",
		"  HOST_PORT_9092=" + enginetest.HostPort(t, workloads[0], "9092/tcp") + "\n",
		"\nOK\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor --from lacks %q:\n%s", want, out)
		}
	}
	if err != nil || errOut != "" {
		t.Errorf("doctor --from: %v, stderr %q", err, errOut)
	}
	t.Logf("doctor --from:\n%s", out)

	// A destroyed container's record goes.
	id2 := containerID(t, workloads[2])
	enginetest.Docker(t, "rm", "-f", workloads[2])
	eventually(t, "the record of the destroyed container removed", func() bool {
		_, err := os.Stat(discover.RecordFile(records, id2))
		return os.IsNotExist(err)
	})

	// The connection is cut; meanwhile one container goes and another
	// comes. Once the proxy is back, the agent catches up.
	proxy.down()
	id1 := containerID(t, workloads[1])
	enginetest.Docker(t, "rm", "-f", workloads[1])
	late := enginetest.Name(t, "sl-late")
	startWorkload(t, late, records)
	time.Sleep(time.Second)
	if _, err := os.Stat(discover.RecordFile(records, id1)); err != nil {
		t.Fatalf("the record of %s went while the agent was cut off: %v", workloads[1], err)
	}
	stillWaiting(t, late)
	proxy.up(t)
	checkWorkload(t, late)
	eventually(t, "the record of the container removed while cut off removed", func() bool {
		_, err := os.Stat(discover.RecordFile(records, id1))
		return os.IsNotExist(err)
	})
	_, logs, _ := enginetest.DockerResult("logs", agent)
	if !strings.Contains(logs, "; reconnecting in ") || strings.Count(logs, "; following the engine's events") < 2 {
		t.Errorf("the agent's log does not show it reconnecting:\n%s", logs)
	}
	t.Logf("agent's log:\n%s", logs)
	proxy.onlyReads(t)
}

// After docker restart, a workload gets the new ports, never the earlier
// start's record: with the agent stopped during the restart, that record
// stays, with the old ports, and the workload waits until the agent
// writes the new one.
func TestAgentRestartGivesNewPorts(t *testing.T) {
	enginetest.Require(t)
	records := t.TempDir()
	agent := enginetest.Name(t, "agent")
	startAgent(t, agent, records, "-v", socketMount+":ro")
	w := enginetest.Name(t, "restart")
	enginetest.Start(t, w, []string{"-p", "9092", "-v", records + ":/portenv:ro"},
		"portenv", "-v", "--from", "/portenv", "--timeout", "60s", "--", "sh", "-c", "echo port=$HOST_PORT_9092"+andWait)
	enginetest.Output(t, w)
	id := containerID(t, w)
	p1 := enginetest.HostPort(t, w, "9092/tcp")
	firstStart := enginetest.Docker(t, "inspect", "-f", "{{.State.StartedAt}}", w)

	enginetest.Docker(t, "stop", "-t", "5", agent)
	enginetest.Docker(t, "restart", "-t", "0", w)
	p2 := enginetest.HostPort(t, w, "9092/tcp")
	if p2 == p1 {
		t.Fatalf("the engine published 9092 on %s again after the restart; the test cannot tell old from new", p1)
	}
	time.Sleep(2 * time.Second)
	rec, _ := readRecordFile(t, records, id)
	if rec == nil || rec.Container.StartedAt != firstStart || fmt.Sprint(rec.Container.Ports[0].HostPort) != p1 {
		t.Fatalf("the record of the first start is not there as it was: %+v", rec)
	}
	out, _, _ := enginetest.DockerResult("logs", w)
	if got := strings.Count(out, "port="); got != 1 {
		t.Fatalf("after the restart, with the record of the first start (port %s) only, the workload printed:\n%s", p1, out)
	}

	enginetest.Docker(t, "start", agent)
	eventually(t, "the restarted workload's variables", func() bool {
		out, _, _ := enginetest.DockerResult("logs", w)
		return strings.Count(out, enginetest.Marker) == 2
	})
	out, errOut, _ := enginetest.DockerResult("logs", w)
	want := "port=" + p1 + "\n" + enginetest.Marker + "\nport=" + p2 + "\n" + enginetest.Marker + "\n"
	if out != want {
		t.Errorf("workload printed\n%s\nwant\n%s", out, want)
	}
	waited := "portenv: waiting for /portenv/" + id + ".json of this start: it records the start at " + firstStart + ", read from the engine at "
	if !strings.Contains(errOut, waited) {
		t.Errorf("the workload's log does not show it waiting past the first start's record (%q):\n%s", waited, errOut)
	}
	_, agentLog, _ := enginetest.DockerResult("logs", agent)
	if !strings.Contains(agentLog, "portenv: agent stopped by SIGTERM (docker stop)") {
		t.Errorf("agent's log:\n%s", agentLog)
	}
	t.Logf("first start: 9092 -> %s; after docker restart: 9092 -> %s; the workload waited past the old record", p1, p2)
}

// The failures of --from, as a workload prints them.
func TestFromFailures(t *testing.T) {
	enginetest.Require(t)
	records := t.TempDir()
	mount := []string{"-v", records + ":/portenv:ro", "-p", "9092"}

	t.Run("no-agent", func(t *testing.T) {
		name := enginetest.Name(t, "from-none")
		out, errOut, code := enginetest.Run(t, name, mount, "portenv", "--from", "/portenv", "--timeout", "2s", "--", "echo", "ran")
		id := containerID(t, name)
		want := "portenv: no record of container " + id[:12] + " (the id in /proc/self/mountinfo) in /portenv within 2s (--timeout), and none of any other container: is portenv agent --dir running, with the engine's socket, and is /portenv the directory it writes (its volume, mounted here)?\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %q", code, out, errOut, want)
		}
	})
	t.Run("optional", func(t *testing.T) {
		name := enginetest.Name(t, "from-opt")
		out, errOut, code := enginetest.Run(t, name, mount, "portenv", "--optional", "--from", "/portenv", "--timeout", "1s", "--", "sh", "-c", `echo "ran ${HOST_PORT_9092:-without}"`)
		if code != 0 || out != "ran without\n" || !strings.HasSuffix(errOut, "; going on without the variables (--optional)\n") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("no-directory", func(t *testing.T) {
		name := enginetest.Name(t, "from-nodir")
		out, errOut, code := enginetest.Run(t, name, []string{"-p", "9092"}, "portenv", "--from", "/portenv", "--", "echo", "ran")
		want := "portenv: the agent's directory /portenv (--from) does not exist in this container; mount there, read-only, the directory that portenv agent --dir writes (its volume: -v VOLUME:/portenv:ro)\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %q", code, out, errOut, want)
		}
	})
	t.Run("bad-record", func(t *testing.T) {
		name := enginetest.Name(t, "from-bad")
		args := append(append([]string{"create", "--name", name}, mount...), enginetest.BuildImage(t), "portenv", "--from", "/portenv", "--", "echo", "ran")
		id := enginetest.Docker(t, args...)
		if err := os.WriteFile(discover.RecordFile(records, id), []byte(`{"version": 1, "container": `), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := enginetest.DockerResult("start", "-a", name)
		want := "portenv: /portenv/" + id + ".json is not a record portenv can read: it is empty or cut short; portenv agent writes only whole records, so check what else writes in that directory (restarting the agent writes every record again)\n"
		if err == nil || out != "" || errOut != want {
			t.Errorf("%v, stdout %q, stderr\n got %q\nwant %q", err, out, errOut, want)
		}
	})
}

// The Kafka example's socketless Compose file, scaled to three brokers,
// with the test image in place of the Kafka image (no registry here): the
// agent has the socket, the brokers have the agent's volume, read-only,
// and each advertises its own published port.
func TestAgentComposeSocketless(t *testing.T) {
	enginetest.Require(t)
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Fatalf("docker-compose is needed (apt-get install docker-compose): %v", err)
	}
	image := enginetest.BuildImage(t)
	project := fmt.Sprintf("portenv-e2e-sl-%d", time.Now().UnixNano()%1e9)
	agentImage := portenvImage(t, project)
	root := enginetest.RepoRoot()
	compose := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("docker-compose", append([]string{"-p", project,
			"-f", filepath.Join(root, "examples", "kafka", "docker-compose.socketless.yml"),
			"-f", filepath.Join(root, "e2e", "testdata", "socketless-override.yml")}, args...)...)
		cmd.Env = append(os.Environ(), "PORTENV_TEST_IMAGE="+image, "PORTENV_AGENT_IMAGE="+agentImage)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		cmd := exec.Command("docker-compose", "-p", project,
			"-f", filepath.Join(root, "examples", "kafka", "docker-compose.socketless.yml"),
			"-f", filepath.Join(root, "e2e", "testdata", "socketless-override.yml"), "down", "-v", "--remove-orphans")
		cmd.Env = append(os.Environ(), "PORTENV_TEST_IMAGE="+image, "PORTENV_AGENT_IMAGE="+agentImage)
		cmd.Run()
	})
	compose("up", "-d", "--no-build", "--no-deps", "--scale", "kafka=3", "portenv-agent", "kafka")
	ids := strings.Fields(compose("ps", "-q", "kafka"))
	if len(ids) != 3 {
		t.Fatalf("%d kafka containers, want 3: %v", len(ids), ids)
	}
	for _, id := range ids {
		name := strings.TrimPrefix(enginetest.Docker(t, "inspect", "-f", "{{.Name}}", id), "/")
		mounts := enginetest.Docker(t, "inspect", "-f", `{{range .Mounts}}{{.Destination}}:{{.RW}} {{end}}`, id)
		if mounts != "/var/lib/portenv:false" {
			t.Errorf("%s mounts %q, want the agent's volume read-only and nothing else", name, mounts)
		}
		out, errOut := enginetest.Output(t, name)
		got := envOf(out)
		port := enginetest.HostPort(t, name, "9092/tcp")
		hostname := enginetest.Docker(t, "inspect", "-f", "{{.Config.Hostname}}", id)
		want := map[string]string{
			"SOCKET":                           "absent",
			"DOCKER_HOST":                      "unset",
			"HOST_PORT_9092":                   port,
			"KAFKA_ADVERTISED_PORT":            port,
			"KAFKA_ADVERTISED_LISTENERS":       "INSIDE://" + hostname + ":29092,OUTSIDE://127.0.0.1:" + port,
			"KAFKA_INTER_BROKER_LISTENER_NAME": "INSIDE",
		}
		assertVars(t, got, want)
		if wantErr := enginetest.DualStackNote(t, name, "9092/tcp", "using"); errOut != wantErr {
			t.Errorf("%s: stderr %q, want %q", name, errOut, wantErr)
		}
		t.Logf("%s (no socket): KAFKA_ADVERTISED_LISTENERS=%s", name, got["KAFKA_ADVERTISED_LISTENERS"])
	}
}

// portenvImage builds an image as the Dockerfile builds portenv's, the
// static binary at /portenv as the entrypoint, from the test binary.
func portenvImage(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	bin, err := os.ReadFile(enginetest.Binary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "portenv"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY portenv /portenv\nENTRYPOINT [\"/portenv\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := name + "-portenv:latest"
	enginetest.Docker(t, "build", "-q", "-t", tag, dir)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// With the agent running, a search for a container that has no record
// ends as soon as the agent has marked its records current past the
// search's start, not at --timeout (an hour here): a run says so, and the
// docker shim answers in docker's words. With the agent stopped, the wait
// runs to --timeout and the message says the agent is not running.
func TestFromAnswersAtOnce(t *testing.T) {
	enginetest.Require(t)
	records := t.TempDir()
	agent := enginetest.Name(t, "agent-marks")
	startAgent(t, agent, records, "-v", enginetest.SocketMount)
	eventually(t, "the agent's marker", func() bool {
		_, err := os.Stat(filepath.Join(records, discover.MarkerFile))
		return err == nil
	})
	mount := []string{"-v", records + ":/portenv:ro"}

	name := enginetest.Name(t, "from-nosuch")
	out, errOut, code := enginetest.Run(t, name, mount, "portenv", "--from", "/portenv", "--container", "nosuch", "--timeout", "1h", "--", "echo", "ran")
	want := regexp.MustCompile(`^portenv: no record of container "nosuch" in /portenv, though portenv agent marked its records current at \S+, after this search began \(\S+\); check the id or name \(docker ps lists them\), and that portenv agent --dir writes this directory\n$`)
	if code != 1 || out != "" || !want.MatchString(errOut) {
		t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %s", code, out, errOut, want)
	}

	out, errOut, err := enginetest.DockerResult(append(append([]string{"run", "--rm", "--name", enginetest.Name(t, "from-shim")}, mount...), "-e", "PORTENV_FROM=/portenv", "-e", "PORTENV_TIMEOUT=1h", shimImage(t), "docker", "port", "nosuch", "9092")...)
	if wantErr := cliError(t, "port", "nosuch", "9092"); err == nil || out != "" || errOut != wantErr {
		t.Errorf("docker port nosuch 9092 in the shim: %v, stdout %q, stderr %q; want exit 1 and %q", err, out, errOut, wantErr)
	}

	enginetest.Docker(t, "stop", agent)
	stale := enginetest.Name(t, "from-stale")
	out, errOut, code = enginetest.Run(t, stale, mount, "portenv", "--from", "/portenv", "--container", "nosuch", "--timeout", "2s", "--", "echo", "ran")
	if want := "and portenv agent stopped at "; code != 1 || out != "" || !strings.Contains(errOut, "within 2s (--timeout)") || !strings.Contains(errOut, want) {
		t.Errorf("with the agent stopped: exit %d, stdout %q, stderr %q; want the timeout and %q", code, out, errOut, want)
	}
}
