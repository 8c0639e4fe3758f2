package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/internal/enginetest"
)

// restartWorker starts an engine of the test's own, which the test may
// stop and start again, with the test image in it. The image is imported
// there directly, so that the main engine is not needed.
// With held, the test holds its socket, as systemd does (holdSocket).
func restartWorker(t *testing.T, held bool) (*workerEngine, string) {
	t.Helper()
	// The veth pair's subnet is chosen in the Swarm tests' turn, as theirs.
	lockSwarm(t)
	hostIP, ip := vethSubnet(t)
	w := newWorker(t, hostIP, ip)
	if held {
		w.holdSocket(t)
	}
	w.start(t)
	image := enginetest.Image
	cmd := exec.Command("docker", "-H", w.host, "import", "--change", "ENV PATH=/usr/local/bin:/bin", "-", image)
	cmd.Stdin = bytes.NewReader(enginetest.RootfsTar(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker -H %s import: %v: %s", w.host, err, out)
	}
	return w, image
}

// engineEnv is this process's environment with DOCKER_HOST=host and no
// other variable of the Docker client.
func engineEnv(host string) []string {
	env := []string{"DOCKER_HOST=" + host}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") && !strings.HasPrefix(kv, "PORTENV_") {
			env = append(env, kv)
		}
	}
	return env
}

// hostProcess is portenv run on the host, its stdout and stderr kept.
type hostProcess struct {
	cmd            *exec.Cmd
	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	exited         chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// startPortenv runs portenv with args on the host against the engine at
// host, and ends it, if still running, when the test ends.
func startPortenv(t *testing.T, host string, args ...string) *hostProcess {
	t.Helper()
	p := &hostProcess{cmd: exec.Command(enginetest.Binary(t), args...), exited: make(chan struct{})}
	p.cmd.Env = engineEnv(host)
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{&p.mu, &p.stdout}, lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("portenv %s did not stop within 10s of SIGTERM", strings.Join(args, " "))
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *hostProcess) output() (stdout, stderr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String(), p.stderr.String()
}

// wait waits, bounded, for portenv to exit, and returns its exit code.
func (p *hostProcess) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		out, errOut := p.output()
		t.Fatalf("portenv %s did not exit within %s\nstdout: %s\nstderr: %s", strings.Join(p.cmd.Args[1:], " "), within, out, errOut)
		return 0
	}
}

func (p *hostProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitFor polls cond every 100 ms until it holds, for at most within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// engineBindings are the bindings of container name as `docker port`
// prints them, "9092/tcp -> 0.0.0.0:32768", sorted, IPv6 addresses in
// brackets whichever way the CLI writes them.
func engineBindings(t *testing.T, w *workerEngine, name string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(w.docker(t, "port", name), "\n") {
		port, addr, ok := strings.Cut(line, " -> ")
		i := strings.LastIndex(addr, ":")
		if !ok || i < 0 {
			continue
		}
		ip := strings.Trim(addr[:i], "[]")
		out = append(out, port+" -> "+joinHostPort(ip, addr[i+1:]))
	}
	sort.Strings(out)
	return out
}

func recordBindings(rec *discover.Record) []string {
	var out []string
	for _, b := range rec.Container.Ports {
		out = append(out, b.Port.String()+" -> "+joinHostPort(b.HostIP, fmt.Sprint(b.HostPort)))
	}
	sort.Strings(out)
	return out
}

func joinHostPort(ip, port string) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + port
	}
	return ip + ":" + port
}

// engineView is what the engine says of a container now, as a record
// holds it.
type engineView struct {
	id, status, startedAt string
	pid                   int
	bindings              []string
}

func inspectView(t *testing.T, w *workerEngine, name string) engineView {
	t.Helper()
	var v engineView
	out := w.docker(t, "inspect", "-f", "{{.Id}} {{.State.Status}} {{.State.StartedAt}} {{.State.Pid}}", name)
	if _, err := fmt.Sscan(out, &v.id, &v.status, &v.startedAt, &v.pid); err != nil {
		t.Fatalf("docker inspect %s: %q: %v", name, out, err)
	}
	if v.status == "running" {
		v.bindings = engineBindings(t, w, name)
	}
	return v
}

