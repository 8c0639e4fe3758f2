package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/internal/enginetest"
)

// logLines collects what the agent logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+fmt.Sprintf(format, args...))
}
func (l *logLines) Warnf(format string, args ...any)  { l.add("warning: ", format, args...) }
func (l *logLines) Infof(format string, args ...any)  { l.add("", format, args...) }
func (l *logLines) Debugf(format string, args ...any) { l.add("debug: ", format, args...) }

func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func id(c byte) string { return strings.Repeat(string(c), 64) }

func running(c byte, name string, hostPort string) map[string]any {
	return enginetest.Inspect(id(c), name, name, map[string][]map[string]string{"9092/tcp": {{"HostIp": "0.0.0.0", "HostPort": hostPort}}})
}

func exited(c byte, name string) map[string]any {
	in := enginetest.Inspect(id(c), name, name, nil)
	in["State"] = map[string]any{"Status": "exited", "Running": false, "StartedAt": "2026-11-27T10:00:00.000000001Z"}
	return in
}

var hostInfo = map[string]any{"Name": "docker-host", "SystemTime": "2026-11-27T10:00:00.5Z", "Swarm": map[string]any{"NodeAddr": "10.0.0.2", "ControlAvailable": true}}

// engine is a fake engine whose list is the running containers set with
// run.
type engine struct {
	*enginetest.Fake
	mu   sync.Mutex
	list []string
}

func newEngine(t *testing.T) *engine {
	e := &engine{Fake: &enginetest.Fake{Info: hostInfo, Containers: map[string]any{}, Events: make(chan any, 16)}}
	e.List = func() any {
		e.mu.Lock()
		defer e.mu.Unlock()
		out := []map[string]any{}
		for _, i := range e.list {
			out = append(out, map[string]any{"Id": i})
		}
		return out
	}
	e.Serve(t)
	return e
}

// run makes container c running with the given inspection, or (v nil)
// gone.
func (e *engine) run(c byte, v map[string]any) {
	e.mu.Lock()
	var list []string
	for _, i := range e.list {
		if i != id(c) {
			list = append(list, i)
		}
	}
	if v != nil && v["State"].(map[string]any)["Status"] == "running" {
		list = append(list, id(c))
	}
	e.list = list
	e.mu.Unlock()
	if v == nil {
		e.SetContainer(id(c), nil)
		return
	}
	e.SetContainer(id(c), v)
}

func startAgent(t *testing.T, dir string) *logLines {
	t.Helper()
	log := &logLines{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Dir: dir, Wait: 2 * time.Second, Log: log, Getenv: os.Getenv}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return log
}

func waitFor(t *testing.T, what string, log *logLines, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20s; the agent said:\n%s", what, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readRecord(t *testing.T, dir string, c byte) *discover.Record {
	t.Helper()
	f, err := os.Open(discover.RecordFile(dir, id(c)))
	if err != nil {
		return nil
	}
	defer f.Close()
	rec, err := discover.DecodeRecord(f)
	if err != nil {
		t.Fatalf("record of %c: %v", c, err)
	}
	return rec
}

func hostPort(rec *discover.Record) int {
	if rec == nil || len(rec.Container.Ports) == 0 {
		return 0
	}
	return rec.Container.Ports[0].HostPort
}

func status(rec *discover.Record) string {
	if rec == nil {
		return "no record"
	}
	return rec.Container.Status
}

