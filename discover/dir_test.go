package discover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The fixture testdata/socketless is a container whose mounts name selfID
// and whose process 1 started 995 s after boot; with the clocks below,
// boot was at 09:43:30 and process 1 started at 10:00:05. Process 4242
// started at 10:00:07.
const (
	selfID  = "aaaa000000000000000000000000000000000000000000000000000000000001"
	otherID = "bbbb000000000000000000000000000000000000000000000000000000000002"
)

var fixtureNow = time.Date(2026, 11, 27, 10, 0, 10, 0, time.UTC)

func dirOptions(dir string) DirOptions {
	return DirOptions{
		Dir:      dir,
		Root:     filepath.Join("testdata", "socketless"),
		Now:      func() time.Time { return fixtureNow },
		Boottime: func() (time.Duration, error) { return 1000 * time.Second, nil },
	}
}

func record(id, name, startedAt string, ports ...Binding) *Record {
	return &Record{Version: RecordVersion, Host: RecordHost{Name: "docker-host"}, Container: &Container{
		ID: id, Name: name, Hostname: id[:12], Image: "img", Status: "running", StartedAt: startedAt, Pid: 900,
		NetworkMode: "bridge", Ports: ports, Exposed: portsOf(ports),
	}}
}

func portsOf(bs []Binding) []Port {
	var out []Port
	for _, b := range bs {
		out = append(out, b.Port)
	}
	return out
}

func bind(port, hostPort int) Binding {
	return Binding{Port: Port{Num: port, Proto: "tcp"}, HostIP: "0.0.0.0", HostPort: hostPort}
}

func writeRecord(t *testing.T, dir string, r *Record) {
	t.Helper()
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// Whole or not at all, as the agent writes: a reader must never see
	// half a record.
	tmp := filepath.Join(dir, ".tmp-"+r.Container.ID)
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, RecordFile(dir, r.Container.ID)); err != nil {
		t.Fatal(err)
	}
}

func fromDir(t *testing.T, opt DirOptions, wait time.Duration) (*Container, *Record, []Attempt, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return FromDir(ctx, opt)
}

func attemptLines(tried []Attempt) []string {
	out := make([]string, len(tried))
	for i, a := range tried {
		mark := "-"
		if a.OK {
			mark = "+"
		}
		out[i] = mark + " " + a.Method + ": " + a.Result
	}
	return out
}