// recordSays tells how the record of container v.id in records differs
// from v, "" when it holds exactly v.
func recordSays(t *testing.T, records string, v engineView) string {
	t.Helper()
	rec, data := readRecordFile(t, records, v.id)
	switch {
	case rec == nil:
		return "no record"
	case rec.Container.Status != v.status || rec.Container.StartedAt != v.startedAt || rec.Container.Pid != v.pid:
		return fmt.Sprintf("record says %s, started %s, pid %d; the engine says %s, started %s, pid %d", rec.Container.Status, rec.Container.StartedAt, rec.Container.Pid, v.status, v.startedAt, v.pid)
	case v.status == "running" && fmt.Sprint(recordBindings(rec)) != fmt.Sprint(v.bindings):
		return fmt.Sprintf("record binds %v; docker port says %v\n%s", recordBindings(rec), v.bindings, data)
	}
	return ""
}

// waitRecord waits until the record of the container v names holds
// exactly what v says.
func waitRecord(t *testing.T, records, name string, v engineView, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		diff := recordSays(t, records, v)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the record of %s is not the engine's within %s: %s", name, within, diff)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// workloadRun is what the workloads run: portenv --from, then the
// command that prints the port it was given, once per start.
var workloadRun = []string{"portenv", "-v", "--from", "/portenv", "--timeout", "60s", "--", "sh", "-c", "echo port=$HOST_PORT_9092" + andWait}

// A real restart of the engine that portenv agent reads: dockerd is
// stopped and started again, the containers with a restart policy come
// back, on new ports where the engine gave new ones, and the one started
// with --rm is gone. The agent, a process on the host with DOCKER_HOST at
// the engine's socket, loses the engine, retries, and once the engine is
// back rewrites the records as the engine now describes the containers;
// the workload that comes back waits for the record of its new start.
func TestAgentThroughEngineRestart(t *testing.T) {
	if os.Getenv("PORTENV_E2E") != "1" {
		enginetest.Require(t)
	}
	w, image := restartWorker(t, false)
	records := t.TempDir()
	agent := startPortenv(t, w.host, "agent", "-v", "--dir", records)
	t.Cleanup(func() {
		if _, log := agent.output(); t.Failed() {
			t.Logf("the agent's log:\n%s", log)
		}
	})
	name := func(s string) string { return uniqueName("restart-" + s) }
	// gone takes the first ephemeral port, which the others may get once
	// it is gone.
	gone, exited, eph, fixed, wl := name("gone"), name("exited"), name("eph"), name("fixed"), name("wl")
	always := []string{"--restart", "always", "--stop-timeout", "1"}
	for _, c := range []struct {
		name string
		args []string
		cmd  []string
	}{
		{gone, []string{"--rm", "--stop-timeout", "1", "-p", "9092"}, []string{"sleep", "600"}},
		{exited, []string{"--stop-timeout", "1", "-p", "9092"}, []string{"sleep", "600"}},
		{eph, append([]string{"-p", "9092", "-p", "127.0.0.1::53/udp"}, always...), []string{"sleep", "600"}},
		{fixed, append([]string{"-p", "19092:9092"}, always...), []string{"sleep", "600"}},
		{wl, append([]string{"-p", "9092", "-v", records + ":/portenv:ro"}, always...), workloadRun},
	} {
		w.docker(t, append(append(append([]string{"run", "-d", "--name", c.name}, c.args...), image), c.cmd...)...)
	}
	before := map[string]engineView{}
	for _, c := range []string{gone, exited, eph, fixed, wl} {
		before[c] = inspectView(t, w, c)
		waitRecord(t, records, c, before[c], 30*time.Second)
	}
	p1 := hostPortOf(before[wl])
	if out := workloadOutput(t, w, wl, 1); out != "port="+p1+"\n"+enginetest.Marker+"\n" {
		t.Fatalf("the workload printed %q before the restart; docker port says 9092/tcp -> %s", out, p1)
	}

	downAt := time.Now()
	w.stop(t)
	stopped := time.Since(downAt)
	lostEngine(t, agent, w, records, before, []string{eph, fixed, wl})
	// A lookup by name while the agent has lost the engine waits for its
	// new listing: the record it has may be of the start before.
	byName := startPortenv(t, w.host, "--from", records, "--container", eph, "--timeout", "90s", "--no-auto", "--port", "P=9092", "--format", "dotenv")
	time.Sleep(time.Second) // long enough for a lookup that would answer
	if !byName.running() {
		out, errOut := byName.output()
		t.Errorf("portenv --from --container %s answered while the agent had lost the engine: stdout %q, stderr %q; want it to wait for the agent's new listing", eph, out, errOut)
	}

	upAt := time.Now()
	w.start(t)
	down, startTook := time.Since(downAt), time.Since(upAt)
	after := recordsAfterRestart(t, w, records, before, []string{eph, fixed, wl}, exited)
	waitFor(t, 30*time.Second, "the record of "+gone+" (--rm) removed", func() bool {
		_, err := os.Stat(discover.RecordFile(records, before[gone].id))
		return os.IsNotExist(err)
	})
	rewritten := time.Since(upAt)
	if _, _, err := enginetest.DockerResult("-H", w.host, "inspect", gone); err == nil {
		t.Errorf("%s, started with --rm, is still there after the engine's restart", gone)
	}
	if after[fixed].bindings[0] != before[fixed].bindings[0] {
		t.Errorf("%s is bound at %v after the restart, at %v before; -p 19092:9092 binds one port", fixed, after[fixed].bindings, before[fixed].bindings)
	}
	if code := byName.wait(t, 60*time.Second); code != 0 {
		t.Errorf("portenv --from --container %s, started while the engine was down: exit %d", eph, code)
	} else if out, _ := byName.output(); out != "P="+hostPortOf(after[eph])+"\n" {
		t.Errorf("portenv --from --container %s, started while the engine was down, printed %q; docker port says 9092/tcp -> %s after the restart (before: %s)", eph, out, hostPortOf(after[eph]), hostPortOf(before[eph]))
	}
	restartedWorkload(t, w, wl, after[wl], before[wl], p1)
	lateWorkload(t, w, image, records)
	_, log := agent.output()
	t.Logf("the agent's log:\n%s", log)
	t.Logf("9092/tcp of the workload: %s before the restart, %s after; %s: %v before, %v after",
		p1, hostPortOf(after[wl]), eph, before[eph].bindings, after[eph].bindings)
	t.Logf("dockerd stopped %s after SIGTERM; the engine was down %s (started again in %s); the agent had every record as the engine describes it %s after dockerd answered again",
		stopped.Round(time.Millisecond), down.Round(time.Millisecond), startTook.Round(time.Millisecond), (rewritten - startTook).Round(time.Millisecond))
}

// recordsAfterRestart waits until the agent has rewritten the records of
// the containers that the restart policy started again, and of exited,
// which has none, as the engine now describes them, and returns that.
func recordsAfterRestart(t *testing.T, w *workerEngine, records string, before map[string]engineView, restarted []string, exited string) map[string]engineView {
	t.Helper()
	after := map[string]engineView{}
	for _, c := range restarted {
		after[c] = inspectView(t, w, c)
		if after[c].status != "running" || after[c].startedAt == before[c].startedAt {
			t.Fatalf("%s is %s, started %s, after the engine's restart; the restart policy should have started it again", c, after[c].status, after[c].startedAt)
		}
		waitRecord(t, records, c, after[c], 30*time.Second)
	}
	after[exited] = inspectView(t, w, exited)
	if after[exited].status != "exited" || after[exited].startedAt != before[exited].startedAt {
		t.Fatalf("%s, with no restart policy, is %s, started %s, after the engine's restart", exited, after[exited].status, after[exited].startedAt)
	}
	waitRecord(t, records, exited, after[exited], 30*time.Second)
	return after
}

// hostPortOf is the host port of 9092/tcp on 0.0.0.0 in v.
func hostPortOf(v engineView) string {
	for _, b := range v.bindings {
		if p, ok := strings.CutPrefix(b, "9092/tcp -> 0.0.0.0:"); ok {
			return p
		}
	}
	return ""
}

// workloadOutput waits until container name has printed the marker n
// times, once per start, and returns its stdout.
func workloadOutput(t *testing.T, w *workerEngine, name string, n int) string {
	t.Helper()
	var out, errOut string
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errOut, _ = enginetest.DockerResult("-H", w.host, "logs", name)
		if strings.Count(out, enginetest.Marker+"\n") >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q %d times within 60s\nstdout: %s\nstderr: %s", name, enginetest.Marker, n, out, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lostEngine checks, with dockerd stopped, that the agent says it lost
// the engine and tries again, and that it leaves the records as they were
// and marks them current no longer.
func lostEngine(t *testing.T, agent *hostProcess, w *workerEngine, records string, before map[string]engineView, restarting []string) {
	t.Helper()
	// As dockerd stops, it closes the event stream, or the connection
	// breaks first.
	lost := []string{
		"portenv: warning: the engine at " + w.host + " ended the event stream (GET /events); reconnecting in 100ms\n",
		"portenv: warning: the connection to the engine at " + w.host + " broke during GET /events; reconnecting in 100ms\n",
	}
	again := "portenv: warning: cannot reach the engine again: no Docker socket at " + w.sock + " in this container (DOCKER_HOST=" + w.host + "); mount it with -v /var/run/docker.sock:" + w.sock + ":ro, or set DOCKER_HOST to the engine's address; reconnecting in "
	waitFor(t, 30*time.Second, "the agent's log saying it lost the engine and tries again", func() bool {
		_, log := agent.output()
		return (strings.Contains(log, lost[0]) || strings.Contains(log, lost[1])) && strings.Count(log, again) >= 2
	})
	marker := func() string {
		data, _ := os.ReadFile(filepath.Join(records, discover.MarkerFile))
		return string(data)
	}
	marked := marker()
	// Two more tries, and the mark has not moved.
	_, log := agent.output()
	n := strings.Count(log, again)
	waitFor(t, 30*time.Second, "two more tries of the agent", func() bool {
		_, log := agent.output()
		return strings.Count(log, again) >= n+2
	})
	if m := marker(); m != marked {
		t.Errorf("the agent marked its records current while the engine was down:\n%s\nthen\n%s", marked, m)
	}
	if !strings.Contains(marked, `"lostAt":"`) {
		t.Errorf("the agent's marker while the engine is down: %s; want its lostAt", marked)
	}
	// dockerd removes its socket as it stops: portenv fails at once, its
	// --timeout notwithstanding, with the line for a missing socket.
	probe := startPortenv(t, w.host, "--container", restarting[0], "--timeout", "60s", "--", "env")
	code := probe.wait(t, 30*time.Second)
	if out, errOut := probe.output(); code != 1 || out != "" || errOut != "portenv: no Docker socket at "+w.sock+" in this container (DOCKER_HOST="+w.host+"); mount it with -v /var/run/docker.sock:"+w.sock+":ro, or set DOCKER_HOST to the engine's address\n" {
		t.Errorf("portenv with the engine down: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// dockerd stopped the containers before it went, and the agent
	// recorded that, unless the engine was gone before the agent could
	// read it: each record is of the start before, running or exited.
	for _, c := range restarting {
		v := before[c]
		v.status, v.pid = "exited", 0
		if recordSays(t, records, before[c]) != "" {
			if diff := recordSays(t, records, v); diff != "" {
				t.Errorf("with the engine down, the record of %s: %s", c, diff)
			}
		}
	}
}

// restartedWorkload checks what the workload printed in its two starts:
// the port of each, and that in the second it waited past the record of
// the first start and took that of its own.
func restartedWorkload(t *testing.T, w *workerEngine, name string, now, before engineView, p1 string) {
	t.Helper()
	out := workloadOutput(t, w, name, 2)
	p2 := hostPortOf(now)
	if want := "port=" + p1 + "\n" + enginetest.Marker + "\nport=" + p2 + "\n" + enginetest.Marker + "\n"; out != want {
		t.Errorf("the workload printed\n%s\nwant\n%s", out, want)
	}
	_, errOut, _ := enginetest.DockerResult("-H", w.host, "logs", name)
	file := "/portenv/" + now.id + ".json"
	found := "portenv: find container by record: container " + now.id[:12] + " (" + name + ") in " + file + "; it records the start at "
	first := found + before.startedAt + ", this start (read from the engine at "
	second := found + now.startedAt + ", this start (read from the engine at "
	if strings.Count(errOut, found) != 2 || !strings.Contains(errOut, first) || !strings.Contains(errOut, second) {
		t.Errorf("the workload's log does not show it taking the record of each start, %s then %s:\n%s", before.startedAt, now.startedAt, errOut)
	}
	// Whether the workload came back before the agent rewrote its record
	// is a race; the engine restores its containers before it answers,
	// so it mostly does. Where it did, it waited past that record.
	refused := "portenv: waiting for " + file + " of this start: it records the start at " + before.startedAt + ", read from the engine at "
	waited := strings.Count(errOut, "portenv: waiting for "+file+" of this start: ")
	if waited > 0 && !strings.Contains(errOut, refused) {
		t.Errorf("the workload waited past a record that is not of the start before (%s):\n%s", before.startedAt, errOut)
	}
	t.Logf("the workload came back before the agent rewrote its record, and waited past the earlier start's: %v; its log over both starts:\n%s", waited > 0, errOut)
}

// lateWorkload starts a workload after the restart, which gets exactly
// the ports the engine gave it.
func lateWorkload(t *testing.T, w *workerEngine, image, records string) {
	t.Helper()
	name := uniqueName("restart-late")
	w.docker(t, append([]string{"run", "-d", "--name", name, "-p", "9092", "-v", records + ":/portenv:ro", image}, workloadRun...)...)
	out := workloadOutput(t, w, name, 1)
	if want := "port=" + hostPortOf(inspectView(t, w, name)) + "\n" + enginetest.Marker + "\n"; out != want {
		t.Errorf("the workload started after the restart printed %q, want %q", out, want)
	}
}

// portenv on the host, with DOCKER_HOST at the socket of an engine that
// restarts while the socket waits, held as systemd's docker.socket holds
// it: with a short --timeout it fails with its one line; with a long one
// it waits while dockerd is started again and the restart policy starts
// the container, and then prints the ports the engine gave that start.
func TestPortenvWaitsThroughEngineRestart(t *testing.T) {
	if os.Getenv("PORTENV_E2E") != "1" {
		enginetest.Require(t)
	}
	w, image := restartWorker(t, true)
	// The first ephemeral ports go to a container that is gone after the
	// restart, so that the engine gives c new ones.
	w.docker(t, "run", "-d", "--name", uniqueName("restart-first"), "--rm", "--stop-timeout", "1", "-p", "9092", "-p", "127.0.0.1::53/udp", image, "sleep", "600")
	c := uniqueName("restart-port")
	w.docker(t, "run", "-d", "--name", c, "--restart", "always", "--stop-timeout", "1", "-p", "9092", "-p", "127.0.0.1::53/udp", image, "sleep", "600")
	before := inspectView(t, w, c)
	downAt := time.Now()
	w.stop(t)

	short := startPortenv(t, w.host, "--container", c, "--timeout", "2s", "--", "env")
	code := short.wait(t, 30*time.Second)
	out, errOut := short.output()
	want := "portenv: the engine at " + w.host + " did not answer HEAD /_ping within 2s (--timeout); check that the engine runs and that this is its address, or raise --timeout\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("with the engine down: exit %d, stdout %q, stderr\n got %q\nwant %q", code, out, errOut, want)
	}

	waiting := startPortenv(t, w.host, "--container", c, "--timeout", "60s", "--", "env")
	// Ending early is the failure looked for; a busy machine only delays it.
	time.Sleep(time.Second)
	if !waiting.running() {
		out, errOut := waiting.output()
		t.Fatalf("portenv --timeout 60s ended while the engine was down\nstdout: %s\nstderr: %s", out, errOut)
	}
	upAt := time.Now()
	w.start(t)
	down, started := time.Since(downAt), time.Since(upAt)
	code = waiting.wait(t, 60*time.Second)
	answered := time.Since(upAt)
	out, errOut = waiting.output()
	now := inspectView(t, w, c)
	if now.status != "running" || now.startedAt == before.startedAt {
		t.Fatalf("%s was not started again by its restart policy: %s, started %s", c, now.status, now.startedAt)
	}
	udp, _ := strings.CutPrefix(now.bindings[0], "53/udp -> 127.0.0.1:")
	got := envOf(out)
	assertVars(t, got, map[string]string{
		"HOST_PORT_9092":   hostPortOf(now),
		"HOST_PORT_53_UDP": udp,
		"HOST_IP_53_UDP":   "127.0.0.1",
	})
	if code != 0 || errOut != "" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	t.Logf("docker port before the restart %v, after %v; portenv printed HOST_PORT_9092=%s HOST_PORT_53_UDP=%s",
		before.bindings, now.bindings, got["HOST_PORT_9092"], got["HOST_PORT_53_UDP"])
	t.Logf("the engine was down %s; portenv, started while it was down, answered %s after dockerd was started again (which took %s to answer)",
		down.Round(time.Millisecond), answered.Round(time.Millisecond), started.Round(time.Millisecond))
}
