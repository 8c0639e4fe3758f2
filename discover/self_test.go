package discover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// fake serves f for the rest of the test.
func fake(t *testing.T, f *enginetest.Fake) *enginetest.Fake {
	t.Helper()
	f.Serve(t)
	return f
}

// connect reaches the fake engine with a 5 s timeout.
func connect(t *testing.T) (*Engine, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	e, err := Connect(ctx, os.Getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e, ctx
}

func inspectJSON(id, name, hostname string, ports map[string][]map[string]string) map[string]any {
	return enginetest.Inspect(id, name, hostname, ports)
}

func TestSelfMethodOrder(t *testing.T) {
	ports := map[string][]map[string]string{"9092/tcp": {{"HostIp": "0.0.0.0", "HostPort": "32769"}, {"HostIp": "::", "HostPort": "32769"}}}
	for _, tc := range []struct {
		fixture    string
		known      map[string]string // ref -> hostname of the container the engine knows
		hostname   string
		wantMethod string
		wantID     string
		wantTried  []string
	}{
		{"podman", map[string]string{idP: "kafka-1"}, "kafka-1", "mountinfo", idP,
			[]string{"mountinfo"}},
		{"kubernetes-sandbox", map[string]string{idK: "pod"}, "pod", "cgroup", idK,
			[]string{"mountinfo: no container id in /proc/self/mountinfo", "cgroup"}},
		// Docker in Docker: the ids in /proc belong to the outer engine.
		{"docker-cgroup-v1", map[string]string{"inner": "inner"}, "inner", "hostname", "inner" + strings.Repeat("0", 59),
			[]string{
				"mountinfo: id 86788f7eddd0 from /proc/self/mountinfo is not a container of this engine",
				"cgroup: id 86788f7eddd0 from /proc/self/cgroup is not a container of this engine",
				"containerenv: cannot read /run/.containerenv: no such file or directory",
				"hostname"}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			f := &enginetest.Fake{Containers: map[string]any{}}
			for ref, host := range tc.known {
				id := ref
				if len(id) != 64 {
					id = ref + strings.Repeat("0", 64-len(ref))
				}
				f.Containers[ref] = inspectJSON(id, "c-"+host, host, ports)
			}
			fake(t, f)
			e, ctx := connect(t)
			c, tried, err := e.Self(ctx, SelfOptions{Root: filepath.Join("testdata", tc.fixture), Hostname: func() (string, error) { return tc.hostname, nil },
				LocalIPs: func() ([]string, error) { return []string{"10.0.0.5", "172.17.0.9"}, nil }})
			if err != nil {
				t.Fatalf("Self: %v (tried %v)", err, tried)
			}
			if c.ID != tc.wantID {
				t.Errorf("ID %s, want %s", c.ID, tc.wantID)
			}
			if last := tried[len(tried)-1]; last.Method != tc.wantMethod || !last.OK {
				t.Errorf("found by %+v, want %s", last, tc.wantMethod)
			}
			if len(tried) != len(tc.wantTried) {
				t.Fatalf("tried %v, want %d attempts", tried, len(tc.wantTried))
			}
			for i, w := range tc.wantTried[:len(tried)-1] {
				if got := tried[i].Method + ": " + tried[i].Result; got != w {
					t.Errorf("attempt %d: %q, want %q", i, got, w)
				}
			}
			if want := []Binding{{Port{9092, "tcp"}, "0.0.0.0", 32769}, {Port{9092, "tcp"}, "::", 32769}}; len(c.Ports) != 2 || c.Ports[0] != want[0] || c.Ports[1] != want[1] {
				t.Errorf("ports %+v, want %+v", c.Ports, want)
			}
		})
	}
}

func TestSelfNotIdentified(t *testing.T) {
	f := &enginetest.Fake{Containers: map[string]any{
		"web": inspectJSON(idB, "web", "other", nil),
	}}
	fake(t, f)
	e, ctx := connect(t)
	_, _, err := e.Self(ctx, SelfOptions{Root: "testdata/docker-systemd-driver", Hostname: func() (string, error) { return "web", nil }})
	var ni *notIdentifiedError
	if !errors.As(err, &ni) {
		t.Fatalf("got %v, want NotIdentifiedError", err)
	}
	want := `cannot tell which container this is (mountinfo: no container id in /proc/self/mountinfo; ` +
		`cgroup: id 5e2a0c2b6f1d from /proc/self/cgroup is not a container of this engine; ` +
		`containerenv: cannot read /run/.containerenv: no such file or directory; ` +
		`hostname: container web matches "web" but its hostname is "other", so it is not this one); ` +
		`is portenv running in a container of this engine? Otherwise pass --container NAME`
	if err.Error() != want {
		t.Errorf("\n got %s\nwant %s", err, want)
	}
}