func TestFromDirThisStart(t *testing.T) {
	dir := t.TempDir()
	writeRecord(t, dir, record(selfID, "app", "2026-11-27T10:00:05.5Z", bind(9092, 32769)))
	writeRecord(t, dir, record(otherID, "other", "2026-11-27T10:00:06Z", bind(9092, 32770)))
	c, rec, tried, err := fromDir(t, dirOptions(dir), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != selfID || len(c.Ports) != 1 || c.Ports[0].HostPort != 32769 || rec.Host.Name != "docker-host" {
		t.Errorf("got %s with %v (host %q), want %s with 9092 -> 32769", c.ID, c.Ports, rec.Host.Name, selfID)
	}
	want := []string{
		"+ mountinfo: id aaaa00000000 from /proc/self/mountinfo",
		"+ record: container aaaa00000000 (app) in " + RecordFile(dir, selfID) + "; it records the start at 2026-11-27T10:00:05.5Z, this start (the container's first process started 2026-11-27T10:00:05.00Z)",
	}
	if got := attemptLines(tried); !reflect.DeepEqual(got, want) {
		t.Errorf("attempts\n got %q\nwant %q", got, want)
	}
}

// A record of an earlier start, with the ports of then, is never used:
// portenv waits for the record of this start, and fails at the timeout if
// none comes.
func TestFromDirEarlierStartNeverUsed(t *testing.T) {
	dir := t.TempDir()
	writeRecord(t, dir, record(selfID, "app", "2026-11-27T10:00:04.99Z", bind(9092, 32769)))
	var debug []string
	opt := dirOptions(dir)
	opt.Debugf = func(format string, args ...any) { debug = append(debug, format) }
	_, _, _, err := fromDir(t, opt, 300*time.Millisecond)
	want := "the record of container aaaa00000000 (app) in " + dir + " is of an earlier start: it records the start at 2026-11-27T10:00:04.99Z, before this container's first process started (2026-11-27T10:00:05.00Z); the agent wrote none of this start within 300ms (--timeout): is portenv agent still running? (its container's logs tell)"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	if len(debug) != 1 {
		t.Errorf("debug lines %q, want the wait told once", debug)
	}

	go func() {
		time.Sleep(150 * time.Millisecond)
		writeRecord(t, dir, record(selfID, "app", "2026-11-27T10:00:05.01Z", bind(9092, 32800)))
	}()
	c, _, _, err := fromDir(t, dirOptions(dir), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ports[0].HostPort != 32800 {
		t.Errorf("host port %d, want 32800 from the record of this start", c.Ports[0].HostPort)
	}
}

func TestFromDirNoRecord(t *testing.T) {
	dir := t.TempDir()
	_, _, _, err := fromDir(t, dirOptions(dir), 200*time.Millisecond)
	want := "no record of container aaaa00000000 (the id in /proc/self/mountinfo) in " + dir + " within 200ms (--timeout), and none of any other container: is portenv agent --dir running, with the engine's socket, and is " + dir + " the directory it writes (its volume, mounted here)?"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
	writeRecord(t, dir, record(otherID, "other", "2026-11-27T10:00:06Z"))
	os.WriteFile(filepath.Join(dir, ".x.json.tmp123"), []byte("{"), 0o644)
	_, _, _, err = fromDir(t, dirOptions(dir), 200*time.Millisecond)
	want = "no record of container aaaa00000000 (the id in /proc/self/mountinfo) in " + dir + " within 200ms (--timeout), which holds the records of 1 other containers: is portenv agent still running, and does it read the engine that runs this container?"
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

func TestFromDirBadRecord(t *testing.T) {
	for _, tc := range []struct{ name, content, why string }{
		{"not-json", "{\"version\": 1, ", "it is empty or cut short"},
		{"garbage", "hello", "it is not valid JSON (at byte 1)"},
		{"no-version", `{"container": {"id": "x"}}`, "it has no format version, so it is not a record of portenv agent"},
		{"newer", `{"version": 2, "container": {"id": "x"}}`, "it is in record format 2, newer than this portenv reads (1); run the same portenv version as agent and in the workloads"},
		{"no-container", `{"version": 1}`, "it holds no container"},
		{"other-id", `{"version": 1, "container": {"id": "` + otherID + `"}}`, "it holds container bbbb00000000, not the one its name says"},
		{"bad-port", `{"version": 1, "container": {"id": "` + selfID + `", "ports": [{"port": "http"}]}}`, `it holds "http" where a container port such as "9092/tcp" belongs`},
		{"bad-time", `{"version": 1, "container": {"id": "` + selfID + `", "startedAt": "yesterday"}}`, `its startedAt "yesterday" is not a time`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := RecordFile(dir, selfID)
			if err := os.WriteFile(file, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, _, _, err := fromDir(t, dirOptions(dir), 5*time.Second)
			var bad *badRecordError
			if !errors.As(err, &bad) || bad.File != file || !strings.HasPrefix(bad.Err.Error(), tc.why) {
				t.Fatalf("error %v, want %s: %s...", err, file, tc.why)
			}
			want := file + " is not a record portenv can read: " + bad.Err.Error() + "; portenv agent writes only whole records, so check what else writes in that directory (restarting the agent writes every record again)"
			if err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("took %v: a broken record is not worth waiting for", took)
			}
		})
	}
}

// Docker 27 and later stamp State.StartedAt before they create the first
// process, so the record of this start may hold a start time before it.
// The time the agent checked the record proves it of this start; a record
// checked before the first process started is of an earlier one, whatever
// its start time.
func TestFromDirCheckedAt(t *testing.T) {
	for _, tc := range []struct {
		name, startedAt, checkedAt string
		found                      bool
		why                        string
	}{
		{"stamped-before-fork", "2026-11-27T10:00:04.96Z", "2026-11-27T10:00:05.2Z", true,
			"it records the start at 2026-11-27T10:00:04.96Z, this start (read from the engine at 2026-11-27T10:00:05.2Z, after the container's first process started 2026-11-27T10:00:05.00Z)"},
		{"checked-before-fork", "2026-11-27T10:00:04.9Z", "2026-11-27T10:00:04.99Z", false,
			"it records the start at 2026-11-27T10:00:04.9Z, read from the engine at 2026-11-27T10:00:04.99Z, before this container's first process started (2026-11-27T10:00:05.00Z)"},
		{"start-after-fork-checked-before", "2026-11-27T10:00:05.1Z", "2026-11-27T10:00:04.99Z", false,
			"it records the start at 2026-11-27T10:00:05.1Z, read from the engine at 2026-11-27T10:00:04.99Z, before this container's first process started (2026-11-27T10:00:05.00Z)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := record(selfID, "app", tc.startedAt, bind(9092, 32769))
			r.CheckedAt = tc.checkedAt
			writeRecord(t, dir, r)
			c, _, tried, err := fromDir(t, dirOptions(dir), 200*time.Millisecond)
			if tc.found {
				want := "+ record: container aaaa00000000 (app) in " + RecordFile(dir, selfID) + "; " + tc.why
				if err != nil || c.ID != selfID || attemptLines(tried)[1] != want {
					t.Fatalf("got %v, %v, %q; want the record and %q", c, err, attemptLines(tried), want)
				}
				return
			}
			want := "the record of container aaaa00000000 (app) in " + dir + " is of an earlier start: " + tc.why + "; the agent wrote none of this start within 200ms (--timeout): is portenv agent still running? (its container's logs tell)"
			if err == nil || err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
		})
	}
}

// With --pid host, the record's State.Pid is the container's first
// process, seen in this /proc; process 4242 started at 10:00:07.
func TestFromDirPidModes(t *testing.T) {
	for _, tc := range []struct {
		name, mode, startedAt string
		pid                   int
		found                 bool
		err                   string
	}{
		{"host-this-start", "host", "2026-11-27T10:00:07.3Z", 4242, true, ""},
		{"host-earlier", "host", "2026-11-27T10:00:06.9Z", 4242, false, "it records the start at 2026-11-27T10:00:06.9Z, before this container's first process started (2026-11-27T10:00:07.00Z)"},
		{"host-gone", "host", "2026-11-27T10:00:07.3Z", 4243, false, "it records the start at 2026-11-27T10:00:07.3Z, by process 4243, which is gone"},
		{"host-stopped", "host", "2026-11-27T10:00:07.3Z", 0, false, "it records the start at 2026-11-27T10:00:07.3Z, and no process (status running)"},
		{"private", "private", "2026-11-27T10:00:05.3Z", 4242, true, ""},
		{"shared", "container:db", "2026-11-27T10:00:07.3Z", 4242, false, "container app shares the process namespace of another (--pid container:db), where portenv cannot tell the record of its current start from an earlier start's; give it a process namespace of its own, or mount the engine's socket instead of using --from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := record(selfID, "app", tc.startedAt, bind(9092, 32769))
			r.Container.PidMode, r.Container.Pid = tc.mode, tc.pid
			writeRecord(t, dir, r)
			c, _, _, err := fromDir(t, dirOptions(dir), 200*time.Millisecond)
			if tc.found {
				if err != nil || c.ID != selfID {
					t.Fatalf("got %v, %v; want the record", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error\n got %v\nwant it to hold %s", err, tc.err)
			}
		})
	}
}

// A container with --network container:<owner> gets the owner's
// /etc/hostname, hosts and resolv.conf, so the mounts name the owner,
// whose record is of an earlier start. The record of this start whose
// network mode names the owner is this container's; the ports are the
// owner's.
func TestFromDirNetworkSharer(t *testing.T) {
	dir := t.TempDir()
	owner := record(selfID, "owner", "2026-11-27T09:00:00Z", bind(9092, 32769))
	sharer := record(otherID, "sidecar", "2026-11-27T10:00:06Z")
	sharer.Container.NetworkMode = "container:" + selfID
	third := record("cccc"+selfID[4:], "late", "2026-11-27T10:00:06Z")
	writeRecord(t, dir, owner)
	writeRecord(t, dir, sharer)
	writeRecord(t, dir, third)
	c, _, tried, err := fromDir(t, dirOptions(dir), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != otherID || c.NetworkOf != "owner" || len(c.Ports) != 1 || c.Ports[0].HostPort != 32769 {
		t.Errorf("got %s (network of %q) with %v; want the sidecar with the owner's 9092 -> 32769", c.Name, c.NetworkOf, c.Ports)
	}
	want := []string{
		"+ mountinfo: id aaaa00000000 from /proc/self/mountinfo",
		"+ record: container bbbb00000000 (sidecar) in " + RecordFile(dir, otherID) + ", which uses the network of container owner, the one the mounts name; it records the start at 2026-11-27T10:00:06Z, this start (the container's first process started 2026-11-27T10:00:05.00Z)",
		"+ network: shares the network of container owner; its published ports are used (from " + RecordFile(dir, selfID) + ")",
	}
	if got := attemptLines(tried); !reflect.DeepEqual(got, want) {
		t.Errorf("attempts\n got %q\nwant %q", got, want)
	}
}

// --container takes the record of the container named, by id, name or
// id prefix, whatever its start.
func TestFromDirContainerFlag(t *testing.T) {
	dir := t.TempDir()
	writeRecord(t, dir, record(selfID, "app", "2026-01-01T00:00:00Z", bind(9092, 32769)))
	writeRecord(t, dir, record(otherID, "other", "2026-01-01T00:00:00Z", bind(9092, 32770)))
	writeRecord(t, dir, record("bbbb"+selfID[4:], "third", "2026-01-01T00:00:00Z", bind(9092, 32771)))
	for _, tc := range []struct{ ref, want, err string }{
		{selfID, "app", ""},
		{"other", "other", ""},
		{"/app", "app", ""},
		{"aaaa", "app", ""},
		{"bbbb", "", `"bbbb" names 2 containers recorded in ` + dir + `; give more of the id`},
		{"nope", "", `no record of container "nope" in ` + dir + ` within 200ms (--timeout); check the id or name (docker ps lists them), and that portenv agent --dir writes this directory`},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			opt := dirOptions(dir)
			opt.Container = tc.ref
			opt.Root = t.TempDir() // nothing in /proc is read
			c, _, tried, err := fromDir(t, opt, 200*time.Millisecond)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("error\n got %v\nwant %s", err, tc.err)
				}
				return
			}
			if err != nil || c.Name != tc.want {
				t.Fatalf("got %v, %v; want %s", c, err, tc.want)
			}
			if len(tried) != 1 || tried[0].Method != "--container" || !tried[0].OK {
				t.Errorf("attempts %+v", tried)
			}
		})
	}
}