func writeStale(t *testing.T, dir string, c byte, name string) {
	t.Helper()
	rec := &discover.Record{Version: 1, Container: &discover.Container{ID: id(c), Name: name, Status: "running", StartedAt: "2026-01-01T00:00:00Z"}}
	data, _ := rec.Encode()
	if err := os.WriteFile(discover.RecordFile(dir, id(c)), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAgentRecordsAndFollows(t *testing.T) {
	e := newEngine(t)
	dir := filepath.Join(t.TempDir(), "records")
	os.MkdirAll(dir, 0o755)
	e.run('a', running('a', "app", "32769"))
	e.run('b', exited('b', "stopped"))
	writeStale(t, dir, 'b', "stopped") // it stopped while no agent ran
	writeStale(t, dir, 'c', "gone")    // it was removed while no agent ran
	e.run('e', exited('e', "never-ran"))
	os.WriteFile(filepath.Join(dir, ".x.json.tmp1"), []byte("{"), 0o644) // left by a killed agent
	os.WriteFile(filepath.Join(dir, "notes.json"), []byte("mine"), 0o644)

	log := startAgent(t, dir)
	waitFor(t, "synced records", log, func() bool { return log.has("recorded 1 running containers in " + dir) })
	a := readRecord(t, dir, 'a')
	if a == nil || a.Container.Name != "app" || hostPort(a) != 32769 || a.Host.Name != "docker-host" || a.Host.SwarmNodeAddr != "10.0.0.2" {
		t.Errorf("record of app: %+v", a)
	}
	data, _ := os.ReadFile(discover.RecordFile(dir, id('a')))
	if strings.Contains(string(data), "hunter2") || strings.Contains(string(data), "SECRET") {
		t.Errorf("the record holds the environment:\n%s", data)
	}
	if got := status(readRecord(t, dir, 'b')); got != "exited" {
		t.Errorf("record of the container that stopped: %s, want exited", got)
	}
	if readRecord(t, dir, 'c') != nil || readRecord(t, dir, 'e') != nil {
		t.Errorf("records of a removed container, or of one that never ran, are there")
	}
	if _, err := os.Stat(filepath.Join(dir, ".x.json.tmp1")); err == nil {
		t.Errorf("the temporary file left by a killed agent is still there")
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.json")); err != nil {
		t.Errorf("a file that is not a record was touched: %v", err)
	}

	// A start, a restart on another port, a network change, a destroy.
	e.run('d', running('d', "new", "32800"))
	e.Events <- enginetest.Event("container", "start", id('d'))
	waitFor(t, "record of the started container", log, func() bool { return hostPort(readRecord(t, dir, 'd')) == 32800 })
	e.run('d', exited('d', "new"))
	e.Events <- enginetest.Event("container", "die", id('d'))
	waitFor(t, "record of the stopped container", log, func() bool { return status(readRecord(t, dir, 'd')) == "exited" })
	e.run('d', running('d', "new", "32801"))
	e.Events <- enginetest.Event("container", "start", id('d'))
	waitFor(t, "record of the restart", log, func() bool { return hostPort(readRecord(t, dir, 'd')) == 32801 })
	renamed := running('d', "renamed", "32801")
	e.run('d', renamed)
	e.Events <- enginetest.Event("network", "connect", id('d'))
	waitFor(t, "record after the network event", log, func() bool { r := readRecord(t, dir, 'd'); return r != nil && r.Container.Name == "renamed" })
	e.Events <- enginetest.Event("container", "destroy", id('d'))
	// The agent says so after it has removed the file.
	waitFor(t, "removal of the destroyed container's record", log, func() bool {
		return readRecord(t, dir, 'd') == nil && log.has("removed the record of container dddddddddddd (destroyed)")
	})

	for _, want := range []string{
		"recorded container new (dddddddddddd, running, started 2026-11-27T10:00:00.000000001Z): 9092/tcp -> 0.0.0.0:32800 (start)",
		"recorded container new (dddddddddddd, exited, started 2026-11-27T10:00:00.000000001Z): no published port (die)",
		"removed the record of container dddddddddddd (destroyed)",
		"removed the record of container cccccccccccc (the engine no longer has it)",
	} {
		if !log.has(want) {
			t.Errorf("the agent did not say %q; it said:\n%s", want, log)
		}
	}
	for _, r := range e.Requests() {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("request %s is neither GET nor HEAD", r)
		}
	}
	t.Logf("%d requests: %s", len(e.Requests()), strings.Join(e.Requests(), ", "))
}

// When the event stream ends, the agent connects again and catches up
// with what happened meanwhile, from a listing.
func TestAgentReconnectsAndCatchesUp(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	e.run('a', running('a', "app", "32769"))
	e.run('f', running('f', "doomed", "32770"))
	log := startAgent(t, dir)
	waitFor(t, "synced records", log, func() bool { return readRecord(t, dir, 'f') != nil && readRecord(t, dir, 'a') != nil })

	// Missed while the stream is down: f removed, 9 started, a restarted.
	e.run('f', nil)
	e.run('9', running('9', "born", "32771"))
	e.run('a', running('a', "app", "32772"))
	e.Cut()
	waitFor(t, "catch-up", log, func() bool {
		return readRecord(t, dir, 'f') == nil && hostPort(readRecord(t, dir, '9')) == 32771 && hostPort(readRecord(t, dir, 'a')) == 32772
	})
	want := "warning: the engine at unix://"
	if !log.has(want) || !log.has("ended the event stream (GET /events); reconnecting in 100ms") {
		t.Errorf("the agent did not say that it reconnects; it said:\n%s", log)
	}
	events := 0
	for i, r := range e.Requests() {
		if r == "GET /events" {
			events++
			since := time.Date(2026, 11, 27, 9, 59, 59, 0, time.UTC).Unix()
			if q := e.Queries()[i]; !strings.Contains(q, fmt.Sprintf("since=%d.500000000", since)) {
				t.Errorf("GET /events?%s: want since= a second before the engine's time", q)
			}
		}
	}
	if events != 2 {
		t.Errorf("%d GET /events, want 2 (one per connection)", events)
	}
}

func TestAgentSwarmTask(t *testing.T) {
	task := func(c byte) map[string]any {
		in := enginetest.Inspect(id(c), "web.1.t", "web", nil)
		in["Config"].(map[string]any)["Labels"] = map[string]string{"com.docker.swarm.service.id": "svc1", "com.docker.swarm.service.name": "web", "com.docker.swarm.task.name": "web.1.t"}
		return in
	}
	service := map[string]any{"ID": "svc1", "Endpoint": map[string]any{"Ports": []map[string]any{{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 30080, "PublishMode": "ingress"}}}}
	for _, manager := range []bool{true, false} {
		t.Run(fmt.Sprint("manager=", manager), func(t *testing.T) {
			e := newEngine(t)
			e.Info = map[string]any{"Name": "node-1", "Swarm": map[string]any{"NodeAddr": "10.0.0.2", "ControlAvailable": manager}}
			e.Services = map[string]any{"svc1": service}
			e.run('7', task('7'))
			dir := t.TempDir()
			log := startAgent(t, dir)
			waitFor(t, "record", log, func() bool { return readRecord(t, dir, '7') != nil })
			rec := readRecord(t, dir, '7')
			if manager {
				if hostPort(rec) != 30080 || rec.ServicePortsError != "" {
					t.Errorf("record on a manager: ports %v, error %q; want 80/tcp -> 30080", rec.Container.Ports, rec.ServicePortsError)
				}
				return
			}
			want := "container web.1.t is a task of Swarm service web, published in ingress mode: its ports belong to the service, which only a Swarm manager's API tells, and portenv agent on this node reads a worker (unix://"
			if len(rec.Container.Ports) != 0 || !strings.HasPrefix(rec.ServicePortsError, want) {
				t.Errorf("record on a worker: ports %v, error %q; want none and %q...", rec.Container.Ports, rec.ServicePortsError, want)
			}
			for _, r := range e.Requests() {
				if strings.HasPrefix(r, "GET /services/") {
					t.Errorf("asked a worker %s", r)
				}
			}
		})
	}
}

func TestAgentFailsAtStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	err := Run(context.Background(), Options{Dir: filepath.Join(file, "records"), Wait: time.Second, Log: &logLines{}, Getenv: os.Getenv})
	want := "cannot make the records' directory " + filepath.Join(file, "records") + ": not a directory; give portenv agent --dir a writable directory (a volume mounted read-write)"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}

	missing := filepath.Join(t.TempDir(), "docker.sock")
	enginetest.UseEngineAt(t, missing)
	start := time.Now()
	err = Run(context.Background(), Options{Dir: t.TempDir(), Wait: 5 * time.Second, Log: &logLines{}, Getenv: os.Getenv})
	want = "no Docker socket at " + missing + " in this container (DOCKER_HOST=unix://" + missing + "); mount it with -v /var/run/docker.sock:" + missing + ":ro, or set DOCKER_HOST to the engine's address"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v", took)
	}
}