// A port in HostConfig.PortBindings that the engine has not bound yet is
// waited for.
func TestInspectWaitsForBindings(t *testing.T) {
	var calls int
	var mu sync.Mutex
	f := &enginetest.Fake{Containers: map[string]any{
		"late": func() any {
			mu.Lock()
			defer mu.Unlock()
			calls++
			c := inspectJSON(idA, "late", "late", map[string][]map[string]string{"9092/tcp": nil})
			c["HostConfig"] = map[string]any{"PortBindings": map[string]any{"9092/tcp": []map[string]string{{"HostPort": ""}}}}
			if calls >= 3 {
				c["NetworkSettings"] = map[string]any{"Ports": map[string]any{"9092/tcp": []map[string]string{{"HostIp": "0.0.0.0", "HostPort": "40000"}}}}
			}
			return c
		},
	}}
	fake(t, f)
	e, ctx := connect(t)
	c, err := e.Inspect(ctx, "late")
	if err != nil {
		t.Fatal(err)
	}
	if calls != 3 || len(c.Ports) != 1 || c.Ports[0].HostPort != 40000 {
		t.Errorf("after %d inspections got %+v; want port 40000 on the third", calls, c.Ports)
	}

	// Never bound: the wait ends at the timeout, with a message.
	calls = -1000
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = e.Inspect(short, "late")
	want := "the engine did not bind 9092/tcp of container late within the timeout, though they are to be published; check `docker port late`, or raise --timeout"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// In a Podman pod the mounts name two containers: the member's own
// hostname and .containerenv, and the infra container's hosts and
// resolv.conf. The engine confirms which one shares the other's network.
func TestSelfPodmanPod(t *testing.T) {
	const idI = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
	ports := map[string][]map[string]string{"9092/tcp": {{"HostIp": "", "HostPort": "44381"}}}
	member := inspectJSON(idP, "app", "app", ports)
	for _, tc := range []struct {
		name       string
		memberMode string
		wantErr    string
	}{
		{"pod", "container:" + idI, ""},
		{"unrelated", "bridge", "/proc/self/mountinfo names 2 different containers (3f9c1e0d8b7a, 9e8d7c6b5a4f); pass --container ID to say which one is this container"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &enginetest.Fake{Containers: map[string]any{
				idP: func() any {
					c := member
					c["HostConfig"] = map[string]any{"NetworkMode": tc.memberMode}
					return c
				},
				idI: inspectJSON(idI, "pod-infra", "app", ports),
			}}
			fake(t, f)
			e, ctx := connect(t)
			c, tried, err := e.Self(ctx, SelfOptions{Root: "testdata/podman-pod"})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.ID != idP || c.NetworkOf != "pod-infra" || len(c.Ports) != 1 || c.Ports[0].HostPort != 44381 {
				t.Errorf("got %s (network of %q) with %+v; want the member, with the pod's port", c.Name, c.NetworkOf, c.Ports)
			}
			want := "container 3f9c1e0d8b7a (app) from /proc/self/mountinfo, which also names the container whose network it shares"
			if tried[0].Method != "mountinfo" || tried[0].Result != want {
				t.Errorf("attempt %+v, want mountinfo: %s", tried[0], want)
			}
		})
	}
}

// The hostname is a hint: a container whose hostname matches is taken only
// when one of its addresses is this process's.
func TestSelfHostnameNeedsConfirmation(t *testing.T) {
	fake(t, &enginetest.Fake{Containers: map[string]any{
		"web":  inspectJSON(idB, "web", "web", nil),
		"bare": func() any { c := inspectJSON(idA, "bare", "bare", nil); delete(c, "NetworkSettings"); return c },
	}})
	e, ctx := connect(t)
	for _, tc := range []struct {
		host, local, want string
	}{
		{"web", "172.17.0.9", ""},
		{"web", "172.17.0.3", `cannot tell which container this is: container 5e2a0c2b6f1d (web) has this hostname, "web", but another container may have been given it with --hostname, and nothing confirms that it is this one (none of its addresses (172.17.0.9) is an address of this process (172.17.0.3)); pass --container web if it is`},
		{"bare", "172.17.0.3", `cannot tell which container this is: container 86788f7eddd0 (bare) has this hostname, "bare", but another container may have been given it with --hostname, and nothing confirms that it is this one (it has no network address of its own to compare with this process's); pass --container bare if it is`},
	} {
		c, _, err := e.Self(ctx, SelfOptions{Root: "testdata/docker-systemd-driver",
			Hostname: func() (string, error) { return tc.host, nil },
			LocalIPs: func() ([]string, error) { return []string{tc.local}, nil }})
		switch {
		case tc.want == "" && (err != nil || c.Name != tc.host):
			t.Errorf("%s from %s: %v, want the container", tc.host, tc.local, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s from %s:\n got %v\nwant %s", tc.host, tc.local, err, tc.want)
		}
	}
}