func TestFromDirWithoutDirOrID(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		name, dir, root, err string
	}{
		{"no-dir", filepath.Join(dir, "missing"), "", "the agent's directory " + filepath.Join(dir, "missing") + " (--from) does not exist in this container; mount there, read-only, the directory that portenv agent --dir writes (its volume: -v VOLUME:" + filepath.Join(dir, "missing") + ":ro)"},
		{"not-dir", file, "", "--from " + file + " is not a directory; give the directory that portenv agent --dir writes"},
		{"no-id", dir, t.TempDir(), "cannot tell which container this is (mountinfo: cannot read /proc/self/mountinfo: open {root}/proc/self/mountinfo: no such file or directory; cgroup: cannot read /proc/self/cgroup: open {root}/proc/self/cgroup: no such file or directory; containerenv: cannot read /run/.containerenv: open {root}/run/.containerenv: no such file or directory); with --from, only /proc/self/mountinfo, /proc/self/cgroup and /run/.containerenv can name it (the hostname needs the engine to confirm it); is portenv running in a container? Otherwise pass --container ID or NAME, as the records in " + dir + " name them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := dirOptions(tc.dir)
			if tc.root != "" {
				opt.Root = tc.root
			}
			_, _, _, err := fromDir(t, opt, 200*time.Millisecond)
			want := strings.ReplaceAll(tc.err, "{root}", opt.Root)
			if err == nil || err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
		})
	}
}