// An engine that does not answer GET /info at first: the records are
// written without the host's name, and again with it once it answers.
func TestAgentAsksHostAgain(t *testing.T) {
	hostRetry = 50 * time.Millisecond
	defer func() { hostRetry = 30 * time.Second }()
	e := newEngine(t)
	var mu sync.Mutex
	answer := any(enginetest.Answer{Status: 500, Body: `{"message":"swarm busy"}`})
	e.Info = func() any {
		mu.Lock()
		defer mu.Unlock()
		return answer
	}
	e.run('a', running('a', "app", "32769"))
	dir := t.TempDir()
	log := startAgent(t, dir)
	waitFor(t, "record", log, func() bool { return readRecord(t, dir, 'a') != nil })
	if rec := readRecord(t, dir, 'a'); rec.Host.Name != "" || !strings.Contains(rec.Host.Error, "swarm busy") {
		t.Errorf("host %+v; want no name and the engine's error", rec.Host)
	}
	mu.Lock()
	answer = hostInfo
	mu.Unlock()
	waitFor(t, "record with the host's name", log, func() bool { return readRecord(t, dir, 'a').Host.Name == "docker-host" })
	if rec := readRecord(t, dir, 'a'); rec.Host.Error != "" {
		t.Errorf("host %+v", rec.Host)
	}
	if !log.has("the engine told its host's name, docker-host; writing every record again") {
		t.Errorf("log:\n%s", log)
	}
}