// What makes the bindings unusable is said at once, as with the engine.
func TestFromDirUnusable(t *testing.T) {
	dir := t.TempDir()
	r := record(selfID, "app", "2026-11-27T10:00:06Z")
	r.Container.Status = "paused"
	writeRecord(t, dir, r)
	_, _, _, err := fromDir(t, dirOptions(dir), time.Second)
	if want := "container app is paused: its ports stay published, but its processes are frozen and answer nothing there; unpause it (docker unpause app), then run portenv again"; err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}

	r = record(selfID, "web.1.x", "2026-11-27T10:00:06Z")
	r.Container.Swarm = &SwarmTask{ServiceID: "svc", ServiceName: "web", Slot: 1}
	r.ServicePortsError = "the agent could not read the service"
	writeRecord(t, dir, r)
	_, _, tried, err := fromDir(t, dirOptions(dir), time.Second)
	if err == nil || err.Error() != "the agent could not read the service" || tried[len(tried)-1].Method != "swarm" {
		t.Errorf("error %v, attempts %+v; want the agent's words", err, tried)
	}
}

func TestRecordHostName(t *testing.T) {
	r := record(selfID, "app", "2026-11-27T10:00:06Z")
	if name, _, err := r.HostName(); name != "docker-host" || err != nil {
		t.Errorf("HostName() = %q, %v", name, err)
	}
	r.Host = RecordHost{Error: "GET /info at unix:///var/run/docker.sock failed: boom"}
	_, _, err := r.HostName()
	if want := "the agent recorded no engine host name for container app (its GET /info failed: GET /info at unix:///var/run/docker.sock failed: boom)"; err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}

func TestStartTicks(t *testing.T) {
	for _, tc := range []struct {
		line string
		want uint64
		err  string
	}{
		{"7 (a) b) c) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0", 123456, ""},
		{"7 (a) S 1 7", 0, "the status line is cut short"},
		{"garbage", 0, "not a process status line"},
	} {
		got, err := startTicks(tc.line)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("startTicks(%q) = %d, %v; want %d, %q", tc.line, got, err, tc.want, tc.err)
		}
	}
}

// This process's own start, read as FromDir reads process 1's, is in the
// past and not long before the test binary's own clock says it started.
func TestProcessStartOfThisProcess(t *testing.T) {
	got, err := processStart("", os.Getpid(), time.Now, bootClock)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(got); d < 0 || d > 10*time.Minute {
		t.Errorf("this process started %v ago, by /proc/self/stat", d)
	}
	if clockTicks() != 100 {
		t.Logf("USER_HZ is %d here", clockTicks())
	}
}

func writeMarker(t *testing.T, dir, currentAt string) {
	t.Helper()
	data := `{"version":1,"currentAt":"` + currentAt + `"}`
	if err := os.WriteFile(filepath.Join(dir, MarkerFile), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Under a marker current after the search began (10:00:10), a record not
// there will not come: the answer is at once, not at the timeout. An older
// marker is waited past; one older than a running agent leaves says the
// agent is not running.
func TestFromDirMarker(t *testing.T) {
	for _, tc := range []struct {
		name, marked string
		ref          string // --container, or "" for this container
		want         string
	}{
		{"current", "2026-11-27T10:00:11Z", "",
			"no record of container aaaa00000000 (the id in /proc/self/mountinfo) in {dir}, though portenv agent marked its records current at 2026-11-27T10:00:11.00Z, after this search began (2026-11-27T10:00:10.00Z); it holds the records of 1 other containers: does portenv agent read the engine that runs this container?"},
		{"current-ref", "2026-11-27T10:00:11Z", "nosuch",
			`no record of container "nosuch" in {dir}, though portenv agent marked its records current at 2026-11-27T10:00:11.00Z, after this search began (2026-11-27T10:00:10.00Z); check the id or name (docker ps lists them), and that portenv agent --dir writes this directory`},
		{"behind", "2026-11-27T10:00:08Z", "",
			"no record of container aaaa00000000 (the id in /proc/self/mountinfo) in {dir} within 5s (--timeout), before portenv agent marked its records current past the start of this search (it marks them 2s behind its clock, every second); raise --timeout; it holds the records of 1 other containers: does portenv agent read the engine that runs this container?"},
		{"stopped", "2026-11-27T10:00:11Z\",\"stoppedAt\":\"2026-11-27T10:00:09Z", "nosuch",
			`no record of container "nosuch" in {dir} within 5s (--timeout), and portenv agent stopped at 2026-11-27T10:00:09.00Z, as its marker says: no record comes until it runs again (its container's logs tell); check the id or name (docker ps lists them), and that portenv agent --dir writes this directory`},
		{"stale", "2026-11-27T09:59:00Z", "nosuch",
			`no record of container "nosuch" in {dir} within 5s (--timeout), and portenv agent last marked its records current at 2026-11-27T09:59:00.00Z, 1m10s before this search began, so it is not running or cannot reach the engine (its container's logs tell); check the id or name (docker ps lists them), and that portenv agent --dir writes this directory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRecord(t, dir, record(otherID, "other", "2026-11-27T10:00:06Z", bind(9092, 32770)))
			writeMarker(t, dir, tc.marked)
			opt := dirOptions(dir)
			opt.Container = tc.ref
			// A 5 s --timeout; the waits that must run to it are cut
			// short, as the message names the --timeout given. Those that
			// answer at once do so before it, which their words prove.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if !strings.HasPrefix(tc.name, "current") {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
			_, _, _, err := FromDir(ctx, opt)
			want := strings.ReplaceAll(tc.want, "{dir}", dir)
			if err == nil || err.Error() != want {
				t.Fatalf("error\n got %v\nwant %s", err, want)
			}
		})
	}
}

// While the agent has lost the engine, a record that --container names may
// be of a start from before: it is waited past until the agent has listed
// the containers again, and at the timeout said so.
func TestFromDirAgentLostEngine(t *testing.T) {
	dir := t.TempDir()
	writeRecord(t, dir, record(otherID, "other", "2026-11-27T10:00:06Z", bind(9092, 32770)))
	writeMarker(t, dir, `2026-11-27T10:00:08Z","lostAt":"2026-11-27T10:00:09Z`)
	opt := dirOptions(dir)
	opt.Container = "other"
	_, _, _, err := fromDir(t, opt, 300*time.Millisecond)
	want := "the record of container " + otherID[:12] + " (other) in " + dir + " may be of a start from before: portenv agent lost the engine at 2026-11-27T10:00:09.00Z and has not listed its containers again within 300ms (--timeout); it reconnects by itself (its container's logs tell what it waits for), or raise --timeout"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}

	// Listed again: the record is the one of the current start.
	time.AfterFunc(100*time.Millisecond, func() {
		writeRecord(t, dir, record(otherID, "other", "2026-11-27T10:00:12Z", bind(9092, 32771)))
		writeMarker(t, dir, "2026-11-27T10:00:11Z")
	})
	c, _, _, err := fromDir(t, opt, 5*time.Second)
	if err != nil || c.StartedAt != "2026-11-27T10:00:12Z" || len(c.Ports) != 1 || c.Ports[0].HostPort != 32771 {
		t.Fatalf("got %+v, %v; want the record of the start at 10:00:12 with 9092 on 32771", c, err)
	}
}