// An engine that refuses GET /events at once is asked again with growing
// waits, not in a tight loop.
func TestAgentBacksOff(t *testing.T) {
	e := newEngine(t)
	e.Events = nil // GET /events answers 404
	e.run('a', running('a', "app", "32769"))
	dir := t.TempDir()
	log := startAgent(t, dir)
	time.Sleep(1200 * time.Millisecond)
	n := 0
	for _, r := range e.Requests() {
		if r == "GET /events" {
			n++
		}
	}
	// At 0, 0.1, 0.3 and 0.7 s: four tries in 1.2 s; six or more without
	// the growing waits.
	if n < 2 || n > 5 {
		t.Errorf("%d GET /events in 1.2s, want 4 with waits of 100, 200, 400 ms; the agent said:\n%s", n, log)
	}
	if !log.has("GET /events at unix://") || !log.has("; reconnecting in 400ms") {
		t.Errorf("the agent said:\n%s", log)
	}
}

// The agent marks its records current after its listing and then every
// beat while it follows the events, MarkerLag behind its clock; a
// workload that finds no record under a marker newer than its search
// answers at once.
func TestAgentMarksRecordsCurrent(t *testing.T) {
	defer func(d time.Duration) { markEvery = d }(markEvery)
	markEvery = 20 * time.Millisecond
	e := newEngine(t)
	dir := t.TempDir()
	e.run('a', running('a', "app", "32769"))
	before := time.Now()
	log := startAgent(t, dir)
	marked := func() time.Time {
		var m discover.Marker
		data, err := os.ReadFile(filepath.Join(dir, discover.MarkerFile))
		if err != nil || json.Unmarshal(data, &m) != nil || m.Version != 1 {
			return time.Time{}
		}
		at, _ := time.Parse(time.RFC3339Nano, m.CurrentAt)
		return at
	}
	waitFor(t, "the marker", log, func() bool { return !marked().IsZero() })
	if first := marked(); first.Before(before.Add(-discover.MarkerLag)) {
		t.Errorf("marked current at %s, before the agent started (%s) less %s", first, before, discover.MarkerLag)
	}
	asked := time.Now()
	waitFor(t, "the marker to pass a later search", log, func() bool { return !marked().Before(asked) })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, _, err := discover.FromDir(ctx, discover.DirOptions{Dir: dir, Container: "nosuch"})
	var nf *discover.NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "though portenv agent marked its records current at ") {
		t.Errorf("a search for a container without a record: %v; want at once, by the marker", err)
	}
}

// An agent that has lost the engine says so in its marker until it has
// listed the containers again.
func TestAgentMarksEngineLost(t *testing.T) {
	every := markEvery
	t.Cleanup(func() { markEvery = every }) // after the agent's own cleanup
	markEvery = 20 * time.Millisecond
	e := newEngine(t)
	dir := t.TempDir()
	e.run('a', running('a', "app", "32769"))
	log := startAgent(t, dir)
	marker := func() discover.Marker {
		var m discover.Marker
		data, err := os.ReadFile(filepath.Join(dir, discover.MarkerFile))
		if err == nil {
			json.Unmarshal(data, &m)
		}
		return m
	}
	waitFor(t, "the marker", log, func() bool { return marker().CurrentAt != "" })
	if m := marker(); m.LostAt != "" {
		t.Fatalf("marker %+v while the agent follows the engine; want no lostAt", m)
	}

	e.SetRaw("/_ping", &enginetest.Answer{Status: 503, Body: `{"message":"restarting"}`})
	before := time.Now()
	e.Cut()
	waitFor(t, "the lost engine in the marker", log, func() bool { return marker().LostAt != "" })
	lost, err := time.Parse(time.RFC3339Nano, marker().LostAt)
	if err != nil || lost.Before(before.Add(-time.Second)) {
		t.Errorf("lostAt %q (%v); want a time after the engine went away at %s", marker().LostAt, err, before)
	}

	e.SetRaw("/_ping", nil)
	waitFor(t, "the marker current again", log, func() bool { m := marker(); return m.LostAt == "" && m.CurrentAt != "" })
}
